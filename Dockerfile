# The Weft image: one image for every role (`weft coordinator|scheduler|worker|migrate`), and
# `weftctl` beside it.
#
#   docker build -t weft:dev .
#   docker run --rm weft:dev --help
#
# Stage 1 builds with the Swift toolchain through scripts/build-release.sh — the script CI runs,
# so what this image ships is built and checked on every change. Stage 2 is slim Debian with only
# the C runtime libraries (libpq, hiredis, protobuf-c): the Swift standard library, Foundation and
# Dispatch are linked statically. The process runs as an unprivileged user and writes nothing to
# the root filesystem (the chart mounts it read-only).
ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libpq-dev libprotobuf-c-dev libhiredis-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN scripts/build-release.sh /out

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libhiredis0.14 libprotobuf-c1 libstdc++6 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 weft \
 && useradd --system --uid 10001 --gid weft --home-dir /nonexistent --shell /usr/sbin/nologin weft
COPY --from=build /out/weft /out/weftctl /usr/local/bin/
USER 10001:10001
# 7400 coordinator RPC, 7401 scheduler RPC, 7946/udp gossip, 9090 metrics and probes.
EXPOSE 7400 7401 7946/udp 9090
ENTRYPOINT ["weft"]
CMD ["--help"]
