#!/usr/bin/env python3
"""Checks a GGUF file written by emovec against the JSON description the C++ test wrote with it.

Usage: check_gguf_roundtrip.py DESCRIPTION.json
The file is read with gguf-py's GGUFReader. Every metadata field's bytes are compared with an
encoding of the described value made here with struct; scalars, strings and flat arrays are also
compared through GGUFReader's decoded contents. Tensors are compared by name, type, shape and
bytes; F16 and BF16 tensors are also checked against numpy's / gguf-py's own conversion of the
float32 values the test started from. Exits 1 and lists every difference on failure.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFValueType as V

FORMATS = {V.UINT8: "<B", V.INT8: "<b", V.UINT16: "<H", V.INT16: "<h", V.UINT32: "<I",
           V.INT32: "<i", V.FLOAT32: "<f", V.UINT64: "<Q", V.INT64: "<q", V.FLOAT64: "<d",
           V.BOOL: "<?"}


def vtype(name: str) -> V:
    return V[name.upper()]


def scalar(desc: dict):
    """The described scalar as Python sees it (floats travel as hex of their bits)."""
    t = vtype(desc["type"])
    if t == V.FLOAT32:
        return struct.unpack("<f", bytes.fromhex(desc["bits"]))[0]
    if t == V.FLOAT64:
        return struct.unpack("<d", bytes.fromhex(desc["bits"]))[0]
    if t == V.STRING:
        return bytes.fromhex(desc["hex"])
    return desc["value"]


def encode_value(desc: dict, with_type: bool) -> bytes:
    t = vtype(desc["type"])
    out = struct.pack("<I", int(t)) if with_type else b""
    if t == V.ARRAY:
        elements = desc["elements"]
        out += struct.pack("<IQ", int(vtype(desc["element_type"])), len(elements))
        return out + b"".join(encode_value(e, False) for e in elements)
    if t == V.STRING:
        raw = scalar(desc)
        return out + struct.pack("<Q", len(raw)) + raw
    if t in (V.FLOAT32, V.FLOAT64):
        return out + bytes.fromhex(desc["bits"])
    return out + struct.pack(FORMATS[t], scalar(desc))


def check_contents(key: str, field, desc: dict, errors: list):
    t = vtype(desc["type"])
    if t == V.ARRAY:
        if desc["element_type"] == "array":
            return  # gguf-py flattens nested arrays; the byte comparison covers them
        want = [scalar(e) for e in desc["elements"]]
        got = field.contents()
        if vtype(desc["element_type"]) == V.STRING:
            want = [w.decode("utf-8") for w in want]
    else:
        want = scalar(desc)
        got = field.contents()
        if t == V.STRING:
            want = want.decode("utf-8")
    if got != want:
        errors.append(f"metadata {key!r}: gguf-py reads {got!r}, expected {want!r}")


def check_tensor(t, desc: dict, errors: list):
    name = desc["name"]
    if t.name != name:
        errors.append(f"tensor name {t.name!r}, expected {name!r}")
    if t.tensor_type.name != desc["type"]:
        errors.append(f"tensor {name!r}: type {t.tensor_type.name}, expected {desc['type']}")
    if [int(d) for d in t.shape] != desc["shape"]:
        errors.append(f"tensor {name!r}: shape {t.shape.tolist()}, expected {desc['shape']}")
    raw = np.asarray(t.data).tobytes()
    if raw != bytes.fromhex(desc["bytes"]):
        errors.append(f"tensor {name!r}: data differs")
    if "source_bits" in desc:
        source = np.frombuffer(bytes.fromhex(desc["source_bits"]), dtype="<f4")
        if desc["type"] == "F16":
            expected = source.astype(np.float16).tobytes()
        elif desc["type"] == "BF16":
            expected = gguf.quants.quantize(source, gguf.GGMLQuantizationType.BF16).tobytes()
        else:
            expected = source.tobytes()
        if raw != expected:
            diff = [i for i in range(0, len(raw), 2) if raw[i:i + 2] != expected[i:i + 2]][:5]
            errors.append(f"tensor {name!r}: {desc['type']} conversion differs from numpy at "
                          f"byte offsets {diff}")


def main():
    desc = json.loads(Path(sys.argv[1]).read_text())
    path = Path(sys.argv[1]).parent / desc["file"]
    reader = gguf.GGUFReader(path)
    errors = []
    if reader.alignment != desc["alignment"]:
        errors.append(f"alignment {reader.alignment}, expected {desc['alignment']}")
    if reader.fields["GGUF.version"].contents() != 3:
        errors.append("version is not 3")
    if reader.data_offset % desc["alignment"]:
        errors.append(f"data offset {reader.data_offset} is not aligned")

    fields = [(k, f) for k, f in reader.fields.items() if not k.startswith("GGUF.")]
    if [k for k, _ in fields] != [m["key"] for m in desc["metadata"]]:
        errors.append(f"keys {[k for k, _ in fields]}, expected {[m['key'] for m in desc['metadata']]}")
    for (key, field), m in zip(fields, desc["metadata"]):
        # parts[0:2] are the key's length and bytes; the rest is the typed value
        got = b"".join(np.asarray(p).tobytes() for p in field.parts[2:])
        want = encode_value(m, True)
        if got != want:
            errors.append(f"metadata {key!r}: bytes {got[:64].hex()}..., expected {want[:64].hex()}...")
        check_contents(key, field, m, errors)

    if len(reader.tensors) != len(desc["tensors"]):
        errors.append(f"{len(reader.tensors)} tensors, expected {len(desc['tensors'])}")
    for t, d in zip(reader.tensors, desc["tensors"]):
        check_tensor(t, d, errors)
        if (t.data_offset - reader.data_offset) % desc["alignment"]:
            errors.append(f"tensor {t.name!r}: offset not aligned")

    for e in errors:
        print("MISMATCH:", e)
    print(f"checked {len(fields)} keys and {len(reader.tensors)} tensors: "
          f"{'OK' if not errors else str(len(errors)) + ' mismatches'}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
