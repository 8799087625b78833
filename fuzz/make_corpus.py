#!/usr/bin/env python3
"""Write the seed corpora fuzz/corpus/<target>/ that need no compiled code (python3 stdlib only).

fuzz/make_corpus.sh runs this, then adds the JPEG seeds (libjpeg) and the model seeds (svdd
train on the built-in synthetic set). Every seed is tiny and synthetic: no real data set is ever
copied. Each target gets a few valid files and a few broken ones (truncated, bad magic, bad
sizes), so that the fuzzer starts next to both the accepting and the refusing paths.
Input layouts (a mode byte, length prefixes) are described at the top of each fuzz_<target>.c."""
import gzip
import json
import os
import struct
import sys
import zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime 0: the same bytes on every run, so regenerating the corpus changes nothing
    return gzip.compress(data, mtime=0)


# ---- IDX: [mode][images length, u16 LE][images file][labels file] ------------------------------

def idx_images(n, rows, cols):
    px = bytes((i * 7 + 3) % 256 for i in range(n * rows * cols))
    return struct.pack(">BBBB3I", 0, 0, 8, 3, n, rows, cols) + px


def idx_labels(labels):
    return struct.pack(">BBBBI", 0, 0, 8, 1, len(labels)) + bytes(labels)


def idx_seed(mode, img, lab):
    return bytes([mode]) + struct.pack("<H", len(img)) + img + lab


img, lab = idx_images(3, 4, 5), idx_labels([0, 7, 2])
put("idx", "valid_raw", idx_seed(0, img, lab))
put("idx", "valid_raw_keep", idx_seed(0b101, img, lab))        # filtering file loader
put("idx", "valid_gzip", idx_seed(0, gz(img), gz(lab)))
put("idx", "valid_gzip_keep", idx_seed(0b11, gz(img), gz(lab)))
put("idx", "valid_gzip_unbounded", idx_seed(0x80, gz(img), gz(lab)))  # inflate without a size bound
put("idx", "valid_28x28", idx_seed(1, idx_images(2, 28, 28), idx_labels([9, 0])))
put("idx", "bad_truncated_images", idx_seed(1, img[:-3], lab))
put("idx", "bad_trailing_labels", idx_seed(0, img, lab + b"\x01"))
put("idx", "bad_swapped", idx_seed(0, lab, img))
put("idx", "bad_count_mismatch", idx_seed(1, img, idx_labels([1, 2])))
put("idx", "bad_zero_rows", idx_seed(0, struct.pack(">BBBB3I", 0, 0, 8, 3, 1, 0, 5), lab))
put("idx", "bad_int16_type", idx_seed(0, struct.pack(">BBBB3I", 0, 0, 0x0B, 3, 1, 1, 1) + b"\0\0", lab))
put("idx", "bad_huge_header", idx_seed(1, struct.pack(">BBBB3I", 0, 0, 8, 3, 0xFFFFFFFF, 0xFFFF, 0xFFFF), lab))
put("idx", "bad_gzip_truncated", idx_seed(1, gz(img)[:-9], gz(lab)))

# ---- CIFAR-10: [mode][batch file] ---------------------------------------------------------------

def cifar(labels):
    out = bytearray()
    for k, l in enumerate(labels):
        out.append(l)
        out += bytes((i + 13 * k) % 256 for i in range(3072))
    return bytes(out)


batch = cifar([3, 9])
put("cifar", "valid_two", b"\x00" + batch)
put("cifar", "valid_file_keep", bytes([(1 << 3) << 2 | 1]) + batch)  # file loader keeping label 3 only
put("cifar", "valid_two_files", bytes([0b11]) + batch)
put("cifar", "valid_gzip", bytes([1]) + gz(cifar([0, 1, 2])))
put("cifar", "bad_label", b"\x00" + cifar([10]))
put("cifar", "bad_partial_record", b"\x01" + batch[:-1])
put("cifar", "bad_empty", b"\x01")
put("cifar", "bad_gzip_truncated", b"\x01" + gz(batch)[:-20])

# ---- PNG (the JPEG seeds come from make_jpeg.c) -------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(w, h, color, depth, rows, extra=b"", interlace=0):
    """rows: the filtered scanline bytes (filter byte + data per row), already laid out."""
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    return sig + png_chunk(b"IHDR", ihdr) + extra + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


def raw_rows(w, h, bytes_per_pixel, filt=0):
    out = bytearray()
    for y in range(h):
        out.append(filt)
        out += bytes((x * 31 + y * 17) % 256 for x in range(w * bytes_per_pixel))
    return bytes(out)


def adam7_rows(w, h, bpp):
    # the seven passes of an interlaced image, each a small image of its own
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = bytearray()
    for x0, y0, dx, dy in passes:
        pw = len(range(x0, w, dx))
        ph = len(range(y0, h, dy))
        if pw and ph:
            out += raw_rows(pw, ph, bpp)
    return bytes(out)


put("image", "grey8.png", png(6, 5, 0, 8, raw_rows(6, 5, 1)))
put("image", "rgb8_paeth.png", png(4, 4, 2, 8, raw_rows(4, 4, 3, filt=4)))
put("image", "rgba16.png", png(3, 2, 6, 16, raw_rows(3, 2, 8, filt=1)))
put("image", "greyalpha8.png", png(3, 3, 4, 8, raw_rows(3, 3, 2, filt=2)))
plte = png_chunk(b"PLTE", bytes(range(12))) + png_chunk(b"tRNS", b"\x00\x80")
put("image", "palette4_trns.png", png(8, 2, 3, 4, raw_rows(4, 2, 1, filt=3), extra=plte))
put("image", "grey1.png", png(16, 2, 0, 1, raw_rows(2, 2, 1)))
put("image", "rgb8_interlaced.png", png(9, 9, 2, 8, adam7_rows(9, 9, 3), interlace=1))
good = png(4, 4, 0, 8, raw_rows(4, 4, 1))
put("image", "bad_truncated.png", good[:-20])
put("image", "bad_crc.png", good[:29] + b"\0\0\0\0" + good[33:])
put("image", "bad_zero_width.png", png(0, 4, 0, 8, raw_rows(0, 4, 1)))
put("image", "bad_not_an_image.txt", b"GIF89a not supported")
# a chunk announcing far more than the file holds: libpng allocated an sPLT's announced length
# (1.9 GB here) before reading it; the fuzz run's malloc limit catches a regression on this seed
put("image", "bad_splt_past_end.png",
    good[:33] + struct.pack(">I", 0x73737373) + b"sPLT" + b"name\0\x08" + bytes(10))

# ---- safetensors ------------------------------------------------------------------------------

def safetensors(tensors, meta=None, pad=True, raw_header=None):
    """tensors: [(name, dtype, shape, bytes)] laid out in order."""
    header, data, off = {}, b"", 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        data += blob
        off += len(blob)
    h = (raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


f32 = struct.pack("<6f", 1, -2, 0.5, 3e-3, 1e30, -0.0)
put("safetensors", "valid_f32", safetensors([("w", "F32", [2, 3], f32)]))
put("safetensors", "valid_all_dtypes", safetensors([
    ("a.f64", "F64", [2], struct.pack("<2d", 1.5, -2)),
    ("b.i32", "I32", [1, 2], struct.pack("<2i", -1, 7)),
    ("c.i64", "I64", [], struct.pack("<q", 1 << 40)),
    ("d.u8", "U8", [3], b"\x01\x02\x03"),
    ("e.empty", "F32", [0, 4], b""),
], meta={"format": "svdd-model", "note": "caf\u00e9"}))
put("safetensors", "valid_meta_only", safetensors([], meta={"k": "v"}))
put("safetensors", "bad_nan", safetensors([("x", "F32", [1], struct.pack("<I", 0x7FC00000))]))
put("safetensors", "bad_overlap", safetensors([], raw_header='{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                                  '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}') + b"abc")
put("safetensors", "bad_duplicate", safetensors([], raw_header='{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},'
                                                    '"a":{"dtype":"U8","shape":[],"data_offsets":[1,2]}}') + b"ab")
put("safetensors", "bad_shape_mismatch", safetensors([], raw_header='{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}')
    + b"\0" * 8)
put("safetensors", "bad_header_length", struct.pack("<Q", 1 << 40) + b"{}")
put("safetensors", "bad_json", safetensors([], raw_header='{"a":{"dtype":"F32",'))
put("safetensors", "bad_bf16", safetensors([("h", "BF16", [1], b"\0\0")]))

# ---- network specs -----------------------------------------------------------------------------

MNIST = """svdd-spec 1
name mnist-lenet
input 1 28 28
encoder
conv2d 8 k=5 pad=2
batchnorm eps=1e-4
leaky_relu slope=0.01
maxpool2d 2
conv2d 4 k=5 pad=2
batchnorm eps=1e-4
leaky_relu slope=0.01
maxpool2d 2
flatten
linear 32
decoder
reshape 2 4 4
leaky_relu slope=0.01
upsample2d 2
conv_transpose2d 4 k=5 pad=2
batchnorm eps=1e-4
leaky_relu slope=0.01
upsample2d 2
conv_transpose2d 8 k=5 pad=3
batchnorm eps=1e-4
leaky_relu slope=0.01
upsample2d 2
conv_transpose2d 1 k=5 pad=2
sigmoid
"""
TINY = """svdd-spec 1
name tiny   # a comment
input 3 8 8
encoder
conv2d 2 k=3 pad=1 init=xavier_leaky slope=0.2
batchnorm eps=1e-5 momentum=0.2
leaky_relu
maxpool2d
flatten
linear 4 init=default
"""
put("spec", "mnist-lenet.spec", MNIST)
put("spec", "tiny.spec", TINY)
put("spec", "decoder_batchnorm.spec", "svdd-spec 1\ninput 1 4 4\nencoder\nflatten\nlinear 8\ndecoder\nbatchnorm\n"
    "linear 16\nreshape 1 4 4\nsigmoid\n")
put("spec", "bad_version.spec", "svdd-spec 2\ninput 1 4 4\nencoder\nflatten\nlinear 2\n")
put("spec", "bad_layer.spec", "svdd-spec 1\ninput 1 4 4\nencoder\nwarp 3\n")
put("spec", "bad_decoder_shape.spec", "svdd-spec 1\ninput 1 4 4\nencoder\nflatten\nlinear 8\ndecoder\nreshape 2 2 2\n")
put("spec", "bad_empty.spec", "")

# ---- the CLI's number parsers: [mode][string] --------------------------------------------------

for name, mode, s in [("classes", 0x04, "0-9"), ("list", 0x34, "1,2,5-7"), ("lr", 0x08, "1e-4"), ("negative", 0x05, "-1"),
                      ("seeds_range", 0xF4, "1-3,10-12"), ("bad_range", 0x04, "9-0"), ("bad_trailing", 0x04, "3x"),
                      ("bad_empty_item", 0x04, "1,,2"), ("huge", 0x0C, "99999999999999999999"),
                      ("long_max", 0xFF, "9223372036854775806-9223372036854775807")]:
    put("cli_numbers", name, bytes([mode]) + s.encode())
