#!/usr/bin/env bash
# Validator throughput vs a do-nothing consumer on the local tansu broker (see benches/pipeline.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
export RUST_LOG="${RUST_LOG:-warn}"
exec cargo bench --bench pipeline
