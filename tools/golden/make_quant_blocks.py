#!/usr/bin/env python3
"""Random blocks of every tensor type emovec dequantises, with gguf-py's float32 results.

Writes tests/golden/quant_blocks.json. Block bytes are random, except that the float scale fields
are drawn from sane finite values (a random f16 could be NaN or infinity). Expected values come
from gguf.quants.dequantize; types gguf-py cannot dequantise use the numpy expression gguf-py's
GGUFReader implies (plain integer and F64 tensors: astype(np.float32)) or ggml's definition
(Q8_K: d * q). Values are stored as the hex of their float32 bits, so comparison is bit-exact.

Run with the set-up's virtual environment:
  ~/.cache/emovec/venv/bin/python tools/golden/make_quant_blocks.py
"""
import json
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "golden" / "quant_blocks.json"

# Byte offsets of the f16 scale fields inside one block, per type.
F16_SCALE_OFFSETS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64],
}


def sane_f16(rng, n):
    """Finite scales over the range real files use, with signs, zeros and some subnormals."""
    magnitude = 10.0 ** rng.uniform(-7, 1, size=n)
    values = magnitude * rng.choice([-1.0, 1.0], size=n)
    values[rng.random(n) < 0.05] = 0.0
    return values.astype(np.float16)


def random_blocks(rng, qtype, n_blocks):
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for off in F16_SCALE_OFFSETS.get(qtype, []):
        raw[:, off:off + 2] = sane_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    if qtype == T.Q8_K:
        d = (10.0 ** rng.uniform(-6, 0, size=n_blocks)).astype(np.float32)
        raw[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
    return raw.reshape(-1)


def plain_values(rng, qtype, n):
    """Raw bytes of n elements of a plain type, covering signs, extremes and special values."""
    if qtype == T.F32:
        v = rng.standard_normal(n).astype(np.float32) * np.float32(1e3)
        v[:6] = [0.0, -0.0, np.inf, -np.inf, 1e-45, 3.4e38]
        return v.view(np.uint8)
    if qtype == T.F16:
        bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint16)
        is_nan = ((bits & 0x7C00) == 0x7C00) & ((bits & 0x03FF) != 0)
        bits[is_nan] &= 0xFC00  # NaN -> infinity: NaN payload handling is not what we test
        bits[:4] = [0x0000, 0x8000, 0x0001, 0x03FF]  # zeros and subnormals
        return bits.view(np.uint8)
    if qtype == T.BF16:
        return rng.integers(0, 1 << 16, size=n, dtype=np.uint16).view(np.uint8)
    if qtype == T.F64:
        v = rng.standard_normal(n) * 10.0 ** rng.uniform(-40, 40, size=n)
        v[:4] = [0.0, 1e300, -1e-300, 0.1]
        return v.astype(np.float64).view(np.uint8)
    dtype = {T.I8: np.int8, T.I16: np.int16, T.I32: np.int32, T.I64: np.int64}[qtype]
    info = np.iinfo(dtype)
    v = rng.integers(info.min, info.max, size=n, dtype=dtype, endpoint=True)
    v[:2] = [info.min, info.max]
    return v.view(np.uint8)


def reference(raw, qtype):
    if qtype in (T.F64, T.I8, T.I16, T.I32, T.I64):
        dtype = {T.F64: np.float64, T.I8: np.int8, T.I16: np.int16, T.I32: np.int32,
                 T.I64: np.int64}[qtype]
        return raw.view(dtype).astype(np.float32)
    if qtype == T.Q8_K:
        blocks = raw.reshape(-1, GGML_QUANT_SIZES[qtype][1])
        d = blocks[:, 0:4].copy().view(np.float32)
        q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    return dequantize(raw, qtype).reshape(-1)


def main():
    rng = np.random.default_rng(20240607)
    plain = [T.F32, T.F16, T.BF16, T.F64, T.I8, T.I16, T.I32, T.I64]
    quantized = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.IQ4_NL, T.Q2_K, T.Q3_K, T.Q4_K,
                 T.Q5_K, T.Q6_K, T.Q8_K, T.IQ4_XS, T.TQ1_0, T.TQ2_0]
    cases = []
    for qtype in plain:
        raw = plain_values(rng, qtype, 64)
        cases.append((qtype, raw))
    for qtype in quantized:
        n_blocks = 16 if GGML_QUANT_SIZES[qtype][0] == 32 else 4
        cases.append((qtype, random_blocks(rng, qtype, n_blocks)))

    out = {"generator": "tools/golden/make_quant_blocks.py", "cases": []}
    for qtype, raw in cases:
        values = np.ascontiguousarray(reference(raw, qtype), dtype=np.float32)
        out["cases"].append({
            "type": qtype.name,
            "type_id": int(qtype),
            "elements": int(values.size),
            "bytes": raw.tobytes().hex(),
            "values": [f"{int(b):08x}" for b in values.view(np.uint32)],
        })
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT} ({len(out['cases'])} types)")


if __name__ == "__main__":
    main()
