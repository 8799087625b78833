#!/usr/bin/env bash
# Memory checking of the whole command-line tool with valgrind (docs/robustness.md, "Memory
# checking"): a real training run with checkpoints and a resume, scoring, evaluation, heat maps,
# a report and a small experiment on generated data, then every command's error paths (bad
# options, missing files, damaged files, outputs that cannot be written). Each command runs under
#
#   valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99
#
# and the script fails when any of them has a memory error (invalid read or write, use of an
# uninitialised value, bad free) or a definite or indirect leak, in the process or in a worker it
# forks, or exits with another code than expected. Blocks still reachable or possibly lost at exit
# are not errors (OpenBLAS and libgomp keep their thread pools to the end); tests/valgrind.supp
# holds what is known to come from outside svdd.
#
#   scripts/valgrind.sh            everything: 64 commands, about 11 min on a busy 2-core machine
#   scripts/valgrind.sh --quick    the run on tiny data and an error or two of each command: 22
#                                  commands, 2.5 to 4.5 min there (what CI runs)
#
# The build is a non-sanitized Debug build of its own, in build-valgrind/ (BUILD_DIR to change);
# valgrind is installed with scripts/install-deps.sh when missing. Logs: $BUILD_DIR/valgrind/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
case "${1:-}" in
    "") ;;
    --quick) quick=1 ;;
    *) echo "usage: scripts/valgrind.sh [--quick]" >&2; exit 2 ;;
esac
build=${BUILD_DIR:-$root/build-valgrind}
case $build in /*) ;; *) build=$root/$build ;; esac

"$root/scripts/install-deps.sh" valgrind
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSVDD_BUILD_TESTS=OFF -DSVDD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"${VALGRIND_BUILD_JOBS:-2}" --target svdd
svdd=$build/svdd
logs=$build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# ---- inputs, all generated (python3 standard library): no real data set is needed ----
python3 - "$T" <<'PY'
import gzip, os, struct, sys, zlib
T = sys.argv[1]

def png(path, w, h, c=1, seed=0, cut=None):
    raw = b"".join(b"\0" + bytes((x * 7 + y * 13 + seed * 29 + k) % 256 for x in range(w) for k in range(c))
                   for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").write(data[:cut] if cut else data)

def mnist(folder, n_train, n_test):
    # two classes whose images differ (a bright square for class 1), so training has a signal
    os.makedirs(folder, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = bytes(i % 2 for i in range(n))
        px = bytearray()
        for i in range(n):
            img = bytearray((p * 31 + i * 17) % 64 for p in range(784))
            if labels[i]:
                for r in range(8, 20):
                    img[r * 28 + 8:r * 28 + 20] = b"\xf0" * 12
            px += img
        open(f"{folder}/{prefix}-images-idx3-ubyte.gz", "wb").write(
            gzip.compress(struct.pack(">I3I", 0x803, n, 28, 28) + bytes(px), mtime=0))
        open(f"{folder}/{prefix}-labels-idx1-ubyte.gz", "wb").write(
            gzip.compress(struct.pack(">2I", 0x801, n) + labels, mtime=0))

mnist(f"{T}/data/mnist", 48, 24)
# damaged IDX files: truncated pixels, wrong magic
os.makedirs(f"{T}/idx-truncated", exist_ok=True)
open(f"{T}/idx-truncated/train-images-idx3-ubyte", "wb").write(struct.pack(">I3I", 0x803, 10, 28, 28) + bytes(5000))
open(f"{T}/idx-truncated/train-labels-idx1-ubyte", "wb").write(struct.pack(">2I", 0x801, 10) + bytes(10))
os.makedirs(f"{T}/idx-magic", exist_ok=True)
open(f"{T}/idx-magic/train-images-idx3-ubyte", "wb").write(struct.pack(">I3I", 0x12345678, 1, 28, 28) + bytes(784))
open(f"{T}/idx-magic/train-labels-idx1-ubyte", "wb").write(struct.pack(">2I", 0x801, 1) + bytes(1))
# CIFAR-10 batches: one with a stray tail, one with a label out of range
for case, extra, label in (("cifar-truncated", 100, 0), ("cifar-label", 0, 10)):
    os.makedirs(f"{T}/{case}", exist_ok=True)
    for b in range(1, 6):
        rec = bytes([label if b == 1 else 1]) + bytes(3072)
        open(f"{T}/{case}/data_batch_{b}.bin", "wb").write(rec * 2 + (bytes(extra) if b == 1 else b""))
    open(f"{T}/{case}/test_batch.bin", "wb").write((bytes([0]) + bytes(3072)) * 2)
# images: valid grey and RGB, truncated, not an image; folder data sets
png(f"{T}/ok.png", 28, 28)
png(f"{T}/rgb.png", 32, 32, 3)
png(f"{T}/cut.png", 28, 28, cut=60)
open(f"{T}/text.txt", "w").write("plain text, not an image\n")
for cls in ("a", "b"):
    for i in range(5):
        png(f"{T}/folder/train/{cls}/{i}.png", 28, 28, seed=i + (10 if cls == "b" else 0))
png(f"{T}/folder-mixed/train/a/1.png", 28, 28)
png(f"{T}/folder-mixed/train/a/2.png", 32, 32)
png(f"{T}/folder-corrupt/train/a/1.png", 28, 28)
png(f"{T}/folder-corrupt/train/a/2.png", 28, 28, cut=80)
PY
: >"$T/plain"
mkdir -p "$T/out"

# ---- running under valgrind ----
# shellcheck disable=SC2054 # the commas separate valgrind's own lists, not array elements
vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --error-exitcode=99 --num-callers=40 --suppressions="$root/tests/valgrind.supp")
passed=0 failed=0
# vcase NAME EXPECTED_EXIT svdd-arguments...: run svdd under valgrind; every process it forks
# writes its own log, and any error in any of them fails the case
vcase() {
    local name=$1 want=$2
    shift 2
    local start=$SECONDS rc=0
    (cd "$T" && "${vg[@]}" --log-file="$logs/$name.%p.log" "$svdd" "$@") >"$logs/$name.out" 2>&1 || rc=$?
    local errors
    errors=$(cat "$logs/$name".*.log 2>/dev/null | grep -cE "ERROR SUMMARY: [1-9]|lost in loss record|Invalid (read|write|free)|uninitialised|Mismatched free" || true)
    if [ "$rc" -eq 99 ] || [ "$errors" -ne 0 ]; then
        failed=$((failed + 1))
        echo "FAIL $name: valgrind found errors (exit $rc):"
        cat "$logs/$name".*.log | head -60 | sed 's/^/    /'
    elif [ "$rc" -ne "$want" ]; then
        failed=$((failed + 1))
        echo "FAIL $name: exit $rc, expected $want:"
        tail -5 "$logs/$name.out" | sed 's/^/    /'
    else
        passed=$((passed + 1))
        printf '%-28s exit %d  %4ds  clean\n' "$name" "$rc" $((SECONDS - start))
    fi
}

model=out/m.safetensors
common=(--data data --dataset mnist)
tiny_fit=(--ae-epochs 1 --epochs 1 --batch-size 16 --calibration 0.25 --seed 1)

# ---- work that succeeds: a real run on tiny data (the built-in LeNet, 1 + 1 epochs) ----
vcase train 0 train "${common[@]}" --normal-class 0 "${tiny_fit[@]}" --threads 2 --checkpoint out/run.ckpt \
    --out "$model"
vcase train-resume 0 train "${common[@]}" --normal-class 0 "${tiny_fit[@]}" --threads 2 --resume out/run.ckpt \
    --out out/m2.safetensors
vcase eval 0 eval --model "$model" "${common[@]}" --out out/e.json
vcase score 0 score --model "$model" ok.png --out out/s.csv
vcase score-folder 0 score --model "$model" --folder folder/train --out out/s2.csv
vcase explain 0 explain --model "$model" "${common[@]}" --top 2 --out out/heat
vcase report 0 report --model "$model" "${common[@]}" --tsne-points 20 --gallery 2 --out out/report
vcase version 0 version
if [ $quick -eq 0 ]; then
    vcase train-hybrid 0 train "${common[@]}" --normal-class 1 "${tiny_fit[@]}" --method hybrid --threshold mahalanobis \
        --out out/h.safetensors
    vcase train-folder 0 train --data folder --dataset folder --normal-class a --ae-epochs 0 --epochs 1 --threads 1 \
        --out out/f.safetensors
    vcase explain-gradcam 0 explain --model "$model" "${common[@]}" --first 2 --cam gradcam --out out/heat2
    # two cells in two forked workers, then the tables again from the cells' files
    vcase experiment 0 experiment --data data --datasets mnist --classes 0-1 --ae-epochs 1 --epochs 1 --batch-size 16 \
        --jobs 2 --out out/exp
    vcase experiment-report 0 experiment --data data --datasets mnist --classes 0-1 --report-only --out out/exp
    for h in train score eval experiment explain report demo bench; do vcase "help-$h" 0 "$h" --help; done
fi

# ---- error paths: each command, with what the user can get wrong ----
vcase cli-none 2
vcase cli-command 2 trian
vcase train-option 2 train --epoch 3
vcase train-truncated-idx 1 train --data idx-truncated --dataset mnist --normal-class 0 --out out/x.safetensors
vcase train-missing-resume 1 train "${common[@]}" --normal-class 0 "${tiny_fit[@]}" --resume none.ckpt \
    --out out/x.safetensors
vcase score-missing-model 1 score --model none.safetensors ok.png --out out/s.csv
vcase score-truncated-png 1 score --model "$model" cut.png --out out/s.csv
vcase eval-missing-data 1 eval --model "$model" --data nope --dataset mnist --out out/e.json
vcase explain-top 2 explain --model "$model" "${common[@]}" --top 0 --out out/x
vcase report-out 1 report --model "$model" "${common[@]}" --out plain/r
vcase experiment-jobs 2 experiment --datasets synthetic --jobs 0 --out out/x
vcase demo-epochs 2 demo --epochs abc
vcase demo-out 1 demo --epochs 1 --out plain/demo
vcase bench-option 2 bench --no-such-option
if [ $quick -eq 0 ]; then
    head -c 3000 "$T/out/run.ckpt" >"$T/torn.ckpt"
    head -c 2000 "$T/$model" >"$T/truncated.safetensors"
    vcase train-missing-value 2 train --dataset synthetic --normal-class 0 --out
    vcase train-dataset 2 train --dataset imagenet --normal-class 0 --out out/x.safetensors
    vcase train-spec 2 train "${common[@]}" --normal-class 0 --spec none.spec --out out/x.safetensors
    vcase train-magic-idx 1 train --data idx-magic --dataset mnist --normal-class 0 --out out/x.safetensors
    vcase train-cifar-truncated 1 train --data cifar-truncated --dataset cifar10 --normal-class 0 --out out/x.safetensors
    vcase train-cifar-label 1 train --data cifar-label --dataset cifar10 --normal-class 0 --out out/x.safetensors
    vcase train-folder-mixed 1 train --data folder-mixed --dataset folder --normal-class a --out out/x.safetensors
    vcase train-torn-resume 1 train "${common[@]}" --normal-class 0 "${tiny_fit[@]}" --resume torn.ckpt \
        --out out/x.safetensors
    # the checkpoint of another schedule (3 objective epochs, not 1)
    vcase train-other-resume 1 train "${common[@]}" --normal-class 0 --ae-epochs 1 --epochs 3 --batch-size 16 \
        --calibration 0.25 --seed 1 --resume out/run.ckpt --out out/x.safetensors
    vcase train-out-folder 1 train "${common[@]}" --normal-class 0 --out nope/m.safetensors
    vcase score-text-model 1 score --model text.txt ok.png --out out/s.csv
    vcase score-truncated-model 1 score --model truncated.safetensors ok.png --out out/s.csv
    vcase score-not-image 1 score --model "$model" text.txt --out out/s.csv
    vcase score-shape 1 score --model "$model" rgb.png --out out/s.csv
    vcase score-fpr 2 score --model "$model" ok.png --fpr 2 --out out/s.csv
    vcase score-dev-full 1 score --model "$model" ok.png --out /dev/full
    vcase score-out-under-file 1 score --model "$model" ok.png --out plain/s.csv
    vcase eval-threshold 2 eval --model "$model" "${common[@]}" --threshold best --out out/e.json
    vcase eval-corrupt-folder 1 eval --model "$model" --data folder-corrupt --dataset folder --split train \
        --normal-class a --out out/e.json
    vcase eval-cifar-shape 1 eval --model "$model" --data cifar-label --dataset cifar10 --out out/e.json
    vcase explain-out 1 explain --model "$model" "${common[@]}" --top 1 --out plain/x
    vcase explain-model 1 explain --model truncated.safetensors "${common[@]}" --out out/x
    vcase report-tsne 2 report --model "$model" "${common[@]}" --tsne-points -1 --out out/r
    vcase report-model 1 report --model none.safetensors "${common[@]}" --out out/r
    vcase experiment-classes 2 experiment --datasets synthetic --classes 3-1 --out out/x
    vcase experiment-out 1 experiment --datasets synthetic --classes 0 --epochs 1 --ae-epochs 0 --out plain/exp
    vcase experiment-data 1 experiment --data nope --datasets mnist --classes 0 --epochs 1 --ae-epochs 0 --out out/x
    # a finished cell whose file was damaged, and a damaged pre-training cache (the cell of
    # class 1 runs again and must not trust it)
    printf '{"auc": ' >"$T/out/exp/cells/mnist-class0-deep-svdd-seed1.json"
    vcase experiment-bad-cell 0 experiment --data data --datasets mnist --classes 0 --report-only --out out/exp
    rm -f "$T/out/exp/cells/mnist-class1-deep-svdd-seed1.json"
    for f in "$T"/out/exp/pretrained/*class1*; do head -c 500 "$f" >"$f.cut" && mv "$f.cut" "$f"; done
    vcase experiment-bad-cache 0 experiment --data data --datasets mnist --classes 1 --ae-epochs 1 --epochs 1 \
        --batch-size 16 --out out/exp
fi

echo "$passed passed, $failed failed (valgrind logs in $logs)"
[ "$failed" -eq 0 ]
