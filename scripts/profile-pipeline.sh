#!/usr/bin/env bash
# A perf profile (with call graphs) of the validator phase of benches/pipeline.rs only:
# `bash scripts/profile-pipeline.sh [OUT.data]`, then `perf report -i OUT.data`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/pipeline.perf.data}
cargo bench --bench pipeline --no-run
bin=$(ls -t target/release/deps/pipeline-* | grep -v '\.d$' | head -1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
export RUST_LOG="${RUST_LOG:-warn}"
ctl=$(mktemp -u /tmp/perf-ctl.XXXXXX)
mkfifo "$ctl"
trap 'rm -f "$ctl"' EXIT
export PLAYSTREAM_BENCH_PERF_CTL="$ctl"
perf record -F 1999 ${PERF_CALLGRAPH---call-graph dwarf,32768} -D -1 --control "fifo:$ctl" -o "$out" "$bin" --bench
echo "profile: $out"
