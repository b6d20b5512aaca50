#!/usr/bin/env python3
"""Writes tests/golden/chat_templates.json: reference renderings for emovec's chat templates.

Two sections:
  conversations: the messages and extra variables (tools, ...) every template is rendered with.
  templates: for every shipped chat model (template read from the GGUF key
    tokenizer.chat_template, rendered with transformers' AutoTokenizer.apply_chat_template) and
    every extra template in tests/data/chat_templates/*.jinja (rendered with transformers'
    render_jinja_template, the function apply_chat_template calls), many conversations with
    add_generation_prompt false and true, and the exact string or the error the reference raised.
  snippets: small templates covering each Jinja feature, rendered by the same compiled Jinja
    environment transformers uses (trim_blocks, lstrip_blocks, sandbox, its globals and tojson).

Usage: make_chat_golden.py [--models-dir DIR] [--out FILE]
The models directory defaults to $EMOVEC_MODELS_DIR or ~/.cache/emovec/models.
"""

import argparse
import json
import os
import pathlib
import sys

import gguf
from transformers.utils.chat_template_utils import (
    _compile_jinja_template,
    _normalize_chat_messages,
    render_jinja_template,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]

SHIPPED_CHAT_MODELS = [
    ("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
    ("qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
]

# Special tokens the extra templates are rendered with (what their tokenizers would provide).
EXTRA_TEMPLATE_TOKENS = {
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama31_tools": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama2": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "gemma": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
    "gemma3": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
    "mistral": {"bos_token": "<s>", "eos_token": "</s>"},
    "mistral_v3_tools": {"bos_token": "<s>", "eos_token": "</s>"},
    "phi3": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    "zephyr": {"bos_token": "<s>", "eos_token": "</s>"},
    "deepseek": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "chatml_tools": {"eos_token": "<|im_end|>"},
    "whitespace_tour": {},
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.   ",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "max_results": {"type": ["integer", "null"], "description": "Limit, 1-10"},
                },
                "required": ["query", "max_results"],
            },
        },
    },
]

CALL_ID = "a1b2c3d4e"  # Mistral's templates require 9-character ids


def tool_call(name, arguments, call_id=CALL_ID):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def system(text):
    return {"role": "system", "content": text}


# (name, messages, extra variables)
CONVERSATIONS = [
    ("single_user", [user("Hello!")], {}),
    ("system_user", [system("You are a pirate."), user("Hi there")], {}),
    ("multi_turn", [user("What is 2+2?"), assistant("4"), user("And 3+3?")], {}),
    (
        "multi_turn_system",
        [system("Be brief."), user("Name a color."), assistant("Blue."), user("Another?")],
        {},
    ),
    ("assistant_last", [user("Say hi"), assistant("Hi!")], {}),
    (
        "long_dialogue",
        [
            system("You are helpful."),
            user("one"),
            assistant("two"),
            user("three"),
            assistant("four"),
            user("five"),
            assistant("six"),
            user("seven"),
        ],
        {},
    ),
    (
        "unicode",
        [user("Grüße, 世界! 😀 — ‘quotes’ \u00a0nbsp ﬁ"), assistant("Ça va? ☃ Привет"), user("日本語")],
        {},
    ),
    (
        "newlines_braces",
        [
            user("line1\nline2\n\n  {{ not a tag }} {% raw %} {# x #}\t tab"),
            assistant("}}{{ %} {%"),
            user("\r\ncarriage\r"),
        ],
        {},
    ),
    ("padded_content", [user("   padded   \n\n"), assistant("\n answer \n"), user(" q ")], {}),
    ("quotes_backslashes", [user('He said "hi" \\ C:\\dir\\file \'single\'')], {}),
    ("empty_content", [user(""), assistant(""), user("")], {}),
    ("user_user", [user("first"), user("second")], {}),
    ("assistant_first", [assistant("I start."), user("ok")], {}),
    ("system_only", [system("Only a system prompt.")], {}),
    ("system_late", [user("hi"), system("late system"), user("again")], {}),
    (
        "null_fields_dropped",
        [{"role": "user", "content": "hello", "name": None}, {"role": "assistant", "content": "yo", "tool_calls": None}],
        {},
    ),
    (
        "extra_fields",
        [{"role": "user", "content": "with name", "name": "alice"}, assistant("ok")],
        {},
    ),
    (
        "tools_only",
        [system("Use tools when needed."), user("Weather in Paris?")],
        {"tools": TOOLS},
    ),
    (
        "tool_call_roundtrip",
        [
            system("Use tools when needed."),
            user("Weather in Paris?"),
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [tool_call("get_weather", {"city": "Paris", "unit": "celsius"})],
            },
            {"role": "tool", "tool_call_id": CALL_ID, "name": "get_weather", "content": '{"temperature": 22}'},
            assistant("It is 22 °C in Paris."),
            user("Thanks!"),
        ],
        {"tools": TOOLS},
    ),
    (
        "tool_calls_no_tools",
        [
            user("Weather in Rome and Oslo?"),
            {
                "role": "assistant",
                "content": "Checking both.",
                "tool_calls": [
                    tool_call("get_weather", {"city": "Rome"}),
                    tool_call("get_weather", {"city": "Oslo", "unit": "fahrenheit"}, "z9y8x7w6v"),
                ],
            },
            {"role": "tool", "tool_call_id": CALL_ID, "content": "sunny, 25"},
            {"role": "tool", "tool_call_id": "z9y8x7w6v", "content": "snow, 28"},
        ],
        {},
    ),
    (
        "tool_call_null_content",
        [
            user("Search for jinja"),
            {"role": "assistant", "content": None, "tool_calls": [tool_call("search", {"query": "jinja", "max_results": 3})]},
            {"role": "tool", "tool_call_id": CALL_ID, "content": "[\"jinja.palletsprojects.com\"]"},
        ],
        {"tools": TOOLS},
    ),
    (
        "tool_call_string_arguments",
        [
            user("Search"),
            {"role": "assistant", "content": "", "tool_calls": [tool_call("search", '{"query": "x"}')]},
        ],
        {"tools": TOOLS},
    ),
    (
        "reasoning",
        [
            user("Think first."),
            {"role": "assistant", "content": "The answer.", "reasoning_content": "Let me think.\n"},
            user("Again?"),
            {"role": "assistant", "content": "<think>\nHidden steps\n</think>\n\nVisible."},
        ],
        {},
    ),
    ("enable_thinking_false", [user("Quick answer please")], {"enable_thinking": False}),
    (
        "multimodal_content",
        [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe this. "}]},
        ],
        {},
    ),
    ("date_string", [user("What day is it?")], {"date_string": "01 Jan 2025", "tools_in_user_message": False}),
]


def render_reference(template, messages, add_generation_prompt, extra):
    """render_jinja_template as apply_chat_template calls it (after message normalization)."""
    kwargs = dict(extra)
    tools = kwargs.pop("tools", None)
    rendered, _ = render_jinja_template(
        conversations=[_normalize_chat_messages(messages)],
        tools=tools,
        chat_template=template,
        add_generation_prompt=add_generation_prompt,
        **kwargs,
    )
    return rendered[0]


def outcome(fn):
    try:
        return {"expected": fn()}
    except Exception as e:  # the reference's error is part of the golden data
        return {"error_type": type(e).__name__, "error": str(e)}


def read_gguf_template(path):
    reader = gguf.GGUFReader(str(path))
    field = reader.fields.get("tokenizer.chat_template")
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def model_cases(models_dir):
    from transformers import AutoTokenizer  # needs torch

    entries = []
    for registry_name, filename in SHIPPED_CHAT_MODELS:
        path = models_dir / filename
        template = read_gguf_template(path)
        tokenizer = AutoTokenizer.from_pretrained(str(models_dir), gguf_file=filename)
        assert tokenizer.chat_template == template, f"{filename}: tokenizer template differs from GGUF"
        special = dict(tokenizer.special_tokens_map)
        cases = []
        for name, messages, extra in CONVERSATIONS:
            for agp in (False, True):
                kwargs = {k: v for k, v in extra.items() if k != "tools"}

                def via_tokenizer():
                    return tokenizer.apply_chat_template(
                        messages,
                        tools=extra.get("tools"),
                        tokenize=False,
                        add_generation_prompt=agp,
                        **kwargs,
                    )

                result = outcome(via_tokenizer)
                variables = {**special, **extra}
                # apply_chat_template is render_jinja_template plus the special tokens: check that.
                assert result == outcome(lambda: render_reference(template, messages, agp, variables))
                cases.append({"conversation": name, "add_generation_prompt": agp, **result})
        entries.append({"name": registry_name, "source": f"model:{registry_name}", "template": template,
                        "variables": special, "cases": cases})
        print(f"{registry_name}: {len(cases)} cases", file=sys.stderr)
    return entries


def file_cases():
    entries = []
    for path in sorted((ROOT / "tests" / "data" / "chat_templates").glob("*.jinja")):
        template = path.read_text(encoding="utf-8")
        tokens = EXTRA_TEMPLATE_TOKENS[path.stem]
        cases = []
        for name, messages, extra in CONVERSATIONS:
            for agp in (False, True):
                variables = {**tokens, **extra}
                result = outcome(lambda: render_reference(template, messages, agp, variables))
                cases.append({"conversation": name, "add_generation_prompt": agp, **result})
        entries.append({"name": path.stem, "source": f"file:{path.name}", "template": template,
                        "variables": tokens, "cases": cases})
        print(f"{path.stem}: {len(cases)} cases", file=sys.stderr)
    return entries


def snippet_outcomes():
    from chat_snippets import SNIPPETS

    out = []
    seen = set()
    for entry in SNIPPETS:
        name, template = entry[0], entry[1]
        variables = entry[2] if len(entry) > 2 else {}
        assert name not in seen, name
        seen.add(name)

        def render():
            return _compile_jinja_template(template).render(**variables)

        record = {"name": name, "template": template, "vars": variables, **outcome(render)}
        if "error_type" in record:
            exc = None
            try:
                render()
            except Exception as e:
                exc = e
            if getattr(exc, "lineno", None) is not None:
                record["error_line"] = exc.lineno
        out.append(record)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_models = os.environ.get("EMOVEC_MODELS_DIR", os.path.join(os.path.expanduser("~"), ".cache", "emovec", "models"))
    parser.add_argument("--models-dir", default=default_models)
    parser.add_argument("--out", default=str(ROOT / "tests" / "golden" / "chat_templates.json"))
    parser.add_argument("--snippets-only", action="store_true",
                        help="regenerate only the snippets, keeping the templates already in --out")
    args = parser.parse_args()
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

    if args.snippets_only:
        with open(args.out, encoding="utf-8") as f:
            templates = json.load(f)["templates"]
    else:
        templates = model_cases(pathlib.Path(args.models_dir)) + file_cases()
    # Each case renders conversation `messages` with the template's variables (special tokens)
    # updated by the conversation's `extra` variables (tools, ...).
    golden = {
        "generator": "tools/golden/make_chat_golden.py",
        "conversations": [{"name": n, "messages": m, "extra": e} for n, m, e in CONVERSATIONS],
        "templates": templates,
        "snippets": snippet_outcomes(),
    }
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_cases = sum(len(t["cases"]) for t in golden["templates"])
    print(f"wrote {args.out}: {len(golden['templates'])} templates, {n_cases} cases, "
          f"{len(golden['snippets'])} snippets", file=sys.stderr)


if __name__ == "__main__":
    main()
