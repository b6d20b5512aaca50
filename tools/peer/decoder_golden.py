"""The decoder golden prompts (tests/golden/decoder_NAME.gguf) and the shipped GGUF file they were
made from, for the scripts that run llama.cpp on them."""

import json
import os

import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shipped_model_path(name):
    """The fetched GGUF file of shipped model NAME (models/models.json), in EMOVEC_MODELS_DIR,
    else EMOVEC_CACHE_DIR/models, else ~/.cache/emovec/models."""
    models = json.load(open(os.path.join(ROOT, "models", "models.json")))["models"]
    entry = next((m for m in models if m["name"] == name), None)
    if entry is None:
        raise SystemExit(f"unknown model {name!r}")
    cache = os.environ.get("EMOVEC_CACHE_DIR") or os.path.expanduser("~/.cache/emovec")
    models_dir = os.environ.get("EMOVEC_MODELS_DIR") or os.path.join(cache, "models")
    return os.path.join(models_dir, entry["path"])


def golden_prompts(name):
    """(prompts as [{"ids": [...]}, ...], the transformers greedy continuations, their length)."""
    golden = gguf.GGUFReader(os.path.join(ROOT, "tests", "golden", f"decoder_{name}.gguf"))
    tensors = {t.name: t for t in golden.tensors}
    n_prompts = int(golden.fields["golden.n_prompts"].contents())
    prompts = [{"ids": [int(v) for v in tensors[f"p{i}.ids"].data]} for i in range(n_prompts)]
    greedy = [[int(v) for v in tensors[f"p{i}.greedy.ids"].data] for i in range(n_prompts)]
    return prompts, greedy, len(greedy[0])
