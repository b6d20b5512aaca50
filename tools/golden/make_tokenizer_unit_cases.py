#!/usr/bin/env python3
"""Writes tests/data/tokenizer/: small tokenizer.json files that exercise the parts of the
pipeline the shipped models do not (added-token flags, normalized added tokens, Metaspace with
byte fallback and unknown tokens, ignore_merges, WordPiece limits, NFC, Split behaviours), each
with the ids and decodes the `tokenizers` library gives for a list of texts.

    python tools/golden/make_tokenizer_unit_cases.py     # needs the `tokenizers` package

tests/test_tokenizer.cpp reads tests/data/tokenizer/cases.json and compares.
"""

import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer")

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_alphabet():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def byte_level_bpe():
    vocab = {c: i for i, c in enumerate(byte_alphabet())}
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("in", "g"), ("Ġ", "Ġ"), ("Ġ", "w"),
              ("o", "r"), ("Ġw", "or"), ("Ġwor", "d"), ("l", "l"), ("e", "ll"), ("h", "ell")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<s>", special=True, normalized=False),
                            AddedToken("</s>", special=True, normalized=False),
                            AddedToken("<mask>", special=True, normalized=False, lstrip=True, rstrip=True)])
    tok.add_tokens([AddedToken("word", single_word=True, normalized=False),
                    AddedToken("Hi", normalized=True),
                    AddedToken("<sep>", normalized=False)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    texts = ["the thing", "The  world", "hello<mask> world", "a <mask>  b", "x\t<mask>\ty",
             "word words sword word", "(word)", "say Hi and hi and HI", "<s>the</s>", "<sep><sep>",
             "", " ", "caf\u00e9 \U0001F600", "ll hell hello"]
    return "byte_level_bpe", tok, texts


def wordpiece():
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "un", "##aff",
             "##able", "cafe", "!", ",", "a", "##b", "'", "s", ".", "do", "not", "n", "##t", "t",
             "\u4e2d", "\u6587", "x", "##x", "resume"]
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=8))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    texts = ["Hello, world!", "unaffable", "CAF\u00c9 r\u00e9sum\u00e9", "xxxxxxxx", "xxxxxxxxx",
             "ab abab zzz", "\u4e2d\u6587x", "hello [MASK] world", "do not", "hello\u0000world",
             "a\u200bb", "s ' s . n't", "", "  \t\n "]
    return "wordpiece", tok, texts


def metaspace_spm():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    pieces = ["\u2581", "h", "e", "l", "o", "w", "r", "d", "\u2581h", "\u2581he", "ll", "\u2581hell",
              "\u2581hello", "\u2581w", "\u2581wo", "\u2581wor", "\u2581word", "\u2581world", "\u2581\u2581", "!"]
    for p in pieces:
        vocab[p] = len(vocab)
    merges = [("\u2581", "h"), ("\u2581h", "e"), ("l", "l"), ("\u2581he", "ll"), ("\u2581hell", "o"),
              ("\u2581", "w"), ("\u2581w", "o"), ("\u2581wo", "r"), ("\u2581wor", "d"),
              ("\u2581", "\u2581")]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken("<s>", special=True, normalized=False),
                            AddedToken("</s>", special=True, normalized=False),
                            AddedToken("<unk>", special=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    texts = ["hello world", " hello", "hello  world!", "h\u00e9llo", "\U0001F600!", "hello</s>world",
             "</s>hello", "", "  ", "\u4e2d"]
    return "metaspace_spm", tok, texts


def llama3_ignore_merges():
    vocab = {c: i for i, c in enumerate(byte_alphabet())}
    merges = [("Ġ", "x"), ("y", "z"), ("1", "2"), ("12", "3")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["Ġxyz"] = len(vocab)  # reachable only through ignore_merges
    tok = Tokenizer(models.BPE(vocab, merges, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    texts = ["a xyz", "a xyzw", "12345 x", "I'M x", "\u00e9\n\n x"]
    return "llama3_ignore_merges", tok, texts


def char_bpe_nfc():
    chars = ["a", "b", "c", "\u00e9", "e", "\u0301", "\u00c5", "\u00e5", "x", "[", "]", "-", "\u2581",
             "\u00e9\u00e9", "ab"]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab["<unk>"] = len(vocab)
    merges = [("\u00e9", "\u00e9"), ("a", "b")]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase(),
                                           normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("-", behavior="merged_with_previous"),
        pre_tokenizers.Digits(individual_digits=False), pre_tokenizers.Punctuation()])
    texts = ["e\u0301e\u0301", "\u212b", "ABab", "a-b--c", "zz9q", "x[y]", "a b"]
    return "char_bpe_nfc", tok, texts


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, tok, texts in (byte_level_bpe(), wordpiece(), metaspace_spm(), llama3_ignore_merges(),
                             char_bpe_nfc()):
        path = os.path.join(OUT, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(tok.to_str())
        for text in texts:
            ids = tok.encode(text, add_special_tokens=False).ids
            special = tok.encode(text, add_special_tokens=True).ids
            tok.encode_special_tokens = True
            plain = tok.encode(text, add_special_tokens=False).ids
            tok.encode_special_tokens = False
            cases.append({"tokenizer": f"{name}.json", "text": text, "ids": ids, "ids_special": special,
                          "ids_plain": plain, "decoded": tok.decode(ids, skip_special_tokens=False),
                          "decoded_skip": tok.decode(special, skip_special_tokens=True)})
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
    print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
