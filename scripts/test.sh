#!/usr/bin/env bash
# Build svdd and run every test. SVDD_SANITIZE=1 builds with AddressSanitizer and
# UndefinedBehaviorSanitizer instead (in build-asan/). SVDD_TSAN=1 builds with ThreadSanitizer (in
# build-tsan/, with clang and LLVM's OpenMP, installed here when missing) and runs the tests
# labelled "threads", which run their parallel loops on two threads. Tests on the real data sets
# run when SVDD_DATA points at them (default ../shared/data when it exists) and skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
select=()
extra=()
# TSan needs clang, its runtime (libclang-rt-14-dev on Debian 12: clang does not pull it in) and
# LLVM's OpenMP runtime with its Archer tool (see SVDD_TSAN in CMakeLists.txt: GCC's libgomp gives
# false reports). Only this build needs them.
if [ "${SVDD_TSAN:-0}" = "1" ]; then extra=(clang libclang-rt-dev libomp-dev); fi
scripts/install-deps.sh "${extra[@]}"
if [ -z "${SVDD_DATA:-}" ] && [ -d ../shared/data ]; then export SVDD_DATA="$(cd ../shared/data && pwd)"; fi
if [ "${SVDD_TSAN:-0}" = "1" ]; then
    dir=build-tsan
    # TSAN_OPTIONS, the Archer library and SVDD_TEST_THREADS=2 are set per test by CMake.
    cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSVDD_TSAN=ON -DSVDD_BUILD_BENCH=OFF >/dev/null
    # single-threaded tests give TSan nothing to check and take 20 times longer under it
    select=(-L threads)
elif [ "${SVDD_SANITIZE:-0}" = "1" ]; then
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
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$(nproc)" "${select[@]}"
