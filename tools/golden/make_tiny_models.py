#!/usr/bin/env python3
"""Tiny random decoder models in Hugging Face format, with reference outputs from transformers.

    ~/.cache/emovec/venv/bin/python tools/golden/make_tiny_models.py [--out DIR] [--only NAME]

Writes tests/data/tiny/<name>/{config.json, model.safetensors, golden.gguf} for
  llama31  LlamaForCausalLM, llama3 rope scaling (original context 16, so it matters on short
           sequences), rope_theta 500000, untied lm_head;
  qwen2    Qwen2ForCausalLM, q/k/v biases, tied embeddings;
  gemma3   Gemma3ForCausalLM (text), sliding window 8 on layers 0-4, full attention on layer 5,
           local/global rope bases 10000/1e6, query_pre_attn_scalar 24 (not head_dim 32, so that
           a scale of 1/sqrt(head_dim) is caught).
Every parameter is random (seeded), RMSNorm weights included (llama/qwen2: uniform 0.5..1.5;
gemma3: N(0, 0.3), used as 1 + w), so a wrong norm convention is caught.

golden.gguf (format: tools/golden/README_decoder.md) holds, for 3 seeded id sequences of lengths
1, 7 and 40 (40 > the sliding window): the ids, the full logits [P, vocab] and the full hidden
states [n_layer, P, hidden] at the sites resid, attn_out, mlp_out (same definitions as
make_decoder_golden.py). The reference is the model transformers reloads from the saved folder
(float32, eager attention).
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_decoder_golden import (SITES, SiteHooks, check_sites, config_record,  # noqa: E402
                                 verify_gguf, write_gguf)

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "data" / "tiny"
SEQ_LENGTHS = (1, 7, 40)
SEED = 1234


def make_config(name):
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config
    if name == "llama31":
        return LlamaConfig(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
            num_hidden_layers=3, vocab_size=320, max_position_embeddings=512, rms_norm_eps=1e-5,
            rope_theta=500000.0,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
            tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None,
            architectures=["LlamaForCausalLM"])
    if name == "qwen2":
        return Qwen2Config(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
            num_hidden_layers=3, vocab_size=320, max_position_embeddings=512, rms_norm_eps=1e-6,
            rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False,
            bos_token_id=1, eos_token_id=2, architectures=["Qwen2ForCausalLM"])
    if name == "gemma3":
        return Gemma3TextConfig(
            hidden_size=64, num_attention_heads=4, num_key_value_heads=1, head_dim=32,
            intermediate_size=128, num_hidden_layers=6, vocab_size=320,
            max_position_embeddings=512, rms_norm_eps=1e-6, sliding_window=8,
            layer_types=["sliding_attention"] * 5 + ["full_attention"],
            query_pre_attn_scalar=24,
            rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
            tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0,
            architectures=["Gemma3ForCausalLM"])
    raise KeyError(name)


def randomize(model, gemma: bool):
    import torch
    with torch.no_grad():
        for pname, p in model.named_parameters():  # tied parameters come once
            if "norm" in pname:
                if gemma:
                    p.normal_(0.0, 0.3)       # Gemma scales by (1 + w)
                else:
                    p.uniform_(0.5, 1.5)
            elif pname.endswith(".bias"):
                p.normal_(0.0, 0.2)
            elif "embed_tokens" in pname or "lm_head" in pname:
                p.normal_(0.0, 0.5)
            else:
                p.normal_(0.0, p.shape[1] ** -0.5)


def build(name, out_dir: Path, threads: int):
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    torch.manual_seed(SEED)
    config = make_config(name)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    randomize(model, name == "gemma3")
    folder = out_dir / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    for extra in folder.iterdir():  # keep config.json + model.safetensors only
        if extra.name not in ("config.json", "model.safetensors"):
            extra.unlink()

    # The reference is what transformers makes of the saved folder.
    ref = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32,
                                               attn_implementation="eager")
    ref.eval()
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), f"{name}: {n1} changed in save/load"
    cfg = config_record(ref)
    cfg["full"] = json.loads(ref.config.to_json_string())
    print(f"{name}:", json.dumps({k: v for k, v in cfg.items() if k != "full"}, indent=1))

    n_layer = ref.config.num_hidden_layers
    vocab = ref.config.vocab_size
    rng = np.random.default_rng(SEED)
    hooks = SiteHooks(ref)
    tensors = {}
    for j, P in enumerate(SEQ_LENGTHS):
        ids = rng.integers(0, vocab, size=P).astype(np.int32)
        with torch.no_grad():
            out = ref(input_ids=torch.from_numpy(ids.astype(np.int64))[None], use_cache=False)
        hid = hooks.stacked()
        check_sites(hid, f"{name} seq {j}")
        tensors[f"p{j}.ids"] = ids
        tensors[f"p{j}.logits"] = np.ascontiguousarray(out.logits[0].float().numpy(), dtype=np.float32)
        for s in SITES:
            tensors[f"p{j}.hidden.{s}"] = np.ascontiguousarray(hid[s], dtype=np.float32)
    hooks.remove()

    # Self-check: incremental decoding with the cache gives the same logits (sliding window too).
    ids = tensors[f"p{len(SEQ_LENGTHS) - 1}.ids"]
    with torch.no_grad():
        o = ref(input_ids=torch.from_numpy(ids[:20].astype(np.int64))[None], use_cache=True)
        cache = o.cache if hasattr(o, "cache") else o.past_key_values
        rows = [o.logits[0]]
        for t in ids[20:]:
            o = ref(input_ids=torch.tensor([[int(t)]]), cache=cache, use_cache=True)
            cache = o.cache if hasattr(o, "cache") else o.past_key_values
            rows.append(o.logits[0])
    inc = torch.cat(rows).numpy()
    err = np.abs(inc - tensors[f"p{len(SEQ_LENGTHS) - 1}.logits"]).max()
    print(f"{name}: incremental vs full logits max |diff| = {err:.3g}")
    assert err < 1e-3

    metadata = {
        "golden.model": name,
        "golden.transformers_version": transformers.__version__,
        "golden.torch_version": torch.__version__,
        "golden.n_prompts": len(SEQ_LENGTHS),
        "golden.n_layer": n_layer,
        "golden.vocab_size": vocab,
        "golden.hidden_dims": int(ref.config.hidden_size),
        "golden.config": json.dumps(cfg, sort_keys=True),
    }
    path = folder / "golden.gguf"
    write_gguf(path, metadata, tensors)
    verify_gguf(path, tensors)
    sizes = {f.name: f.stat().st_size for f in sorted(folder.iterdir())}
    print(f"{name}: {sizes}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", choices=["llama31", "qwen2", "gemma3"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    for name in ([args.only] if args.only else ["llama31", "qwen2", "gemma3"]):
        build(name, args.out, args.threads)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"total {args.out}: {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
