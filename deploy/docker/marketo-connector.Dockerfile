# campsync-marketo: multi-stage build on debian:bookworm-slim. The build stage compiles
# the whole tree; the final image holds only the binary and the runtime
# libraries it links, and runs as an unprivileged user.
# Build from the repository root:
#   docker build -f deploy/docker/marketo-connector.Dockerfile -t campsync/marketo-connector .
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libgrpc-dev protobuf-c-compiler libprotobuf-c-dev \
      libhiredis-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev libcmocka-dev \
      libjwt-dev grpc-proto ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" --target campsync-marketo

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc29 libprotobuf-c1 libhiredis0.14 libcurl4 libjansson4 libmicrohttpd12 libjwt0 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 campsync \
 && useradd --system --uid 10001 --gid campsync --no-create-home --shell /usr/sbin/nologin campsync
COPY --from=build /build/bin/campsync-marketo /usr/local/bin/campsync-marketo
USER 10001:10001
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/campsync-marketo"]
