#!/usr/bin/env bash
# The demo: installs what is missing, starts a private Postgres (fsync on) + Redis, builds, migrates,
# starts a small cluster as separate processes (coordinator, scheduler, two workers), applies the
# example workflow (a diamond with a fan-out), runs it, prints its tasks with timings, and stops
# everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

install_packages
base=$(mktemp -d /tmp/weft-demo.XXXXXX); chmod 755 "$base"  # the postgres user must reach it
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    stop_servers
    rm -rf "$base"
}
trap cleanup EXIT
start_servers "$base/servers" on

log "building weft and weftctl (release)"
swift build -c release --product weft 2>&1 | grep -vE "prohibited flag" | tail -1
swift build -c release --product weftctl 2>&1 | grep -vE "prohibited flag" | tail -1
bin=$(swift build -c release --show-bin-path)
export WEFT_AUTH_TOKEN="demo-token-$RANDOM$RANDOM"

wait_listening() {  # wait_listening LOGFILE → prints HOST:PORT
    local i
    for i in $(seq 1 200); do
        if grep -q "^listening on " "$1"; then sed -n 's/^listening on //p' "$1" | head -1; return 0; fi
        sleep 0.05
    done
    echo "a process did not start; its log:" >&2; cat "$1" >&2; return 1
}

log "weft migrate"
"$bin/weft" migrate --postgres "$WEFT_POSTGRES_URL"

log "starting a scheduler, a coordinator and two workers (separate processes)"
"$bin/weft" scheduler --listen 127.0.0.1:0 --node-id scheduler-0 --postgres "$WEFT_POSTGRES_URL" >"$base/scheduler.log" 2>&1 &
pids+=($!)
scheduler=$(wait_listening "$base/scheduler.log")
"$bin/weft" coordinator --listen 127.0.0.1:0 --node-id coordinator-0 --postgres "$WEFT_POSTGRES_URL" >"$base/coordinator.log" 2>&1 &
pids+=($!)
coordinator=$(wait_listening "$base/coordinator.log")
for i in 1 2; do
    "$bin/weft" worker --address "$coordinator" --node-id "worker-$i" --concurrency 4 >"$base/worker-$i.log" 2>&1 &
    pids+=($!)
done
echo "scheduler $scheduler, coordinator $coordinator"
export WEFT_ADDRESS=$coordinator
for i in $(seq 1 100); do grep -q "worker connected" "$base/scheduler.log" && break; sleep 0.05; done

log "weftctl health"
"$bin/weftctl" health

log "weftctl workflow apply examples/ingest.yaml"
"$bin/weftctl" workflow apply examples/ingest.yaml

log "weftctl run start ingest --input '[1, 2, 3, 4, 5]'"
run=$("$bin/weftctl" run start ingest --input '[1, 2, 3, 4, 5]')
echo "$run"

log "weftctl run wait $run"
"$bin/weftctl" run wait "$run" --timeout 60s

log "weftctl run list"
"$bin/weftctl" run list

log "demo finished: stopping the cluster and the servers"
