#!/usr/bin/env python3
"""Writes deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/rules.yml.

The PrometheusRule's `spec` is the rules file's `groups:` text, verbatim (indented), so the
two cannot differ. `--check` exits 1 if the committed file is not what this would write
(scripts/check-deploy.sh runs it; it also compares the rendered overlays structurally).
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy/prometheus/rules.yml"
OUT = ROOT / "deploy/k8s/base/prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/rules.yml by scripts/gen-prometheusrule.py; do not edit.
# Edit rules.yml (and its tests, deploy/prometheus/tests.yml), then run the script.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: playstream
  labels:
    app.kubernetes.io/name: playstream
    role: alert-rules
spec:
"""


def render() -> str:
    lines = RULES.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    body = ["  " + line if line.strip() else "" for line in lines[start:]]
    return HEADER + "\n".join(body) + "\n"


def main() -> int:
    want = render()
    if sys.argv[1:] == ["--check"]:
        have = OUT.read_text() if OUT.exists() else ""
        if have != want:
            print(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen-prometheusrule.py", file=sys.stderr)
            return 1
        print(f"{OUT.relative_to(ROOT)} matches {RULES.relative_to(ROOT)}")
        return 0
    OUT.write_text(want)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
