#!/usr/bin/env bash
# Regenerate the committed seed corpora fuzz/corpus/<target>/ (small synthetic files only; no real
# data set is copied). Needs python3, a C compiler with libjpeg (Debian libjpeg-dev) and an svdd
# binary for the model seeds: $SVDD_BIN, else build/svdd (configure and build the project first).
#
#   fuzz/make_corpus.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
svdd=${SVDD_BIN:-$root/build/svdd}
out=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$out"
mkdir -p "$out"
python3 "$here/make_corpus.py" "$out"

# JPEG seeds through libjpeg itself
${CC:-cc} -O1 -o "$tmp/make_jpeg" "$here/make_jpeg.c" -ljpeg
"$tmp/make_jpeg" "$out/image"

# Model seeds: the real writer on the built-in synthetic set, with a tiny network (a few
# hundred parameters) and one epoch per phase, so a seed is a few kB and every tensor kind a
# model holds is present: weights, batch-norm statistics, centre, latent Gaussian, mean
# activations, explanation statistics and calibration scores.
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
        --batch-size 64 --calibration 0.01 --threads 1 --seed 1 "$@" --out "$out/model/$name.safetensors" >/dev/null 2>&1)
}
mkdir -p "$out/model"
train deep_svdd "$tmp/tiny_enc.spec"
train soft_boundary "$tmp/tiny_enc.spec" --method soft-boundary --threshold radius
train hybrid "$tmp/tiny.spec" --method hybrid --threshold mahalanobis
# broken: cut short, and one metadata value changed (a header that still parses)
head -c 3000 "$out/model/hybrid.safetensors" >"$out/model/bad_truncated.safetensors"
python3 - "$out/model/deep_svdd.safetensors" "$out/model/bad_format_version.safetensors" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(b.replace(b'"format_version":"1"', b'"format_version":"7"', 1))
PY
# a model file is a safetensors file too
cp "$out/model/deep_svdd.safetensors" "$out/safetensors/model_deep_svdd.safetensors"

du -sh "$out"
for d in "$out"/*/; do echo "$(basename "$d"): $(ls "$d" | wc -l) files"; done
