#!/usr/bin/env python3
"""A tiny random RoBERTa MNLI classifier in Hugging Face format, and what transformers'
zero-shot-classification pipeline makes of it.

    ~/.cache/emovec/venv/bin/python tools/golden/make_tiny_roberta_mnli.py [--threads N]

Writes tests/data/tiny/roberta_mnli/{config.json, model.safetensors, tokenizer.json,
tokenizer_config.json}:
  tokenizer  byte-level BPE trained (tokenizers, fixed corpus below) to VOCAB_SIZE entries, with
             RoBERTa's specials <s> <pad> </s> <unk> <mask> (ids 0-4, <mask> lstrip as in
             roberta-base), RobertaProcessing, model_max_length MAX_LENGTH;
  model      RobertaForSequenceClassification, hidden 48 (4 heads of 12), 2 layers, 3 labels
             {0: CONTRADICTION, 1: NEUTRAL, 2: ENTAILMENT}, max_position_embeddings
             MAX_LENGTH + 2 (RoBERTa's positions start at padding_idx + 1 = 2), layer_norm_eps
             1e-5; every parameter random (seeded) and large enough that logits differ by units.

and tests/golden/mnli_tiny.json: for each text of TEXTS and each of LABELS, the token ids the
pipeline ran the model on (premise = text, hypothesis = TEMPLATE.format(label), truncation
only_first at model_max_length) and the model's logits; and per text the pipeline's scores with
multi_label False and True, in LABELS order (the pipeline sorts them; the file does not).

The pipeline refuses an empty text, so for "" the file has the tokenizer's and the model's
output for the same pairs and the scores computed by the pipeline's formulas ("pipeline": false).
The script checks that the pair ids equal those of the `tokenizers` library's own pair encoding
(with truncation only_first) and that the pipeline's scores equal its formulas on these logits.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
FOLDER = ROOT / "tests" / "data" / "tiny" / "roberta_mnli"
OUT = ROOT / "tests" / "golden" / "mnli_tiny.json"
SEED = 20250206
VOCAB_SIZE = 800
MAX_LENGTH = 64
LABELS = ["anger", "disgust", "fear", "joy", "sadness", "neutral"]
TEMPLATE = "This example is {}."
ID2LABEL = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}

CORPUS = [
    "I am so happy today, everything is wonderful and bright.",
    "This is the saddest day of my life; I cannot stop crying.",
    "I'm absolutely furious about what happened at the meeting!",
    "Ugh, that's disgusting. Get it away from me right now.",
    "I'm terrified of what might happen next in the dark.",
    "Honestly, I feel nothing about it either way. It is fine.",
    "She felt a deep, quiet grief that would not leave her.",
    "He was overjoyed when the letter finally arrived in the mail.",
    "The customer was livid and demanded a refund immediately.",
    "We are thrilled to announce our new product line this spring.",
    "I'm worried sick about my exams next week...",
    "What a pleasant surprise to see you here!",
    "The weather report says rain tomorrow, with a high of 12 degrees.",
    "This example is about anger, disgust, fear, joy, sadness or something neutral.",
    "How did you feel when you received the surprise birthday party from your friends?",
    "How would you react if someone broke a promise they made to you?",
    "The train leaves at 9:45 from platform 3, and the ticket costs $20.",
    "My dog ran away and I have been looking for him all night.",
    "They laughed and danced until the sun came up over the hills.",
    "The smell in the kitchen made me want to throw up.",
    "I screamed at him because he lied to me again and again.",
    "The house creaked and something moved behind the door.",
    "A quiet afternoon: tea, a book, and nothing else to do.",
    "The committee will review the proposal on Thursday.",
]

TEXTS = [
    "I am so happy today!",
    "This is the saddest day of my life.",
    "I'm absolutely furious about what happened at the meeting.",
    "Ugh, that's disgusting. Get it away from me.",
    "I'm terrified of what might happen next.",
    "The train leaves at 9:45 from platform 3.",
    "Honestly, I feel nothing about it either way.",
    "What a pleasant surprise to see you here!",
    "  leading and trailing spaces  ",
    "Tabs\tand\nnew lines\n\nin one text.",
    "Café, naïve, jalapeño — déjà vu! 😀🎉",
    "Привет, как дела? 今日はとても楽しかった。",
    "Special tokens in text: <s> hello </s> <pad> world <mask> end",
    "A",
    "!!!???...",
    "12345 67890 3.14159",
    # Over MAX_LENGTH tokens as a premise: the pipeline truncates it (only_first).
    "It started as an ordinary morning, but by noon everything had gone wrong: the car would "
    "not start, the rain soaked through my coat, my phone died on the way to the station, and "
    "when I finally reached the office my manager told me the project I had worked on for six "
    "months had been cancelled without any explanation at all, which left me angry, exhausted "
    "and close to tears.",
    # Long enough that truncation cuts into the middle of a word.
    "Supercalifragilisticexpialidocious antidisestablishmentarianism " * 6,
    "",
    "Neutral statement.",
]


def build_tokenizer():
    from tokenizers import (AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors,
                            trainers)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken("<s>", special=True), AddedToken("<pad>", special=True),
                AddedToken("</s>", special=True), AddedToken("<unk>", special=True),
                AddedToken("<mask>", special=True, lstrip=True)]
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    for i, name in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]):
        assert tok.token_to_id(name) == i, name
    return tok


def randomize(model):
    import torch
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name and name.endswith(".weight"):
                p.uniform_(0.5, 1.5)
            elif name.endswith(".bias"):
                p.normal_(0.0, 0.2)
            elif "embeddings" in name:
                p.normal_(0.0, 0.5)
            else:
                p.normal_(0.0, 1.5 * p.shape[1] ** -0.5)


def build_folder(threads):
    import torch
    from transformers import (PreTrainedTokenizerFast, RobertaConfig,
                              RobertaForSequenceClassification)

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    tok = build_tokenizer()
    if FOLDER.exists():
        shutil.rmtree(FOLDER)
    FOLDER.mkdir(parents=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>",
                                   model_max_length=MAX_LENGTH)
    fast.save_pretrained(str(FOLDER))

    config = RobertaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=48, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=96, hidden_act="gelu",
        max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1, layer_norm_eps=1e-5,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, id2label=ID2LABEL,
        label2id={v: k for k, v in ID2LABEL.items()},
        architectures=["RobertaForSequenceClassification"])
    model = RobertaForSequenceClassification(config)
    randomize(model)
    model.save_pretrained(str(FOLDER), safe_serialization=True)
    keep = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    for extra in FOLDER.iterdir():
        if extra.name not in keep:
            extra.unlink()


def softmax_rows(x):
    e = np.exp(x)  # as the pipeline: float32, no max subtraction
    return e / e.sum(-1, keepdims=True)


def make_golden(threads):
    import tokenizers
    import torch
    import transformers
    from transformers import pipeline

    torch.set_num_threads(threads)
    pipe = pipeline("zero-shot-classification", model=str(FOLDER), tokenizer=str(FOLDER),
                    device="cpu")
    pipe.model.eval()
    entail = pipe.entailment_id
    contra = -1 if entail == 0 else 0
    assert entail == 2 and contra == 0
    reference_tok = tokenizers.Tokenizer.from_file(str(FOLDER / "tokenizer.json"))
    reference_tok.enable_truncation(MAX_LENGTH, strategy="only_first")
    untruncated_tok = tokenizers.Tokenizer.from_file(str(FOLDER / "tokenizer.json"))

    cases = []
    max_score_diff = 0.0
    for text in TEXTS:
        hypotheses = [TEMPLATE.format(label) for label in LABELS]
        if text:
            inputs = [item for item in pipe.preprocess(text, candidate_labels=LABELS)]
        else:  # the pipeline's argument check refuses ""; its tokenization does not
            inputs = [pipe._parse_and_tokenize([[text, h]]) for h in hypotheses]
        pairs = []
        logits = []
        for h, item in zip(hypotheses, inputs):
            ids = item["input_ids"][0].tolist()
            assert item["attention_mask"].min().item() == 1
            assert reference_tok.encode(text, h).ids == ids, (text, h)
            with torch.no_grad():
                out = pipe.model(input_ids=item["input_ids"],
                                 attention_mask=item["attention_mask"]).logits[0]
            logits.append(out.float().numpy())
            pairs.append({"hypothesis": h, "ids": ids,
                          "logits": [float(v) for v in out.tolist()]})
        logits = np.stack(logits).astype(np.float32)
        single = softmax_rows(logits[:, entail])
        multi = softmax_rows(logits[:, [contra, entail]])[:, 1]
        case = {"text": text, "pipeline": bool(text), "pairs": pairs}
        if text:
            for multi_label, mine in ((False, single), (True, multi)):
                result = pipe(text, candidate_labels=LABELS, multi_label=multi_label)
                by_label = dict(zip(result["labels"], result["scores"]))
                got = np.array([by_label[label] for label in LABELS])
                max_score_diff = max(max_score_diff, float(np.abs(got - mine).max()))
                case["scores_multi_label" if multi_label else "scores"] = got.tolist()
        else:
            case["scores"] = single.astype(np.float64).tolist()
            case["scores_multi_label"] = multi.astype(np.float64).tolist()
        case["truncated"] = len(untruncated_tok.encode(text, hypotheses[0]).ids) > MAX_LENGTH
        cases.append(case)
    assert max_score_diff < 1e-6, max_score_diff
    assert sum(c["truncated"] for c in cases) >= 2, "the texts should exercise truncation"

    all_logits = np.array([p["logits"] for c in cases for p in c["pairs"]])
    doc = {
        "description": "transformers zero-shot-classification pipeline on tests/data/tiny/"
                       "roberta_mnli (tools/golden/make_tiny_roberta_mnli.py)",
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "torch_version": torch.__version__,
        "labels": LABELS,
        "template": TEMPLATE,
        "max_length": MAX_LENGTH,
        "entailment_id": entail,
        "contradiction_id": contra,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(cases)} texts, {sum(c['truncated'] for c in cases)} truncated; logits range "
          f"[{all_logits.min():.3f}, {all_logits.max():.3f}]; pipeline vs formula max |diff| "
          f"{max_score_diff:.3g}")
    sizes = {f.name: f.stat().st_size for f in sorted(FOLDER.iterdir())}
    print(f"{FOLDER.relative_to(ROOT)}: {sizes}; {OUT.relative_to(ROOT)}: {OUT.stat().st_size}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    build_folder(args.threads)
    make_golden(args.threads)


if __name__ == "__main__":
    sys.exit(main())
