#!/usr/bin/env python3
"""Crafted bad GGUF and safetensors files for tests/test_malformed_files.cpp, and fuzz seeds.

Writes tests/data/malformed/*.gguf, *.safetensors and expected.json, which maps each file to a
substring its error message must contain. Each file is built from a small valid one by changing
one field, so the test pins down which check fires. Also writes the fuzzers' seed corpora,
fuzz/corpus/gguf/ and fuzz/corpus/safetensors/: small valid files (valid_*) covering every
metadata type and dequantisable tensor type, plus the malformed files. Plain Python (struct,
json, random), no packages.

  python3 tools/golden/make_malformed.py
"""
import json
import random
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "data" / "malformed"
CORPUS = ROOT / "fuzz" / "corpus"

MAGIC = b"GGUF"
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
GGML_F32, GGML_Q4_0 = 0, 2


def gguf_string(s) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(raw)) + raw


def kv(key, vtype, payload: bytes) -> bytes:
    return gguf_string(key) + struct.pack("<I", vtype) + payload


def kv_str(key, value) -> bytes:
    return kv(key, STRING, gguf_string(value))


def kv_u32(key, value) -> bytes:
    return kv(key, U32, struct.pack("<I", value))


def tensor_info(name, dims, ggml_type=GGML_F32, offset=0) -> bytes:
    return (gguf_string(name) + struct.pack("<I", len(dims)) +
            b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ggml_type, offset))


def gguf(kvs=(), tensors=(), data=b"", version=3, magic=MAGIC, alignment=32, n_tensors=None,
         n_kv=None) -> bytes:
    head = magic + struct.pack("<I", version)
    head += struct.pack("<QQ", len(tensors) if n_tensors is None else n_tensors,
                        len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(tensors)
    body += b"\0" * (-len(body) % alignment)
    return body + data


def f32s(n) -> bytes:
    return struct.pack(f"<{n}f", *[float(i) for i in range(n)])


BASE_KVS = [kv_str("general.architecture", "llama"), kv_str("general.name", "tiny"),
            kv(  # a short token list
                "tokenizer.ggml.tokens", ARRAY,
                struct.pack("<IQ", STRING, 3) + gguf_string("a") + gguf_string("b") + gguf_string("c"))]
BASE_TENSORS = [tensor_info("token_embd.weight", [4, 3]), tensor_info("output_norm.weight", [4], offset=64)]
BASE_DATA = f32s(12) + b"\0" * 16 + f32s(4) + b"\0" * 16


def base() -> bytes:
    return gguf(BASE_KVS, BASE_TENSORS, BASE_DATA)


def nested_array(depth: int) -> bytes:
    payload = struct.pack("<IQ", I32, 0)
    for _ in range(depth - 1):
        payload = struct.pack("<IQ", ARRAY, 1) + payload
    return payload


def gguf_cases() -> dict:
    valid = base()
    header_end = 4 + 4 + 16
    name_kv_start = header_end + len(BASE_KVS[0])
    infos_start = header_end + sum(len(k) for k in BASE_KVS)
    c = {}
    c["empty.gguf"] = (b"", "too short for the magic")
    c["truncated_magic.gguf"] = (b"GG", "too short for the magic")
    c["truncated_counts.gguf"] = (valid[:12], "truncated: tensor count")
    c["truncated_in_value.gguf"] = (valid[:name_kv_start + 8 + 12 + 4 + 8 + 2],
                                    "metadata key 'general.name': string length 4 exceeds the file")
    c["truncated_in_tensor_info.gguf"] = (valid[:infos_start + 8 + len("token_embd.weight")],
                                          "truncated: tensor 'token_embd.weight': n_dims")
    c["truncated_in_data.gguf"] = (valid[:-40], "extends past the end of the file")
    c["bad_magic.gguf"] = (gguf(BASE_KVS, BASE_TENSORS, BASE_DATA, magic=b"GGML"), "bad magic 'GGML'")
    c["version_1.gguf"] = (gguf(BASE_KVS, BASE_TENSORS, BASE_DATA, version=1), "version 1 is not supported")
    c["version_99.gguf"] = (gguf(BASE_KVS, BASE_TENSORS, BASE_DATA, version=99), "unsupported GGUF version 99")
    c["big_endian.gguf"] = (MAGIC + struct.pack(">I", 3) + valid[8:], "big-endian")
    c["huge_tensor_count.gguf"] = (gguf(BASE_KVS, BASE_TENSORS, BASE_DATA, n_tensors=1 << 63),
                                   "tensor count 9223372036854775808 exceeds the file")
    c["huge_kv_count.gguf"] = (gguf(BASE_KVS, BASE_TENSORS, BASE_DATA, n_kv=(1 << 64) - 1),
                               "metadata count 18446744073709551615 exceeds the file")
    c["string_past_eof.gguf"] = (
        gguf([BASE_KVS[0], kv("general.name", STRING, struct.pack("<Q", 1000000) + b"tiny")]),
        "metadata key 'general.name': string length 1000000 exceeds the file")
    c["key_length_past_eof.gguf"] = (gguf([struct.pack("<Q", 1 << 40) + b"general"]),
                                     "metadata entry 0: key length 1099511627776 exceeds the file")
    c["array_length_max.gguf"] = (
        gguf([BASE_KVS[0], kv("tokenizer.ggml.tokens", ARRAY, struct.pack("<IQ", STRING, (1 << 64) - 1))]),
        "metadata key 'tokenizer.ggml.tokens': array length 18446744073709551615 exceeds the file")
    c["array_of_u64_too_long.gguf"] = (
        gguf([kv("scores", ARRAY, struct.pack("<IQ", U64, 1000) + b"\0" * 64)]),
        "metadata key 'scores': array length 1000 exceeds the file")
    c["nested_arrays_1000.gguf"] = (gguf([kv("deep", ARRAY, nested_array(1000))]),
                                    "metadata key 'deep': arrays nested deeper than 8")
    c["unknown_value_type.gguf"] = (gguf([kv("odd", 13, b"\0" * 8)]),
                                    "metadata key 'odd': unknown value type 13")
    c["unknown_array_type.gguf"] = (gguf([kv("odd", ARRAY, struct.pack("<IQ", 99, 1) + b"\0" * 8)]),
                                    "metadata key 'odd': unknown array element type 99")
    c["duplicate_key.gguf"] = (gguf([BASE_KVS[0], BASE_KVS[1], BASE_KVS[0]]),
                               "duplicate metadata key 'general.architecture'")
    c["invalid_utf8_key.gguf"] = (gguf([kv_str(b"general.\xff\xfename", "x")]),
                                  "metadata entry 0: key 'general.\\xff\\xfename' is not valid UTF-8")
    c["overlong_utf8_key.gguf"] = (gguf([kv_str(b"general.\xc0\xafname", "x")]), "is not valid UTF-8")
    c["alignment_0.gguf"] = (gguf(BASE_KVS + [kv_u32("general.alignment", 0)], BASE_TENSORS, BASE_DATA),
                             "alignment 0 is not a power of two")
    c["alignment_3.gguf"] = (gguf(BASE_KVS + [kv_u32("general.alignment", 3)], BASE_TENSORS, BASE_DATA),
                             "alignment 3 is not a power of two")
    c["alignment_not_u32.gguf"] = (gguf(BASE_KVS + [kv_str("general.alignment", "32")], BASE_TENSORS,
                                        BASE_DATA), "'general.alignment' has type string, expected uint32")
    c["unknown_tensor_type.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [4], 77)], f32s(8)),
                                     "tensor 'w': unknown tensor type id 77")
    c["tensor_offset_past_eof.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [4], offset=1 << 20)], f32s(8)),
                                        "tensor 'w': data at offset 1048576 (+16 bytes) extends past the end")
    c["tensor_offset_wraps.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [8], offset=(1 << 64) - 32)], f32s(8)),
                                     "tensor 'w': data at offset 18446744073709551584 (+32 bytes) extends past")
    c["overlapping_tensors.gguf"] = (
        gguf(BASE_KVS, [tensor_info("a", [16]), tensor_info("b", [4], offset=32)], f32s(16)),
        "tensors 'a' (offset 0, 64 bytes) and 'b' (offset 32) overlap")
    c["misaligned_offset.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [4], offset=4)], f32s(8)),
                                   "tensor 'w': data offset 4 is not a multiple of the alignment 32")
    c["n_dims_5.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [1, 1, 1, 1, 4])], f32s(4)),
                          "tensor 'w': n_dims 5 exceeds 4")
    c["zero_dim.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [4, 0])], f32s(4)), "tensor 'w': dimension 1 is 0")
    c["negative_dim.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [4, (1 << 64) - 2])], f32s(4)),
                              "tensor 'w': dimension 1 is negative or too large")
    c["dims_overflow.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [1 << 32, 1 << 32])], f32s(4)),
                               "tensor 'w': element count overflows")
    c["bytes_overflow.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [1 << 62], 28)], f32s(4)),
                                "tensor 'w': byte size overflows")
    c["duplicate_tensor.gguf"] = (
        gguf(BASE_KVS, [tensor_info("a", [4]), tensor_info("a", [4], offset=32)], f32s(16)),
        "duplicate tensor name 'a'")
    c["invalid_utf8_tensor_name.gguf"] = (gguf(BASE_KVS, [tensor_info(b"w\xed\xa0\x80", [4])], f32s(4)),
                                          "tensor info 0: name 'w\\xed\\xa0\\x80' is not valid UTF-8")
    c["block_size_mismatch.gguf"] = (gguf(BASE_KVS, [tensor_info("q", [48, 2], GGML_Q4_0)], b"\0" * 64),
                                     "tensor 'q': row length 48 is not a multiple of the Q4_0 block size 32")
    c["data_section_past_eof.gguf"] = (gguf(BASE_KVS, [tensor_info("w", [4])])[:-3],
                                       "tensor data section starts at offset")
    return c


def safetensors(header, data=b"", length=None) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def entry(dtype="F32", shape=(4,), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def safetensors_cases() -> dict:
    data = struct.pack("<4f", 1, 2, 3, 4)
    c = {}
    c["st_too_short.safetensors"] = (b"\x10\0\0", "too short for the header length")
    c["st_header_past_eof.safetensors"] = (safetensors({"w": entry()}, data, length=1000),
                                           "header length 1000 exceeds the file")
    c["st_header_huge.safetensors"] = (safetensors({"w": entry()}, data, length=(1 << 64) - 1),
                                       "header length 18446744073709551615 exceeds the file")
    c["st_not_json.safetensors"] = (safetensors(b"{'w': nope}", data), "header is not valid JSON")
    c["st_invalid_utf8.safetensors"] = (safetensors(b'{"w\xff":{}}', data), "header is not valid JSON")
    c["st_header_not_object.safetensors"] = (safetensors([1, 2], data), "header is not a JSON object")
    c["st_offsets_past_data.safetensors"] = (safetensors({"w": entry(offsets=(16, 32))}, data),
                                             "tensor 'w': data_offsets [16, 32] extend past the data section")
    c["st_offsets_inverted.safetensors"] = (safetensors({"w": entry(offsets=(16, 0))}, data),
                                            "tensor 'w': data_offsets [16, 0] are inverted")
    c["st_offsets_negative.safetensors"] = (safetensors({"w": entry(offsets=(-4, 12))}, data),
                                            "tensor 'w': data_offsets[0] is negative")
    c["st_dtype_unknown.safetensors"] = (safetensors({"w": entry(dtype="F8_E4M3", shape=(16,))}, data),
                                         "tensor 'w': dtype 'F8_E4M3' is not supported")
    c["st_shape_mismatch.safetensors"] = (safetensors({"w": entry(shape=(2, 3))}, data),
                                          "needs 24 bytes but data_offsets span 16")
    c["st_shape_overflow.safetensors"] = (safetensors({"w": entry(shape=(1 << 40, 1 << 40))}, data),
                                          "tensor 'w': element count of shape")
    c["st_overlap.safetensors"] = (
        safetensors({"a": entry(shape=(2,), offsets=(0, 8)), "b": entry(shape=(2,), offsets=(4, 12))}, data),
        "tensors 'a' and 'b' overlap")
    c["st_missing_dtype.safetensors"] = (safetensors({"w": {"shape": [4], "data_offsets": [0, 16]}}, data),
                                         "tensor 'w': missing string field 'dtype'")
    c["st_metadata_not_strings.safetensors"] = (safetensors({"__metadata__": {"n": 1}}, data),
                                                "__metadata__ entry 'n' is not a string")
    return c


# Block layouts: (ggml type id, elements per block, bytes per block, offsets of f16 scales).
BLOCK_TYPES = {
    "Q4_0": (2, 32, 18, [0]), "Q4_1": (3, 32, 20, [0, 2]), "Q5_0": (6, 32, 22, [0]),
    "Q5_1": (7, 32, 24, [0, 2]), "Q8_0": (8, 32, 34, [0]), "Q2_K": (10, 256, 84, [80, 82]),
    "Q3_K": (11, 256, 110, [108]), "Q4_K": (12, 256, 144, [0, 2]), "Q5_K": (13, 256, 176, [0, 2]),
    "Q6_K": (14, 256, 210, [208]), "IQ4_NL": (20, 32, 18, [0]), "IQ4_XS": (23, 256, 136, [0]),
    "TQ1_0": (34, 256, 54, [52]), "TQ2_0": (35, 256, 66, [64]), "F16": (1, 1, 2, []),
    "BF16": (30, 1, 2, []), "F64": (28, 1, 8, []), "I8": (24, 1, 1, []), "I32": (26, 1, 4, []),
}


def random_blocks(rng, name, n_blocks) -> bytes:
    _, _, size, scales = BLOCK_TYPES[name]
    blob = bytearray(rng.getrandbits(8) for _ in range(size * n_blocks))
    for b in range(n_blocks):
        for off in scales:
            blob[b * size + off:b * size + off + 2] = struct.pack("<e", rng.uniform(-0.1, 0.1))
    if name in ("F16", "BF16"):
        blob = bytearray(b"".join(struct.pack("<e", rng.uniform(-4, 4)) for _ in range(n_blocks)))
    return bytes(blob)


def valid_quant_gguf() -> bytes:
    """One small tensor of every dequantisable block type, with a llama-style config."""
    rng = random.Random(7)
    kvs = [kv_str("general.architecture", "llama"), kv_str("general.name", "seed"),
           kv_u32("llama.block_count", 2), kv_u32("llama.embedding_length", 64),
           kv_u32("llama.attention.head_count", 4), kv(  # per-layer head counts
               "llama.attention.head_count_kv", ARRAY, struct.pack("<IQ", U32, 2) + struct.pack("<2I", 2, 1)),
           kv("llama.rope.freq_base", F32, struct.pack("<f", 10000.0)),
           kv_str("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")]
    infos, data = [], b""
    for name, (type_id, block, size, _) in BLOCK_TYPES.items():
        elements = block * 2 if block > 1 else 8
        blob = random_blocks(rng, name, elements // block)
        infos.append(tensor_info(name.lower() + ".weight", [elements], type_id, len(data)))
        data += blob + b"\0" * (-len(blob) % 32)
    return gguf(kvs, infos, data)


def valid_types_gguf() -> bytes:
    """Version 2, alignment 64, every metadata type and nested arrays."""
    scalars = [(U8, "<B", 200), (I8, "<b", -100), (U16, "<H", 60000), (I16, "<h", -30000),
               (U32, "<I", 4000000000), (I32, "<i", -2000000000), (F32, "<f", 0.5),
               (BOOL, "<B", 1), (U64, "<Q", 1 << 63), (I64, "<q", -(1 << 62)), (F64, "<d", 1e-300)]
    kvs = [kv_u32("general.alignment", 64)]
    for vtype, fmt, value in scalars:
        kvs.append(kv(f"t.scalar{vtype}", vtype, struct.pack(fmt, value)))
        kvs.append(kv(f"t.array{vtype}", ARRAY, struct.pack("<IQ", vtype, 3) + struct.pack(fmt, value) * 3))
    kvs.append(kv("t.strings", ARRAY, struct.pack("<IQ", STRING, 20) +
                  b"".join(gguf_string(f"tok{i}\u0120") for i in range(20))))
    kvs.append(kv("t.nested", ARRAY, struct.pack("<IQ", ARRAY, 2) +
                  struct.pack("<IQ", I32, 1) + struct.pack("<i", 5) + struct.pack("<IQ", STRING, 1) +
                  gguf_string("x")))
    kvs.append(kv("t.deep", ARRAY, nested_array(8)))
    return gguf(kvs, [tensor_info("w", [2, 2], GGML_F32, 0), tensor_info("v", [4], GGML_F32, 64)],
                f32s(4) + b"\0" * 48 + f32s(4) + b"\0" * 48, version=2, alignment=64)


def valid_safetensors() -> bytes:
    data = struct.pack("<4f", 1, -2, 3.5, 0) + struct.pack("<2e", 1, -0.5) + struct.pack("<2H", 0x3F80, 0xC040)
    data += struct.pack("<2q", 7, -7)
    return safetensors({"__metadata__": {"format": "pt"},
                        "a": entry("F32", (2, 2), (0, 16)), "b": entry("F16", (2,), (16, 20)),
                        "c": entry("BF16", (1, 2), (20, 24)), "d": entry("I64", (2,), (24, 40)),
                        "e": entry("F32", (0,), (40, 40))}, data)


def write_corpus(malformed: dict):
    seeds = {
        "gguf": {"valid_base.gguf": base(), "valid_quant.gguf": valid_quant_gguf(),
                 "valid_types_v2.gguf": valid_types_gguf()},
        "safetensors": {"valid_mixed.safetensors": valid_safetensors(),
                        "valid_empty.safetensors": safetensors({})},
    }
    for name in malformed:
        kind = "safetensors" if name.endswith(".safetensors") else "gguf"
        seeds[kind][name] = (OUT / name).read_bytes()
    for kind, files in seeds.items():
        folder = CORPUS / kind
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, blob in files.items():
            assert len(blob) < 16 * 1024, name
            (folder / name).write_bytes(blob)
    print(f"wrote seed corpora to {CORPUS.relative_to(ROOT)}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    expected = {}
    for name, (blob, message) in {**gguf_cases(), **safetensors_cases()}.items():
        assert len(blob) < 64 * 1024, name
        (OUT / name).write_bytes(blob)
        expected[name] = message
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(expected)} files to {OUT.relative_to(ROOT)}")
    write_corpus(expected)


if __name__ == "__main__":
    main()
