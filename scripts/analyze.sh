#!/usr/bin/env bash
# Static analysis: clang-tidy (checks in .clang-tidy, tests/.clang-tidy) and cppcheck (suppressions
# in tests/cppcheck.supp) over src/, cli/ and tests/, with the compile commands of a normal build
# configured in build-analyze/. Any finding of either tool fails the run. Installs clang-tidy,
# cppcheck and LLVM's omp.h when missing. SVDD_ANALYZE_JOBS sets the parallel jobs (default: all
# cores).
set -euo pipefail
cd "$(dirname "$0")/.."
# clang-tidy parses with clang's own headers: omp.h comes with LLVM's OpenMP (libomp-dev), not
# with GCC, so without it every file that includes omp.h is an error
scripts/install-deps.sh clang-tidy cppcheck libomp-dev
jobs="${SVDD_ANALYZE_JOBS:-$(nproc)}"
dir=build-analyze
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null

# One entry per source file of src/, cli/ and tests/ (tests/testutil.c is compiled once per test
# program; bench/ is left out).
mkdir -p "$dir/analyze" "$dir/cppcheck"
python3 - "$dir" <<'EOF'
import json, os, sys
d = sys.argv[1]
seen, out = set(), []
for e in json.load(open(os.path.join(d, "compile_commands.json"))):
    rel = os.path.relpath(e["file"], os.getcwd())
    if rel.split(os.sep)[0] in ("src", "cli", "tests") and rel not in seen:
        seen.add(rel)
        out.append(e)
json.dump(out, open(os.path.join(d, "analyze", "compile_commands.json"), "w"), indent=1)
with open(os.path.join(d, "analyze", "files.txt"), "w") as f:
    f.write("".join(e["file"] + "\n" for e in out))
EOF

status=0
echo "== clang-tidy ($(wc -l <"$dir/analyze/files.txt") files)"
# One file per clang-tidy process: clang-tidy 14 has crashed when given several files at once.
# Its output goes to a log per file, printed only when it has a finding (or clang-tidy failed).
rm -f "$dir"/analyze/*.log
if ! xargs -a "$dir/analyze/files.txt" -P "$jobs" -I{} sh -c '
        log="$1/analyze/$(echo "$2" | tr / _).log"
        clang-tidy -p "$1/analyze" --quiet "$2" >"$log" 2>&1 || { cat "$log"; exit 1; }
        grep -qE "(warning|error):" "$log" && { cat "$log"; exit 1; }
        exit 0' sh "$dir" {}; then
    status=1
fi

echo "== cppcheck"
# warning, style, performance and portability; unused functions are not checked (the public API
# is used by programs outside this repository). Findings that are fine are suppressed inline
# (cppcheck-suppress, with a reason) or in tests/cppcheck.supp.
if ! cppcheck --project="$dir/analyze/compile_commands.json" --std=c11 \
        --enable=warning,style,performance,portability --inline-suppr \
        --suppressions-list=tests/cppcheck.supp --cppcheck-build-dir="$dir/cppcheck" \
        --error-exitcode=1 --quiet -j "$jobs" \
        --template='{file}:{line}:{column}: {severity}: {message} [{id}]'; then
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "analyze: findings above" >&2
else
    echo "analyze: clean"
fi
exit "$status"
