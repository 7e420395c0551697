#!/usr/bin/env bash
# Prints each service's idle resident memory (VmRSS after start-up and a
# health check, with Redis reachable), and the private part of it (RssAnon;
# the rest is shared library pages). Target: < 16 MB each.
#   tests/bench/service_rss.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
bin=$build/bin
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
# Vendors are never called while idle: placeholder credentials are enough.
printf 'unused' >"$tmp/secret"
export CAMPSYNC_MARKETO_URL=https://example.invalid CAMPSYNC_MARKETO_CLIENT_ID=idle
export CAMPSYNC_MARKETO_CLIENT_SECRET_FILE=$tmp/secret
export CAMPSYNC_SALESFORCE_CLIENT_ID=idle CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE=$tmp/secret
export CAMPSYNC_MARKETO_CONNECTOR=127.0.0.1:1 CAMPSYNC_SALESFORCE_CONNECTOR=127.0.0.1:1
printf '%-22s %10s %12s %8s\n' service rss_kib private_kib target
for svc in marketo salesforce reconciler attribution; do
  port=$(free_port)
  "$bin/campsync-$svc" --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 \
    --redis "redis://127.0.0.1:$rport/0" 2>"$tmp/$svc.log" &
  pid=$!
  pids+=($pid)
  for _ in $(seq 100); do "$bin/campsyncctl" --target "127.0.0.1:$port" health >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  anon=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
  verdict=ok
  ((rss < 16384)) || verdict=OVER
  printf '%-22s %10s %12s %8s\n' "campsync-$svc" "$rss" "$anon" "$verdict"
done
