#!/usr/bin/env python3
"""Every Swift code block in the README and the DocC articles is a region of a file that CI builds
and runs (examples/sdk), so the docs can never show code that does not compile.

A block is preceded by `<!-- snippet: PATH#REGION -->`; PATH's lines between
`// snippet:start REGION` and `// snippet:end REGION` (common indentation removed) must equal the
block. A ```swift block without a marker is an error. `--fix` rewrites the blocks from the files.
"""
import glob
import re
import sys
import textwrap

ROOT = __import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__)))
MARKER = re.compile(r"<!-- snippet: (\S+?)#(\S+) -->")


def region(path, name):
    lines = open(f"{ROOT}/{path}").read().split("\n")
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == f"// snippet:start {name}")
        end = next(i for i, l in enumerate(lines) if i > start and l.strip() == f"// snippet:end {name}")
    except StopIteration:
        raise SystemExit(f"{path}: no region '{name}' (// snippet:start {name} … // snippet:end {name})")
    return textwrap.dedent("\n".join(lines[start + 1:end])).strip("\n")


def check(doc, fix):
    text = open(f"{ROOT}/{doc}").read()
    lines = text.split("\n")
    problems, out, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```swift"):
            marker = MARKER.search(lines[i - 1]) if i > 0 else None
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            block = "\n".join(lines[i + 1:end])
            if not marker:
                problems.append(f"{doc}:{i + 1}: a ```swift block without a <!-- snippet: PATH#REGION --> marker")
                out += lines[i:end + 1]
            else:
                expected = region(marker.group(1), marker.group(2))
                if block != expected:
                    problems.append(f"{doc}:{i + 1}: differs from {marker.group(1)}#{marker.group(2)}")
                out += [line] + expected.split("\n") + [lines[end]]
            i = end + 1
            continue
        out.append(line)
        i += 1
    if fix and problems:
        open(f"{ROOT}/{doc}", "w").write("\n".join(out))
    return problems


def main():
    fix = "--fix" in sys.argv
    docs = ["README.md"] + sorted(p[len(ROOT) + 1:] for p in glob.glob(f"{ROOT}/Sources/*/*.docc/**/*.md", recursive=True))
    problems = [p for doc in docs for p in check(doc, fix)]
    for p in problems:
        print(p)
    if problems and not fix:
        print(f"check_snippets: {len(problems)} problem(s); run scripts/check_snippets.py --fix to copy the regions into the docs")
        return 1
    print(f"check_snippets: {'fixed' if problems else 'ok'}: {', '.join(docs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
