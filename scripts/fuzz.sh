#!/usr/bin/env bash
# Fuzzes with libFuzzer (and AddressSanitizer) for SECONDS each (default 60):
#   frames               the frame decoder + envelope codec (weft-fuzz-frames)
#   start-run get-run …  one structure-aware target per request decoder of the client and worker
#                        APIs (weft-fuzz-requests; `weft-fuzz-requests` without arguments lists them)
#
#   scripts/fuzz.sh 600                 # every target, 10 minutes each
#   scripts/fuzz.sh 600 start-run hello # just these
#   WEFT_FUZZ_MERGE=1 scripts/fuzz.sh … # afterwards, merge new coverage into Tests/FuzzCorpus (minimised)
#
# Links with lld (gold crashes on the duplicate main that libFuzzer brings). Builds into .build-fuzz,
# works on copies of the committed corpora in .build-fuzz/corpus-TARGET, and leaves any crashing
# input in .build-fuzz/artifacts/. Exits non-zero if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
shift || true
. scripts/lib/common.sh
install_packages
request_targets="start-run get-run wait-run cancel-run retry-run signal-run create-schedule backfill-schedule get-run-history get-workflow list-runs list-workflows register-workflow discover worker-message hello"
targets=${*:-"frames $request_targets"}
flags=(-c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld)
log "building the fuzz targets (-sanitize=fuzzer, address)"
swift build "${flags[@]}" --product weft-fuzz-frames 2>&1 | grep -vE "prohibited flag" | tail -1
swift build "${flags[@]}" --product weft-fuzz-requests 2>&1 | grep -vE "prohibited flag" | tail -1
mkdir -p .build-fuzz/artifacts
failed=""
for target in $targets; do
    if [ "$target" = frames ]; then
        committed=Tests/FuzzCorpus/frames; binary=.build-fuzz/release/weft-fuzz-frames
    else
        committed=Tests/FuzzCorpus/requests/$target; binary=.build-fuzz/release/weft-fuzz-requests
    fi
    corpus=.build-fuzz/corpus-$target
    mkdir -p "$corpus" "$committed"
    cp -n "$committed"/* "$corpus"/ 2>/dev/null || true
    log "fuzzing $target for ${seconds}s"
    if ! WEFT_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no "$binary" "$corpus" \
        -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=.build-fuzz/artifacts/"$target"- -max_len=8192 \
        -timeout=20 -rss_limit_mb=4096 2>&1 | grep -E "^(#[0-9]+ +DONE|Done|stat::|==[0-9]+==|SUMMARY|INFO: a corpus)|crash|Fatal" ; then
        :
    fi
    if ls .build-fuzz/artifacts/"$target"-* >/dev/null 2>&1; then failed="$failed $target"; fi
    if [ "${WEFT_FUZZ_MERGE:-}" = 1 ]; then
        merged=$(mktemp -d)
        WEFT_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no "$binary" -merge=1 "$merged" "$committed" "$corpus" >/dev/null 2>&1 || true
        before=$(ls "$committed" | wc -l)
        cp -n "$merged"/* "$committed"/ 2>/dev/null || true
        log "$target: corpus $before -> $(ls "$committed" | wc -l) inputs"
        rm -rf "$merged"
    fi
done
if [ -n "$failed" ]; then echo "crashes found in:$failed (see .build-fuzz/artifacts/)" >&2; exit 1; fi
echo "no crashes in: $targets"
