#!/usr/bin/env bash
# Code that must NOT compile, kept so: each file in Tests/CompileChecks/ is type-checked against
# the built Weft module. A file whose first line is `// expect-error: TEXT` must fail with TEXT in
# the compiler's message; `// expect: compiles` must type-check cleanly (so that a failure of the
# others is about what they test, not about a broken setup). Run after `swift build` (debug).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(swift build --show-bin-path 2>/dev/null)
[ -d "$build/Modules" ] || { echo "check-compile-errors: build first (no $build/Modules)" >&2; exit 1; }
flags=(-typecheck -I "$build/Modules" -Xcc -I/usr/include/postgresql)
# The C modules: SwiftPM's generated module maps, and the system-library targets' own.
while IFS= read -r map; do flags+=(-Xcc "-fmodule-map-file=$map"); done < <(find "$build" -maxdepth 2 -name module.modulemap)
for target in CProtobufC CLibPQ CHiredis; do flags+=(-Xcc "-fmodule-map-file=Sources/$target/module.modulemap"); done
failures=0
for file in Tests/CompileChecks/*.swift; do
  first=$(head -1 "$file")
  if output=$(swiftc "${flags[@]}" "$file" 2>&1); then compiled=yes; else compiled=no; fi
  case "$first" in
    "// expect: compiles")
      if [ $compiled = yes ]; then echo "ok   $file: compiles"; else echo "FAIL $file: does not compile:"; echo "$output" | head -20; failures=$((failures + 1)); fi ;;
    "// expect-error: "*)
      expected=${first#// expect-error: }
      if [ $compiled = yes ]; then echo "FAIL $file: compiled, but must fail with '$expected'"; failures=$((failures + 1))
      elif grep -qF -- "$expected" <<<"$output"; then echo "ok   $file: refused ($expected)"
      else echo "FAIL $file: refused, but not with '$expected':"; echo "$output" | head -20; failures=$((failures + 1)); fi ;;
    *) echo "FAIL $file: the first line must be '// expect: compiles' or '// expect-error: TEXT'"; failures=$((failures + 1)) ;;
  esac
done
[ $failures = 0 ] || { echo "check-compile-errors: $failures failure(s)"; exit 1; }
