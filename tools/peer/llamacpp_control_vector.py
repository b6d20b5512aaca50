#!/usr/bin/env python3
"""A control vector exported by emovec, steered in llama.cpp and in emovec: same greedy text?

    python tools/peer/llamacpp_control_vector.py --emovec build/bin/emovec --model MODEL.gguf \
        (--vector FILE.gguf | --extract-emotion joy) [--scale 2] [--n 32] [--threads 2] \
        [--emovec-path exact|default] [--out OUT.json]

With --extract-emotion, the vector is first extracted by `emovec extract` at the residual site
(prompt mode, --max-queries queries), the site llama.cpp's control vectors steer.

llama.cpp side (llama-cpp-python built from source): the file is read with gguf-py, llama.cpp's
own GGUF reader, exactly as llama.cpp's common_control_vector_load lays it out (tensor
direction.k, k >= 1, times the scale, at offset (k-1) * n_embd), and applied with
llama_set_adapter_cvec to layers 1 .. n_layer-1: every position, the output of each block.
emovec side: `emovec generate --chat --control-vector-scaled FILE S
--control-vector-layer-range 1 L-1 --steer-positions all --temp 0 --ignore-eos`, i.e. the same
layers and positions (llama.cpp cannot steer block 0, whose direction emovec keeps in metadata).
Both decode --n tokens greedily from the same prompt ids (emovec's chat template), without
stopping at EOS, first unsteered (how often the two agree at all on this model), then at
--scale. Prints, per prompt, whether the continuations are identical and where they first
differ, with llama.cpp's top-1 minus top-2 logit gap there. Exits 1 when fewer than --require
prompts agree when steered. Needs tools/requirements-peer.txt (bash scripts/setup.sh --peer).
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import llama_cpp
from gguf import GGUFReader
from llama_cpp import Llama

from llamacpp_greedy import greedy

PROMPTS = [
    "How was your weekend?",
    "What do you think of your new neighbour?",
    "Tell me about the last time you went to the beach.",
    "How do you feel about starting a new job next week?",
    "Describe the city you live in.",
]


def read_control_vector(path):
    """direction.k tensors as llama.cpp's loader reads them: {k: float32 array}."""
    reader = GGUFReader(path)
    arch = reader.fields.get("general.architecture")
    if arch is None or bytes(arch.parts[arch.data[0]]).decode() != "controlvector":
        sys.exit(f"{path}: not a control vector")
    directions = {}
    for t in reader.tensors:
        prefix, _, index = t.name.partition(".")
        if prefix != "direction" or not index.isdigit() or int(index) == 0:
            sys.exit(f"{path}: llama.cpp refuses tensor {t.name}")
        directions[int(index)] = np.asarray(t.data, dtype=np.float32).reshape(-1)
    return directions


def emovec_generate(args, prompt, vector, n_layer, scale):
    cmd = [args.emovec, "generate", "-m", args.model, "--chat", "-p", prompt, "--temp", "0",
           "-n", str(args.n), "--ignore-eos", "--json", "-t", str(args.threads)]
    if scale != 0:
        cmd += ["--steer-positions", "all", "--control-vector-layer-range", "1",
                str(n_layer - 1), "--control-vector-scaled", vector, repr(scale)]
    if args.emovec_path == "exact":
        cmd.append("--exact")
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"emovec failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--emovec", required=True, help="the emovec binary")
    ap.add_argument("--model", required=True, help="GGUF model file")
    ap.add_argument("--vector", help="control vector GGUF exported by emovec (residual site)")
    ap.add_argument("--extract-emotion", help="extract this emotion's vector first")
    ap.add_argument("--max-queries", type=int, default=100)
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--n", type=int, default=32, help="tokens per continuation")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--emovec-path", choices=["exact", "default"], default="exact")
    ap.add_argument("--require", type=int, default=4, help="prompts that must agree")
    ap.add_argument("--out", help="write the results here (JSON)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="emovec-cvec-")
    vector = args.vector
    if vector is None:
        if not args.extract_emotion:
            sys.exit("give --vector FILE or --extract-emotion NAME")
        r = subprocess.run([args.emovec, "extract", "-m", args.model, "--site", "resid",
                            "--mode", "prompt", "--emotions", args.extract_emotion,
                            "--max-queries", str(args.max_queries), "-t", str(args.threads),
                            "-o", tmp, "-q"], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            sys.exit(f"emovec extract failed: {r.stderr.strip()}")
        vector = os.path.join(tmp, args.extract_emotion + ".gguf")

    directions = read_control_vector(vector)
    llm = Llama(model_path=args.model, n_ctx=1024, n_batch=512, n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=False, verbose=False)
    n_embd = llm.n_embd()
    n_layer = llama_cpp.llama_model_n_layer(llm.model)
    def apply(scale):
        if scale == 0:
            rc = llama_cpp.llama_set_adapter_cvec(llm._ctx.ctx, None, 0, n_embd, -1, -1)
        else:
            data = np.zeros(n_embd * (n_layer - 1), dtype=np.float32)
            for k, d in directions.items():
                if d.size != n_embd:
                    sys.exit(f"{vector}: direction.{k} has {d.size} values, the model {n_embd}")
                if k < n_layer:
                    data[(k - 1) * n_embd:k * n_embd] += scale * d
            rc = llama_cpp.llama_set_adapter_cvec(
                llm._ctx.ctx, data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), data.size,
                n_embd, 1, n_layer - 1)
        if rc != 0:
            sys.exit(f"llama_set_adapter_cvec failed ({rc})")

    report = {"n": args.n, "emovec_path": args.emovec_path, "model": args.model,
              "llama_cpp_version": llama_cpp.__version__, "runs": []}
    agree_steered = 0
    # Unsteered first: how often the two agree at all on this model, for comparison.
    for scale in (0.0, args.scale):
        apply(scale)
        results = []
        agree = 0
        print(f"scale {scale}:")
        for prompt in PROMPTS:
            mine = emovec_generate(args, prompt, vector, n_layer, scale)
            peer = greedy(llm, mine["prompt_ids"], args.n)
            theirs, gaps = peer["ids"], peer["top2_gap"]
            k = 0
            while k < args.n and mine["tokens"][k] == theirs[k]:
                k += 1
            same = k == args.n
            agree += same
            results.append({"prompt": prompt, "identical": same, "common_prefix": k,
                            "gap_at_divergence": None if same else gaps[k],
                            "emovec_text": mine["text"],
                            "llama_cpp_text": llm.detokenize(theirs).decode("utf-8", "replace")})
            status = ("identical" if same else
                      f"differ from token {k} (llama.cpp top-2 gap {gaps[k]:.3f})")
            print(f"- {prompt!r}: {status}\n    {mine['text']!r}")
        print(f"scale {scale}: {agree}/{len(PROMPTS)} continuations identical ({args.n} tokens, "
              f"emovec path {args.emovec_path}, llama-cpp-python {llama_cpp.__version__})")
        report["runs"].append({"scale": scale, "agree": agree, "results": results})
        agree_steered = agree
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    sys.exit(0 if agree_steered >= args.require else 1)


if __name__ == "__main__":
    main()
