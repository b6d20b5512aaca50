#!/usr/bin/env python3
"""Checks `emovec serve` through the official `openai` Python client.

Usage: server_openai.py --emovec PATH/TO/emovec [--model smollm2-135m-instruct] [--data-dir DIR]

Starts its own server (`--parallel 4 -t 2 --api-key test-key`, on a free port) and checks:
authentication (401 without / with a wrong key), the model list, a steered chat completion
(greedy, usage counts), that streaming gives exactly the non-streaming text and usage, that
steering changes the greedy text while alpha 0 leaves it exactly unsteered, /v1/completions
(streaming and not), the prompt cache (cache_prompt: a second turn's usage counts the tokens
taken from it), the emotions endpoints (list, load a vector under a new name, use it,
delete it), and that greedy texts are the same whether a request runs alone or batched with
others carrying different emotion mixes (no leak between slots). Prints every check; exits 0
only if all of them held, 1 otherwise (naming the failed checks), 2 if the server did not start.
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emovec_server import (Checks, EmovecServer, common_arguments, start_server,  # noqa: E402
                           stop_server)

import openai  # noqa: E402

API_KEY = "test-key"
SHIPPED = ["anger", "disgust", "fear", "joy", "sadness"]
PROMPT = [{"role": "user", "content": "Tell me about your day in two sentences."}]


def short(text, n=100):
    text = repr(text)
    return text if len(text) <= n else text[:n] + "...'"


def raw(server, method, path, body=None, key=API_KEY):
    """(status, parsed JSON body or raw text) of one HTTP request, with the bearer key if given."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key is not None:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode("utf-8", "replace")


def is_error_object(body):
    return (isinstance(body, dict) and isinstance(body.get("error"), dict)
            and isinstance(body["error"].get("message"), str) and body["error"]["message"] != ""
            and isinstance(body["error"].get("type"), str))


def chat(client, model, messages=PROMPT, emotion=None, max_tokens=24, **kw):
    extra = {} if emotion is None else {"emotion": emotion}
    return client.chat.completions.create(model=model, messages=messages, temperature=0,
                                          max_tokens=max_tokens, extra_body=extra, **kw)


def chat_text(client, model, **kw):
    return chat(client, model, **kw).choices[0].message.content


def stream_chat(client, model, messages=PROMPT, emotion=None, max_tokens=24, include_usage=True):
    """(text, finish_reason, usage, chunk objects, roles seen) of one streaming chat request."""
    extra = {} if emotion is None else {"emotion": emotion}
    kw = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = client.chat.completions.create(model=model, messages=messages, temperature=0,
                                            max_tokens=max_tokens, stream=True, extra_body=extra,
                                            **kw)
    pieces, finish, usage, objects, roles = [], None, None, set(), []
    for chunk in stream:
        objects.add(chunk.object)
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    return "".join(pieces), finish, usage, objects, roles


def check_auth(c, server, model):
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong-key", max_retries=0, timeout=60)
    try:
        bad.models.list()
        c.check("wrong key: models.list raises AuthenticationError", False, "the request succeeded")
    except openai.AuthenticationError as e:
        c.check("wrong key: models.list raises AuthenticationError", e.status_code == 401,
                "status %s" % e.status_code)
    good = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)
    try:  # the client with no Authorization header at all (openai.omit drops the header)
        good.chat.completions.create(model=model, messages=PROMPT, max_tokens=4,
                                     extra_headers={"Authorization": openai.omit})
        c.check("no key: chat.completions raises AuthenticationError", False, "the request succeeded")
    except openai.AuthenticationError as e:
        c.check("no key: chat.completions raises AuthenticationError", e.status_code == 401,
                "status %s" % e.status_code)
    status, body = raw(server, "GET", "/v1/models", key=None)
    c.check("no key (raw GET /v1/models): 401 with an OpenAI error object",
            status == 401 and is_error_object(body), "status %s body %s" % (status, short(body, 200)))
    if is_error_object(body):
        c.check("no key: error type is authentication_error",
                body["error"]["type"] == "authentication_error", body["error"]["type"])
    status, body = raw(server, "GET", "/health", key=None)
    c.check("/health is open without the key", status == 200 and isinstance(body, dict)
            and body.get("status") == "ok", "status %s body %s" % (status, short(body)))


def check_models(c, client, model):
    ids = [m.id for m in client.models.list().data]
    c.check("models.list holds %s" % model, model in ids, "ids %s" % ids)


def check_chat(c, client, model, state):
    r = chat(client, model, emotion={"joy": 2})
    text = r.choices[0].message.content
    finish = r.choices[0].finish_reason
    u = r.usage
    state["joy2"] = text
    state["joy2_usage"] = u
    print("   joy 2 text: %s" % short(text, 200))
    c.check("chat: object is chat.completion", r.object == "chat.completion", r.object)
    c.check("chat: content non-empty", isinstance(text, str) and text.strip() != "", short(text))
    c.check("chat: role is assistant", r.choices[0].message.role == "assistant",
            r.choices[0].message.role)
    c.check("chat: finish_reason in (stop, length)", finish in ("stop", "length"), str(finish))
    c.check("chat: usage present", u is not None)
    if u is not None:
        c.check("chat: completion_tokens in 1..24", 1 <= u.completion_tokens <= 24,
                "completion_tokens %d" % u.completion_tokens)
        c.check("chat: total_tokens = prompt_tokens + completion_tokens",
                u.total_tokens == u.prompt_tokens + u.completion_tokens,
                "%d = %d + %d" % (u.total_tokens, u.prompt_tokens, u.completion_tokens))
        c.check("chat: prompt_tokens > 0", u.prompt_tokens > 0, "prompt_tokens %d" % u.prompt_tokens)
        c.check("chat: finish_reason length only with completion_tokens == max_tokens",
                finish != "length" or u.completion_tokens == 24,
                "finish %s, completion_tokens %d" % (finish, u.completion_tokens))
    applied = r.to_dict().get("emotion")
    c.check("chat: response echoes the applied emotion {joy: 2}",
            isinstance(applied, dict) and applied.get("joy") == 2, "emotion %s" % (applied,))


def check_stream(c, client, model, state):
    text, finish, usage, objects, roles = stream_chat(client, model, emotion={"joy": 2})
    c.check("stream: chunks are chat.completion.chunk", objects == {"chat.completion.chunk"},
            "objects %s" % sorted(objects))
    c.check("stream: first delta has role assistant", roles[:1] == ["assistant"], "roles %s" % roles)
    c.check("stream: text equals the non-streaming text exactly", text == state.get("joy2"),
            "stream %s vs %s" % (short(text), short(state.get("joy2"))))
    c.check("stream: finish_reason in (stop, length)", finish in ("stop", "length"), str(finish))
    ref = state.get("joy2_usage")
    c.check("stream: usage chunk present with include_usage", usage is not None)
    if usage is not None and ref is not None:
        c.check("stream: usage equals the non-streaming usage",
                (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
                == (ref.prompt_tokens, ref.completion_tokens, ref.total_tokens),
                "stream %s vs %s" % ((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
                                     (ref.prompt_tokens, ref.completion_tokens, ref.total_tokens)))
    text2, _, usage2, _, _ = stream_chat(client, model, emotion={"joy": 2}, include_usage=False)
    c.check("stream without include_usage: same text, no usage chunk",
            text2 == state.get("joy2") and usage2 is None,
            "text %s, usage %s" % (short(text2), usage2))


def check_steering_effect(c, client, model, state):
    plain = chat_text(client, model)
    zero = chat_text(client, model, emotion={"joy": 0})
    print("   unsteered text: %s" % short(plain, 200))
    c.check("steering: joy 2 greedy text differs from the unsteered text", state.get("joy2") != plain,
            "both %s" % short(plain))
    c.check("steering: joy 0 greedy text equals the unsteered text exactly", zero == plain,
            "alpha 0 %s vs unsteered %s" % (short(zero), short(plain)))
    again = chat_text(client, model)
    c.check("steering: unsteered greedy text is reproducible", again == plain,
            "%s vs %s" % (short(again), short(plain)))
    state["plain"] = plain


def check_completions(c, client, model):
    kw = dict(model=model, prompt="Once upon a time, in a small village,", temperature=0,
              max_tokens=24, extra_body={"emotion": {"joy": 2}})
    r = client.completions.create(**kw)
    text = r.choices[0].text
    print("   completion text: %s" % short(text, 200))
    c.check("completions: object is text_completion", r.object == "text_completion", r.object)
    c.check("completions: text non-empty", isinstance(text, str) and text != "", short(text))
    c.check("completions: finish_reason in (stop, length)",
            r.choices[0].finish_reason in ("stop", "length"), str(r.choices[0].finish_reason))
    u = r.usage
    c.check("completions: usage consistent", u is not None and 1 <= u.completion_tokens <= 24
            and u.prompt_tokens > 0 and u.total_tokens == u.prompt_tokens + u.completion_tokens,
            "usage %s" % (u,))
    pieces, finish, usage = [], None, None
    for chunk in client.completions.create(stream=True, stream_options={"include_usage": True}, **kw):
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.text or "")
            if choice.finish_reason:
                finish = choice.finish_reason
    stext = "".join(pieces)
    c.check("completions stream: text equals the non-streaming text exactly", stext == text,
            "stream %s vs %s" % (short(stext), short(text)))
    c.check("completions stream: finish_reason matches", finish == r.choices[0].finish_reason,
            "%s vs %s" % (finish, r.choices[0].finish_reason))
    c.check("completions stream: usage equals the non-streaming usage",
            usage is not None and u is not None
            and (usage.prompt_tokens, usage.completion_tokens) == (u.prompt_tokens, u.completion_tokens),
            "stream %s vs %s" % (usage, u))


def check_prompt_cache(c, client, model):
    """cache_prompt (llama.cpp's field): a conversation's second turn takes the first turn's keys
    and values from the server's cache; OpenAI's usage counts them in prompt_tokens and in
    prompt_tokens_details.cached_tokens."""
    def ask(messages, cache):
        return client.chat.completions.create(model=model, messages=messages, temperature=0,
                                              max_tokens=12, extra_body={"cache_prompt": cache})

    first = [{"role": "user", "content": "What do you think of rainy days?"}]
    r1 = ask(first, True)
    d1 = r1.usage.prompt_tokens_details
    c.check("cache_prompt: a first turn takes nothing from the cache",
            d1 is not None and d1.cached_tokens == 0, str(d1))
    second = first + [{"role": "assistant", "content": r1.choices[0].message.content},
                      {"role": "user", "content": "Why?"}]
    r2 = ask(second, True)
    plain = ask(second, False)
    cached = r2.usage.prompt_tokens_details.cached_tokens
    c.check("cache_prompt: the second turn takes the first turn's prompt from the cache",
            cached >= r1.usage.prompt_tokens,
            "cached_tokens %d, first prompt %d" % (cached, r1.usage.prompt_tokens))
    c.check("cache_prompt: prompt_tokens counts the cached tokens too",
            r2.usage.prompt_tokens == plain.usage.prompt_tokens,
            "%d vs %d" % (r2.usage.prompt_tokens, plain.usage.prompt_tokens))
    c.check("without cache_prompt nothing comes from the cache",
            plain.usage.prompt_tokens_details.cached_tokens == 0,
            str(plain.usage.prompt_tokens_details))


def check_emotions(c, client, server, model, data_dir, state):
    status, body = raw(server, "GET", "/v1/emotions")
    ids = [e.get("id") for e in body.get("data", [])] if isinstance(body, dict) else []
    c.check("GET /v1/emotions: 200, object list", status == 200 and body.get("object") == "list",
            "status %s body %s" % (status, short(body, 200)))
    c.check("GET /v1/emotions lists %s" % ", ".join(SHIPPED), all(n in ids for n in SHIPPED),
            "ids %s" % ids)
    if isinstance(body, dict) and body.get("data"):
        e = body["data"][0]
        c.check("GET /v1/emotions: entries have object/site/n_layer/width/source",
                e.get("object") == "emotion" and isinstance(e.get("site"), str)
                and isinstance(e.get("n_layer"), int) and isinstance(e.get("width"), int)
                and isinstance(e.get("source"), str), short(e, 300))
    path = str(Path(data_dir) / "vectors" / model / "joy.gguf")
    status, body = raw(server, "POST", "/v1/emotions", {"path": path, "name": "joy2"})
    c.check("POST /v1/emotions {path: joy.gguf, name: joy2}: 200 with entry id joy2",
            status == 200 and isinstance(body, dict) and body.get("id") == "joy2"
            and body.get("object") == "emotion", "status %s body %s" % (status, short(body, 300)))
    status, body = raw(server, "GET", "/v1/emotions")
    ids = [e.get("id") for e in body.get("data", [])] if isinstance(body, dict) else []
    c.check("GET /v1/emotions now lists joy2", "joy2" in ids, "ids %s" % ids)
    status, body = raw(server, "POST", "/v1/emotions", {"path": path, "name": "joy2"})
    c.check("POST /v1/emotions with joy2 again: 409 with an error object",
            status == 409 and is_error_object(body), "status %s body %s" % (status, short(body, 300)))
    joy2_text = chat_text(client, model, emotion={"joy2": 2})
    joy_text = state.get("joy2") or chat_text(client, model, emotion={"joy": 2})
    c.check("chat with {joy2: 2} gives exactly the {joy: 2} text", joy2_text == joy_text,
            "joy2 %s vs joy %s" % (short(joy2_text), short(joy_text)))
    status, body = raw(server, "DELETE", "/v1/emotions/joy2")
    c.check("DELETE /v1/emotions/joy2: 200 {id: joy2, deleted: true}",
            status == 200 and isinstance(body, dict) and body.get("id") == "joy2"
            and body.get("deleted") is True, "status %s body %s" % (status, short(body, 300)))
    status, body = raw(server, "GET", "/v1/emotions")
    ids = [e.get("id") for e in body.get("data", [])] if isinstance(body, dict) else []
    c.check("GET /v1/emotions no longer lists joy2 (joy still there)",
            "joy2" not in ids and "joy" in ids, "ids %s" % ids)
    try:
        chat(client, model, emotion={"joy2": 1}, max_tokens=4)
        c.check("chat with the deleted {joy2: 1}: BadRequestError (400)", False, "the request succeeded")
    except openai.BadRequestError as e:
        c.check("chat with the deleted {joy2: 1}: BadRequestError (400)", e.status_code == 400,
                "status %s: %s" % (e.status_code, short(str(e), 200)))


LEAK_REQUESTS = [
    ("joy 2", {"joy": 2}, "Describe your favourite place to visit."),
    ("anger 2", {"anger": 2}, "What do you think about waiting in long queues at the bank?"),
    ("sadness 1.5 + fear 1", {"sadness": 1.5, "fear": 1}, "Tell me about the weather today."),
    ("unsteered", None, "Write a short note to a friend."),
]


def leak_request(client, model, index, stream=False):
    label, emotion, prompt = LEAK_REQUESTS[index]
    messages = [{"role": "user", "content": prompt}]
    if stream:
        return stream_chat(client, model, messages=messages, emotion=emotion, max_tokens=32)[0]
    return chat_text(client, model, messages=messages, emotion=emotion, max_tokens=32)


def concurrent_round(client, model, delays, streams):
    """Sends the LEAK_REQUESTS at once from threads (request i starts delays[i] s after the barrier)."""
    n = len(LEAK_REQUESTS)
    results, errors = [None] * n, [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        barrier.wait()
        time.sleep(delays[i])
        try:
            results[i] = leak_request(client, model, i, stream=streams[i])
        except Exception as e:
            errors[i] = "%s: %s" % (type(e).__name__, e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def check_no_leak(c, client, model):
    alone, times = [], []
    for i, (label, _, _) in enumerate(LEAK_REQUESTS):
        t0 = time.time()
        alone.append(leak_request(client, model, i))
        times.append(time.time() - t0)
        print("   alone %-22s %.2f s  %s" % (label, times[-1], short(alone[-1], 120)))
    c.check("no-leak: the 4 alone texts are non-empty", all(t for t in alone))
    stagger = max(0.05, sorted(times)[len(times) // 2] / 4)  # later requests join a running batch
    rounds = [
        ("round 1 (all at once)", [0.0] * 4, [False] * 4),
        ("round 2 (staggered starts, %.2f s apart)" % stagger, [i * stagger for i in range(4)],
         [False] * 4),
        ("round 3 (all at once, two streaming)", [0.0] * 4, [True, False, True, False]),
    ]
    for name, delays, streams in rounds:
        results, errors = concurrent_round(client, model, delays, streams)
        for i, (label, _, _) in enumerate(LEAK_REQUESTS):
            if errors[i]:
                c.check("no-leak %s: %s completed" % (name, label), False, errors[i])
            else:
                c.check("no-leak %s: %s text equals its alone text" % (name, label),
                        results[i] == alone[i],
                        "concurrent %s vs alone %s" % (short(results[i], 150), short(alone[i], 150)))


def main():
    ap = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    args = ap.parse_args()

    t_start = time.time()
    server = EmovecServer(args.emovec, args.model,
                          ["--parallel", "4", "-t", "2", "--api-key", API_KEY],
                          env={"EMOVEC_DATA_DIR": args.data_dir})
    c = Checks()
    try:
        if not start_server(server):
            return 2
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0,
                               timeout=120)
        state = {}
        c.section("authentication", check_auth, c, server, args.model)
        c.section("models", check_models, c, client, args.model)
        c.section("chat completion (joy 2, greedy, max_tokens 24)", check_chat, c, client,
                  args.model, state)
        c.section("streaming chat completion", check_stream, c, client, args.model, state)
        c.section("steering changes the text; alpha 0 does not", check_steering_effect, c, client,
                  args.model, state)
        c.section("/v1/completions", check_completions, c, client, args.model)
        c.section("prompt cache", check_prompt_cache, c, client, args.model)
        c.section("emotions endpoints", check_emotions, c, client, server, args.model,
                  args.data_dir, state)
        c.section("no leak between concurrent requests", check_no_leak, c, client, args.model)
        c.check("server still running at the end", server.alive())
    finally:
        stop_server(server)
    return c.report(t_start)


if __name__ == "__main__":
    sys.exit(main())
