#!/usr/bin/env python3
"""Checks of deploy/ that no off-the-shelf tool makes, used by scripts/check-deploy.sh.

Subcommands (each exits 1 with one line per problem):
  split RENDERED OUTDIR     split a rendered overlay into core.yaml (for kubernetes-validate)
                            and crds.json (ScaledObject, TriggerAuthentication, ServiceMonitor,
                            PrometheusRule: for the CRD schemas of the npm packages)
  policy RENDERED           what the issue asks of the manifests (grace periods above the
                            timeouts, probes, secrets only from the Secret, KEDA settings that
                            match the services' flags, env names that src/cli.rs knows, ...)
  prometheusrule RENDERED   the PrometheusRule's groups equal deploy/prometheus/rules.yml's
  rules                     every alert: a must-fire and a must-not-fire unit test, a runbook
                            entry, a runbook annotation pointing at it
  dashboard OUT             parse the dashboard; write every panel expr as a recording rule
                            to OUT (for `promtool check rules`); print the exprs as JSON lines
  compose CONFIG            `docker-compose config` output: validator scalable, Prometheus
                            and Grafana mounts
  metric-names FILE...      the metric names a list of PromQL exprs (JSON lines) uses
"""
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy/prometheus/rules.yml"
TESTS = ROOT / "deploy/prometheus/tests.yml"
RUNBOOK = ROOT / "deploy/RUNBOOK.md"
DASHBOARD = ROOT / "deploy/grafana/playstream.json"
CLI = ROOT / "src/cli.rs"

CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}
# Environment variables read by something other than clap: the AWS SDK's chain and tracing.
NON_CLI_ENV = {"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "RUST_LOG"}

problems: list[str] = []


def fail(msg: str) -> None:
    problems.append(msg)


def finish(ok_msg: str) -> int:
    if problems:
        for p in problems:
            print(f"  FAIL: {p}", file=sys.stderr)
        return 1
    print(f"  ok: {ok_msg}")
    return 0


def docs(path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(pathlib.Path(path).read_text()) if d]


def alerts() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]


# ----------------------------------------------------------------------------------- split
def cmd_split(rendered: str, outdir: str) -> int:
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    all_docs = docs(rendered)
    core = [d for d in all_docs if d["kind"] not in CRD_KINDS]
    crds = [d for d in all_docs if d["kind"] in CRD_KINDS]
    unknown = {d["kind"] for d in crds} - CRD_KINDS
    if unknown:
        fail(f"unexpected custom kinds {unknown}")
    (out / "core.yaml").write_text(yaml.safe_dump_all(core, sort_keys=False))
    (out / "crds.json").write_text(json.dumps(crds))
    kinds = sorted({d["kind"] for d in crds})
    for want in ("ScaledObject", "ServiceMonitor", "PrometheusRule"):
        if want not in kinds:
            fail(f"{rendered}: no {want}")
    return finish(f"{len(core)} core objects, {len(crds)} custom ({', '.join(kinds)})")


# ---------------------------------------------------------------------------------- policy
def cli_env_names() -> set[str]:
    return set(re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', CLI.read_text()))


def cmd_policy(rendered: str) -> int:
    all_docs = docs(rendered)
    def key(d: dict) -> tuple[str, str]:
        name = d["metadata"]["name"]
        if d["kind"] in ("ConfigMap", "Secret"):
            name = re.sub(r"-[a-z0-9]{10}$", "", name)  # kustomize's content hash
        return d["kind"], name

    by = {key(d): d for d in all_docs}
    cms = {name: d.get("data", {}) for (kind, name), d in by.items() if kind == "ConfigMap"}
    known = cli_env_names() | NON_CLI_ENV
    for name, data in cms.items():
        for k in data:
            if k not in known:
                fail(f"ConfigMap {name}: {k} is neither a flag's env var in src/cli.rs nor a known SDK variable")

    def env_of(dep: dict) -> dict[str, str]:
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env: dict[str, str] = {}
        for ef in c.get("envFrom", []):
            ref = ef["configMapRef"]["name"]
            base = re.sub(r"-[a-z0-9]{10}$", "", ref)
            env.update(cms.get(base, {}))
        return env

    def ms(env: dict, key: str, default: int) -> int:
        return int(env.get(key, default))

    timeouts = {
        "playstream-ingest": ("PLAYSTREAM_SHUTDOWN_TIMEOUT_MS", 20000, "http", "ingest"),
        "playstream-validator": ("PLAYSTREAM_DRAIN_TIMEOUT_MS", 10000, "metrics", "validate"),
    }
    for name, (tkey, tdef, port, sub) in timeouts.items():
        dep = by.get(("Deployment", name))
        if not dep:
            fail(f"no Deployment {name}")
            continue
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        env = env_of(dep)
        grace = pod.get("terminationGracePeriodSeconds", 30)
        pre = 0
        pre_cmd = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        if pre_cmd[:1] == ["sleep"]:
            pre = int(pre_cmd[1])
        need = ms(env, tkey, tdef) / 1000 + pre
        if grace <= need:
            fail(f"{name}: terminationGracePeriodSeconds {grace} must exceed {tkey}/1000 + preStop = {need}")
        if c.get("args") != [sub]:
            fail(f"{name}: args must be just [{sub!r}] (every setting from env; no secrets in argv), got {c.get('args')}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
            p = c.get(probe, {}).get("httpGet", {})
            if p.get("path") != path or p.get("port") != port:
                fail(f"{name}: {probe} must GET {path} on port {port}, got {p}")
        req = c.get("resources", {}).get("requests", {})
        if not req.get("cpu") or not req.get("memory"):
            fail(f"{name}: resource requests (cpu, memory) missing")
        sc = pod.get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            fail(f"{name}: runAsNonRoot missing")
        for e in c.get("env", []):
            if "value" in e and re.search(r"PASSWORD|SECRET|KEY_ID|OPTIONS|AUTH", e["name"]):
                fail(f"{name}: {e['name']} given as a literal value; it must come from the Secret")
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if re.search(r"SECRET|KAFKA_OPTIONS|AUTH", e["name"]) and not ref:
                fail(f"{name}: {e['name']} must come from a secretKeyRef")
        for k in env:
            if re.search(r"PASSWORD|SECRET|KAFKA_OPTIONS|BASIC_AUTH", k):
                fail(f"{name}: {k} is in a ConfigMap; it belongs in the Secret")
    ing = by.get(("Deployment", "playstream-ingest"))
    if ing:
        pod = ing["spec"]["template"]["spec"]
        c = pod["containers"][0]
        keys = env_of(ing).get("PLAYSTREAM_API_KEYS_FILE", "")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        mdir = str(pathlib.PurePosixPath(keys).parent)
        m = mounts.get(mdir)
        if not m:
            fail(f"ingest: PLAYSTREAM_API_KEYS_FILE {keys} is not in a mounted directory")
        else:
            if "subPath" in m:
                fail("ingest: the keys volume uses subPath (a Secret update would never reach the pod)")
            vol = next((v for v in pod.get("volumes", []) if v["name"] == m["name"]), {})
            if "secret" not in vol:
                fail("ingest: the keys file must come from a Secret volume")
    for kind, name in (("HorizontalPodAutoscaler", "playstream-ingest"), ("PodDisruptionBudget", "playstream-ingest"),
                       ("PodDisruptionBudget", "playstream-validator"), ("Service", "playstream-ingest"),
                       ("Service", "playstream-validator"), ("ServiceMonitor", "playstream-ingest"),
                       ("ServiceMonitor", "playstream-validator"), ("PrometheusRule", "playstream")):
        if (kind, name) not in by:
            fail(f"no {kind} {name}")
    for name in ("playstream-ingest", "playstream-validator"):
        if by.get(("Deployment", name), {}).get("spec", {}).get("replicas") is not None:
            fail(f"Deployment {name} sets replicas; its autoscaler owns that")
    so = by.get(("ScaledObject", "playstream-validator"))
    val = by.get(("Deployment", "playstream-validator"))
    if not so or not val:
        fail("no ScaledObject/Deployment playstream-validator")
    else:
        spec = so["spec"]
        parts = so["metadata"].get("annotations", {}).get("playstream/raw-topic-partitions")
        if parts is None or int(parts) != spec.get("maxReplicaCount"):
            fail(f"ScaledObject: maxReplicaCount {spec.get('maxReplicaCount')} != raw topic partitions {parts}")
        if spec["scaleTargetRef"]["name"] != "playstream-validator":
            fail("ScaledObject does not target the validator Deployment")
        kafka = [t for t in spec["triggers"] if t["type"] == "kafka"]
        if len(kafka) != 1:
            fail("ScaledObject: want exactly one kafka trigger")
        else:
            md = kafka[0]["metadata"]
            env = env_of(val)
            want = {
                "bootstrapServers": env.get("KAFKA_BROKERS", "localhost:9092"),
                "consumerGroup": env.get("PLAYSTREAM_GROUP", "playstream-validator"),
                "topic": env.get("PLAYSTREAM_RAW_TOPIC", "game-events.raw"),
                "excludePersistentLag": "true",
            }
            for k, v in want.items():
                if md.get(k) != v:
                    fail(f"ScaledObject trigger {k}={md.get(k)!r}, want {v!r} (the validators' setting)")
            if "activationLagThreshold" not in md or "lagThreshold" not in md:
                fail("ScaledObject trigger needs lagThreshold and activationLagThreshold")
            if "authenticationRef" in kafka[0]:
                ta = kafka[0]["authenticationRef"]["name"]
                if ("TriggerAuthentication", ta) not in by:
                    fail(f"ScaledObject refers to TriggerAuthentication {ta}, which is not rendered")
    return finish(f"policy of {rendered}")


# -------------------------------------------------------------------------- prometheusrule
def cmd_prometheusrule(rendered: str) -> int:
    want = yaml.safe_load(RULES.read_text())["groups"]
    prs = [d for d in docs(rendered) if d["kind"] == "PrometheusRule"]
    if len(prs) != 1:
        fail(f"{rendered}: want one PrometheusRule, found {len(prs)}")
    elif prs[0]["spec"]["groups"] != want:
        fail(f"{rendered}: PrometheusRule groups differ from deploy/prometheus/rules.yml (run scripts/gen-prometheusrule.py)")
    return finish(f"PrometheusRule in {rendered} == rules.yml ({sum(len(g['rules']) for g in want)} rules)")


# ----------------------------------------------------------------------------------- rules
def cmd_rules() -> int:
    names = alerts()
    tests = yaml.safe_load(TESTS.read_text())["tests"]
    fires: dict[str, int] = {}
    quiet: dict[str, int] = {}
    for t in tests:
        for a in t.get("alert_rule_test", []):
            bucket = fires if a.get("exp_alerts") else quiet
            bucket[a["alertname"]] = bucket.get(a["alertname"], 0) + 1
    runbook = RUNBOOK.read_text()
    headings = {h.strip() for h in re.findall(r"^## (.+)$", runbook, re.M)}
    rules = yaml.safe_load(RULES.read_text())
    for g in rules["groups"]:
        for r in g["rules"]:
            name = r["alert"]
            if not fires.get(name):
                fail(f"{name}: no unit test where it must fire")
            if not quiet.get(name):
                fail(f"{name}: no unit test where it must not fire")
            if name not in headings:
                fail(f"{name}: no '## {name}' entry in deploy/RUNBOOK.md")
            else:
                body = runbook.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
                if "**Means:**" not in body or "**Do:**" not in body:
                    fail(f"{name}: runbook entry lacks **Means:** / **Do:**")
            link = r.get("annotations", {}).get("runbook", "")
            if link != f"deploy/RUNBOOK.md#{name.lower()}":
                fail(f"{name}: runbook annotation {link!r} does not point at its entry")
            if "severity" not in r.get("labels", {}):
                fail(f"{name}: no severity label")
    for extra in (set(fires) | set(quiet)) - set(names):
        fail(f"tests.yml tests an alert that does not exist: {extra}")
    for h in headings - set(names):
        fail(f"RUNBOOK.md has an entry for an alert that does not exist: {h}")
    return finish(f"{len(names)} alerts, each with must-fire and must-not-fire tests and a runbook entry")


# ------------------------------------------------------------------------------- dashboard
def dashboard_exprs() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p["title"], t["expr"]))
            walk(p.get("panels", []))

    walk(dash["panels"])
    return out


def grafana_to_promql(expr: str) -> str:
    """Grafana's built-in interval variables, replaced as Grafana would with a 15 s scrape."""
    return expr.replace("$__rate_interval", "1m").replace("$__interval", "15s").replace("$__range", "1h")


def cmd_dashboard(out: str) -> int:
    dash = json.loads(DASHBOARD.read_text())
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in dash:
            fail(f"dashboard: no {key}")
    exprs = dashboard_exprs()
    leftover = [e for _, e in exprs if "$" in grafana_to_promql(e)]
    if leftover:
        fail(f"dashboard: template variables the checks cannot resolve: {leftover}")
    ds = {json.dumps(p.get("datasource")) for p in dash["panels"] if p.get("type") != "row"}
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in prov["datasources"]}
    for d in ds:
        uid = json.loads(d).get("uid") if d != "null" else None
        if uid not in uids:
            fail(f"dashboard panel datasource uid {uid!r} is not provisioned ({uids})")
    rules = {"groups": [{"name": "dashboard-exprs", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": grafana_to_promql(e)} for i, (_, e) in enumerate(exprs)]}]}
    pathlib.Path(out).write_text(yaml.safe_dump(rules, sort_keys=False))
    with open(pathlib.Path(out).with_suffix(".jsonl"), "w") as f:
        for title, e in exprs:
            f.write(json.dumps({"panel": title, "expr": grafana_to_promql(e)}) + "\n")
    return finish(f"dashboard parses: {sum(1 for p in dash['panels'] if p.get('type') != 'row')} panels, {len(exprs)} exprs")


# ------------------------------------------------------------------------------ metric names
FUNC_OR_KEYWORD = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                   "offset", "bool", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # string literals
    s = re.sub(r"\{[^}]*\}", "", s)                         # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)                        # range / subquery selectors
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)  # label lists
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in FUNC_OR_KEYWORD:
            continue
        names.add(word)
    return names


def cmd_metric_names(files: list[str]) -> int:
    names: set[str] = set()
    for f in files:
        for line in pathlib.Path(f).read_text().splitlines():
            names |= metric_names(json.loads(line)["expr"])
    for n in sorted(names):
        print(n)
    return 0


def cmd_rule_exprs(out: str) -> int:
    rules = yaml.safe_load(RULES.read_text())
    with open(out, "w") as f:
        for g in rules["groups"]:
            for r in g["rules"]:
                f.write(json.dumps({"panel": r.get("alert", r.get("record")), "expr": r["expr"]}) + "\n")
    return 0


# --------------------------------------------------------------------------------- compose
def cmd_compose(config: str) -> int:
    c = yaml.safe_load(pathlib.Path(config).read_text())
    s = c["services"]
    for need in ("kafka", "schema-registry", "aws", "aws-init", "ingest", "validator", "prometheus", "grafana", "kafka-ui"):
        if need not in s:
            fail(f"compose: no service {need}")
    v = s.get("validator", {})
    if "container_name" in v or v.get("ports"):
        fail("compose: validator has a container_name or host ports; `--scale validator=3` would clash")
    if not str(s.get("kafka", {}).get("image", "")).startswith("apache/kafka:"):
        fail("compose: kafka must be the apache/kafka image")
    if s.get("kafka", {}).get("environment", {}).get("KAFKA_PROCESS_ROLES") != "broker,controller":
        fail("compose: kafka is not a KRaft broker+controller")
    aws_image = str(s.get("aws", {}).get("image", ""))
    if aws_image.endswith(":latest") or ":" not in aws_image:
        fail(f"compose: AWS emulator image {aws_image!r} must be pinned")
    for name, env_key in (("ingest", "PLAYSTREAM_API_KEYS_FILE"),):
        if env_key not in s.get(name, {}).get("environment", {}):
            fail(f"compose: {name} has no {env_key}")
    def mounts(svc):
        out = []
        for vol in s.get(svc, {}).get("volumes", []):
            out.append((vol["source"], vol["target"]) if isinstance(vol, dict) else tuple(vol.split(":")[:2]))
        return out
    prom = mounts("prometheus")
    if not any(src.endswith("deploy/prometheus") and tgt == "/etc/prometheus" for src, tgt in prom):
        fail(f"compose: prometheus does not mount deploy/prometheus at /etc/prometheus: {prom}")
    graf = mounts("grafana")
    if not any(src.endswith("deploy/grafana/playstream.json") for src, _ in graf):
        fail("compose: grafana does not mount the dashboard")
    if not any(src.endswith("deploy/grafana/provisioning") and tgt == "/etc/grafana/provisioning" for src, tgt in graf):
        fail("compose: grafana does not mount the provisioning files")
    return finish("compose services, scalable validator, pinned emulator, mounts")


def main(argv: list[str]) -> int:
    cmds = {
        "split": lambda a: cmd_split(a[0], a[1]),
        "policy": lambda a: cmd_policy(a[0]),
        "prometheusrule": lambda a: cmd_prometheusrule(a[0]),
        "rules": lambda a: cmd_rules(),
        "dashboard": lambda a: cmd_dashboard(a[0]),
        "compose": lambda a: cmd_compose(a[0]),
        "metric-names": lambda a: cmd_metric_names(a),
        "rule-exprs": lambda a: cmd_rule_exprs(a[0]),
    }
    if not argv or argv[0] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
