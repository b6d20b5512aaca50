#!/usr/bin/env python3
"""Golden facts about each shipped model, read by reference readers (gguf, safetensors).

Writes tests/golden/inspect_<name>.json: every tensor (name, type, shape in ggml order, bytes),
every scalar metadata value and every array's length, as `emovec inspect --json` must report them.
Run with the set-up's virtual environment: ~/.cache/emovec/venv/bin/python tools/golden/make_inspect_golden.py
"""
import json
import os
from pathlib import Path

import gguf
from safetensors import safe_open

ROOT = Path(__file__).resolve().parent.parent.parent
MODELS_DIR = Path(os.environ.get("EMOVEC_MODELS_DIR", Path.home() / ".cache" / "emovec" / "models"))


def scalar(field):
    value = field.contents()
    return value


def gguf_facts(path: Path) -> dict:
    r = gguf.GGUFReader(path)
    metadata = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        types = field.types
        if types and types[0] == gguf.GGUFValueType.ARRAY:
            metadata[key] = {"array_length": len(field.data)}
        else:
            v = scalar(field)
            if isinstance(v, float):
                # float32 values as exact decimal of the stored value
                metadata[key] = {"float": float(v)}
            else:
                metadata[key] = {"value": v}
    tensors = [{"name": t.name, "type": t.tensor_type.name,
                "shape": [int(d) for d in t.shape], "bytes": int(t.n_bytes)} for t in r.tensors]
    return {"format": "gguf", "version": int(r.fields["GGUF.version"].contents()),
            "alignment": int(r.alignment), "data_offset": int(r.data_offset),
            "metadata": metadata, "tensors": tensors}


def safetensors_facts(folder: Path) -> dict:
    tensors = []
    with safe_open(folder / "model.safetensors", framework="numpy") as f:
        for name in f.keys():
            sl = f.get_slice(name)
            shape = list(reversed(sl.get_shape()))
            dtype = sl.get_dtype()
            itemsize = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}[dtype]
            n = 1
            for d in shape:
                n *= d
            tensors.append({"name": name, "type": dtype, "shape": shape, "bytes": n * itemsize})
    config = json.loads((folder / "config.json").read_text())
    return {"format": "huggingface", "config": config, "tensors": tensors}


def main() -> None:
    registry = json.loads((ROOT / "models" / "models.json").read_text())["models"]
    for model in registry:
        if model["format"] not in ("gguf", "huggingface"):
            continue  # a scorer's data, not a model
        location = MODELS_DIR / model["path"]
        facts = gguf_facts(location) if model["format"] == "gguf" else safetensors_facts(location)
        facts["name"] = model["name"]
        out = ROOT / "tests" / "golden" / f"inspect_{model['name']}.json"
        out.write_text(json.dumps(facts, indent=0, ensure_ascii=False) + "\n")
        print(out, len(facts["tensors"]), "tensors")


if __name__ == "__main__":
    main()
