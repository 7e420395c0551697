#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (every library instrumented, ASan +
# UBSan) and runs each one for a short time from its seed corpus, so the
# fuzz build keeps compiling and a quick regression pass runs on every CI.
#   deploy/run-fuzz.sh [SECONDS_PER_TARGET]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
deploy/install-deps.sh
build=build-fuzz
rm -rf "$build"
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAMPSYNC_FUZZ=ON >/dev/null
targets=$(ls tests/fuzz/fuzz_*.c | xargs -n1 basename | sed 's/\.c$//')
cmake --build "$build" -j"$(nproc)" --target $targets >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
failed=0
for t in $targets; do
  # Fuzz a scratch copy: new inputs found here are not written into the repo.
  mkdir -p "$work/$t"
  cp -r "tests/fuzz/corpus/$t/." "$work/$t/" 2>/dev/null || true
  if "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/" "$work/$t" >"$work/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -o 'Done [0-9]* runs' "$work/$t.log" | tail -1)"
  else
    echo "fuzz $t: FAILED" >&2
    tail -40 "$work/$t.log" >&2
    failed=1
  fi
done
exit $failed
