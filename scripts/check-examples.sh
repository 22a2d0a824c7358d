#!/usr/bin/env bash
# The SDK as an application meets it (issue: "a new package depending on Weft by path, written only
# from the README, builds and runs first time"):
#   1. the README's and DocC articles' Swift snippets equal regions of examples/sdk (check_snippets.py);
#   2. examples/sdk — a package depending on Weft by path with `traits: []` — resolves only the SDK's
#      dependencies, builds without warnings, and its WeftTesting tests pass (no servers);
#   3. against a live cluster (`weft dev` on Postgres WEFT_POSTGRES_URL, a free port), its worker
#      serves and its client registers the workflow, starts a run and prints the typed result.
# Needs .build/debug/weft (scripts/test.sh builds it) and WEFT_POSTGRES_URL (test.sh exports it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python3 scripts/check_snippets.py

pkg=examples/sdk
log=$(mktemp -d /tmp/weft-examples.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$log"
}
trap cleanup EXIT

swift package --package-path $pkg resolve >"$log/resolve.log" 2>&1 || { cat "$log/resolve.log"; exit 1; }
for unwanted in swift-argument-parser yams swift-prometheus; do
  if grep -q "\"identity\" : \"$unwanted\"" $pkg/Package.resolved; then
    echo "check-examples: the SDK (traits: []) resolved $unwanted, which only the servers need" >&2; exit 1
  fi
done
swift build --package-path $pkg --build-tests 2>&1 | tee "$log/build.log" | grep -E "error:|Build complete" || true
if grep -q "error:" "$log/build.log"; then echo "check-examples: build failed" >&2; exit 1; fi
if grep "warning:" "$log/build.log" | grep -v "prohibited flag" | grep -q .; then
  echo "check-examples: compiler warnings:" >&2; grep "warning:" "$log/build.log" | grep -v "prohibited flag" | sort -u >&2; exit 1
fi
swift test --package-path $pkg --skip-build 2>&1 | tee "$log/test.log" | grep -E "✘|Test run with" || true
grep -qE "Test run with [0-9]+ tests? .*passed" "$log/test.log" || { echo "check-examples: the example's tests failed" >&2; exit 1; }

: "${WEFT_POSTGRES_URL:?check-examples needs WEFT_POSTGRES_URL (scripts/test.sh sets it)}"
bin=$(swift build --package-path $pkg --show-bin-path)
"$root/.build/debug/weft" dev --listen 127.0.0.1:0 >"$log/dev.log" 2>&1 &
pids+=($!)
address=""
for _ in $(seq 1 300); do
  address=$(sed -nE 's/^listening on (.*)$/\1/p' "$log/dev.log" | head -1)
  [ -n "$address" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$log/dev.log"; echo "check-examples: weft dev exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { cat "$log/dev.log"; echo "check-examples: weft dev did not say where it listens" >&2; exit 1; }
"$bin/shipping-worker" "$address" >"$log/worker.log" 2>&1 &
pids+=($!)
# The client starts runs at once: wait until the worker serves its task types (a start whose type
# no connected worker of the queue runs is refused, and weft dev's built-in worker is connected).
for _ in $(seq 1 300); do
  "$root/.build/debug/weftctl" workers --address "$address" 2>/dev/null | grep -q "shipping.price" && break
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$log/worker.log"; echo "check-examples: the worker exited" >&2; exit 1; }
  sleep 0.1
done
if ! output=$(timeout 120 "$bin/shipping-client" "$address" 2>&1); then
  echo "$output"; tail -20 "$log/dev.log" "$log/worker.log"; echo "check-examples: the client failed" >&2; exit 1
fi
echo "$output"
grep -qE "^run [0-9a-f-]{36}: label ACME-[0-9a-f]{8} for 1000 cents$" <<<"$output" \
  || { echo "check-examples: unexpected client output" >&2; exit 1; }
grep -qE "^batch [0-9a-f-]{36}: 2 labels, \[400, 1200\] cents$" <<<"$output" \
  || { echo "check-examples: the batch of child workflows did not give its labels" >&2; exit 1; }
grep -qE "^schedule nightly-restock: next fires \[[0-9]+(, [0-9]+){4}\] \(Unix ms\)$" <<<"$output" \
  || { echo "check-examples: the schedule was not shown with its next 5 fires" >&2; exit 1; }
# The worker stops gracefully on SIGTERM (ServiceGroup), within its grace period.
kill -TERM "${pids[1]}"
for _ in $(seq 1 150); do kill -0 "${pids[1]}" 2>/dev/null || break; sleep 0.1; done
if kill -0 "${pids[1]}" 2>/dev/null; then echo "check-examples: the worker did not stop on SIGTERM" >&2; exit 1; fi
echo "check-examples: ok"
