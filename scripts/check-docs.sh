#!/usr/bin/env bash
# The SDK's documentation: every public declaration of Weft and WeftTesting has a doc comment, and
# the DocC catalog (Sources/Weft/Weft.docc) builds with docc without a warning (a broken symbol
# link, an ambiguous one). Symbol graphs come from the debug build's modules (run after
# `swift build`), so this takes seconds. The catalog's Swift blocks are checked by
# scripts/check_snippets.py (scripts/check-examples.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(swift build --show-bin-path 2>/dev/null)
[ -d "$build/Modules" ] || { echo "check-docs: build first (no $build/Modules)" >&2; exit 1; }
out=$(mktemp -d /tmp/weft-docs.XXXXXX)
trap 'rm -rf "$out"' EXIT
flags=(-I "$build/Modules" -target "$(uname -m)-unknown-linux-gnu" -minimum-access-level public)
while IFS= read -r map; do flags+=(-Xcc "-fmodule-map-file=$map"); done < <(find "$build" -maxdepth 2 -name module.modulemap)
for target in CProtobufC CLibPQ CHiredis; do flags+=(-Xcc "-fmodule-map-file=Sources/$target/module.modulemap"); done
mkdir -p "$out/symbols/Weft" "$out/symbols/WeftTesting"
for module in Weft WeftTesting; do
  swift-symbolgraph-extract -module-name $module "${flags[@]}" -output-dir "$out/symbols/$module"
done
python3 - "$out/symbols" <<'PY'
import glob, json, sys
missing = []
for path in glob.glob(f"{sys.argv[1]}/*/*.symbols.json"):
    for s in json.load(open(path))["symbols"]:
        if "::SYNTHESIZED::" in s["identifier"]["precise"] or s.get("docComment") or "location" not in s:
            continue
        where = s["location"]["uri"].split("/Sources/")[-1]
        missing.append(f"Sources/{where}:{s['location']['position']['line']}: {'.'.join(s['pathComponents'])} has no doc comment")
for m in sorted(missing):
    print(m)
if missing:
    sys.exit(f"check-docs: {len(missing)} public declaration(s) without a doc comment")
PY
docc convert Sources/Weft/Weft.docc --additional-symbol-graph-dir "$out/symbols/Weft" --output-path "$out/Weft.doccarchive" \
  --fallback-display-name Weft --fallback-bundle-identifier org.weft.Weft >"$out/docc.log" 2>&1 || { cat "$out/docc.log"; exit 1; }
if grep -qE "warning:|error:" "$out/docc.log"; then
  grep -E -A8 "warning:|error:" "$out/docc.log"; echo "check-docs: docc reported problems" >&2; exit 1
fi
echo "check-docs: ok (every public declaration of Weft and WeftTesting documented; the DocC catalog builds clean)"
