#!/usr/bin/env bash
# Installs the Debian packages campsync needs to build, test and run, only
# when something is missing (so repeated runs are fast and need no network).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libhiredis-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
  libcmocka-dev libjwt-dev libssl-dev openssl
  redis-server grpc-proto python3 python3-grpcio python3-protobuf
  yamllint curl ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts redis-server as a system service on install; campsync runs its
# own instances on free ports, so the system one is left alone.
exit 0
