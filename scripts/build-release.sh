#!/usr/bin/env bash
# Builds the release binaries the container image runs — `weft` and `weftctl`, with the Swift
# standard library, Foundation and Dispatch linked statically — into OUT (default: dist/), and
# checks them: they start, and need no Swift runtime library (only libpq, hiredis, protobuf-c and
# the C library). The Dockerfile's build stage runs this script; so does CI (scripts/test.sh), so
# what the image runs is built and checked on every change even where no container runtime exists.
#
#   scripts/build-release.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
swift build -c release --static-swift-stdlib --product weft
swift build -c release --static-swift-stdlib --product weftctl
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
for product in weft weftctl; do
  install -m 0755 "$bin/$product" "$out/$product"
  strip --strip-unneeded "$out/$product" 2>/dev/null || true
done

# The checks: they run, and link no Swift runtime dynamically.
"$out/weft" --version >/dev/null
"$out/weftctl" --help >/dev/null
for product in weft weftctl; do
  if ldd "$out/$product" | grep -E "libswift|libFoundation|libdispatch|libBlocksRuntime" >&2; then
    echo "build-release: $out/$product links a Swift runtime library dynamically (see above)" >&2
    exit 1
  fi
done
echo "built $(cd "$out" && pwd)/weft ($(du -h "$out/weft" | cut -f1)) and weftctl ($(du -h "$out/weftctl" | cut -f1)); runtime libraries:"
ldd "$out/weft" | awk '{print "  " $1}' | grep -vE "linux-vdso|ld-linux" | sort -u
