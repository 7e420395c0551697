#!/usr/bin/env bash
# The test command: installs what is missing, builds from scratch and runs
# every test (unit, integration against real redis-server / sandbox / gRPC
# servers on loopback, fuzz-corpus replays).
#   deploy/run-tests.sh              normal build in build/
#   deploy/run-tests.sh --sanitize   ASan+UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
cmake_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${1:-}" == "--sanitize" ]]; then
  build=build-asan
  cmake_flags=(-DCMAKE_BUILD_TYPE=Debug -DCAMPSYNC_SANITIZE=ON)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # libgrpc keeps process-lifetime allocations that LeakSanitizer would report.
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
fi

deploy/install-deps.sh
rm -rf "$build"
cmake -S . -B "$build" "${cmake_flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900
