#!/usr/bin/env python3
"""Prompt-mode emotion-vector extraction done with transformers + PyTorch on the CPU, the way the
Python steering libraries do it (forward hooks on each decoder layer's attention module), timed;
and, given emovec's vectors of the same extraction, how closely they agree.

    python tools/peer/transformers_extract_bench.py --model MODEL.gguf [--queries FILE]
        [--max-queries 0] [--threads 2] [--batch 32] [--prompt-tokens 8]
        [--compare DIR] [--json]

The same recipe as `emovec extract --mode prompt --site attn_out --held-out 0`: the queries
stripped and de-duplicated in file order, for each one a neutral prompt and one per emotion
(the default instruction wordings, the model's chat template with the generation prompt), the
attention output of every layer averaged over each prompt's last --prompt-tokens tokens, and per
layer EV = mean over queries of (emotion - neutral). Prompts go through the model --batch at a
time, left-padded, with position ids that skip the padding. transformers reads the GGUF file and
dequantises it to float32. The timer covers tokenisation and the forward passes, not loading.

--compare DIR reads emovec's <emotion>.gguf files from DIR and prints, per emotion, over layers
1..L-1 (block 0 is kept in metadata, not as a tensor), the lowest cosine similarity between the
two implementations' vectors and the largest |emovec - transformers| / |transformers|. --json prints the figures as one JSON object on the last line.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness"]
NEUTRAL = "Please answer the following query with neutrality: {query}"
EMOTIONAL = "Please answer the following query with {emotion}: {query}"
REPO = Path(__file__).resolve().parents[2]


def load_queries(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    raw = [q for lst in data.values() for q in lst] if isinstance(data, dict) else list(data)
    seen, out = set(), []
    for q in raw:
        s = q.strip(" \t\r\n\v\f")
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    return out


def emovec_vectors(folder, emotion):
    from gguf import GGUFReader

    reader = GGUFReader(os.path.join(folder, emotion + ".gguf"))
    layers = {}
    for t in reader.tensors:
        if t.name.startswith("direction."):
            layers[int(t.name.split(".")[1])] = np.asarray(t.data, dtype=np.float64)
    return layers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a GGUF file of the llama or qwen2 family")
    ap.add_argument("--queries", default=str(REPO / "data" / "emotionquery" / "EmotionQuery.json"))
    ap.add_argument("--max-queries", type=int, default=0, help="the first N queries (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prompt-tokens", type=int, default=8)
    ap.add_argument("--compare", metavar="DIR", help="emovec's vectors of the same extraction")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    path = Path(args.model)
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                 dtype=torch.float32)
    model.eval()
    layers = model.model.layers
    n_layer = len(layers)

    queries = load_queries(args.queries)
    if args.max_queries > 0:
        queries = queries[: args.max_queries]
    kinds = [None] + EMOTIONS
    texts = []
    for q in queries:
        for e in kinds:
            texts.append(NEUTRAL.format(query=q) if e is None else EMOTIONAL.format(emotion=e, query=q))

    # The hooks: each layer's attention output, averaged over the last prompt tokens of each row.
    captured = [None] * n_layer

    def hook(index):
        def on_output(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            captured[index] = out[:, -args.prompt_tokens:, :].mean(dim=1).double()
        return on_output

    handles = [layer.self_attn.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"

    sums = np.zeros((len(kinds), n_layer, model.config.hidden_size))
    n_tokens = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(texts), args.batch):
            chunk = texts[b: b + args.batch]
            rendered = [tok.apply_chat_template([{"role": "user", "content": t}],
                                                add_generation_prompt=True, tokenize=False) for t in chunk]
            ids = [tok(r, add_special_tokens=False)["input_ids"] for r in rendered]
            n_tokens += sum(len(x) for x in ids)
            width = max(len(x) for x in ids)
            pad = tok.pad_token_id
            input_ids = torch.tensor([[pad] * (width - len(x)) + list(x) for x in ids])
            mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            model.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False)
            for r in range(len(chunk)):
                kind = (b + r) % len(kinds)
                for l in range(n_layer):
                    sums[kind, l] += captured[l][r].numpy()
    seconds = time.perf_counter() - start
    for h in handles:
        h.remove()

    means = sums / len(queries)
    result = {"model": path.name, "queries": len(queries), "prompts": len(texts), "tokens": n_tokens,
              "threads": args.threads, "batch": args.batch, "seconds": seconds,
              "torch": torch.__version__, "transformers": transformers.__version__}
    print(f"transformers + hooks: {len(texts)} prompts ({len(queries)} queries, {n_tokens} tokens) "
          f"in {seconds:.1f} s on {args.threads} threads")
    if args.compare:
        lowest, largest = {}, {}
        for k, e in enumerate(EMOTIONS, start=1):
            ours = emovec_vectors(args.compare, e)
            theirs = means[k] - means[0]
            cos, rel = [], []
            for l in range(1, n_layer):
                a, b = ours[l], theirs[l]
                cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
                rel.append(float(np.linalg.norm(a - b) / np.linalg.norm(b)))
            lowest[e], largest[e] = min(cos), max(rel)
            print(f"  {e:8s} over layers 1..{n_layer - 1}: lowest cosine with emovec's vector "
                  f"{min(cos):.6f}, largest relative difference {max(rel):.2e}")
        result["lowest_cosine"] = lowest
        result["largest_relative_difference"] = largest
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
