#!/usr/bin/env python3
"""Filtered next-token distributions from transformers' logits processors, for emovec's sampler.

Writes tests/golden/sampler.json. Each case is a vector of random logits (seeded numpy; peaked,
flat, with ties, with -inf entries, vocabularies from 2 to 4096) and sampling parameters. The
logits go through transformers' RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper and MinPLogitsWarper in that order (the order generate() uses),
in float32, and the case stores softmax of the result: the ids left and their probabilities
(9 significant digits; a token left in can have probability 0 after float32 underflow). Greedy cases (temperature 0) store the argmax after the penalty instead.

Logits are multiples of 1/1024 stored as integers, so both sides read exactly the same float32
values; -inf entries are listed separately. Parameters are float32 values (as emovec holds them).

A case whose kept set would change under a tiny perturbation (float64 instead of float32, top_p or
min_p moved by 1e-5, or a permutation of the vocabulary, which changes how torch.sort orders ties)
is fragile: no two implementations need agree on it, so its seed is bumped until it is robust.

Run with the set-up's virtual environment:
  ~/.cache/emovec/venv/bin/python tools/golden/make_sampler_golden.py
"""
import json
from pathlib import Path

import numpy as np
import torch
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "tests" / "golden" / "sampler.json"
SCALE = 1024  # logits are integers / SCALE


def f32(x):
    return float(np.float32(x))


# name, vocab, kind, params (unset: disabled), number of recent tokens
CASES = [
    ("plain_small", 8, "normal", dict(temperature=1.0), 0),
    ("temperature_only", 100, "normal", dict(temperature=0.7), 0),
    ("hot_temperature", 100, "normal", dict(temperature=2.5), 0),
    ("cold_temperature", 100, "normal", dict(temperature=0.05), 0),
    ("top_k_only", 1000, "normal", dict(temperature=1.0, top_k=40), 0),
    ("top_k_1", 1000, "normal", dict(temperature=1.0, top_k=1), 0),
    ("top_k_larger_than_vocab", 10, "normal", dict(temperature=1.0, top_k=50), 0),
    ("top_k_ties_at_cut", 200, "ties", dict(temperature=1.0, top_k=10), 0),
    ("top_k_all_tied", 50, "flat", dict(temperature=1.0, top_k=5), 0),
    ("top_p_only", 1000, "normal", dict(temperature=1.0, top_p=0.9), 0),
    ("top_p_small", 1000, "normal", dict(temperature=1.0, top_p=0.3), 0),
    ("top_p_zero", 100, "normal", dict(temperature=1.0, top_p=0.0), 0),
    ("top_p_peaked", 1000, "peaked", dict(temperature=1.0, top_p=0.95), 0),
    ("top_p_flat_noisy", 4096, "flat_noisy", dict(temperature=1.0, top_p=0.05), 0),
    ("top_p_past_first_sort", 4096, "flat_noisy", dict(temperature=1.0, top_p=0.5), 0),
    ("min_p_only", 1000, "normal", dict(temperature=1.0, min_p=0.05), 0),
    ("min_p_large", 1000, "normal", dict(temperature=1.0, min_p=0.5), 0),
    ("min_p_one", 100, "normal", dict(temperature=1.0, min_p=1.0), 0),
    ("min_p_peaked", 1000, "peaked", dict(temperature=1.0, min_p=0.001), 0),
    ("llama_defaults", 1000, "normal", dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05), 0),
    ("llama_defaults_wide", 4096, "wide", dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05), 0),
    ("defaults_with_penalty", 1000, "normal",
     dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.3), 64),
    ("penalty_only", 50, "normal", dict(temperature=1.0, repeat_penalty=1.5), 20),
    ("penalty_reward", 50, "normal", dict(temperature=1.0, repeat_penalty=0.6), 20),
    ("penalty_window", 50, "normal", dict(temperature=1.0, repeat_penalty=2.0, repeat_last_n=5), 30),
    ("penalty_window_all", 50, "normal", dict(temperature=1.0, repeat_penalty=2.0, repeat_last_n=-1), 30),
    ("penalty_window_zero", 50, "normal", dict(temperature=1.0, repeat_penalty=2.0, repeat_last_n=0), 30),
    ("penalty_then_top_k", 500, "normal", dict(temperature=0.9, top_k=20, repeat_penalty=1.2), 100),
    ("penalty_then_top_p", 500, "peaked", dict(temperature=1.1, top_p=0.8, repeat_penalty=1.8), 40),
    ("neg_inf_some", 100, "neg_inf", dict(temperature=1.5, top_k=30, top_p=0.99), 0),
    ("neg_inf_most", 100, "neg_inf_most", dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05), 0),
    ("neg_inf_penalised", 100, "neg_inf", dict(temperature=1.0, repeat_penalty=1.4), 30),
    ("ties_everywhere", 300, "ties", dict(temperature=1.0, top_k=50, min_p=0.1), 0),
    ("flat_min_p", 64, "flat", dict(temperature=1.0, min_p=0.5), 0),
    ("two_tokens", 2, "normal", dict(temperature=1.0, top_p=0.9), 0),
    ("single_token", 1, "normal", dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05), 0),
    ("all_filters_mixed", 2000, "wide", dict(temperature=1.3, top_k=200, top_p=0.7, min_p=0.02,
                                            repeat_penalty=1.1, repeat_last_n=32), 64),
    ("big_logits", 1000, "big", dict(temperature=0.6, top_k=100, top_p=0.9), 0),
    ("greedy_plain", 1000, "normal", dict(temperature=0.0), 0),
    ("greedy_ties", 100, "ties", dict(temperature=0.0), 0),
    ("greedy_penalised", 100, "peaked", dict(temperature=0.0, repeat_penalty=50.0), 10),
    ("greedy_negative_temperature", 100, "normal", dict(temperature=-1.0, repeat_penalty=1.2), 10),
]


def make_logits(rng, vocab, kind):
    """Integer logits (units of 1/SCALE) and the ids that are -inf."""
    neg_inf = []
    if kind == "normal":
        x = rng.standard_normal(vocab) * 3.0
    elif kind == "wide":
        x = rng.standard_normal(vocab) * 6.0
    elif kind == "big":
        x = rng.standard_normal(vocab) * 4.0 + 60.0
    elif kind == "peaked":
        x = rng.standard_normal(vocab) * 2.0
        x[rng.integers(vocab)] += 7.0
        x[rng.integers(vocab)] += 5.5
    elif kind == "flat":
        x = np.zeros(vocab)
    elif kind == "flat_noisy":
        x = rng.standard_normal(vocab) * 0.05
    elif kind == "ties":
        x = rng.integers(-6, 7, size=vocab) * 0.5  # few distinct values
    elif kind in ("neg_inf", "neg_inf_most"):
        x = rng.standard_normal(vocab) * 3.0
        share = 0.3 if kind == "neg_inf" else 0.9
        neg_inf = sorted(int(i) for i in np.nonzero(rng.random(vocab) < share)[0])
        if len(neg_inf) == vocab:
            neg_inf = neg_inf[1:]
    else:
        raise ValueError(kind)
    return [int(v) for v in np.round(x * SCALE)], neg_inf


def window(recent, last_n):
    if last_n == 0:
        return []
    return recent if last_n < 0 else recent[-last_n:]


def process(logits, recent, p, dtype, perm=None):
    """The transformers pipeline; returns (kept ids, probabilities over the vocabulary)."""
    scores = torch.tensor([logits], dtype=dtype)
    ids = list(recent)
    if perm is not None:  # token i of the case becomes token perm[i]
        permuted = torch.empty_like(scores)
        permuted[0, torch.tensor(perm)] = scores[0]
        scores = permuted
        ids = [perm[i] for i in ids]
    input_ids = torch.tensor([ids if ids else [0]], dtype=torch.long)
    if p["repeat_penalty"] != 1.0 and ids:
        scores = RepetitionPenaltyLogitsProcessor(p["repeat_penalty"])(input_ids, scores)
    if p["temperature"] <= 0:
        return None, int(torch.argmax(scores[0]))
    scores = TemperatureLogitsWarper(p["temperature"])(input_ids, scores)
    if p["top_k"] > 0:
        scores = TopKLogitsWarper(p["top_k"])(input_ids, scores)
    if p["top_p"] < 1.0:
        scores = TopPLogitsWarper(p["top_p"])(input_ids, scores)
    if p["min_p"] > 0.0:
        scores = MinPLogitsWarper(p["min_p"])(input_ids, scores)
    probs = torch.softmax(scores[0], dim=-1).double().numpy()
    alive = torch.isfinite(scores[0]).numpy()
    if perm is not None:
        probs = probs[np.array(perm)]
        alive = alive[np.array(perm)]
    kept = tuple(int(i) for i in np.nonzero(alive)[0])
    return kept, probs


def robust(logits, recent, p, rng):
    kept, probs = process(logits, recent, p, torch.float32)
    if kept is None:  # greedy: only exact ties matter, and argmax takes the first
        return True
    variants = [process(logits, recent, p, torch.float64)[0]]
    for d in (-1e-5, 1e-5):
        q = dict(p)
        if p["top_p"] < 1.0:
            q["top_p"] = min(max(p["top_p"] + d, 0.0), 1.0)
        if p["min_p"] > 0.0:
            q["min_p"] = min(max(p["min_p"] * (1 + d), 0.0), 1.0)
        variants.append(process(logits, recent, q, torch.float64)[0])
    for _ in range(3):
        variants.append(process(logits, recent, p, torch.float32, list(rng.permutation(len(logits))))[0])
    return all(v == kept for v in variants)


def sig9(x):
    return float(f"{x:.9g}")


def main():
    defaults = dict(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                    repeat_last_n=64)
    cases = []
    for index, (name, vocab, kind, given, n_recent) in enumerate(CASES):
        p = dict(defaults, **given)
        for key in ("temperature", "top_p", "min_p", "repeat_penalty"):
            p[key] = f32(p[key])
        for attempt in range(50):
            seed = 1000 * index + attempt
            rng = np.random.default_rng(seed)
            ints, neg_inf = make_logits(rng, vocab, kind)
            logits = [v / SCALE for v in ints]
            for i in neg_inf:
                logits[i] = float("-inf")
            recent = [int(t) for t in rng.integers(0, vocab, size=n_recent)]
            used = window(recent, p["repeat_last_n"])
            if robust(logits, used, p, rng):
                break
        else:
            raise SystemExit(f"case {name}: no robust seed in 50 attempts")
        kept, probs = process(logits, used, p, torch.float32)
        case = dict(name=name, seed=seed, params=p, logits=ints, neg_inf=neg_inf, recent=recent)
        if kept is None:
            case["greedy_token"] = probs
        else:
            case["expected"] = [[i, sig9(probs[i])] for i in kept]
        cases.append(case)
        print(f"{name}: vocab {vocab}, seed {seed}, "
              + (f"greedy {probs}" if kept is None else f"{len(kept)} kept"))
    doc = {
        "about": "softmax after transformers' RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, "
                 "TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper (float32); logits are "
                 f"integers / {SCALE}, neg_inf ids are -inf; made by tools/golden/make_sampler_golden.py",
        "logit_scale": SCALE,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
