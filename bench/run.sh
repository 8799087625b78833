#!/bin/sh
# The documented benchmark run (docs/benchmarks.md): build svdd in Release mode if needed, then
# run `svdd bench`: svdd against PyTorch on the four reference networks at 1 and 2 threads, and
# whole training runs at growing sizes.
#
#   bench/run.sh                      full run (292 s for docs/benchmarks.md), table on stdout,
#                                     JSON in build-bench/bench.json
#   bench/run.sh --quick              a short run to see that everything works
#   bench/run.sh --nets mnist ...     any option is passed on (svdd bench --help)
#
# Environment: BUILD_DIR (default <repo>/build-bench), PYTHON (default /usr/bin/python3, the
# Debian Python that has python3-torch; a pyenv `python3` on PATH usually does not).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
PYTHON=${PYTHON:-/usr/bin/python3}

# A half-loaded machine skews the 2-thread figures most; say so rather than hide it.
load=$(cut -d' ' -f1 /proc/loadavg)
echo "run.sh: load average $load (the figures are cleanest below 0.5)" >&2

# (Re)configure unless the folder already holds a Release configuration: timings of a Debug
# build would mean nothing.
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSVDD_BUILD_TESTS=OFF >&2
fi
cmake --build "$BUILD_DIR" --target svdd -j2 >&2

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "run.sh: $PYTHON cannot import torch (apt-get install python3-torch); running svdd alone" >&2
    exec "$BUILD_DIR/svdd" bench --no-torch --json "$BUILD_DIR/bench.json" "$@"
fi
exec "$BUILD_DIR/svdd" bench --python "$PYTHON" --torch-script "$ROOT/bench/torch_bench.py" \
    --json "$BUILD_DIR/bench.json" "$@"
