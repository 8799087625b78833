#!/usr/bin/env python3
"""Read an svdd model file with Python's standard library alone (json + struct) and check it
against what the C side says it wrote. Proves that the model file is plain safetensors that the
Python ecosystem can read without svdd.

usage: read_model.py MODEL EXPECTED_JSON
EXPECTED_JSON: {"tensors": {name: {"shape": [...], "first": [floats...], "sum": float}},
                "metadata": {key: value}}
"""
import json
import math
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    sizes = {"F32": ("f", 4), "F64": ("d", 8)}
    for name, info in header.items():
        code, size = sizes[info["dtype"]]
        b, e = info["data_offsets"]
        count = (e - b) // size
        assert count == math.prod(info["shape"]), name
        tensors[name] = (info["shape"], struct.unpack("<%d%s" % (count, code), buf[b:e]))
    return meta, tensors


def main():
    meta, tensors = read_safetensors(sys.argv[1])
    with open(sys.argv[2]) as f:
        expected = json.load(f)
    bad = 0
    for key, value in expected["metadata"].items():
        if meta.get(key) != value:
            print("metadata %s: %r, expected %r" % (key, meta.get(key), value))
            bad += 1
    for name, want in expected["tensors"].items():
        if name not in tensors:
            print("missing tensor", name)
            bad += 1
            continue
        shape, values = tensors[name]
        if shape != want["shape"]:
            print("%s: shape %s, expected %s" % (name, shape, want["shape"]))
            bad += 1
        for i, v in enumerate(want["first"]):
            if abs(values[i] - v) > 1e-7 * max(1.0, abs(v)):
                print("%s[%d] = %r, expected %r" % (name, i, values[i], v))
                bad += 1
        if abs(sum(values) - want["sum"]) > 1e-4 * max(1.0, abs(want["sum"])):
            print("%s: sum %r, expected %r" % (name, sum(values), want["sum"]))
            bad += 1
    if set(tensors) != set(expected["tensors"]):
        print("tensor names differ:", sorted(set(tensors) ^ set(expected["tensors"])))
        bad += 1
    print("read %d tensors and %d metadata entries with the standard library: %s"
          % (len(tensors), len(meta), "ok" if not bad else "%d problems" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
