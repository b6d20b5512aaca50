#!/usr/bin/env python3
"""Reference judgements of emovec's zero-shot emotion judge (src/eval/judge_scorer.h), made by
transformers.

    ~/.cache/emovec/venv/bin/python tools/golden/make_judge_golden.py
        [--model smollm2-135m-instruct] [--models-dir DIR] [--out FILE] [--threads 2]

Writes tests/golden/judge_<NAME>.json.

Reference (independent of emovec): transformers' AutoModelForCausalLM.from_pretrained(dir,
gguf_file=...) in float32 (it dequantises the GGUF tensors with gguf-py), eager attention, and
AutoTokenizer from the same file. The judge's rules, written here from their description:

- the user turn is the prompt with {text} and {labels} filled in, in one pass; a text longer than
  MAX_TEXT_TOKENS tokens (encoded alone, no special tokens) is cut to the decoding of its first
  MAX_TEXT_TOKENS tokens;
- the prompt is apply_chat_template([user turn], add_generation_prompt=True) followed by the
  answer prefix, encoded without adding special tokens;
- the answer starts without a space when the rendered prompt (with an empty text) ends in
  whitespace, else with one; each label's tokens are the distinct first tokens of that start
  followed by the label and by the label capitalised;
- from the last position's logits (float32), in float64: each label's probability mass is the
  sum of exp(logit - max) over its tokens; probabilities = masses / their sum; coverage = their
  sum / the sum over the whole vocabulary.

Each text is run alone (no padding), so no batching effect enters the reference.
"""

import argparse
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MODELS_DIR = Path(os.environ.get("EMOVEC_MODELS_DIR", Path.home() / ".cache" / "emovec" / "models"))
GOLDEN = ROOT / "tests" / "golden"

MODELS = {
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
}

# JudgeOptions' defaults.
LABELS = ["anger", "disgust", "fear", "joy", "sadness", "neutral"]
PROMPT = ('Which emotion does this text express? Text: "{text}" Answer with one word from: '
          "{labels}.")
ANSWER_PREFIX = "The emotion is"
MAX_TEXT_TOKENS = 384

LONG_TEXT = " ".join(
    ["The storm had passed, but the village was quiet in a way that made everyone uneasy."] * 30)

TEXTS = [
    "I am absolutely furious that they cancelled my flight again!",
    "The bin smelled of rotten fish and sour milk; I gagged.",
    "Something is moving in the dark hallway and I can't breathe.",
    "We won the championship! Best. Day. Ever!",
    "Our old dog died this morning. His bowl is still by the door.",
    "To boil an egg, place it in simmering water for nine minutes.",
    "",
    "ok",
    "Je suis tellement heureuse de te revoir !",
    "\u6211\u4eca\u5929\u5f88\u4f24\u5fc3\u3002",
    'He said "no" and slammed the door {labels} {text}.',
    LONG_TEXT,
]


def fill(prompt: str, text: str, labels) -> str:
    out, i = [], 0
    while i < len(prompt):
        if prompt.startswith("{text}", i):
            out.append(text)
            i += len("{text}")
        elif prompt.startswith("{labels}", i):
            out.append(", ".join(labels))
            i += len("{labels}")
        else:
            out.append(prompt[i])
            i += 1
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", choices=sorted(MODELS))
    ap.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    filename = MODELS[args.model]
    tok = AutoTokenizer.from_pretrained(str(args.models_dir), gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(str(args.models_dir), gguf_file=filename,
                                                 dtype=torch.float32, attn_implementation="eager")
    model.eval()

    def render(text: str) -> str:
        user = fill(PROMPT, text, LABELS)
        return tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                       add_generation_prompt=True) + ANSWER_PREFIX

    def cut(text: str):
        ids = tok.encode(text, add_special_tokens=False)
        if len(ids) <= MAX_TEXT_TOKENS:
            return text, False
        return tok.decode(ids[:MAX_TEXT_TOKENS]), True

    empty = render("")
    lead = "" if (not empty or empty[-1].isspace()) else " "
    label_ids = []
    for label in LABELS:
        ids = []
        for form in (label, label[:1].upper() + label[1:]):
            first = tok.encode(lead + form, add_special_tokens=False)[0]
            if first not in ids:
                ids.append(first)
        label_ids.append(ids)
    flat = [i for ids in label_ids for i in ids]
    assert len(flat) == len(set(flat)), "two labels share a first token"

    cases = []
    for text in TEXTS:
        used, truncated = cut(text)
        ids = tok.encode(render(used), add_special_tokens=False)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].float()
        z = logits.double()
        e = torch.exp(z - z.max())
        masses = [float(sum(e[i] for i in ids_)) for ids_ in label_ids]
        total = float(e.sum())
        probs = [m / sum(masses) for m in masses]
        cases.append({"text": text, "truncated": truncated, "ids": ids, "probabilities": probs,
                      "coverage": sum(masses) / total,
                      "label_logits": [[float(logits[i]) for i in ids_] for ids_ in label_ids]})
        print(f"{len(ids):4d} tokens  cov {sum(masses) / total:.3f}  "
              + " ".join(f"{l}={p:.3f}" for l, p in zip(LABELS, probs)) + f"  {text[:40]!r}",
              flush=True)

    out = args.out or GOLDEN / f"judge_{args.model}.json"
    doc = {
        "reference": f"transformers {transformers.__version__}, torch {torch.__version__}, "
                     "float32, eager attention, GGUF dequantised by gguf-py",
        "model": args.model,
        "labels": LABELS,
        "prompt": PROMPT,
        "answer_prefix": ANSWER_PREFIX,
        "max_text_tokens": MAX_TEXT_TOKENS,
        "label_ids": label_ids,
        "cases": cases,
    }
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
