#!/usr/bin/env bash
# The demo: installs what is missing, starts a private Postgres + Redis, builds, starts a
# coordinator, calls it with `weftctl health`, prints the outcome and stops everything.
# (Later issues grow this into a whole cluster running an example workflow.)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

install_packages
base=$(mktemp -d /tmp/weft-demo.XXXXXX); chmod 755 "$base"  # the postgres user must reach it
coordinator_pid=""
cleanup() {
    [ -n "$coordinator_pid" ] && kill -TERM "$coordinator_pid" 2>/dev/null && wait "$coordinator_pid" 2>/dev/null || true
    stop_servers
    rm -rf "$base"
}
trap cleanup EXIT
start_servers "$base/servers" on

log "building weft and weftctl (release)"
swift build -c release --product weft 2>&1 | grep -vE "prohibited flag" | tail -1
swift build -c release --product weftctl 2>&1 | grep -vE "prohibited flag" | tail -1
bin=$(swift build -c release --show-bin-path)

export WEFT_AUTH_TOKEN=demo-token-$(date +%s)
port=$(free_port)
log "starting a coordinator on 127.0.0.1:$port"
"$bin/weft" coordinator --listen "127.0.0.1:$port" --node-id demo-coordinator \
    --postgres "$WEFT_POSTGRES_URL" --redis "$WEFT_REDIS_URL" >"$base/coordinator.log" 2>&1 &
coordinator_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$base/coordinator.log" && break; sleep 0.05; done

log "weftctl --address 127.0.0.1:$port health"
"$bin/weftctl" --address "127.0.0.1:$port" health
log "the same with a wrong token (expected: UNAUTHENTICATED, exit 1)"
set +e
WEFT_AUTH_TOKEN=wrong "$bin/weftctl" --address "127.0.0.1:$port" health
echo "exit status: $?"
set -e
log "coordinator log"
cat "$base/coordinator.log"
log "demo finished"
