#!/usr/bin/env python3
"""Perplexity of tests/data/perplexity_text.txt under a shipped model, computed by transformers
(float32, on the GGUF file) with llama.cpp's chunking: the text's tokens (as the tokenizer adds
special tokens) are cut into chunks of CHUNK; in each chunk the second half is scored.

    python tools/golden/make_perplexity_golden.py [--model smollm2-135m-instruct] [--chunk 128]

Writes tests/golden/perplexity_MODEL.json with the transformers value (and llama.cpp's, through
llama-cpp-python, when it is installed, for information).
"""

import argparse
import json
import math
import os

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def chunked_nll(logits_of, tokens, chunk, bos):
    nll = []
    for c in range(len(tokens) // chunk):
        ids = list(tokens[c * chunk:(c + 1) * chunk])
        targets = list(ids)
        if bos is not None:
            ids[0] = bos
        logits = logits_of(ids)
        for j in range(chunk // 2, chunk - 1):
            row = logits[j].astype(np.float64)
            m = row.max()
            nll.append(math.log(np.exp(row - m).sum()) + m - row[targets[j + 1]])
    return nll


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--chunk", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(2)
    entry = next(m for m in json.load(open(os.path.join(ROOT, "models", "models.json")))["models"]
                 if m["name"] == args.model)
    models_dir = os.environ.get("EMOVEC_MODELS_DIR", os.path.expanduser("~/.cache/emovec/models"))
    path = os.path.join(models_dir, entry["path"])
    text = open(os.path.join(ROOT, "tests", "data", "perplexity_text.txt"), encoding="utf-8").read()
    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=entry["path"])
    tokens = tok(text)["input_ids"]
    bos = tok.bos_token_id if tokens and tokens[0] == tok.bos_token_id else None
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=entry["path"], torch_dtype=torch.float32)
    model.eval()

    def hf_logits(ids):
        with torch.no_grad():
            return model(torch.tensor([ids])).logits[0].numpy()

    nll = chunked_nll(hf_logits, tokens, args.chunk, bos)
    out = {"model": args.model, "chunk": args.chunk, "n_tokens": len(tokens), "n_scored": len(nll),
           "perplexity": math.exp(float(np.mean(nll))), "reference": "transformers float32"}
    try:
        from llama_cpp import Llama
        llm = Llama(model_path=path, n_ctx=2 * args.chunk, n_threads=2, logits_all=True, verbose=False)

        def llama_logits(ids):
            llm.reset()
            llm._ctx.kv_cache_clear()
            llm.eval(ids)
            return np.array(llm.scores[:len(ids)])

        out["llama_cpp_perplexity"] = math.exp(float(np.mean(chunked_nll(llama_logits, tokens, args.chunk, bos))))
    except ImportError:
        pass
    dest = os.path.join(ROOT, "tests", "golden", f"perplexity_{args.model}.json")
    json.dump(out, open(dest, "w"), indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
