#!/usr/bin/env python3
"""Reference facts about every tensor of every shipped model, from gguf-py and numpy.

Writes tests/golden/dequant_<model-name>.json for each model in models/models.json:
  - per tensor: type, shape (ggml order), element count, byte size, data offset, the SHA-256 of
    its dequantised float32 little-endian bytes and its first 8 values (exact decimal repr) for
    diagnosis. GGUF tensors are dequantised with gguf.quants.dequantize; safetensors tensors are
    widened with numpy's astype(np.float32).
  - the file's metadata: each key's type and value (strings and arrays by length and SHA-256 of
    their GGUF encoding, so the golden file stays small), GGUF version, alignment, data offset.
  - the hyper-parameters emovec's ModelConfig must report, computed here from the same keys.

Run with the set-up's virtual environment (gguf, numpy):
  ~/.cache/emovec/venv/bin/python tools/golden/make_dequant_golden.py [model-name ...]
"""
import hashlib
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGUFValueType as V
from gguf.quants import dequantize

ROOT = Path(__file__).resolve().parent.parent.parent
MODELS_DIR = Path(os.environ.get("EMOVEC_MODELS_DIR", Path.home() / ".cache" / "emovec" / "models"))
GOLDEN = ROOT / "tests" / "golden"
HEAD = 8
LONG_STRING = 256  # longer strings are recorded by length and hash

SCALAR_FORMATS = {V.UINT8: "<B", V.INT8: "<b", V.UINT16: "<H", V.INT16: "<h", V.UINT32: "<I",
                  V.INT32: "<i", V.FLOAT32: "<f", V.UINT64: "<Q", V.INT64: "<q",
                  V.FLOAT64: "<d", V.BOOL: "<B"}


def float_repr(v) -> str:
    return repr(float(v))


def sha256_of_floats(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype="<f4").tobytes()).hexdigest()


def tensor_record(name, type_name, shape, offset, nbytes, values):
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    return {"name": name, "type": type_name, "shape": [int(d) for d in shape],
            "elements": int(values.size), "bytes": int(nbytes), "offset": int(offset),
            "sha256": sha256_of_floats(values), "head": [float_repr(v) for v in values[:HEAD]]}


def encode_element(value, vtype) -> bytes:
    """An array element as GGUF encodes it (strings: u64 length + bytes)."""
    if vtype == V.STRING:
        return struct.pack("<Q", len(value)) + value
    return struct.pack(SCALAR_FORMATS[vtype], value)


def field_record(field) -> dict:
    types = field.types
    if types[0] == V.ARRAY:
        elem_type = types[-1] if len(types) > 1 else None
        if len(types) > 2:
            raise SystemExit(f"nested array in {field.name}: extend this script")
        if elem_type == V.STRING:
            items = [bytes(field.parts[i]) for i in field.data]
            head = [s.decode("utf-8", errors="replace") for s in items[:4]]
        else:
            items = [field.parts[i].tolist()[0] for i in field.data]
            head = [float_repr(x) if elem_type in (V.FLOAT32, V.FLOAT64) else x for x in items[:4]]
        h = hashlib.sha256()
        for item in items:
            h.update(encode_element(item, elem_type))
        return {"type": "array", "element_type": elem_type.name.lower() if elem_type else None,
                "length": len(field.data), "sha256": h.hexdigest(), "head": head}
    vtype = types[0]
    if vtype == V.STRING:
        raw = bytes(field.parts[-1])
        rec = {"type": "string", "length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        if len(raw) <= LONG_STRING:
            rec["value"] = raw.decode("utf-8", errors="replace")
        return rec
    value = field.parts[-1].tolist()[0]
    if vtype in (V.FLOAT32, V.FLOAT64):
        return {"type": vtype.name.lower(), "value": float_repr(value)}
    if vtype == V.BOOL:
        return {"type": "bool", "value": bool(value)}
    return {"type": vtype.name.lower(), "value": int(value)}


def gguf_config(reader) -> dict:
    """ModelConfig from GGUF keys, following llama.cpp's names."""
    def get(key, default=0):
        f = reader.fields.get(key)
        return default if f is None else f.contents()

    arch = get("general.architecture", "")
    p = arch + "."
    n_head = get(p + "attention.head_count")
    n_embd = get(p + "embedding_length")
    key_length = get(p + "attention.key_length")
    vocab = get(p + "vocab_size")
    if not vocab and "tokenizer.ggml.tokens" in reader.fields:
        vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    eps_key = p + "attention.layer_norm_rms_epsilon"
    eps = get(eps_key) if eps_key in reader.fields else get(p + "attention.layer_norm_epsilon")
    return {
        "architecture": arch, "name": get("general.name", ""),
        "n_layer": get(p + "block_count"), "n_embd": n_embd,
        "n_ff": get(p + "feed_forward_length"), "n_head": n_head,
        "n_head_kv": get(p + "attention.head_count_kv", n_head),
        "head_dim": key_length or (n_embd // n_head if n_head else 0),
        "n_ctx_train": get(p + "context_length"), "vocab_size": vocab,
        "rope_freq_base": float_repr(get(p + "rope.freq_base", 0.0)),
        "norm_eps": float_repr(eps), "sliding_window": get(p + "attention.sliding_window"),
    }


def gguf_golden(path: Path) -> dict:
    r = gguf.GGUFReader(path)
    tensors = []
    for t in r.tensors:
        values = dequantize(np.asarray(t.data), t.tensor_type)
        tensors.append(tensor_record(t.name, t.tensor_type.name, t.shape.tolist(),
                                     t.data_offset - r.data_offset, t.n_bytes, values))
    metadata = {k: field_record(f) for k, f in r.fields.items() if not k.startswith("GGUF.")}
    chat = r.fields.get("tokenizer.chat_template")
    return {
        "format": "gguf", "version": int(r.fields["GGUF.version"].contents()),
        "alignment": int(r.alignment), "data_offset": int(r.data_offset),
        "file_size": path.stat().st_size, "metadata": metadata, "config": gguf_config(r),
        "chat_template_sha256": hashlib.sha256(bytes(chat.parts[-1])).hexdigest() if chat else None,
        "tensors": tensors,
    }


SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8,
                      "I16": np.int16, "I32": np.int32, "I64": np.int64}


def hf_config(folder: Path, config: dict) -> dict:
    def get(key, default=0):
        v = config.get(key)
        return default if v is None else v

    n_head = get("num_attention_heads")
    n_embd = get("hidden_size")
    eps = get("rms_norm_eps") if config.get("rms_norm_eps") is not None else get("layer_norm_eps", 0.0)
    return {
        "architecture": get("model_type", ""), "name": folder.name,
        "n_layer": get("num_hidden_layers"), "n_embd": n_embd, "n_ff": get("intermediate_size"),
        "n_head": n_head, "n_head_kv": get("num_key_value_heads", n_head),
        "head_dim": get("head_dim") or (n_embd // n_head if n_head else 0),
        "n_ctx_train": get("max_position_embeddings"), "vocab_size": get("vocab_size"),
        "rope_freq_base": float_repr(get("rope_theta", 0.0)), "norm_eps": float_repr(eps),
        "sliding_window": 0 if config.get("use_sliding_window") is False else get("sliding_window"),
    }


def hf_golden(folder: Path) -> dict:
    """Reads model.safetensors with its own parser (struct + json), not emovec's logic."""
    blob = (folder / "model.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = np.frombuffer(data[begin:end], dtype=SAFETENSORS_DTYPES[entry["dtype"]])
        tensors.append(tensor_record(name, entry["dtype"], list(reversed(entry["shape"])), begin,
                                     end - begin, raw.astype(np.float32)))
    config = json.loads((folder / "config.json").read_text())
    tok_config = folder / "tokenizer_config.json"
    template = json.loads(tok_config.read_text()).get("chat_template") if tok_config.exists() else None
    return {
        "format": "huggingface", "config": hf_config(folder, config),
        "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest() if template else None,
        "tensors": tensors,
    }


def main():
    registry = json.loads((ROOT / "models" / "models.json").read_text())["models"]
    wanted = set(sys.argv[1:])
    for model in registry:
        if model["format"] not in ("gguf", "huggingface"):
            continue  # a scorer's data, not a model
        if wanted and model["name"] not in wanted:
            continue
        path = MODELS_DIR / model["path"]
        if not path.exists():
            raise SystemExit(f"{path} is missing: run scripts/setup.sh")
        golden = gguf_golden(path) if model["format"] == "gguf" else hf_golden(path)
        golden = {"model": model["name"], "generator": "tools/golden/make_dequant_golden.py",
                  "gguf_py_version": "0.19.0", **golden}
        out = GOLDEN / f"dequant_{model['name']}.json"
        out.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {out.relative_to(ROOT)}: {len(golden['tensors'])} tensors")


if __name__ == "__main__":
    main()
