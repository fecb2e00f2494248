#!/usr/bin/env python3
"""Compares the float32 tensors of two safetensors files.

Usage: compare_safetensors.py A B TOLERANCE
Exits 0 when both hold the same tensor names and shapes and every F32 value
differs by at most TOLERANCE; prints the largest difference either way.
"""
import json
import struct
import sys
from array import array


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        values = array("f")
        if info["dtype"] == "F32":
            values.frombytes(data[base + begin:base + end])
        tensors[name] = (info["dtype"], info["shape"], values)
    return tensors


def main():
    a, b, tol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
    if a.keys() != b.keys():
        print("tensor names differ:", sorted(set(a) ^ set(b)))
        return 1
    worst, worst_name = 0.0, ""
    for name in a:
        if a[name][:2] != b[name][:2]:
            print("dtype/shape differ for", name)
            return 1
        for x, y in zip(a[name][2], b[name][2]):
            d = abs(x - y)
            if d > worst:
                worst, worst_name = d, name
    print(f"max abs difference {worst:.3g} ({worst_name or 'none'}) over {len(a)} tensors")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
