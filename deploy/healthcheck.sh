#!/bin/sh
# Docker HEALTHCHECK for the playstream image: GET /healthz of the service in this container.
# ingest serves it on PLAYSTREAM_LISTEN, the validator on PLAYSTREAM_METRICS_LISTEN; only one of
# them listens in a given container, so the first that answers 200 decides. Set
# PLAYSTREAM_HEALTH_URL to check one URL instead (e.g. when the address is given as a flag).
# (Kubernetes ignores HEALTHCHECK; the manifests in deploy/k8s use their own probes.)
set -u
port() { printf '%s' "${1##*:}"; }
if [ -n "${PLAYSTREAM_HEALTH_URL:-}" ]; then
  exec curl -fsS -o /dev/null --max-time 2 "$PLAYSTREAM_HEALTH_URL"
fi
for p in "$(port "${PLAYSTREAM_LISTEN:-0.0.0.0:8080}")" "$(port "${PLAYSTREAM_METRICS_LISTEN:-0.0.0.0:9464}")"; do
  if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${p}/healthz"; then
    exit 0
  fi
done
exit 1
