#!/usr/bin/env bash
# Build svdd and run every test. SVDD_SANITIZE=1 builds with AddressSanitizer and
# UndefinedBehaviorSanitizer instead (in build-asan/). Tests on the real data sets run when
# SVDD_DATA points at them (default ../shared/data when it exists) and skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -z "${SVDD_DATA:-}" ] && [ -d ../shared/data ]; then export SVDD_DATA="$(cd ../shared/data && pwd)"; fi
if [ "${SVDD_SANITIZE:-0}" = "1" ]; then
    dir=build-asan
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DSVDD_SANITIZE=ON -DSVDD_BUILD_BENCH=OFF >/dev/null
    # OpenBLAS's own threads are not instrumented; leaks in them are not ours.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
    dir=build
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$(nproc)"
