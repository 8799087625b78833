#!/usr/bin/env bash
# Build the libFuzzer targets in build-fuzz/ and run each one for SECONDS (default 30) on a copy
# of its committed corpus (fuzz/corpus/<target>/ is never written to). Exits non-zero when a
# target crashes, leaks, hits a sanitizer report or fails to build; the input that did it is kept
# in build-fuzz/findings/<target>/ and its path printed.
#
#   fuzz/run.sh [SECONDS]            all targets, one after the other
#   FUZZ_TARGETS="idx spec" fuzz/run.sh 60     some of them
#   FUZZ_ARGS="-runs=1000000" fuzz/run.sh 600   extra libFuzzer flags (the long runs of README.md)
#   FUZZ_BUILD_DIR=build-mine fuzz/run.sh 10   another build folder than build-fuzz/
set -euo pipefail
seconds=${1:-30}
case $seconds in '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-"idx cifar image safetensors model checkpoint spec cli_numbers"}

# The build packages, and clang with libFuzzer (Debian's compiler-rt, libclang-rt-dev) and
# LLVM's OpenMP when missing, as every other check installs its tools.
"$root/scripts/install-deps.sh" clang libclang-rt-dev libomp-dev

jobs=${FUZZ_BUILD_JOBS:-1}
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSVDD_FUZZ=ON -DSVDD_BUILD_TESTS=OFF \
    -DSVDD_BUILD_BENCH=OFF >/dev/null
for t in $targets; do
    cmake --build "$build" -j"$jobs" --target "fuzz_$t"
done

status=0
for t in $targets; do
    corpus=$build/corpus/$t
    findings=$build/findings/$t
    rm -rf "$corpus"
    mkdir -p "$corpus" "$findings"
    # a copy: new inputs libFuzzer finds go there, the committed seeds stay as they are
    cp -R "$root/fuzz/corpus/$t/." "$corpus/" 2>/dev/null || true
    extra=()
    # the CLI's parsers print their complaints; close the target's stderr (libFuzzer keeps its own)
    if [ "$t" = cli_numbers ]; then extra+=(-close_fd_mask=2); fi
    dict=$root/fuzz/$t.dict
    if [ -f "$dict" ]; then extra+=(-dict="$dict"); fi
    echo "== fuzz_$t for ${seconds}s"
    log=$build/fuzz_$t.log
    # -rss_limit_mb: far above what any accepted input needs; -malloc_limit_mb: no single
    # allocation that large either (the resident size alone misses one that is never touched);
    # -timeout: one input may not take more than 10 s (a hang is a finding too)
    if ! "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 \
        -artifact_prefix="$findings/" "${extra[@]}" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1; then
        status=1
        echo "FAILED: fuzz_$t; the input is in $findings/ and the report in $log:" >&2
        grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$log" | head -20 >&2 || true
    fi
    grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done )" "$log" || tail -n 3 "$log"
done
exit $status
