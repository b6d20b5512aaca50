#!/usr/bin/env python3
"""Writes tests/golden/nade_calibration.json: the nade package's accuracy on emovec's labelled
set (data/eval/labelled_emotions.tsv), for `emovec score --calibrate` (src/eval/calibration.cpp).

    ~/.cache/emovec/venv/bin/python tools/golden/make_scorer_calibration_golden.py

Needs nade==0.3.1 and scikit-learn (tools/requirements-golden.txt). For each sentence labelled
with one of the five target emotions, the top label is the target with the largest value of
Nade.predict (the first in anger, disgust, fear, joy, sadness order on a tie, as numpy.argmax);
scikit-learn gives the accuracy, the confusion matrix and Cohen's kappa between the labels and
those tops (the kappa checks emovec's scorer-agreement statistic on the same two label lists).
"""
import json
from pathlib import Path

import numpy as np
from nade import Nade
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "data" / "eval" / "labelled_emotions.tsv"
OUT = ROOT / "tests" / "golden" / "nade_calibration.json"
TARGETS = ["anger", "disgust", "fear", "joy", "sadness"]


def main() -> None:
    lines = LABELLED.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "label\ttext"
    rows = [line.split("\t") for line in lines[1:] if line]
    rows = [(label, text) for label, text in rows if label in TARGETS]
    truth = [label for label, _ in rows]
    texts = [text for _, text in rows]
    scores = Nade().predict(texts)
    matrix = np.array([[float(scores[t][i].as_py()) for t in TARGETS] for i in range(len(texts))])
    top = [TARGETS[int(np.argmax(row))] for row in matrix]
    golden = {
        "reference": "nade 0.3.1 Nade.predict, scikit-learn metrics",
        "labels": TARGETS,
        "texts": len(texts),
        "accuracy": accuracy_score(truth, top),
        "correct": int(sum(a == b for a, b in zip(truth, top))),
        "confusion": confusion_matrix(truth, top, labels=TARGETS).tolist(),
        "kappa_truth_vs_top": cohen_kappa_score(truth, top, labels=TARGETS),
        "observed_truth_vs_top": accuracy_score(truth, top),
    }
    OUT.write_text(json.dumps(golden, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: accuracy {golden['accuracy']:.3f}, "
          f"kappa {golden['kappa_truth_vs_top']:.3f}")


if __name__ == "__main__":
    main()
