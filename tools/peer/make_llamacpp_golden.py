#!/usr/bin/env python3
"""llama.cpp's greedy continuations of the decoder golden prompts, for the peer test.

    python tools/peer/make_llamacpp_golden.py --model NAME [--threads 2]

Reads the prompts (token ids) of tests/golden/decoder_NAME.gguf, runs llamacpp_greedy.py on the
shipped GGUF file with the same ids and 64 tokens, and writes tests/golden/llamacpp_greedy_NAME.json.
tests/test_decoder_golden.cpp compares emovec's greedy continuations with these.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from decoder_golden import ROOT, golden_prompts, shipped_model_path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    model_path = shipped_model_path(args.model)
    prompts, _, n = golden_prompts(args.model)

    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.json")
        out = os.path.join(tmp, "out.json")
        json.dump({"prompts": prompts}, open(inp, "w"))
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "peer", "llamacpp_greedy.py"),
                        "--model", model_path, "--input", inp, "--out", out, "--n", str(n),
                        "--threads", str(args.threads)], check=True)
        result = json.load(open(out))
    result["model"] = args.model
    dest = os.path.join(ROOT, "tests", "golden", f"llamacpp_greedy_{args.model}.json")
    with open(dest, "w") as f:
        json.dump(result, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
