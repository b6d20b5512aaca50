#!/usr/bin/env python3
"""Writes tests/golden/nade.json and tests/data/lightgbm/*.txt: reference numbers for emovec's
nade scorer (src/eval/nade_scorer.cpp) and its LightGBM reader (src/eval/lightgbm_model.cpp).

    ~/.cache/emovec/venv/bin/python tools/golden/make_nade_golden.py [--models-dir DIR]

Needs nade==0.3.1, lightgbm, fasttext-numpy2 and pyarrow (tools/requirements-golden.txt). The
script first checks that the data files inside the installed nade package are byte for byte the
shipped "nade-socialmedia-en" folder, so the reference runs on what emovec reads.

nade.json holds:
  - "cases": for every line of tests/data/nade_texts.txt and a few texts a file of lines cannot
    hold (empty, only whitespace, newlines, vertical tab, no-break space, ...): the text, nade's
    preprocessed text, the eight regressor outputs clipped to [0, 1] ("value", unrounded) and
    nade's own rounded output ("rounded", from Nade.predict).
  - "emoji_cases": for some of those texts, the fastText probabilities of the 151 emojis in
    nade's order (float32 values) and the eight regressors' outputs before clipping on exactly
    that input, so the classifier and the regressors are checked separately.
  - "emojis": the emojis in nade's order (ascending label id).
  - "round_probes": [x, pyarrow.compute.round(x, ndigits=3)] for ties and near-ties.
  - "unicode_probes": nade's preprocessing of "x<c>x" and "<c>x<c>" for every code point c
    where that changes the text (punctuation, whitespace, lower case, trimming), and the code
    points unassigned in this Python's Unicode database ("unicode_unassigned"): pyarrow's RE2
    (punctuation) and utf8proc (lower case) and emovec's tables are each at a different, later
    Unicode version, so letters and punctuation added since may be treated differently.
  - "lightgbm": tiny models trained here with the real lightgbm package (missing values as NaN,
    zero as missing, default-left splits, a binary objective, a random forest with average output
    and sqrt regression), saved to tests/data/lightgbm/, with LightGBM's predictions for rows that
    hit NaN, 0, -0, values below LightGBM's zero threshold and values exactly at split thresholds.
"""
import argparse
import gzip
import hashlib
import importlib.metadata
import json
import math
import os
import unicodedata
from pathlib import Path

import lightgbm as lgb
import nade as nade_package
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nade import Nade

ROOT = Path(__file__).resolve().parent.parent.parent
TEXTS = ROOT / "tests" / "data" / "nade_texts.txt"
OUT = ROOT / "tests" / "golden" / "nade.json"
LGB_DIR = ROOT / "tests" / "data" / "lightgbm"
ENTRY = "nade-socialmedia-en"

# Texts a one-per-line file cannot carry, or that probe preprocessing corners.
EXTRA_TEXTS = [
    "",
    "   ",
    " \t\r\n\f ",
    "first line\nsecond line",
    "windows\r\nline\r\nends",
    "vertical\vtab and form\ffeed",
    "no-break\u00a0space and ideographic\u3000space",
    "  leading and trailing spaces  ",
    "\u2003em space at both ends\u2003",
    "\x1cfile separator\x1f",
    "İstanbul ΣΟΦΙΑ ǅemal ẞ",
    "word ... , ; word",
    "((nested)) [[brackets]] {{braces}}",
    "a-b_c/d\\e@f#g%h&i*j",
    "$100 + 5% = ^^ | ~ ` < > =",
    "\u00bfqu\u00e9? \u00a1s\u00ed! \u300c\u6771\u4eac\u300d\u3002",
    "\u0665\u066b\u0666 \u060c \u061f",
    "mixed \u2018curly\u2019 \u201cquotes\u201d \u2026 \u2014 \u2013 \u00ab\u00bb \u2039\u203a",
]

# Values for pyarrow's round(ndigits=3): ties after scaling (0.0005 * 1000 is exactly 0.5),
# near-ties, values that scale to integers, the ends of [0, 1].
ROUND_PROBES = [0.0, 1.0, 0.25, 0.0005, 0.0015, 0.0025, 0.0045, 0.1234, 0.1235, 0.9995, 0.9996,
                0.3335, 0.6665, 0.5004999999999999, 0.0004999999999999999, 1e-300, 0.123456789]

# Texts whose emoji probabilities and raw regressor outputs are recorded.
EMOJI_CASE_COUNT = 16


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_package_data(models_dir: Path) -> None:
    registry = json.loads((ROOT / "models" / "models.json").read_text())
    entry = next(m for m in registry["models"] if m["name"] == ENTRY)
    package_dir = Path(nade_package.__path__[0]) / "data" / "socialmedia_en"
    for rel, want in entry["files"].items():
        path = package_dir / rel
        data = path.read_bytes() if path.exists() else gzip.open(str(path) + ".gz").read()
        if sha256_bytes(data) != want["sha256"]:
            raise SystemExit(f"error: nade package file {rel} differs from the {ENTRY} entry")
        shipped = models_dir / entry["path"] / rel
        if shipped.exists() and sha256_bytes(shipped.read_bytes()) != want["sha256"]:
            raise SystemExit(f"error: {shipped} differs from models/models.json")


def read_texts():
    lines = TEXTS.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def nade_reference(nade, texts):
    """Nade.predict's pipeline, keeping the values before rounding."""
    preprocessed = Nade.preprocess(texts).to_pylist()
    labels_np, probs_np = nade.tm.predict(preprocessed, k=151)
    rows = []
    for labels, probs in zip(labels_np, probs_np):
        ids = [int(label[len("__label__"):]) for label in labels]
        order = np.argsort(ids, kind="stable")
        rows.append(np.asarray(probs, dtype=np.float32)[order])
    # What nade hands LightGBM: a float32 matrix built from the pyarrow arrays.
    X, _ = zip(*nade.predict_emojis(texts, sort_by_key=True, k=151))
    X = np.array(list(X))
    assert X.dtype == np.float32 and np.array_equal(X, np.stack(rows))
    raw = {lbl: nade.gb_reg[lbl].predict(list(X)) for lbl in nade.labels}
    value = {lbl: Nade.clip(raw[lbl], a_min=0, a_max=1).to_numpy(zero_copy_only=False)
             for lbl in nade.labels}
    rounded = nade.predict(texts)
    for lbl in nade.labels:
        mine = pc.round(pa.array(value[lbl]), ndigits=3).to_pylist()
        assert mine == rounded[lbl].to_pylist(), lbl
    return preprocessed, X, raw, value, rounded


def unicode_probes():
    """Nade.preprocess of "x<c>x" and "<c>x<c>" for every code point c, where the result is not
    the probe unchanged: that covers RE2's \\s and \\p{P}, utf8_lower and utf8_trim_whitespace."""
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    inner = Nade.preprocess([f"x{chr(c)}x" for c in cps]).to_pylist()
    outer = Nade.preprocess([f"{chr(c)}x{chr(c)}" for c in cps]).to_pylist()
    changed = []
    for c, a, b in zip(cps, inner, outer):
        if a != f"x{chr(c)}x" or b != f"{chr(c)}x{chr(c)}":
            changed.append([c, a, b])
    return changed


def unassigned_ranges():
    """Code points unassigned (Cn) in this Python's Unicode database, as [first, last] ranges."""
    ranges = []
    for c in range(0x110000):
        if unicodedata.category(chr(c)) != "Cn":
            continue
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return ranges


def encode_float(v):
    """JSON has no NaN or infinity: those are written as the strings "nan", "inf", "-inf"."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v)


def rows_at_thresholds(booster, n_features):
    """For every split node: rows that reach it (the other features chosen to follow the path from
    the root) with its feature exactly at the threshold and one ulp either side."""
    rows = []

    def value_in(lo, hi):  # a value v with lo < v <= hi
        if math.isfinite(hi):
            return hi if hi > lo else None
        return lo + 1.0 if math.isfinite(lo) else 0.5

    def walk(node, bounds):
        if "split_feature" not in node:
            return
        feature, threshold = node["split_feature"], node["threshold"]
        base = [value_in(*bounds[f]) for f in range(n_features)]
        if None not in base:
            for v in (threshold, np.nextafter(threshold, -np.inf), np.nextafter(threshold, np.inf)):
                row = list(base)
                row[feature] = float(v)
                rows.append(row)
        lo, hi = bounds[feature]
        walk(node["left_child"], {**bounds, feature: (lo, min(hi, threshold))})
        walk(node["right_child"], {**bounds, feature: (max(lo, threshold), hi)})

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"], {f: (-math.inf, math.inf) for f in range(n_features)})
    return rows


def lightgbm_models():
    rng = np.random.default_rng(20240611)
    n, d = 400, 5
    X = rng.normal(size=(n, d))
    X[:, 1] = np.where(rng.random(n) < 0.3, 0.0, X[:, 1])  # many exact zeros
    X[:, 2] = np.abs(X[:, 2])
    y = 2.0 * X[:, 0] - X[:, 1] + np.sin(3 * X[:, 2]) + 0.1 * rng.normal(size=n)
    # NaNs in features 0 and 3 with targets unlike their neighbours', so splits learn a
    # direction for missing values (default left on some nodes, right on others).
    nan0 = rng.random(n) < 0.15
    nan3 = rng.random(n) < 0.2
    X[nan0, 0] = np.nan
    y[nan0] = 3.0
    X[nan3, 3] = np.nan
    y[nan3] -= 2.5
    X_zero = np.nan_to_num(X, nan=0.0)
    y_bin = (y > np.median(y)).astype(float)
    y_pos = np.abs(y) + 0.1

    common = {"verbose": -1, "num_leaves": 7, "min_data_in_leaf": 5, "seed": 3,
              "deterministic": True, "num_threads": 1}
    specs = {
        "regression_nan": ({"objective": "regression", "learning_rate": 0.2}, X, y, 12),
        "regression_zero": ({"objective": "regression", "zero_as_missing": True,
                             "learning_rate": 0.2}, X_zero, y, 10),
        "binary": ({"objective": "binary", "learning_rate": 0.3}, X, y_bin, 8),
        "rf_sqrt": ({"objective": "regression", "reg_sqrt": True, "boosting": "rf",
                     "bagging_freq": 1, "bagging_fraction": 0.7, "feature_fraction": 0.8},
                    X, y_pos, 6),
        "poisson": ({"objective": "poisson", "learning_rate": 0.2}, X, y_pos, 6),
    }
    LGB_DIR.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (params, data, target, rounds) in specs.items():
        booster = lgb.train({**common, **params}, lgb.Dataset(data, label=target),
                            num_boost_round=rounds)
        path = LGB_DIR / f"{name}.txt"
        booster.save_model(str(path))
        booster = lgb.Booster(model_file=str(path))  # predict from the file, as emovec does

        rows = [list(r) for r in data[:20]]
        rows += [[math.nan] * d, [0.0] * d, [-0.0] * d, [1e-36, -1e-36, 1e-40, -0.0, 5e-324],
                 [1e-35, -1e-35, 2e-35, -2e-35, 0.0], [math.inf, -math.inf, math.nan, 0.0, 1.0]]
        rows += rows_at_thresholds(booster, d)
        M = np.array(rows, dtype=np.float64)
        decision_types = sorted({int(t) for line in path.read_text().splitlines()
                                 if line.startswith("decision_type=")
                                 for t in line.split("=")[1].split()})
        out[name] = {
            "file": f"lightgbm/{name}.txt",
            "decision_types": decision_types,
            "rows": [[encode_float(v) for v in r] for r in rows],
            "predict": [float(v) for v in booster.predict(M)],
            "raw": [float(v) for v in booster.predict(M, raw_score=True)],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_models = os.environ.get("EMOVEC_MODELS_DIR",
                                    str(Path.home() / ".cache" / "emovec" / "models"))
    ap.add_argument("--models-dir", type=Path, default=Path(default_models))
    args = ap.parse_args()

    check_package_data(args.models_dir)
    nade = Nade()
    texts = read_texts() + EXTRA_TEXTS
    preprocessed, X, raw, value, rounded = nade_reference(nade, texts)

    cases = []
    for i, text in enumerate(texts):
        cases.append({
            "text": text,
            "preprocessed": preprocessed[i],
            "value": [float(value[lbl][i]) for lbl in nade.labels],
            "rounded": [float(rounded[lbl][i].as_py()) for lbl in nade.labels],
        })
    n_lines = len(texts) - len(EXTRA_TEXTS)
    picked = set(range(0, n_lines, n_lines // (EMOJI_CASE_COUNT - 3)))
    picked |= {n_lines, n_lines + 2, len(texts) - 1}  # empty, only whitespace, unicode punctuation
    emoji_cases = []
    for i in sorted(picked):
        emoji_cases.append({
            "text": texts[i],
            "probabilities": [float(p) for p in X[i]],
            "raw": [float(raw[lbl][i]) for lbl in nade.labels],
        })
    emojis = nade.predict_emojis([""], k=151, sort_by_key=True)[0][1].to_pylist()

    versions = {p: importlib.metadata.version(p)
                for p in ("nade", "fasttext-numpy2", "lightgbm", "pyarrow", "numpy")}
    golden = {
        "reference": "nade " + versions["nade"] + " (fasttext-numpy2 " +
                     versions["fasttext-numpy2"] + ", lightgbm " + versions["lightgbm"] +
                     ", pyarrow " + versions["pyarrow"] + ")",
        "versions": versions,
        "labels": nade.labels,
        "texts_file": "nade_texts.txt",
        "text_file_lines": n_lines,
        "emojis": emojis,
        "cases": cases,
        "emoji_cases": emoji_cases,
        "round_probes": [[v, r] for v, r in
                         zip(ROUND_PROBES, pc.round(pa.array(ROUND_PROBES), ndigits=3).to_pylist())],
        "unicode_probes": unicode_probes(),
        # Code points new since this Unicode version may differ: pyarrow's RE2 and utf8proc and
        # emovec's tables each follow their own (later) Unicode version.
        "unicode_version": unicodedata.unidata_version,
        "unicode_unassigned": unassigned_ranges(),
        "lightgbm": lightgbm_models(),
    }
    OUT.write_text(json.dumps(golden, ensure_ascii=False, separators=(",", ":")) + "\n",
                   encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(cases)} texts")


if __name__ == "__main__":
    main()
