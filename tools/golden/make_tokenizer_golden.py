#!/usr/bin/env python3
"""Writes tests/golden/tokenize_<model>.json: reference token ids for the shipped tokenizers.

    python tools/golden/make_tokenizer_golden.py [--models-dir DIR] [--count 2000] [--only NAME]

References (independent of emovec):
  - GGUF models: transformers.AutoTokenizer.from_pretrained(dir, gguf_file=name), i.e.
    transformers' own conversion of the tokenizer.ggml.* metadata (needs torch, transformers,
    tokenizers, gguf). Where that conversion reads a file differently from llama.cpp (SmolLM2's
    "smollm" pre-tokenizer, Gemma's merge order) transformers is the reference; see
    src/tokenizer/load_gguf.cpp.
  - all-MiniLM-L6-v2: tokenizers.Tokenizer.from_file(tokenizer.json), with its padding and
    truncation switched off (emovec's encode does neither).

Each file holds, per string: the text, ids with add_special true ("ids_special") and false
("ids"), ids with special-token text taken as plain text ("ids_plain", only where it differs
from "ids"), the reference decode of "ids" ("decoded", only where it differs from the text),
the reference decode of "ids_special" with skip_special_tokens ("decoded_skip", only where it
differs from "decoded"), and whether decode(ids) gives the text back ("roundtrip").

The strings are the hand-picked HARD_CASES below plus `--count` strings from a seeded
generator mixing scripts, emoji sequences, combining marks, whitespace runs, digits, code,
contractions with odd casing and special-token text. The same strings go to every model.
"""

import argparse
import json
import os
import random
import sys
import unicodedata

MODELS = [
    ("smollm2-135m-instruct", "gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("qwen2.5-coder-0.5b-instruct", "gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
    ("qwen2.5-coder-1.5b-instruct", "gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    ("gemma-3-270m", "gguf", "gemma-3-270m-q4_k_m.gguf"),
    ("all-minilm-l6-v2", "hf", "all-MiniLM-L6-v2"),
]

SPECIAL_TEXTS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<start_of_turn>", "<end_of_turn>", "<bos>",
    "<eos>", "<pad>", "<unk>", "<mask>", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]",
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|repo_name|>", "<|file_sep|>", "<0x41>", "<0xE2>", "<unused0>", "<unused99>", "[multimodal]",
    "<start_of_image>", "<repo_name>", "<filename>", "<jupyter_code>", "<|im_start", "im_end|>",
    "<start_of_turn >", "[cls]", "<table>", "</td>", "<h1>", "<code>", "<|vision_pad|>",
]

HARD_CASES = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\r", " \n", "\n ", "a", "A", "1", "!",
    "Hello world", "Hello  world", "Hello   world ", " Hello", "  Hello", "Hello\n\nworld",
    "hello\r\nworld\r\n", "tab\tseparated\tvalues", "\t\tindented", "trailing   ",
    "I'm", "I'M", "you're", "YOU'RE", "you'Re", "they'll", "THEY'LL", "they'lL", "we've",
    "WE'VE", "he'd", "HE'D", "it's", "IT'S", "It'S", "don't", "DON'T", "'s", "'S", "'t",
    "'ll", "'LL", "'re", "'ve", "'m", "'d", "''s", "x's's", "it\u2019s", "I\u2019M",
    "'\u017f", "cat'\u017fx", "rock'n'roll", "'sup", "o'clock",
    "1", "12", "123", "1234", "12345", "123456789012", "3.14159", "1,234,567.89", "0x1F",
    "a  1", "a   12", " 1", "  1", "x1y2z3", "\u0661\u0662\u0663", "\uff11\uff12\uff13",
    "\u00b2\u00b3", "\u2167", "\u00bd + \u00bc", "1\u00a0000",
    "caf\u00e9", "cafe\u0301", "na\u00efve r\u00e9sum\u00e9", "\u00c5ngstr\u00f6m",
    "Stra\u00dfe", "\u0130stanbul", "\u0131\u0130iI", "\u1e9e", "\u01c5", "\ufb01le",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0628\u0650\u0633\u0652\u0645\u0650 \u0627\u0644\u0644\u0651\u064e\u0647\u0650",
    "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u3053\u3093\u306b\u3061\u306f", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
    "\u1100\u1161\u11a8", "\ud55c\uad6d\uc5b4", "\u4e2d\u6587English\u6df7\u5408",
    "\U00020000\U0002a6d6", "\u3000\u5168\u89d2\u3000\u7a7a\u767d",
    "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f469\U0001f3fe\u200d\U0001f4bb", "\U0001f1fa\U0001f1f8",
    "1\ufe0f\u20e3", "\u2764\ufe0f", "\U0001fae0\U0001f972", "I \u2764 NY", "\U0001f600\U0001f600\U0001f600",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u0308\u0301",
    "e\u0301\u0302\u0323", "\u0300abc", "a\u200bb", "a\u200cb\u200dc", "\ufeffBOM", "x\u00ady",
    "nbsp\u00a0here", "ideographic\u3000space", "thin\u2009space", "line\u2028sep",
    "para\u2029sep", "vt\x0bff\x0cnel\x85end", "nul\x00byte", "bell\x07", "esc\x1b[0m",
    "\u00a0\u00a0x", " \u00a0x", "\u3000\u3000", "\t \t x", "x \t\n y", "a\n\n\n\nb",
    "a\r\n\r\n\r\nb", "    def f(x):\n        return x ** 2\n",
    "int main(void) {\n\treturn 0;\n}\n", "if (a != b && c <= d) { x += 1; }",
    "const f = (a, b) => a ?? b;", "<div class=\"x\">Hi</div>", "{\"key\": [1, 2, 3]}",
    "https://example.com/path?q=1&r=2#frag", "user.name+tag@example.org",
    "C:\\Users\\me\\file.txt", "/usr/local/bin/python3", "$HOME/.config", "foo_bar_baz",
    "camelCaseWord", "SCREAMING_SNAKE", "x=1;y=2", "a->b", "::", "...", "?!", "!!!", "--",
    "\u2014em dash\u2014", "\u201cquoted\u201d", "\u00abguillemets\u00bb", "\u00a9\u00ae\u2122",
    "\u2211\u222b\u2248\u221e", "\u20ac100 \u00a350 \u00a5300 \u20b9", "#hashtag @mention",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    "[CLS] hello [SEP] world [SEP]", "x<|im_start|>y", "<|im_start|><|im_end|>",
    "<|im_start|> <|im_end|>", "<tool_call>{}</tool_call>", "<bos><eos>", "[MASK]ing",
    "the [MASK] sat", "<0x41><0x42>", "<unused0>", "\n<start_of_turn>", "a\t<end_of_turn>\t",
    "\u00e9<|endoftext|>\u00e9", "<<|im_end|>>", "<|im_start|im_end|>",
    "a" * 150, "ab" * 60, "supercalifragilisticexpialidocious" * 4, "!" * 40, " " * 25,
    "\n" * 40, "\t" * 40, "1" * 30, "\u4e00" * 30, "\U0001f600" * 20, "x " * 60,
    "The quick brown fox jumps over the lazy dog.",
    "Emotion vectors steer models: joy, anger, fear, sadness & surprise!",
]


def rand_word(rng, alphabet, lo=1, hi=9):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def chars(*ranges):
    out = []
    for r in ranges:
        if isinstance(r, str):
            out.extend(r)
        else:
            out.extend(chr(c) for c in range(r[0], r[1] + 1))
    return out


LATIN = chars((0x61, 0x7A), (0x41, 0x5A))
LATIN_EXT = chars("\u00e9\u00e8\u00ea\u00eb\u00e0\u00e2\u00e4\u00f4\u00f6\u00fb\u00fc\u00e7\u00f1\u00df"
                  "\u0153\u00e6\u00f8\u00e5\u00c5\u00c9\u00d6\u00dc\u0105\u0119\u0142\u0144\u015b"
                  "\u017a\u017c\u011b\u0161\u010d\u0159\u017e\u00fd\u00e1\u00ed\u1ea1\u1ea3\u1ea5"
                  "\u1ea7\u1ebf\u1ec7\u01b0\u01a1\u0111\u0130\u0131\u1e9e\u01c5")
SCRIPTS = {
    "greek": chars((0x3B1, 0x3C9), (0x391, 0x3A9), "\u03ac\u03ad\u03ae\u03af\u03cc\u03cd\u03ce"),
    "cyrillic": chars((0x430, 0x44F), (0x410, 0x42F), "\u0451\u0401\u0456\u0457\u0454"),
    "arabic": chars((0x627, 0x64A), (0x64B, 0x652)),
    "hebrew": chars((0x5D0, 0x5EA), (0x5B0, 0x5BC)),
    "devanagari": chars((0x905, 0x939), (0x93E, 0x94D), "\u0902\u0903"),
    "thai": chars((0xE01, 0xE2E), (0xE30, 0xE3A), (0xE40, 0xE4E)),
    "cjk": chars((0x4E00, 0x4E80), (0x6C00, 0x6C40), (0x8A00, 0x8A40), "\u3001\u3002\uff0c\uff01"),
    "kana": chars((0x3041, 0x3096), (0x30A1, 0x30FA), "\u30fc"),
    "hangul": chars((0xAC00, 0xAC60), (0xB098, 0xB0D0), (0xD55C, 0xD57C)),
    "jamo": chars((0x1100, 0x1112), (0x1161, 0x1175), (0x11A8, 0x11C2)),
    "armenian": chars((0x561, 0x586)),
    "georgian": chars((0x10D0, 0x10FA)),
    "bengali": chars((0x985, 0x9B9), (0x9BE, 0x9CD)),
    "tamil": chars((0xB85, 0xBB9), (0xBBE, 0xBCD)),
    "ethiopic": chars((0x1200, 0x1248)),
    "latin": LATIN + LATIN_EXT,
}
EMOJI = [
    "\U0001f600", "\U0001f602", "\U0001f60d", "\U0001f622", "\U0001f621", "\U0001f631",
    "\U0001f914", "\U0001f973", "\U0001f972", "\U0001fae0", "\u2764\ufe0f", "\u2728",
    "\U0001f525", "\U0001f680", "\U0001f44d", "\U0001f44b\U0001f3fb", "\U0001f44d\U0001f3ff",
    "\U0001f9d1\U0001f3fd\u200d\U0001f680", "\U0001f468\u200d\U0001f4bb",
    "\U0001f469\u200d\u2764\ufe0f\u200d\U0001f468", "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\U0001f1ef\U0001f1f5", "\U0001f1e9\U0001f1ea", "#\ufe0f\u20e3", "\u263a", "\u2600\ufe0f",
]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2009",
          "\u200b", "\u2028", "\x0b", "\x0c", "\x85", "\t\t", "    ", " \t", "\r"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "...", "?!", "\u2014", "\u2013", "\u201c", "\u201d", "\u2018", "\u2019", "\u00ab", "\u00bb",
    "\u00bf", "\u00a1", "\u2026", "\u00a9", "\u2122", "\u20ac", "\u00a3", "\u2211", "\u221e",
    "\u00b7", "\u2022", "\u3001", "\u3002", "\uff01", "\u060c", "\u0964", "\u00a7", "\u00b6",
]
CODE = [
    "def f(x):", "return x", "    ", "for i in range(10):", "x += 1", "if (a == b) {", "}",
    "#include <stdio.h>", "std::vector<int> v;", "printf(\"%d\\n\", x);", "let y = [1, 2, 3];",
    "SELECT * FROM t WHERE id = 1;", "<a href=\"/x\">", "</a>", "foo.bar(baz)", "a && b || c",
    "x != y", "i++", "**kwargs", "lambda: None", "// comment", "/* block */", "`code`",
    "$ ls -la", "0xDEADBEEF", "1e-9", "__init__", "self.value", "=> ", "::", "->",
]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M",
                "'LL", "'lL", "'D", "\u2019s", "'\u017f", "n't", "N'T"]
COMBINING = chars((0x300, 0x36F), "\u0483\u0591\u05b4\u064b\u0651\u093c\u0e48\u20d7\u302a")
NUMBERS = chars((0x30, 0x39)) + chars((0x660, 0x669), (0x966, 0x96F), (0xFF10, 0xFF19),
                                      "\u00b2\u00b3\u00b9\u00bd\u2160\u2167\u3007\u4e00")


def random_code_points(rng, n):
    """Assigned code points whose category is the same in Unicode 3.2 and now: stable
    characters, so that the test does not hinge on which Unicode version a component has."""
    out = []
    while len(out) < n:
        cp = rng.randint(0x20, 0x2FFFF) if rng.random() < 0.2 else rng.randint(0x20, 0xFFFF)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        cat = unicodedata.category(c)
        if cat == "Cn" or unicodedata.ucd_3_2_0.category(c) != cat:
            continue
        out.append(c)
    return "".join(out)


def fragment(rng):
    kind = rng.choices(
        ["word", "script", "emoji", "space", "digits", "punct", "code", "contraction",
         "combining", "special", "random", "long", "upper"],
        weights=[18, 16, 6, 9, 8, 8, 6, 5, 4, 5, 3, 1, 4])[0]
    if kind == "word":
        return rand_word(rng, LATIN + LATIN_EXT[:8], 1, 10)
    if kind == "upper":
        w = rand_word(rng, LATIN, 2, 8)
        return rng.choice([w.upper(), w.capitalize(), w.swapcase()])
    if kind == "script":
        return rand_word(rng, SCRIPTS[rng.choice(sorted(SCRIPTS))], 1, 8)
    if kind == "emoji":
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if kind == "space":
        return "".join(rng.choice(SPACES) for _ in range(rng.randint(1, 3)))
    if kind == "digits":
        if rng.random() < 0.7:
            return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
        return "".join(rng.choice(NUMBERS) for _ in range(rng.randint(1, 6)))
    if kind == "punct":
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 4)))
    if kind == "code":
        return rng.choice(CODE)
    if kind == "contraction":
        return rand_word(rng, LATIN, 1, 6) + rng.choice(CONTRACTIONS) + rng.choice(["", " ", "x", "s"])
    if kind == "combining":
        base = rand_word(rng, LATIN + SCRIPTS["greek"], 1, 3)
        return base + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 3)))
    if kind == "special":
        return rng.choice(SPECIAL_TEXTS)
    if kind == "random":
        return random_code_points(rng, rng.randint(1, 6))
    return rng.choice(LATIN) * rng.randint(20, 130)  # "long"


def generate_strings(count, seed):
    rng = random.Random(seed)
    seen = set(HARD_CASES)
    out = []
    while len(out) < count:
        parts = []
        for _ in range(rng.randint(1, 8)):
            parts.append(fragment(rng))
            r = rng.random()
            if r < 0.45:
                parts.append(" ")
            elif r < 0.55:
                parts.append(rng.choice(SPACES))
        s = "".join(parts)
        if rng.random() < 0.15:
            s = " " + s
        if rng.random() < 0.1:
            s = s + rng.choice(SPACES)
        s = s[:240]
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


class GgufReference:
    def __init__(self, models_dir, filename):
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=filename)
        import transformers

        self.description = (f"transformers {transformers.__version__} AutoTokenizer.from_pretrained("
                            f"gguf_file={filename!r})")

    def encode(self, text, add_special, parse_special=True):
        return list(self.tok(text, add_special_tokens=add_special,
                             split_special_tokens=not parse_special)["input_ids"])

    def decode(self, ids, skip_special):
        return self.tok.decode(ids, skip_special_tokens=skip_special)


class JsonReference:
    def __init__(self, folder):
        import tokenizers

        self.tok = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.tok.no_padding()
        self.tok.no_truncation()
        self.description = f"tokenizers {tokenizers.__version__} Tokenizer.from_file(tokenizer.json)"

    def encode(self, text, add_special, parse_special=True):
        self.tok.encode_special_tokens = not parse_special
        try:
            return self.tok.encode(text, add_special_tokens=add_special).ids
        finally:
            self.tok.encode_special_tokens = False

    def decode(self, ids, skip_special):
        return self.tok.decode(ids, skip_special_tokens=skip_special)


def build_cases(ref, strings):
    cases = []
    for s in strings:
        ids = ref.encode(s, False)
        ids_special = ref.encode(s, True)
        ids_plain = ref.encode(s, False, parse_special=False)
        decoded = ref.decode(ids, False)
        decoded_skip = ref.decode(ids_special, True)
        case = {"text": s, "ids": ids, "ids_special": ids_special}
        if ids_plain != ids:
            case["ids_plain"] = ids_plain
        if decoded != s:
            case["decoded"] = decoded
        if decoded_skip != decoded:
            case["decoded_skip"] = decoded_skip
        case["roundtrip"] = decoded == s
        cases.append(case)
    return cases


def write_golden(path, name, description, strings_seed, cases):
    head = {
        "model": name,
        "reference": description,
        "generator": "tools/golden/make_tokenizer_golden.py",
        "seed": strings_seed,
        "count": len(cases),
    }
    lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases]
    with open(path, "w", encoding="utf-8") as f:
        text = json.dumps(head, ensure_ascii=False, indent=1)
        f.write(text[:-2] + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_dir = os.environ.get("EMOVEC_MODELS_DIR",
                                 os.path.join(os.path.expanduser("~"), ".cache", "emovec", "models"))
    parser.add_argument("--models-dir", default=default_dir)
    parser.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tests", "golden"))
    parser.add_argument("--count", type=int, default=2000, help="generated strings per model")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--only", action="append", help="registry name(s) to regenerate")
    args = parser.parse_args()

    strings = list(HARD_CASES) + generate_strings(args.count, args.seed)
    for name, kind, filename in MODELS:
        if args.only and name not in args.only:
            continue
        if kind == "gguf":
            ref = GgufReference(args.models_dir, filename)
        else:
            ref = JsonReference(os.path.join(args.models_dir, filename))
        cases = build_cases(ref, strings)
        path = os.path.join(args.out, f"tokenize_{name}.json")
        write_golden(path, name, ref.description, args.seed, cases)
        trips = sum(c["roundtrip"] for c in cases)
        print(f"{name}: {len(cases)} strings, {trips} round-trip, "
              f"{os.path.getsize(path) / 1e6:.2f} MB -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
