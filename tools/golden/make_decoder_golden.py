#!/usr/bin/env python3
"""Reference outputs of the decoder forward pass of a shipped GGUF model, made by transformers.

    ~/.cache/emovec/venv/bin/python tools/golden/make_decoder_golden.py --model NAME [--models-dir DIR]
        [--out FILE] [--threads 2]

NAME is one of smollm2-135m-instruct, qwen2.5-coder-0.5b-instruct, gemma-3-270m. Writes
tests/golden/decoder_<NAME>.gguf (format: tools/golden/README_decoder.md).

Reference (independent of emovec): transformers' AutoModelForCausalLM.from_pretrained(dir,
gguf_file=...) with dtype float32: transformers reads the GGUF metadata into a config and
dequantises every tensor with gguf-py to float32 (undoing llama.cpp's conversion: the Q/K row
permutation of llama, the +1 llama.cpp adds to every Gemma norm weight). from_pretrained needs
`accelerate` for GGUF files. Attention is transformers' "eager" implementation. The tokenizer is
transformers' AutoTokenizer from the same GGUF file; chat prompts go through its
apply_chat_template (add_generation_prompt=True).

Per prompt: the ids; at every position the 64 largest logits and their ids, the logits at a fixed
sample of 512 vocab ids and max |logit|; a 64-token greedy continuation (a manual loop with the
KV cache, not stopping at EOS) with the top-1 minus top-2 logit gap at each step; hidden states
at three sites per layer (resid: the decoder layer's output; attn_out and mlp_out: what the
attention and MLP sub-blocks add to the residual stream), dims 0..127 plus the max |x| and the L2
norm of the full vector, at every position for prompts 0, 5, 10, 15 and at the last position for
the others.
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
MODELS_DIR = Path(os.environ.get("EMOVEC_MODELS_DIR", Path.home() / ".cache" / "emovec" / "models"))
GOLDEN = ROOT / "tests" / "golden"

MODELS = {
    "smollm2-135m-instruct": ("SmolLM2-135M-Instruct.Q4_1.gguf", True),
    "qwen2.5-coder-0.5b-instruct": ("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", True),
    "gemma-3-270m": ("gemma-3-270m-q4_k_m.gguf", False),
}

HIDDEN_DIMS = 128
SAMPLE_IDS = 512
TOP_K = 64
GREEDY_STEPS = 64
FULL_HIDDEN_PROMPTS = (0, 5, 10, 15)
MAX_PROMPT = 400
SAMPLE_SEED = 20250204
SITES = ("resid", "attn_out", "mlp_out")

LONG_TEXT = (
    "The old lighthouse stood at the edge of the cliff for more than two hundred years. Every "
    "night its keeper climbed the one hundred and twelve steps of the spiral staircase, trimmed "
    "the wick, polished the great lens and watched the beam sweep across the dark water. Ships "
    "from distant ports passed safely because of that light. When the last keeper retired, the "
    "town council argued for months about what to do with the building. In the end a group of "
    "children from the village school wrote a petition. They asked that the lighthouse be kept "
    "as it was, with a small room at the bottom where visitors could learn about the storms, the "
    "shipwrecks and the people who had lived there. The council agreed, and on a bright morning "
    "in spring the doors opened again. The first visitor was an elderly woman who had been born "
    "in the keeper's cottage. She walked slowly up the stairs, stopping at each window to look "
    "at the sea, and when she reached the top she stood in silence for a long time."
)

# (kind, system, text). kind "chat": user turn through the chat template (with the system turn
# when given); kind "raw": plain text. Prompts 0, 5, 10, 15 (hidden states at every position)
# are short raw texts to keep the files small. Gemma (base model) takes every prompt as raw text,
# a chat prompt's system text and user text joined by a blank line.
PROMPTS = [
    ("raw", None, "The capital of France is"),
    ("chat", None, "How did you feel when you received the surprise birthday party from your friends?"),
    ("chat", "You are a cheerful assistant.", "Tell me about your favourite season."),
    ("chat", None, "Comment apprendre une nouvelle langue ?"),
    ("raw", None, "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002"),
    ("raw", None, "Hello, my name is"),
    ("chat", None, "Write a Python function that tells if a number is prime."),
    ("chat", None, "What is 17 * 23 + 4?"),
    ("raw", None, "def fibonacci(n):\n    if n < 2:\n        return n\n"),
    ("chat", "\u041e\u0442\u0432\u0435\u0447\u0430\u0439 \u043f\u043e-\u0440\u0443\u0441\u0441\u043a\u0438.",
     "\u041f\u0440\u0438\u0432\u0435\u0442! \u0420\u0430\u0441\u0441\u043a\u0430\u0436\u0438 \u043c\u043d\u0435 \u043e \u041c\u043e\u0441\u043a\u0432\u0435."),
    ("raw", None, "Once upon a time, a fox"),
    ("chat", None, "List five fruits that are red."),
    ("chat", None, "I just lost my job and I feel terrible. What should I do?"),
    ("raw", None, "3.14159 2.71828 1729 = 12^3 + 1, 12 + 30 ="),
    ("chat", "You are a grumpy old pirate.", "How did you feel when you found out the treasure was gone?"),
    ("raw", None, "Hi"),
    ("chat", None, "\u7ea2\u70e7\u8089\u600e\u4e48\u505a\uff1f"),
    ("raw", None, LONG_TEXT),
    ("chat", None, "Write an angry note about a broken phone."),
    ("chat", "You are a patient math tutor.", "If x + 5 = 12, what is x? Explain step by step."),
]

# Config keys worth recording (those present in the config are kept).
CONFIG_KEYS = [
    "model_type", "architectures", "vocab_size", "hidden_size", "intermediate_size",
    "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_act",
    "hidden_activation", "rms_norm_eps", "rope_theta", "rope_parameters", "rope_scaling",
    "rope_local_base_freq", "max_position_embeddings", "tie_word_embeddings", "attention_bias",
    "mlp_bias", "sliding_window", "use_sliding_window", "max_window_layers", "layer_types",
    "sliding_window_pattern", "_sliding_window_pattern", "query_pre_attn_scalar",
    "attn_logit_softcapping", "final_logit_softcapping", "use_bidirectional_attention",
    "bos_token_id", "eos_token_id", "pad_token_id",
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return str(v)


def config_record(model) -> dict:
    """The config transformers derived, plus what the modules really use."""
    import torch
    cfg = model.config
    d = cfg.to_dict()
    rec = {k: jsonable(d[k]) for k in CONFIG_KEYS if k in d}
    layers = model.model.layers
    attn0 = layers[0].self_attn
    derived = {"attn_implementation": cfg._attn_implementation,
               "attention_scaling": float(attn0.scaling)}
    embed = model.model.embed_tokens
    if hasattr(embed, "embed_scale"):
        derived["embed_scale"] = float(torch.as_tensor(embed.embed_scale).float().item())
    types = getattr(cfg, "layer_types", None)
    if types is not None:
        derived["sliding_layers"] = [i for i, t in enumerate(types) if t == "sliding_attention"]
        derived["full_layers"] = [i for i, t in enumerate(types) if t != "sliding_attention"]
    sw = [getattr(l.self_attn, "sliding_window", None) for l in layers]
    if any(s is not None for s in sw):
        derived["layer_sliding_window"] = sw
    rot = getattr(model.model, "rotary_emb", None)
    if rot is not None:
        # transformers keeps the inverse frequencies per layer type (gemma3) or one set.
        invs = {}
        for name, buf in rot.named_buffers():
            if "inv_freq" in name and "original" not in name:
                invs[name] = buf.float()
        for name, inv in invs.items():
            derived[f"rope.{name}.head"] = [float(x) for x in inv[:4]]
            derived[f"rope.{name}.tail"] = [float(x) for x in inv[-2:]]
        for name in ("attention_scaling", "sliding_attention_attention_scaling",
                     "full_attention_attention_scaling"):
            if hasattr(rot, name):
                derived[f"rope.{name}"] = float(getattr(rot, name))
    rec["derived"] = derived
    return rec


class SiteHooks:
    """Forward hooks capturing, per decoder layer, the three sites of the residual stream."""

    def __init__(self, model):
        self.model = model
        self.store = {s: [None] * len(model.model.layers) for s in SITES}
        self.handles = []
        self.enabled = True
        gemma = model.config.model_type.startswith("gemma")
        for i, layer in enumerate(model.model.layers):
            attn_mod = layer.post_attention_layernorm if gemma else layer.self_attn.o_proj
            mlp_mod = layer.post_feedforward_layernorm if gemma else layer.mlp
            self.handles.append(layer.register_forward_hook(self._hook("resid", i)))
            self.handles.append(attn_mod.register_forward_hook(self._hook("attn_out", i)))
            self.handles.append(mlp_mod.register_forward_hook(self._hook("mlp_out", i)))

    def _hook(self, site, i):
        def fn(module, args, output):
            if not self.enabled:
                return
            out = output[0] if isinstance(output, (tuple, list)) else output
            self.store[site][i] = out.detach()[0].float().clone()  # [P, H]
        return fn

    def stacked(self):
        return {s: np.stack([t.numpy() for t in self.store[s]]) for s in SITES}  # [L, P, H]

    def remove(self):
        for h in self.handles:
            h.remove()


def hidden_tensors(prefix, h: np.ndarray, full: bool, dims: int) -> dict:
    """h: [L, P, H] -> {name: array} for one site."""
    if not full:
        h = h[:, -1:, :]
    return {prefix: np.ascontiguousarray(h[:, :, :dims], dtype=np.float32),
            prefix + ".absmax": np.ascontiguousarray(np.abs(h).max(axis=-1), dtype=np.float32),
            prefix + ".norm": np.ascontiguousarray(
                np.sqrt((h.astype(np.float64) ** 2).sum(axis=-1)), dtype=np.float32)}


def logits_tensors(prefix, logits, sample_ids) -> dict:
    """logits: torch [P, V] float32."""
    import torch
    top, top_ids = torch.topk(logits, TOP_K, dim=-1, largest=True, sorted=True)
    return {prefix + ".top_ids": top_ids.numpy().astype(np.int32),
            prefix + ".top": top.numpy().astype(np.float32),
            prefix + ".sample": logits[:, torch.from_numpy(sample_ids.astype(np.int64))].numpy()
            .astype(np.float32),
            prefix + ".absmax": logits.abs().max(dim=-1).values.numpy().astype(np.float32)}


def check_sites(hid: dict, name: str):
    """resid[l] == resid[l-1] + attn_out[l] + mlp_out[l] (the site definitions are consistent)."""
    r, a, m = hid["resid"], hid["attn_out"], hid["mlp_out"]
    for l in range(1, r.shape[0]):
        err = np.abs(r[l] - (r[l - 1] + a[l] + m[l])).max()
        scale = max(1.0, float(np.abs(r[l]).max()))
        assert err <= 1e-4 * scale, f"{name}: layer {l} resid != prev + attn_out + mlp_out ({err})"


def write_gguf(path: Path, metadata: dict, tensors: dict):
    """metadata values: str, int (u32), float (f32), list[str]. tensors: numpy int32/float32."""
    import gguf
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch="emovec-golden")
    for k, v in metadata.items():
        if isinstance(v, bool):
            w.add_bool(k, v)
        elif isinstance(v, int):
            w.add_uint32(k, v)
        elif isinstance(v, float):
            w.add_float32(k, v)
        elif isinstance(v, str):
            w.add_string(k, v)
        elif isinstance(v, list):
            w.add_array(k, v)
        else:
            raise TypeError(k)
    for name, arr in tensors.items():
        assert arr.dtype in (np.float32, np.int32), (name, arr.dtype)
        w.add_tensor(name, np.ascontiguousarray(arr))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def verify_gguf(path: Path, tensors: dict):
    """Read the file back with gguf-py and compare every tensor."""
    import gguf
    r = gguf.GGUFReader(str(path))
    got = {t.name: t for t in r.tensors}
    assert set(got) == set(tensors), "tensor names differ after read-back"
    for name, arr in tensors.items():
        t = got[name]
        assert [int(x) for x in t.shape] == list(reversed(arr.shape)), (name, t.shape, arr.shape)
        data = np.asarray(t.data).reshape(arr.shape)
        assert np.array_equal(data, arr), name
    return r


def tokenize_prompts(tok, chat: bool, bos_id):
    """-> list of (kind, messages_or_text, ids)."""
    out = []
    for kind, system, text in PROMPTS:
        if chat and kind == "chat":
            msgs = ([{"role": "system", "content": system}] if system else []) + \
                   [{"role": "user", "content": text}]
            rendered = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            ids = tok(rendered, add_special_tokens=False)["input_ids"]
            out.append(("chat", msgs, rendered, ids))
        else:
            raw = text if (kind == "raw" or not system) else system + "\n\n" + text
            ids = tok(raw, add_special_tokens=True)["input_ids"]
            if not chat and bos_id is not None and (not ids or ids[0] != bos_id):
                ids = [bos_id] + ids
            out.append(("raw", None, raw, ids))
    for i, (_, _, _, ids) in enumerate(out):
        assert 1 <= len(ids) <= MAX_PROMPT, (i, len(ids))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lengths", action="store_true",
                    help="only tokenize: print the prompt lengths and the estimated file size")
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    filename, chat = MODELS[args.model]
    path = args.models_dir / filename
    out_path = args.out or GOLDEN / f"decoder_{args.model}.gguf"
    print(f"{args.model}: {path}", flush=True)
    sha = sha256_file(path)

    tok = AutoTokenizer.from_pretrained(str(args.models_dir), gguf_file=filename)
    if args.lengths:
        from transformers import AutoConfig
        c = AutoConfig.from_pretrained(str(args.models_dir), gguf_file=filename)
        lens = [len(p[3]) for p in tokenize_prompts(tok, chat, tok.bos_token_id)]
        per_pos = SAMPLE_IDS * 4 + TOP_K * 8 + 4 + 4
        per_hid = len(SITES) * c.num_hidden_layers * (HIDDEN_DIMS + 2) * 4
        est = sum(lens) * per_pos + sum(lens[i] if i in FULL_HIDDEN_PROMPTS else 1
                                        for i in range(len(lens))) * per_hid
        print(f"lengths {lens} total {sum(lens)}; estimated size {est / 1e6:.2f} MB")
        return 0
    model = AutoModelForCausalLM.from_pretrained(str(args.models_dir), gguf_file=filename,
                                                 dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = config_record(model)
    print(json.dumps(cfg, indent=1), flush=True)
    n_layer = model.config.num_hidden_layers
    vocab = model.get_output_embeddings().weight.shape[0]
    assert vocab == model.config.vocab_size

    rng = np.random.default_rng(SAMPLE_SEED)
    sample_ids = np.sort(rng.choice(vocab, size=SAMPLE_IDS, replace=False)).astype(np.int32)

    prompts = tokenize_prompts(tok, chat, tok.bos_token_id)
    hooks = SiteHooks(model)
    tensors = {"logits.sample_ids": sample_ids}
    kinds, texts = [], []
    hs_check_done = False
    for i, (kind, msgs, rendered, ids) in enumerate(prompts):
        kinds.append(kind)
        texts.append(json.dumps(msgs, ensure_ascii=False) if msgs else rendered)
        x = torch.tensor([ids], dtype=torch.long)
        hooks.enabled = True
        with torch.no_grad():
            out = model(input_ids=x, use_cache=True, output_hidden_states=not hs_check_done)
        hooks.enabled = False
        hid = hooks.stacked()
        check_sites(hid, f"prompt {i}")
        if not hs_check_done:
            # How transformers' output_hidden_states relates to the decoder layer outputs.
            hs = out.hidden_states
            first = np.abs(hs[1][0].numpy() - hid["resid"][0]).max()
            last = np.abs(hs[-1][0].numpy() - hid["resid"][-1]).max()
            print(f"output_hidden_states: {len(hs)} entries; |hs[1]-layer0 out|={first:.3g}, "
                  f"|hs[-1]-last layer out|={last:.3g} (nonzero: hs[-1] is after the final norm)")
            hs_check_done = True
        logits = out.logits[0].float()
        P = len(ids)
        tensors[f"p{i}.ids"] = np.asarray(ids, dtype=np.int32)
        tensors.update(logits_tensors(f"p{i}.logits", logits, sample_ids))
        full = i in FULL_HIDDEN_PROMPTS
        for s in SITES:
            tensors.update(hidden_tensors(f"p{i}.hidden.{s}", hid[s], full, HIDDEN_DIMS))

        # Greedy continuation, manual loop with the KV cache, not stopping at EOS.
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        step_logits = logits[-1]
        greedy, gaps = [], []
        with torch.no_grad():
            for step in range(GREEDY_STEPS):
                t2 = torch.topk(step_logits, 2)
                nxt = int(t2.indices[0])
                greedy.append(nxt)
                gaps.append(float(t2.values[0] - t2.values[1]))
                if step + 1 == GREEDY_STEPS:
                    break
                o = model(input_ids=torch.tensor([[nxt]]), cache=cache, use_cache=True)
                cache = o.cache if hasattr(o, "cache") else o.past_key_values
                step_logits = o.logits[0, -1].float()
        tensors[f"p{i}.greedy.ids"] = np.asarray(greedy, dtype=np.int32)
        tensors[f"p{i}.greedy.gap"] = np.asarray(gaps, dtype=np.float32)
        print(f"p{i} [{kind}, P={P}] min gap {min(gaps):.3g}: {rendered[-40:]!r} -> "
              f"{tok.decode(greedy[:24])!r}", flush=True)
    hooks.remove()

    metadata = {
        "golden.model": args.model,
        "golden.file": filename,
        "golden.file_sha256": sha,
        "golden.transformers_version": transformers.__version__,
        "golden.torch_version": torch.__version__,
        "golden.n_prompts": len(prompts),
        "golden.n_layer": n_layer,
        "golden.vocab_size": vocab,
        "golden.config": json.dumps(cfg, sort_keys=True),
        "golden.hidden_dims": HIDDEN_DIMS,
        "golden.sample_ids_count": SAMPLE_IDS,
        "golden.top_k": TOP_K,
        "golden.greedy_steps": GREEDY_STEPS,
        "golden.full_hidden_prompts": json.dumps(list(FULL_HIDDEN_PROMPTS)),
        "golden.prompt_kinds": kinds,
        "golden.prompt_texts": texts,
    }
    write_gguf(out_path, metadata, tensors)
    verify_gguf(out_path, tensors)
    print(f"wrote {out_path} ({out_path.stat().st_size} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    sys.exit(main())
