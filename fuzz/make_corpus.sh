#!/usr/bin/env bash
# Regenerate the committed seed corpora fuzz/corpus/<target>/ (small synthetic files only; no real
# data set is copied). Needs python3, a C compiler with libjpeg (Debian libjpeg-dev) and an svdd
# binary for the model and checkpoint seeds: $SVDD_BIN, else build/svdd (configure and build the
# project first).
#
#   fuzz/make_corpus.sh                  every target
#   fuzz/make_corpus.sh checkpoint       only the targets named (the others keep their seeds)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
svdd=${SVDD_BIN:-$root/build/svdd}
out=$here/corpus
all="idx cifar image safetensors model checkpoint spec cli_numbers"
targets=${*:-$all}
for t in $targets; do
    case " $all " in *" $t "*) ;; *) echo "make_corpus.sh: unknown target '$t' ($all)" >&2; exit 2 ;; esac
done
want() { case " $targets " in *" $1 "*) return 0 ;; esac; return 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the python seeds of every target go to a scratch folder; the targets asked for are replaced
python3 "$here/make_corpus.py" "$tmp/py"
for t in $targets; do
    rm -rf "${out:?}/$t"
    mkdir -p "$out/$t"
    if [ -d "$tmp/py/$t" ]; then cp -R "$tmp/py/$t/." "$out/$t/"; fi
done

# JPEG seeds through libjpeg itself
if want image; then
    ${CC:-cc} -O1 -o "$tmp/make_jpeg" "$here/make_jpeg.c" -ljpeg
    "$tmp/make_jpeg" "$out/image"
fi

# Model seeds: the real writer on the built-in synthetic set, with a tiny network (a few
# hundred parameters) and one epoch per phase, so a seed is a few kB and every tensor kind a
# model holds is present: weights, batch-norm statistics, centre, latent Gaussian, mean
# activations, explanation statistics and calibration scores.
if ! want model && ! want safetensors && ! want checkpoint; then exit 0; fi
if [ ! -x "$svdd" ]; then
    echo "make_corpus.sh: no svdd binary at $svdd (set SVDD_BIN or build the project)" >&2
    exit 1
fi
cat >"$tmp/tiny.spec" <<'SPEC'
svdd-spec 1
name fuzz-tiny
input 1 28 28
encoder
maxpool2d 2
conv2d 2 k=3 pad=1
batchnorm eps=1e-4
leaky_relu slope=0.01
maxpool2d 2
flatten
linear 4
decoder
linear 49
reshape 1 7 7
leaky_relu
upsample2d 2
upsample2d 2
sigmoid
SPEC
# the encoder alone, for the objectives that need no decoder
sed '/^decoder/,$d' "$tmp/tiny.spec" >"$tmp/tiny_enc.spec"
train() { # NAME SPEC extra options...
    local name=$1 spec=$2
    shift 2
    (cd "$tmp" && "$svdd" train --dataset synthetic --normal-class 0 --spec "$spec" --ae-epochs 1 --epochs 1 \
        --batch-size 64 --calibration 0.01 --threads 1 --seed 1 "$@" --out "$tmp/model/$name.safetensors" >/dev/null 2>&1)
}
mkdir -p "$tmp/model"
train deep_svdd "$tmp/tiny_enc.spec"
train soft_boundary "$tmp/tiny_enc.spec" --method soft-boundary --threshold radius
train hybrid "$tmp/tiny.spec" --method hybrid --threshold mahalanobis
# broken: cut short, and one metadata value changed (a header that still parses)
head -c 3000 "$tmp/model/hybrid.safetensors" >"$tmp/model/bad_truncated.safetensors"
python3 - "$tmp/model/deep_svdd.safetensors" "$tmp/model/bad_format_version.safetensors" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b.replace(b'"format_version":"1"', b'"format_version":"7"', 1))
PY
if want model; then cp "$tmp/model/"*.safetensors "$out/model/"; fi
# a model file is a safetensors file too
if want safetensors; then cp "$tmp/model/deep_svdd.safetensors" "$out/safetensors/model_deep_svdd.safetensors"; fi

# Checkpoint seeds: the real writer again (--checkpoint), with a smaller network still (about 220
# parameters) and 220 training images (2000 synthetic normal images less an 89% calibration
# split), so that a seed is about 7 kB, most of it Adam's moments and the shuffling order. One
# schedule for all of them, the one fuzz_checkpoint.c resumes with: 2 pre-training epochs and 1
# objective epoch; --checkpoint-every 2 keeps the pre-training checkpoint as the last one.
if want checkpoint; then
    cat >"$tmp/ckpt.spec" <<'SPEC'
svdd-spec 1
name fuzz-ckpt
input 1 28 28
encoder
maxpool2d 2
maxpool2d 2
conv2d 2 k=3 pad=1
batchnorm eps=1e-4
leaky_relu slope=0.01
maxpool2d 2
flatten
linear 3
decoder
linear 49
reshape 1 7 7
leaky_relu
upsample2d 2
upsample2d 2
sigmoid
SPEC
    ckpt() { # NAME extra options...
        local name=$1
        shift
        (cd "$tmp" && "$svdd" train --dataset synthetic --normal-class 0 --spec ckpt.spec --ae-epochs 2 --epochs 1 \
            --warmup-epochs 0 --batch-size 64 --calibration 0.89 --threads 1 --seed 1 \
            --checkpoint "$out/checkpoint/$name.ckpt" "$@" --out "$tmp/ckpt-model.safetensors" >/dev/null 2>&1)
    }
    ckpt pretrain --checkpoint-every 2
    ckpt deep_svdd
    ckpt soft_boundary --method soft-boundary
    ckpt hybrid --method hybrid
    # broken: cut short; another version; an order that repeats an image (a bad permutation); a
    # pre-training checkpoint claiming to be after objective epoch 1 (it has no centre)
    head -c 4000 "$out/checkpoint/hybrid.ckpt" >"$out/checkpoint/bad_truncated.ckpt"
    python3 - "$out/checkpoint" <<'PY'
import json, struct, sys
d = sys.argv[1]
def load(name):
    b = open(f"{d}/{name}.ckpt", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return b, n, json.loads(b[8:8 + n])
b, n, h = load("deep_svdd")
open(f"{d}/bad_format_version.ckpt", "wb").write(b.replace(b'"format_version":"1"', b'"format_version":"2"', 1))
begin = 8 + n + h["loop.order"]["data_offsets"][0]
open(f"{d}/bad_order.ckpt", "wb").write(b[:begin + 8] + b[begin:begin + 8] + b[begin + 16:])
b, n, h = load("pretrain")
h["__metadata__"].update(phase="objective", epochs_done="1")
head = json.dumps(h, separators=(",", ":")).encode()
head += b" " * (-len(head) % 8)
open(f"{d}/bad_phase.ckpt", "wb").write(struct.pack("<Q", len(head)) + head + b[8 + n:])
PY
fi

du -sh "$out"
for d in "$out"/*/; do echo "$(basename "$d"): $(ls "$d" | wc -l) files"; done
