#!/usr/bin/env bash
# Installs what is missing, starts a private Postgres + Redis on free loopback ports, checks the
# committed protobuf-c output, builds (failing on any compiler warning), runs every test, replays the
# fuzz corpus, and stops the servers (also on failure).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --filter Wire   # a subset (passed to swift test)
#
# Also checks the Helm chart (scripts/check-chart.sh), the SDK's docs (scripts/check-docs.sh) and,
# for the whole suite, the SDK example package against a live cluster (scripts/check-examples.sh)
# and the release binaries the container image ships (scripts/build-release.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

install_packages

log "checking that Sources/CWeftProtos and the Swift codecs match Protos/"
gen=$(mktemp -d)
mkdir -p "$gen/c" "$gen/swift"
Protos/generate.sh "$gen/c" "$gen/swift" >/dev/null
stale=""
diff -r "$gen/c" Sources/CWeftProtos >/dev/null || stale="$stale Sources/CWeftProtos"
for f in "$gen"/swift/*.swift; do
    diff "$f" "Sources/WeftWire/Codec/$(basename "$f")" >/dev/null || stale="$stale Sources/WeftWire/Codec/$(basename "$f")"
done
if [ -n "$stale" ]; then
    echo "out of date:$stale — run Protos/generate.sh and commit the result" >&2
    rm -rf "$gen"; exit 1
fi
rm -rf "$gen"

base=$(mktemp -d /tmp/weft-test.XXXXXX); chmod 755 "$base"  # the postgres user must reach it
cleanup() { stop_servers; rm -rf "$base"; }
trap cleanup EXIT
start_servers "$base/servers" off

log "building (warnings are errors)"
build_log="$base/build.log"
if ! swift build --build-tests 2>&1 | tee "$build_log" | grep -E "error:|warning:|Compiling|Build complete" | grep -v "prohibited flag" | grep -E "error:|warning:|Build complete"; then
    :
fi
if grep -q "error:" "$build_log"; then echo "build failed" >&2; exit 1; fi
if grep "warning:" "$build_log" | grep -v "prohibited flag" | grep -q .; then
    echo "the build has compiler warnings (zero are allowed):" >&2
    grep "warning:" "$build_log" | grep -v "prohibited flag" | sort -u >&2
    exit 1
fi

log "checking the Helm chart (scripts/check-chart.sh)"
scripts/check-chart.sh .build/debug/weft

log "checking that misleading code does not compile (scripts/check-compile-errors.sh)"
scripts/check-compile-errors.sh

log "checking the SDK's documentation (scripts/check-docs.sh)"
scripts/check-docs.sh

log "replaying the fuzz corpora"
.build/debug/weft-fuzz-frames Tests/FuzzCorpus/frames
.build/debug/weft-fuzz-requests replay-all Tests/FuzzCorpus/requests

log "running tests (Postgres: $WEFT_POSTGRES_URL, Redis: $WEFT_REDIS_URL)"
export WEFT_BIN_DIR="$PWD/.build/debug"
test_log="$base/test.log"
set +e
swift test --skip-build --parallel "$@" 2>&1 | tee "$test_log" | grep -vE "^◇|^↳ ///|^↳ (Testing Library Version|Target Platform)|started\.$|passed after [0-9.]+ seconds\.$"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E "Test run with [0-9]+ tests? " "$test_log" | tail -1 || true)
echo "$summary"
total=$(echo "$summary" | sed -nE 's/.*Test run with ([0-9]+) tests?.*/\1/p')
failed=$(grep -cE '^✘ Test ".* failed after' "$test_log" || true)
if [ "$status" -ne 0 ] || [ -z "$total" ] || [ "$total" -eq 0 ]; then
    echo "tests: $(( ${total:-0} - failed )) passed, $failed failed"
    echo "swift test failed (exit $status)" >&2
    exit 1
fi
echo "tests: $(( total - failed )) passed, $failed failed"

# The SDK as an application uses it: examples/sdk (the README's snippets) built by path, its tests,
# its worker and client against a live `weft dev`. Only for the whole suite.
if [ $# -eq 0 ]; then
    log "building and running the SDK example package (scripts/check-examples.sh)"
    scripts/check-examples.sh
fi

# What the container image runs (the Dockerfile's build stage calls the same script). Only for the
# whole suite; WEFT_SKIP_RELEASE=1 skips it on a developer machine.
if [ $# -eq 0 ] && [ "${WEFT_SKIP_RELEASE:-}" != 1 ]; then
    log "building and checking the release binaries (scripts/build-release.sh)"
    scripts/build-release.sh "$base/dist"
fi
