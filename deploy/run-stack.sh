#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts Redis (AOF on), the
# vendor sandbox and the four campsync services on loopback, and shows each
# service's health. Everything it starts is stopped by pid when it ends,
# unless --keep is given (then it prints how to stop them).
#   deploy/run-stack.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bin=$root/build/bin

run=$root/.run/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$run"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
if ((keep == 0)); then trap stop_all EXIT; fi

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "run-stack: nothing listens on port $1 (see $run)" >&2; return 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run" --appendonly yes \
  --appendfsync everysec --maxmemory-policy noeviction --save '' \
  >"$run/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"
export CAMPSYNC_REDIS_URL=redis://127.0.0.1:$redis_port/0
echo "redis        127.0.0.1:$redis_port (AOF in $run)"

if [[ -x $bin/campsync-sandbox ]]; then
  "$bin/campsync-sandbox" --marketo 127.0.0.1:0 --salesforce 127.0.0.1:0 --admin 127.0.0.1:0 \
    --generate people=3000,programs=4,members=800,seed=7 >"$run/sandbox.addr" 2>"$run/sandbox.log" &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $run/sandbox.addr ]] && break; sleep 0.1; done
  echo "sandbox      $(head -1 "$run/sandbox.addr")"
fi

declare -A ports
for svc in marketo salesforce reconciler attribution; do
  port=$(free_port)
  mport=$(free_port)
  ports[$svc]=$port
  "$bin/campsync-$svc" --listen "127.0.0.1:$port" --metrics "127.0.0.1:$mport" \
    >"$run/$svc.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
  echo "$(printf '%-12s' "$svc") 127.0.0.1:$port (metrics http://127.0.0.1:$mport/metrics)"
done

echo
echo "health:"
status=0
for svc in marketo salesforce reconciler attribution; do
  ok=0
  for _ in $(seq 50); do
    if "$bin/campsyncctl" --target "127.0.0.1:${ports[$svc]}" health >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  "$bin/campsyncctl" --target "127.0.0.1:${ports[$svc]}" health || true
  ((ok)) || status=1
done
echo
echo "logs: $run"
if ((keep)); then
  echo "still running (--keep); stop with: kill ${pids[*]}"
fi
exit $status
