#!/usr/bin/env python3
"""How often llama.cpp's greedy continuations of the decoder golden prompts agree with themselves
across llama.cpp's own settings, and with the float32 reference (transformers): the yardstick for
emovec's agreement with llama.cpp.

    python tools/peer/llamacpp_settings_agreement.py --model NAME [--threads 2] [--json OUT]

Runs llamacpp_greedy.py on the shipped GGUF file of NAME with the token ids of
tests/golden/decoder_NAME.gguf (20 prompts, 64 tokens each), once per setting:

  default       llama-cpp-python's defaults (float16 KV cache)
  f32-cache     float32 KV cache (--cache-type f32)
  flash-attn    flash attention on (--flash-attn on)
  f32+flash     both
  1-thread      the defaults on one thread

and prints, for each pair, on how many prompts the 64-token continuations are identical; the
last row and column are the golden file's transformers continuations (float32 arithmetic on the
same GGUF file, dequantised), which emovec's exact path matches. llama.cpp quantises activations
to 8 bits inside its matrix products, so its continuations drift from float32 ones after
near-ties, and differently for each setting that changes a rounding.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from decoder_golden import ROOT, golden_prompts, shipped_model_path

SETTINGS = [
    ("default", []),
    ("f32-cache", ["--cache-type", "f32"]),
    ("flash-attn", ["--flash-attn", "on"]),
    ("f32+flash", ["--cache-type", "f32", "--flash-attn", "on"]),
    ("1-thread", ["--threads", "1"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a shipped decoder model's name")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", metavar="OUT", help="also write the matrix as JSON")
    args = ap.parse_args()
    model_path = shipped_model_path(args.model)
    prompts, reference, n = golden_prompts(args.model)
    n_prompts = len(prompts)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.json")
        json.dump({"prompts": prompts}, open(inp, "w"))
        for name, extra in SETTINGS:
            out = os.path.join(tmp, f"{name}.json")
            cmd = [sys.executable, os.path.join(ROOT, "tools", "peer", "llamacpp_greedy.py"),
                   "--model", model_path, "--input", inp, "--out", out, "--n", str(n)]
            if "--threads" not in extra:
                cmd += ["--threads", str(args.threads)]
            subprocess.run(cmd + extra, check=True, stderr=subprocess.DEVNULL)
            runs[name] = [r["ids"] for r in json.load(open(out))["results"]]
    runs["transformers"] = reference

    names = list(runs)
    matrix = {a: {b: sum(x == y for x, y in zip(runs[a], runs[b])) for b in names} for a in names}
    print(f"{args.model}: identical {n}-token greedy continuations, of {n_prompts} prompts")
    print(" " * 14 + "".join(f"{b:>14}" for b in names))
    for a in names:
        print(f"{a:<14}" + "".join(f"{matrix[a][b]:>14}" for b in names))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "n_prompts": n_prompts, "n": n, "matrix": matrix}, f,
                      indent=1)


if __name__ == "__main__":
    main()
