#!/usr/bin/env python3
"""Reads a hypertrain checkpoint (safetensors layout) with NumPy alone and checks its CRC32s.

    python3 scripts/read_safetensors.py FILE [--json OUT]

Prints one line per tensor (name, dtype, shape, sum). With --json, writes
{"metadata": {...}, "tensors": {name: {"dtype", "shape", "values": [flat list]}}} to OUT, the
values as Python floats and ints (exact for F32, F64 and I32), for tests/test_checkpoint.cpp,
which compares them with what the C++ side wrote. The checksums follow engine/checkpoint.h:
data_crc32 over all data bytes, header_crc32 over the header with its own 8 digits read as zeros.
Exits 1 naming the file and the problem when a checksum or the layout is wrong.
"""
import json
import sys
import zlib

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4"}


def fail(path, why):
    sys.exit(f"{path}: {why}")


def read(path):
    blob = open(path, "rb").read()
    n = int.from_bytes(blob[:8], "little")
    text = blob[8:8 + n]
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    key = b'"header_crc32":"'
    at = text.find(key)
    if at < 0:
        fail(path, "no __metadata__.header_crc32")
    at += len(key)
    stored = text[at:at + 8].decode()
    computed = "%08x" % zlib.crc32(text[:at] + b"00000000" + text[at + 8:])
    if stored != computed or meta.get("header_crc32") != stored:
        fail(path, f"header checksum mismatch (stored {stored}, computed {computed})")
    data = blob[8 + n:]
    computed = "%08x" % zlib.crc32(data)
    if meta.get("data_crc32") != computed:
        fail(path, f"data checksum mismatch (stored {meta.get('data_crc32')}, computed {computed})")
    tensors, end = {}, 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, stop = e["data_offsets"]
        if begin != end:
            fail(path, f"tensor {name} starts at {begin}, expected {end}")
        tensors[name] = np.frombuffer(data[begin:stop], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        end = stop
    if end != len(data):
        fail(path, f"the tensors cover {end} of {len(data)} data bytes")
    return meta, tensors


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--json"):
        sys.exit(__doc__)
    meta, tensors = read(sys.argv[1])
    for name, t in tensors.items():
        print(f"{name}\t{t.dtype}\t{list(t.shape)}\t{t.sum() if t.size else 0}")
    if len(sys.argv) == 4:
        out = {"metadata": meta, "tensors": {name: {"dtype": str(t.dtype), "shape": list(t.shape),
                                                     "values": [v.item() for v in t.reshape(-1)]}
                                              for name, t in tensors.items()}}
        with open(sys.argv[3], "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
