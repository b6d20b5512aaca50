#!/usr/bin/env python3
"""Greedy decoding with llama.cpp (through llama-cpp-python), the peer implementation for tests.

    python tools/peer/llamacpp_greedy.py --model MODEL.gguf --input IN.json --out OUT.json \
        [--n 64] [--threads 2] [--n-ctx 2048] [--cache-type f16|f32] [--flash-attn on|off]

IN.json:  {"prompts": [{"ids": [token ids...]}, ...]}
OUT.json: {"llama_cpp_version": "...", "model": "MODEL.gguf", "n": N,
           "results": [{"ids": [N generated ids], "top2_gap": [N floats]}, ...]}

Each prompt's ids go to llama.cpp exactly as given: no tokenization, no BOS added. Then N tokens
are decoded greedily (argmax of llama.cpp's logits row, lowest id on ties) without stopping at
EOS or any other token. top2_gap[i] is the top-1 minus the top-2 logit at step i (how safe that
argmax is; a tiny gap means a rounding difference may legitimately flip the token). No llama.cpp
sampler runs, so no repetition penalty or temperature can interfere. The context is cleared
between prompts. --cache-type and --flash-attn change llama.cpp's KV cache type (both K and V; its
default is f16) and attention kernel (default: llama-cpp-python's); the results record them.
Needs tools/requirements-peer.txt (bash scripts/setup.sh --peer).
"""

import argparse
import json
import os
import sys

import numpy as np

import llama_cpp
from llama_cpp import Llama


def last_logits(llm, n_vocab):
    """A copy of the logits row of the last evaluated token."""
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy()


def greedy(llm, ids, n):
    """Evaluates ids from an empty context, then decodes n tokens greedily."""
    n_vocab = llm.n_vocab()
    llm.reset()
    llm._ctx.kv_cache_clear()
    llm.eval(ids)
    out, gaps = [], []
    for step in range(n):
        logits = last_logits(llm, n_vocab)
        tok = int(np.argmax(logits))
        top2 = np.partition(logits, -2)[-2:]
        out.append(tok)
        gaps.append(float(top2[1] - top2[0]))
        if step + 1 < n:
            llm.eval([tok])
    return {"ids": out, "top2_gap": gaps}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--input", required=True, help='JSON {"prompts": [{"ids": [...]}, ...]}')
    ap.add_argument("--out", required=True, help="where to write the results (JSON)")
    ap.add_argument("--n", type=int, default=64, help="tokens to generate per prompt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--cache-type", choices=["f16", "f32"], default=None,
                    help="KV cache type (default: llama.cpp's, f16)")
    ap.add_argument("--flash-attn", choices=["on", "off"], default=None,
                    help="flash attention (default: llama-cpp-python's)")
    args = ap.parse_args()

    with open(args.input, encoding="utf-8") as f:
        prompts = [[int(t) for t in p["ids"]] for p in json.load(f)["prompts"]]

    extra = {}
    if args.cache_type is not None:
        cache = {"f16": llama_cpp.GGML_TYPE_F16, "f32": llama_cpp.GGML_TYPE_F32}[args.cache_type]
        extra.update(type_k=cache, type_v=cache)
    if args.flash_attn is not None:
        extra["flash_attn"] = args.flash_attn == "on"
    llm = Llama(model_path=args.model, n_ctx=args.n_ctx, n_batch=min(args.n_ctx, 512),
                n_threads=args.threads, n_threads_batch=args.threads, logits_all=False,
                verbose=False, **extra)
    n_vocab = llm.n_vocab()
    results = []
    for i, ids in enumerate(prompts):
        if not ids:
            sys.exit(f"prompt {i}: no token ids")
        if len(ids) + args.n > llm.n_ctx():
            sys.exit(f"prompt {i}: {len(ids)} + {args.n} tokens do not fit n_ctx {llm.n_ctx()}")
        bad = [t for t in ids if not 0 <= t < n_vocab]
        if bad:
            sys.exit(f"prompt {i}: token ids out of range [0, {n_vocab}): {bad[:5]}")
        results.append(greedy(llm, ids, args.n))

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"llama_cpp_version": llama_cpp.__version__,
                   "model": os.path.basename(args.model), "n": args.n, "threads": args.threads,
                   "cache_type": args.cache_type or "default", "flash_attn": args.flash_attn or "default",
                   "results": results}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
