#!/usr/bin/env python3
"""Prefill and decode speed of llama.cpp (through llama-cpp-python) on the CPU: the peer numbers.

    python tools/peer/llamacpp_bench.py --model MODEL.gguf --threads N [--prompt-tokens 512]
        [--gen 128] [--repeat 3] [--warmup 1] [--seed 0] [--json]

Each repeat makes a fresh context (a new Llama object; the weights stay in the page cache) with
n_threads = n_threads_batch = N, n_batch >= prompt-tokens and every other setting at
llama-cpp-python's defaults, then
  - prefill: evaluates prompt-tokens seeded random ids (normal vocabulary tokens only) in one
    call, logits for the last position only;
  - decode: clears the KV cache, evaluates a 16-token prompt (untimed), then gen greedy
    single-token steps.
time.perf_counter brackets only the llama.cpp eval calls (the argmax is outside). Tokens/s are
medians over the repeats; --warmup runs are made first and dropped. With --json one JSON object
{"prefill_tps", "decode_tps", "threads", "n_prompt", "n_gen", "version", ...} is printed;
"loadavg_1min" (before, after) tells whether other work shared the cores: with more runnable
threads than cores the numbers drop, and multi-threaded decode collapses.
Needs tools/requirements-peer.txt (bash scripts/setup.sh --peer).
"""

import argparse
import json
import os
import random
import statistics
import time

import numpy as np

import llama_cpp
from llama_cpp import Llama

DECODE_PROMPT = 16


def normal_token_ids(llm):
    """Ids of the ordinary vocabulary tokens (no control, unused or byte tokens)."""
    return [i for i in range(llm.n_vocab())
            if llm._model.token_get_attr(i) == llama_cpp.LLAMA_TOKEN_ATTR_NORMAL]


def one_run(args, prompt, decode_prompt):
    """One fresh context: (prefill seconds, decode seconds)."""
    llm = Llama(model_path=args.model, n_ctx=args.prompt_tokens + args.gen + DECODE_PROMPT,
                n_batch=max(512, args.prompt_tokens), n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=False, verbose=False)
    n_vocab = llm.n_vocab()
    try:
        t0 = time.perf_counter()
        llm.eval(prompt)
        prefill = time.perf_counter() - t0

        llm.reset()
        llm._ctx.kv_cache_clear()
        llm.eval(decode_prompt)
        decode = 0.0
        for _ in range(args.gen):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                           shape=(n_vocab,))
            tok = int(np.argmax(logits))
            t0 = time.perf_counter()
            llm.eval([tok])
            decode += time.perf_counter() - t0
        return prefill, decode
    finally:
        llm.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs made first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    vocab_llm = Llama(model_path=args.model, n_ctx=64, verbose=False)
    pool = normal_token_ids(vocab_llm)
    vocab_llm.close()
    if not pool:
        raise SystemExit("no normal tokens in the vocabulary")
    rng = random.Random(args.seed)
    prompt = [rng.choice(pool) for _ in range(args.prompt_tokens)]
    decode_prompt = [rng.choice(pool) for _ in range(DECODE_PROMPT)]

    load_before = os.getloadavg()[0]
    for _ in range(args.warmup):
        one_run(args, prompt, decode_prompt)
    runs = [one_run(args, prompt, decode_prompt) for _ in range(args.repeat)]
    prefill_tps = [args.prompt_tokens / p for p, _ in runs]
    decode_tps = [args.gen / d for _, d in runs]

    result = {
        "prefill_tps": round(statistics.median(prefill_tps), 2),
        "decode_tps": round(statistics.median(decode_tps), 2),
        "threads": args.threads,
        "n_prompt": args.prompt_tokens,
        "n_gen": args.gen,
        "version": llama_cpp.__version__,
        "model": os.path.basename(args.model),
        "repeat": args.repeat,
        "prefill_tps_all": [round(x, 2) for x in prefill_tps],
        "decode_tps_all": [round(x, 2) for x in decode_tps],
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']}  llama.cpp (llama-cpp-python {result['version']}), "
              f"{args.threads} threads")
        print(f"  prefill {args.prompt_tokens} tokens: {result['prefill_tps']:.1f} tok/s")
        print(f"  decode  {args.gen} tokens: {result['decode_tps']:.1f} tok/s")


if __name__ == "__main__":
    main()
