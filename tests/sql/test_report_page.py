"""The report page as a person sees it: a small demo writes OUT/report.html, headless Chromium
(Debian's `chromium`, driven over the DevTools protocol on 127.0.0.1) opens it, and the page must
load with no console error or exception, fetch nothing but itself, draw every chart with data,
and contain no external URL. A full-page screenshot is saved for a person to look at
(test-artifacts/report-page.png, or $PLAYSTREAM_TEST_ARTIFACTS)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from playstream_bin import ROOT, run

ARTIFACTS = Path(os.environ.get("PLAYSTREAM_TEST_ARTIFACTS", ROOT / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One headless Chromium and one page, spoken to over CDP."""

    def __init__(self, profile: Path):
        binary = shutil.which("chromium")
        if binary is None:
            raise FileNotFoundError("chromium is not installed: scripts/test.sh installs it (apt-get install chromium)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--remote-debugging-port={self.port}", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2))
                page = next(t for t in targets if t["type"] == "page")
                break
            except (OSError, StopIteration, ValueError):
                if time.time() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium did not open its DevTools port") from None
                time.sleep(0.2)
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(json.loads(self.ws.recv(timeout=deadline - time.time())))
        raise TimeoutError(method)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"]["value"]

    def close(self):
        if getattr(self, "stack", None) is not None:
            self.stack.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    done = run("demo", "--players", "300", "--days", "10", "--seed", "11", "--replicas", "2", "--json", "--out", str(out))
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["unaccounted"] == 0, summary
    assert summary["report"] == str(out / "report.html")
    return out / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def test_the_page_renders_every_chart_without_errors_and_fetches_nothing(demo_page, browser):
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", url=demo_page.as_uri())
    browser.wait_for("Page.loadEventFired")

    errors = [e for e in browser.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    requested = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert requested == [demo_page.as_uri()], "the page loads nothing but itself"

    charts = browser.evaluate("""[...document.querySelectorAll('figure.chart')].map(f => ({
        id: f.dataset.chart, points: Number(f.dataset.points),
        marks: f.querySelectorAll('svg polyline, svg circle, svg rect, svg path').length,
        width: f.getBoundingClientRect().width, error: f.classList.contains('error')}))""")
    ids = [c["id"] for c in charts]
    for wanted in ("dau", "revenue", "arpdau", "installs", "ads", "retention", "funnel", "rejects", "rejects_by_reason"):
        assert wanted in ids, f"chart {wanted} missing: {ids}"
    for c in charts:
        assert not c["error"] and c["points"] > 0 and c["marks"] > c["points"] // 10 and c["width"] > 300, c
    assert browser.evaluate("document.querySelectorAll('.nodata').length") == 0
    tiles = browser.evaluate("[...document.querySelectorAll('.tile .value')].map(t => t.textContent)")
    assert len(tiles) >= 11 and all(t.strip() for t in tiles), tiles

    height = browser.evaluate("document.documentElement.scrollHeight")
    browser.call("Emulation.setDeviceMetricsOverride", width=1400, height=height, deviceScaleFactor=1, mobile=False)
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 50_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report-page.png").write_bytes(png)
    print(f"screenshot: {ARTIFACTS / 'report-page.png'}")


def test_the_page_holds_no_external_url(demo_page):
    html = demo_page.read_text()
    assert re.search(r"https?://", html) is None
    for pattern in (r"<script", r"<link", r"<img", r"<iframe", r"\bsrc\s*=", r"\bhref\s*=", r"url\(", r"@import"):
        assert re.search(pattern, html, re.IGNORECASE) is None, pattern
    assert html.count("<svg") >= 9
