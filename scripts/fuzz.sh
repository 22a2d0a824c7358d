#!/usr/bin/env bash
# Fuzzes the frame decoder + envelope codec with libFuzzer for SECONDS (default 60).
#   scripts/fuzz.sh 600
# Links with lld (gold crashes on the duplicate main that libFuzzer brings). Builds into .build-fuzz, works on a copy of Tests/FuzzCorpus/frames in .build-fuzz/corpus, and
# leaves any crashing input in .build-fuzz/artifacts/. Exit status is libFuzzer's (0 = no crash).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
. scripts/lib/common.sh
install_packages
log "building the fuzz target (-sanitize=fuzzer, address)"
swift build -c release --product weft-fuzz-frames --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 | grep -vE "prohibited flag" | tail -3
mkdir -p .build-fuzz/corpus .build-fuzz/artifacts
cp -n Tests/FuzzCorpus/frames/* .build-fuzz/corpus/ 2>/dev/null || true
log "fuzzing for ${seconds}s"
SWIFT_BACKTRACE=enable=no .build-fuzz/release/weft-fuzz-frames .build-fuzz/corpus \
    -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=.build-fuzz/artifacts/ -max_len=8192
