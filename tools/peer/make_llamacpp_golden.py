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

import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    models = json.load(open(os.path.join(ROOT, "models", "models.json")))["models"]
    entry = next(m for m in models if m["name"] == args.model)
    models_dir = os.environ.get("EMOVEC_MODELS_DIR", os.path.expanduser("~/.cache/emovec/models"))
    model_path = os.path.join(models_dir, entry["path"])

    golden = gguf.GGUFReader(os.path.join(ROOT, "tests", "golden", f"decoder_{args.model}.gguf"))
    tensors = {t.name: t for t in golden.tensors}
    n_prompts = int(golden.fields["golden.n_prompts"].contents())
    prompts = [{"ids": [int(v) for v in tensors[f"p{i}.ids"].data]} for i in range(n_prompts)]
    n = len(tensors["p0.greedy.ids"].data)

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
