#!/usr/bin/env python3
"""Writes tests/golden/embed_all-minilm-l6-v2.json: reference sentence embeddings of the shipped
all-MiniLM-L6-v2, from sentence-transformers.

    ~/.cache/emovec/venv/bin/python tools/golden/make_embed_golden.py [--models-dir DIR]

The reference is SentenceTransformer loaded (offline) from the shipped folder itself, which
carries the sentence-transformers files (modules.json: Transformer -> Pooling -> Normalize,
sentence_bert_config.json: max_seq_length 256, 1_Pooling/config.json: mean pooling). If a folder
lacks modules.json, the script builds the same pipeline explicitly (models.Transformer with
max_seq_length 256, models.Pooling(mean), models.Normalize) and says so in "reference".

Installs sentence-transformers into the running interpreter's environment when it is missing
(tools/requirements-golden.txt lists it).

The file holds, per sentence: the text, the token ids the model saw (after truncation to
max_seq_length, [CLS] and [SEP] included) and the 384 embedding values rounded to 6 significant
digits (a relative rounding error <= 5e-7, far below what the C++ test checks; it keeps the file
under 1 MB). The 200
sentences are hand-written ones (emotions, questions, punctuation, numbers, code, unicode, the
empty string) plus seeded combinations of them, and several texts of well over 256 tokens so
that truncation is exercised.
"""
import argparse
import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MODEL_NAME = "all-minilm-l6-v2"
FOLDER = "all-MiniLM-L6-v2"
OUT = ROOT / "tests" / "golden" / f"embed_{MODEL_NAME}.json"
COUNT = 200

HAND_WRITTEN = [
    "",
    "Hello",
    "Hello world",
    "I am so happy today!",
    "I am so happy today",
    "I'm absolutely furious about what happened at the meeting.",
    "This is the saddest day of my life.",
    "I can't stop smiling, everything is wonderful!",
    "Why would you do that to me?!",
    "I'm terrified of what might happen next.",
    "Ugh, that's disgusting. Get it away from me.",
    "Wow, I did not see that coming at all!",
    "Honestly, I feel nothing about it either way.",
    "She felt a deep, quiet grief that would not leave her.",
    "He was overjoyed when the letter finally arrived.",
    "The customer was livid and demanded a refund immediately.",
    "We are thrilled to announce our new product line.",
    "I'm worried sick about my exams next week...",
    "What a pleasant surprise to see you here!",
    "I hate Mondays. I hate them so much.",
    "Thank you so much, you made my day :)",
    "I miss you more than words can say :(",
    "The weather is mild and the sky is grey.",
    "The mitochondria is the powerhouse of the cell.",
    "Paris is the capital of France.",
    "A man is playing a guitar on stage.",
    "A woman is slicing a tomato in the kitchen.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "What's the difference between a list and a tuple in Python?",
    "Can you recommend a good restaurant nearby?",
    "THIS IS ALL IN CAPITAL LETTERS!!!",
    "this is all in lower case",
    "MiXeD cAsE tExT iS hArD tO rEaD",
    "   leading and trailing spaces   ",
    "tabs\tand\nnew\nlines\r\nhere",
    "!!!???...,,,;;;:::",
    "\"Quoted,\" she said, 'with single quotes too.'",
    "e-mail: someone@example.com, URL: https://example.org/path?q=1&r=2#frag",
    "(parentheses) [brackets] {braces} <angles>",
    "3.14159265358979",
    "1,234,567.89 dollars and 0.01 cents",
    "Call me at +1 (555) 123-4567 before 9:30 a.m.",
    "In 2024, 42% of 1000 respondents said yes; 58% said no.",
    "x = 3 * (y + 2) / 7 - 1e-5",
    "def add(a, b):\n    return a + b",
    "for (int i = 0; i < n; ++i) { sum += v[i]; }",
    "SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY name;",
    "#include <vector>\nint main() { std::vector<int> v{1, 2, 3}; return v.size(); }",
    "git commit -m \"fix: handle empty input\" && git push origin main",
    "<html><body><p class=\"x\">Hello</p></body></html>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade",
    "Stra\u00dfe \u00fcber \u00c4rger \u00d6sterreich",
    "\u00bfD\u00f3nde est\u00e1 la biblioteca? \u00a1Muy bien!",
    "Je suis tr\u00e8s content de te voir.",
    "Ich bin heute sehr traurig.",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430?",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u6211\u5f88\u9ad8\u5174\u3002",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002",
    "\uc548\ub155\ud558\uc138\uc694, \ub9cc\ub098\uc11c \ubc18\uac00\uc6cc\uc694.",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "I love this! \U0001f600\U0001f389\u2764\ufe0f",
    "So angry right now \U0001f621\U0001f621",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 family emoji",
    "smart \u201cquotes\u201d and \u2018apostrophes\u2019 \u2014 and dashes \u2013 too\u2026",
    "zero\u200bwidth and non\u00a0breaking spaces",
    "accents decomposed: cafe\u0301 e\u0301te\u0301",
    "\u00bd + \u00bc = \u00be, x\u00b2 + y\u00b2 = z\u00b2",
    "[CLS] special [SEP] token [MASK] text [PAD]",
    "a",
    "I",
    "?",
    "ok",
    "no.",
    "yes!",
    "supercalifragilisticexpialidocious",
    "antidisestablishmentarianism and pneumonoultramicroscopicsilicovolcanoconiosis",
    "word " * 40,
    "The movie was not bad at all; in fact, I rather enjoyed it.",
    "I don't dislike it, but I wouldn't say I love it either.",
    "Great, just great. Another flat tire. Exactly what I needed.",
    "My heart is pounding and my hands are shaking.",
    "After all these years, we finally meet again.",
    "I'm so proud of you, you worked incredibly hard for this.",
    "Leave me alone. I don't want to talk to anyone.",
    "The results of the experiment were inconclusive.",
    "Please find attached the quarterly report for Q3 2023.",
    "Error: segmentation fault (core dumped)",
    "TypeError: 'NoneType' object is not subscriptable",
]

EMOTION_WORDS = ["joy", "anger", "sadness", "fear", "disgust", "surprise", "love", "shame",
                 "pride", "envy", "relief", "hope", "despair", "calm", "anxiety", "delight"]
SUBJECTS = ["I", "She", "He", "We", "They", "My friend", "The teacher", "Our team", "The child",
            "Everyone"]
VERBS = ["felt", "was overwhelmed by", "could not hide", "was filled with", "laughed with",
         "trembled with", "spoke with", "wrote about", "tried to ignore", "was consumed by"]
CONTEXTS = ["after the long meeting", "when the results came in", "at the airport",
            "in the middle of the night", "during the storm", "on the first day of school",
            "when the phone rang", "after reading the letter", "at the end of the race",
            "while waiting for the doctor"]
FILLERS = ["Honestly,", "Well,", "Wow!", "Oh no...", "Hmm.", "Seriously?", "Yes!", "Alas,",
           "By the way,", "Look:"]
LONG_PARAGRAPH = (
    "Emotions shape how people read the world. A single remark can feel like praise on one day "
    "and like an insult on the next, depending on fatigue, expectation and the company we keep. "
    "Researchers have measured these shifts with questionnaires, with physiological signals such "
    "as heart rate and skin conductance, and more recently with language models that score text "
    "for joy, anger, sadness, fear, disgust and surprise. ")
LONG_CODE = (
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
    "    return a\n\nprint([fibonacci(i) for i in range(20)])  # 0, 1, 1, 2, 3, 5, 8\n")
LONG_UNICODE = ("\u4eca\u65e5\u306f\u3068\u3066\u3082\u5b09\u3057\u3044\u3067\u3059\u3002"
                "caf\u00e9 \U0001f600 \u041f\u0440\u0438\u0432\u0435\u0442 ")


def long_texts():
    """Texts of well over 256 WordPiece tokens (truncation), plus some near the limit."""
    return [
        LONG_PARAGRAPH * 4,
        LONG_PARAGRAPH * 10,
        LONG_CODE * 8,
        LONG_UNICODE * 30,
        " ".join(str(i) for i in range(600)),
        "happy " * 300,
        "word " * 253,  # [CLS] + 253 + [SEP] = 255 tokens: just under the limit
        "word " * 254,  # exactly 256
        "word " * 255,  # one over: the last word is cut
        LONG_PARAGRAPH * 2 + "And the final sentence is the one that matters most of all.",
    ]


def generated(rng, count):
    out = []
    while len(out) < count:
        kind = rng.randrange(4)
        if kind == 0:
            s = (f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(EMOTION_WORDS)} "
                 f"{rng.choice(CONTEXTS)}.")
        elif kind == 1:
            s = f"{rng.choice(FILLERS)} {rng.choice(HAND_WRITTEN[3:60])}"
        elif kind == 2:
            parts = rng.sample(HAND_WRITTEN[1:], rng.randint(2, 5))
            s = " ".join(parts)
        else:
            words = [rng.choice(EMOTION_WORDS) for _ in range(rng.randint(1, 30))]
            sep = rng.choice([" ", ", ", "! ", " and ", "-"])
            s = sep.join(words)
            if rng.random() < 0.5:
                s = s.upper()
        if s not in out and s not in HAND_WRITTEN:
            out.append(s)
    return out


def sentences():
    texts = list(HAND_WRITTEN) + long_texts()
    texts += generated(random.Random(20250204), COUNT - len(texts))
    assert len(texts) == COUNT and len(set(texts)) == COUNT
    return texts


def ensure_sentence_transformers():
    if importlib.util.find_spec("sentence_transformers") is None:
        print("installing sentence-transformers ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", "sentence-transformers"])


def load_reference(folder: Path):
    from sentence_transformers import SentenceTransformer, models
    import sentence_transformers

    version = sentence_transformers.__version__
    if (folder / "modules.json").exists():
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        how = f"sentence-transformers {version} SentenceTransformer(<shipped folder>)"
    else:
        transformer = models.Transformer(str(folder), max_seq_length=256)
        pooling = models.Pooling(transformer.get_word_embedding_dimension(), "mean")
        model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()],
                                    device="cpu")
        how = (f"sentence-transformers {version}: the folder has no modules.json, so the "
               "pipeline was built explicitly: Transformer(max_seq_length=256) + Pooling(mean) "
               "+ Normalize")
    return model, how


def dimension(model):
    get = getattr(model, "get_embedding_dimension", None)
    return get() if get else model.get_sentence_embedding_dimension()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=Path(os.environ.get(
        "EMOVEC_MODELS_DIR", Path.home() / ".cache" / "emovec" / "models")))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    ensure_sentence_transformers()
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    folder = args.models_dir / FOLDER
    model, how = load_reference(folder)
    texts = sentences()
    # One text at a time: no padding inside the reference, so nothing depends on batching.
    records = []
    with torch.no_grad():
        for text in texts:
            tokenize = getattr(model, "preprocess", None) or model.tokenize
            features = tokenize([text])
            ids = features["input_ids"][0].tolist()
            emb = model.encode([text], batch_size=1, convert_to_numpy=True,
                               normalize_embeddings=False)[0]
            records.append({"text": text, "ids": ids,
                            "embedding": [float(f"{float(v):.6g}") for v in emb]})
    doc = {
        "model": MODEL_NAME,
        "reference": how,
        "max_seq_length": model.max_seq_length,
        "dimension": int(dimension(model)),
        "modules": [type(m).__name__ for m in model],
        "sentences": records,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    n_truncated = sum(1 for r in records if len(r["ids"]) == model.max_seq_length)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(records)} sentences, "
          f"{n_truncated} at max_seq_length {model.max_seq_length}); {how}")


if __name__ == "__main__":
    main()
