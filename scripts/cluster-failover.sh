#!/usr/bin/env bash
# Measures scheduler failover on this machine: 3 schedulers in gossip (release build, Postgres with
# fsync on, Redis), a coordinator in gossip and 2 workers, a `weft bench throughput` load through
# the coordinator, and `kill -9` of one scheduler in the middle of it. Prints how long it took from
# the kill until every partition was served again (recorded owner alive, its engine serving, as
# `weftctl partitions` shows), then the bench's report, then a check in Postgres that every
# acknowledged run closed and no task succeeded twice.
#
#   scripts/cluster-failover.sh [--runs 60000] [--profile lan|local-testing] [--kill-after 5] [--keep-logs DIR]
#
# What bounds the time with the default (lan) profile: SWIM must first declare the node dead —
# a missed probe (1 s period, 500 ms timeout), then a suspicion of 4·log10(N) periods, shortened
# by confirmations from the others — after which the survivors take the leases over at once,
# advance the fences in one transaction and recover the partitions' open runs from Postgres.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

runs=60000; profile=lan; kill_after=5; keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --kill-after) kill_after=$2; shift 2 ;;
    --keep-logs) keep=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--profile lan|local-testing] [--kill-after SECONDS] [--keep-logs DIR]" >&2; exit 2 ;;
  esac
done
case "$profile" in lan|local-testing) ;; *) echo "--profile: lan or local-testing" >&2; exit 2 ;; esac

install_packages
log "building the release binaries"
swift build -c release --product weft >/dev/null
swift build -c release --product weftctl >/dev/null
bin=$PWD/.build/release

base=$(mktemp -d /tmp/weft-failover.XXXXXX); chmod 755 "$base"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$base"/*.log "$base"/bench.txt "$keep"/ 2>/dev/null || true; fi
  stop_servers
  rm -rf "$base"
}
trap cleanup EXIT
start_servers "$base/servers" on
"$bin/weft" migrate --postgres "$WEFT_POSTGRES_URL" >/dev/null

# Waits until FILE has a line starting with PREFIX and prints the rest of it.
line_after() {
  local file=$1 prefix=$2
  for _ in $(seq 1 600); do
    if grep -q "^$prefix" "$file" 2>/dev/null; then grep -m1 "^$prefix" "$file" | sed "s/^$prefix//"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$prefix' in $file:" >&2; tail -20 "$file" >&2; return 1
}

membership=()
[ "$profile" = local-testing ] && membership=(--membership-profile local-testing)
seed=""
declare -A scheduler_pid
for id in s1 s2 s3; do
  seeds=(); [ -n "$seed" ] && seeds=(--seeds "$seed")
  "$bin/weft" scheduler --listen 127.0.0.1:0 --node-id "$id" --gossip 127.0.0.1:0 "${seeds[@]}" "${membership[@]}" \
    --redis "$WEFT_REDIS_URL" --postgres "$WEFT_POSTGRES_URL" >"$base/$id.log" 2>&1 &
  pids+=($!); scheduler_pid[$id]=$!
  gossip=$(line_after "$base/$id.log" "gossip on ")
  [ -z "$seed" ] && seed=$gossip
done
"$bin/weft" coordinator --listen 127.0.0.1:0 --node-id c1 --gossip 127.0.0.1:0 --seeds "$seed" "${membership[@]}" \
  --postgres "$WEFT_POSTGRES_URL" >"$base/c1.log" 2>&1 &
pids+=($!)
coordinator=$(line_after "$base/c1.log" "listening on ")
for i in 1 2; do
  "$bin/weft" worker --address "$coordinator" --node-id "w$i" --concurrency 64 >"$base/w$i.log" 2>&1 &
  pids+=($!)
done

# Every partition served, by a live owner (not $1), with its engine serving; the ring's owner too.
all_served() {
  "$bin/weftctl" partitions --address "$coordinator" --json 2>/dev/null | python3 -c '
import json, sys
dead = sys.argv[1]
rows = json.load(sys.stdin)
ok = rows and all(r["owner"] != dead and r["state"] == "serving" and r["owner"] == r["ring_owner"] for r in rows)
sys.exit(0 if ok else 1)' "${1:-}"
}
log "waiting for the partitions to settle on the ring"
for _ in $(seq 1 300); do all_served && break; sleep 0.2; done
all_served || { echo "the partitions never settled" >&2; "$bin/weftctl" partitions --address "$coordinator" >&2; exit 1; }

log "bench: $runs runs through $coordinator; kill -9 of s3 after ${kill_after}s ($profile membership)"
"$bin/weft" bench throughput --address "$coordinator" --postgres "$WEFT_POSTGRES_URL" --runs "$runs" >"$base/bench.txt" 2>&1 &
bench=$!; pids+=($bench)
sleep "$kill_after"
killed_at=$(date +%s.%N)
echo "killed s3 at $(date -u +%H:%M:%S.%N)" >"$base/kill.log"
kill -9 "${scheduler_pid[s3]}"
served_at=""
for _ in $(seq 1 1200); do
  if all_served s3; then served_at=$(date +%s.%N); break; fi
  sleep 0.05
done
if [ -z "$served_at" ]; then echo "the partitions of s3 were not served again within 60 s" >&2; exit 1; fi
failover=$(python3 -c "print(f'{$served_at - $killed_at:.2f}')")
wait "$bench" || { cat "$base/bench.txt" >&2; echo "the bench failed" >&2; exit 1; }
cat "$base/bench.txt"

open=$(PGCONNECT_TIMEOUT=5 "$WEFT_PG_BIN/psql" "$WEFT_POSTGRES_URL" -Atc "SELECT count(*) FROM runs WHERE closed_at IS NULL")
twice=$("$WEFT_PG_BIN/psql" "$WEFT_POSTGRES_URL" -Atc \
  "SELECT count(*) FROM (SELECT run_id, node FROM task_attempts WHERE status = 'succeeded' GROUP BY run_id, node HAVING count(*) > 1) t")
echo
echo "failover: kill -9 of s3 -> every partition served again in ${failover} s ($profile membership)"
echo "runs still open: $open; tasks recorded as succeeded twice: $twice"
[ "$open" = 0 ] && [ "$twice" = 0 ]
