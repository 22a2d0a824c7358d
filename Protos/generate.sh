#!/usr/bin/env bash
# Regenerates the protobuf-c sources for every schema under Protos/ into Sources/CWeftProtos, and
# the Swift codecs of the API schemas into Sources/WeftWire/Codec (generate-swift.py); or into the
# folders given as $1 and $2, which scripts/test.sh uses to check the committed output.
# The output is committed: building Weft never needs protoc-c.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../Sources/CWeftProtos}
swift_out=${2:-$here/../Sources/WeftWire/Codec}
command -v protoc-c >/dev/null || { echo "generate.sh: protoc-c not found (apt-get install protobuf-c-compiler)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$here"
mapfile -t protos < <(find weft -name '*.proto' | LC_ALL=C sort)
protoc-c --proto_path=. --c_out="$tmp" "${protos[@]}"
mkdir -p "$out/include"
rm -f "$out"/*.pb-c.c "$out"/include/*.pb-c.h
# Flatten: sources in the target root, headers in include/. Generated files include each other as
# "weft/wire/v1/hello.pb-c.h"; rewrite those to the flat names.
while IFS= read -r f; do
  base=$(echo "$f" | tr '/' '_')        # weft/wire/v1/hello.pb-c.c -> weft_wire_v1_hello.pb-c.c
  sed -E 's#"weft/([a-z]+)/([a-z0-9]+)/([a-z0-9_]+)\.pb-c\.h"#"weft_\1_\2_\3.pb-c.h"#' "$tmp/$f" > "$tmp/flat"
  case "$f" in
    *.c) mv "$tmp/flat" "$out/$base" ;;
    *.h) mv "$tmp/flat" "$out/include/$base" ;;
  esac
done < <(cd "$tmp" && find weft -name '*.pb-c.[ch]' | LC_ALL=C sort)
python3 "$here/generate-swift.py" "$swift_out"
echo "generated ${#protos[@]} schemas into $out, and their Swift codecs into $swift_out"
