#!/usr/bin/env python3
"""Sends bad, hostile and excessive requests to `emovec serve` over raw HTTP and checks the answers.

Usage: server_bad_input.py --emovec PATH/TO/emovec [--model smollm2-135m-instruct] [--data-dir DIR]

Starts its own server (`--parallel 2 --max-queue 2 --max-body-bytes 65536 --ctx 512 -t 2`) and
checks that every bad request (malformed or mistyped JSON, bad emotions and alphas, bad sampling
fields, prompts past the context, unknown routes, oversized bodies, bad vector files, bytes that are
not UTF-8, malformed HTTP) gets the right status (400/404/405/409/413) with an OpenAI-style error
object {"error": {"message": non-empty string, "type": string, ...}}; that replies cut inside a
multi-byte character are still valid JSON; that clients which disconnect mid-stream (or give up on
a non-streaming request while it decodes) free their slot at once, and that an HTTP/1.0 client gets
a non-streaming reply with a Content-Length; that a burst of long streaming requests past
--parallel + --max-queue is answered with 429s while the accepted ones complete (no 5xx, no reset);
and that afterwards the server is alive, healthy and answers a normal request.
A request that kills the server is reported (with the end of its stderr) and a new server is
started so that the remaining cases still run; the run then fails ("the server never died").
Prints every check; exits 0 only if all held, 1 otherwise (naming the failed checks), 2 if the
server did not start.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emovec_server  # noqa: E402
from emovec_server import EmovecServer, common_arguments, start_server, stop_server  # noqa: E402

SERVER_ARGS = ["--parallel", "2", "--max-queue", "2", "--max-body-bytes", "65536", "--ctx", "512",
               "-t", "2"]
CHAT = "/v1/chat/completions"
DROP = object()  # an override value that removes the field
RESTARTS = []  # servers started after one died


class Checks(emovec_server.Checks):
    """The shared checks, plus the error replies that were not application/json; after each
    section, if the server died in it, says so and starts a new one."""

    def __init__(self, server):
        super().__init__()
        self.server = server
        self.non_json_errors = []

    def after_section(self, name):
        if not self.server.alive():
            self.check("server still running after \"%s\"" % name, False, died(self.server))
            restart(self.server)


def died(server):
    """What a dead server left: its exit status and the end of its stderr."""
    time.sleep(0.3)
    code = server.process.returncode if server.process is not None else None
    return "the server exited with %s; its stderr ends:\n%s" % (
        code, "".join("      | " + line for line in server.log[-6:]))


def restart(server):
    """Starts a new server process in place of a dead one (same command), so later cases still run."""
    emovec, _, _, model, _, _, *args = server.command
    server.stop()
    server.__init__(emovec, model, args, env=server.env)
    server.start()
    RESTARTS.append(server.url)
    print("   (started a new server: %s)" % server.url, flush=True)


def short(value, n=160):
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def encode(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def request(server, method, path, body=None, timeout=120):
    """(status, headers dict with lower-case names, body bytes) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        data = encode(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        payload = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, payload
    finally:
        conn.close()


def parse_json(payload):
    try:
        return json.loads(payload)
    except ValueError:
        return None


def error_object_problem(payload):
    """None if payload is an OpenAI-style error object, else what is wrong with it."""
    body = parse_json(payload)
    if body is None:
        return "body is not JSON: %s" % short(payload)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return "no error object: %s" % short(body)
    err = body["error"]
    if not isinstance(err.get("message"), str) or not err["message"]:
        return "error.message is not a non-empty string: %s" % short(body)
    if not isinstance(err.get("type"), str):
        return "error.type is not a string: %s" % short(body)
    return None


def expect_error(c, name, status, headers, payload, want, mention=None):
    """Checks the status is in want and the body an error object (that names mention, if given)."""
    want = (want,) if isinstance(want, int) else tuple(want)
    problem = error_object_problem(payload)
    detail = "status %s, body %s" % (status, short(payload.decode("utf-8", "replace"), 300))
    ok = status in want and problem is None
    if ok and mention is not None:
        message = parse_json(payload)["error"]["message"]
        ok = mention in message
        if not ok:
            detail += "; message does not name %r" % mention
    elif problem and status in want:
        detail += "; " + problem
    if not headers.get("content-type", "").startswith("application/json"):
        c.non_json_errors.append("%s: Content-Type %r" % (name, headers.get("content-type")))
    c.check("%s -> %s with an error object" % (name, "/".join(map(str, want))), ok, detail)


def chat_body(model, **overrides):
    body = {"model": model, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}
    for key, value in overrides.items():
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def raw_json_chat(model, tail):
    """A chat body as raw text with `tail` (raw JSON members) appended, e.g. '"emotion":{"joy":NaN}'."""
    return ('{"model":%s,"messages":[{"role":"user","content":"Say hi."}],"max_tokens":4,%s}'
            % (json.dumps(model), tail))


def raw_request(server, method, path, body=None, timeout=60):
    """(status, headers, body) of a request sent as raw bytes (path may hold any bytes; with
    method None, path is the whole request)."""
    data = encode(body) or b""
    head = (method.encode() + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(data)).encode()
            + b"\r\nConnection: close\r\n\r\n") if method is not None else path
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        sock.sendall(head + data)
        return read_http_response(sock, time.time() + timeout)
    finally:
        sock.close()


NOT_UTF8 = [  # requests holding bytes that are not UTF-8 (they must be refused, not crash the server)
    ("a message content with bytes 0x80 0xff (not UTF-8)", "POST", CHAT,
     b'{"messages":[{"role":"user","content":"hi \x80\xff there"}],"max_tokens":4}', 400),
    ("an emotion name with byte 0x80 (not UTF-8)", "POST", CHAT,
     b'{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"emotion":{"\x80":1}}', 400),
    ("a /v1/completions prompt ending in a cut UTF-8 sequence (0xc3)", "POST", "/v1/completions",
     b'{"prompt":"hi \xc3","max_tokens":4}', 400),
    ("a POST /v1/emotions path with byte 0xff (not UTF-8)", "POST", "/v1/emotions",
     b'{"path":"/tmp/\xff.gguf"}', 400),
    ("GET of a URL path with bytes 0x80 0xff", "GET", b"/v1/\x80\xff", None, (400, 404)),
    ("DELETE /v1/emotions/<byte 0xff>", "DELETE", b"/v1/emotions/\xff", None, (400, 404)),
    ("DELETE /v1/emotions/%FF%FE (percent-encoded, not UTF-8)", "DELETE", b"/v1/emotions/%FF%FE",
     None, (400, 404)),
    # malformed HTTP
    ("a request line of binary garbage", None, b"\x00\x01\x02 hello\r\n\r\n", None, 400),
    ("a 100 KB header line", None, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000
     + b"\r\nConnection: close\r\n\r\n", None, (400, 413, 431)),
]


def check_not_utf8(c, server, model):
    for name, method, path, body, want in NOT_UTF8:
        want = (want,) if isinstance(want, int) else want
        label = "%s -> %s with an error object" % (name, "/".join(map(str, want)))
        try:
            status, headers, payload = raw_request(server, method, path if isinstance(path, bytes)
                                                   else path.encode(), body, timeout=30)
        except Exception as e:
            time.sleep(0.5)
            alive = server.alive()
            c.check(label, False, "%s: %s; request %s %r %r; %s" % (
                type(e).__name__, e, method, path[:200], body, "server still running" if alive
                else died(server)))
            if not alive:
                restart(server)
            continue
        expect_error(c, name, status, headers, payload, want)
        time.sleep(0.2)
        if not server.alive():
            c.check("server still running after: %s" % name, False, died(server))
            restart(server)


def check_cut_characters(c, server, model):
    """Replies cut inside a multi-byte character (emoji, max_tokens 1..5): valid JSON, no crash,
    streaming gives the same text."""
    for max_tokens in (1, 2, 3, 5):
        texts = []
        for stream in (False, True):
            body = chat_body(model, max_tokens=max_tokens, temperature=0, stream=stream,
                             messages=[{"role": "user", "content": "Reply only with emojis: happy "
                                        "faces, hearts and stars."}])
            status, _, payload = request(server, "POST", CHAT, body)
            text = None
            if status == 200:
                try:
                    text = payload.decode("utf-8")
                    if stream:
                        pieces = []
                        for e in text.split("\n\n"):
                            if e.startswith("data: {"):
                                for ch in json.loads(e[len("data: "):]).get("choices") or []:
                                    pieces.append((ch.get("delta") or {}).get("content") or "")
                        text = "".join(pieces)
                    else:
                        text = json.loads(text)["choices"][0]["message"]["content"]
                except (ValueError, KeyError, IndexError) as e:
                    text = None
                    payload = b"%s: %s" % (type(e).__name__.encode(), payload[:300])
            c.check("emoji reply cut at max_tokens %d (%s): 200 with valid UTF-8 JSON"
                    % (max_tokens, "stream" if stream else "plain"), text is not None,
                    "status %s, body %s" % (status, short(payload)) if text is None else repr(text))
            texts.append(text)
            if not server.alive():
                return
        c.check("emoji reply cut at max_tokens %d: streaming text equals the plain text" % max_tokens,
                texts[0] == texts[1], "%r vs %r" % tuple(texts))


def check_bad_requests(c, server, model, data_dir):
    m = model
    cases = [
        ("malformed JSON", "POST", CHAT, '{"model": "x", "messages": [', 400, None),
        ("empty body", "POST", CHAT, "", 400, None),
        ("body is a JSON array", "POST", CHAT, [1, 2, 3], 400, None),
        ("body is a JSON string", "POST", CHAT, '"hello"', 400, None),
        ("missing messages", "POST", CHAT, chat_body(m, messages=DROP), 400, None),
        ("messages is a string", "POST", CHAT, chat_body(m, messages="hello"), 400, None),
        ("messages is an object", "POST", CHAT, chat_body(m, messages={"role": "user"}), 400, None),
        ("messages is an empty list", "POST", CHAT, chat_body(m, messages=[]), 400, None),
        ("message is a string", "POST", CHAT, chat_body(m, messages=["hello"]), 400, None),
        ("message without role", "POST", CHAT, chat_body(m, messages=[{"content": "hi"}]), 400, None),
        ("message with numeric content", "POST", CHAT,
         chat_body(m, messages=[{"role": "user", "content": 42}]), 400, None),
        ("message with object content", "POST", CHAT,
         chat_body(m, messages=[{"role": "user", "content": {"text": "hi"}}]), 400, None),
        ("unknown role", "POST", CHAT,
         chat_body(m, messages=[{"role": "wizard", "content": "hi"}]), 400, None),
        ("temperature is a string", "POST", CHAT, chat_body(m, temperature="hot"), 400, None),
        ("max_tokens is a string", "POST", CHAT, chat_body(m, max_tokens="ten"), 400, None),
        ("max_tokens is a float", "POST", CHAT, chat_body(m, max_tokens=4.5), 400, None),
        ("stream is a string", "POST", CHAT, chat_body(m, stream="yes"), 400, None),
        ("cache_prompt is a string", "POST", CHAT, chat_body(m, cache_prompt="yes"), 400,
         "cache_prompt"),
        ("unknown emotion name", "POST", CHAT, chat_body(m, emotion={"euphoria": 1}), 400, "euphoria"),
        ("emotion is a string", "POST", CHAT, chat_body(m, emotion="joy"), 400, None),
        ("emotion is a list", "POST", CHAT, chat_body(m, emotion=["joy", 1]), 400, None),
        ("alpha is a string", "POST", CHAT, chat_body(m, emotion={"joy": "2"}), 400, None),
        ("alpha is null", "POST", CHAT, chat_body(m, emotion={"joy": None}), 400, None),
        ("alpha NaN (raw text)", "POST", CHAT, raw_json_chat(m, '"emotion":{"joy":NaN}'), 400, None),
        ("alpha Infinity (raw text)", "POST", CHAT,
         raw_json_chat(m, '"emotion":{"joy":Infinity}'), 400, None),
        ("alpha -Infinity (raw text)", "POST", CHAT,
         raw_json_chat(m, '"emotion":{"joy":-Infinity}'), 400, None),
        ("alpha 1e999 (overflows a double)", "POST", CHAT,
         raw_json_chat(m, '"emotion":{"joy":1e999}'), 400, None),
        ("alpha 1e9", "POST", CHAT, chat_body(m, emotion={"joy": 1e9}), 400, None),
        ("alpha -101", "POST", CHAT, chat_body(m, emotion={"joy": -101}), 400, None),
        ("max_tokens -1", "POST", CHAT, chat_body(m, max_tokens=-1), 400, None),
        ("max_tokens 10**9", "POST", CHAT, chat_body(m, max_tokens=10 ** 9), 400, None),
        ("prompt longer than the context (20k characters)", "POST", CHAT,
         chat_body(m, messages=[{"role": "user", "content": "tell me a story " * 1250}]), 400, None),
        ("n = 2", "POST", CHAT, chat_body(m, n=2), 400, None),
        ("steering layers out of range [0, 99]", "POST", CHAT,
         chat_body(m, emotion={"joy": 1}, steering={"layers": [0, 99]}), 400, None),
        ("steering layers negative [-3, 5]", "POST", CHAT,
         chat_body(m, emotion={"joy": 1}, steering={"layers": [-3, 5]}), 400, None),
        ("steering positions \"sideways\"", "POST", CHAT,
         chat_body(m, emotion={"joy": 1}, steering={"positions": "sideways"}), 400, None),
        ("completions: missing prompt", "POST", "/v1/completions",
         {"model": m, "max_tokens": 4}, 400, None),
        ("completions: unknown emotion name", "POST", "/v1/completions",
         {"model": m, "prompt": "Hello", "max_tokens": 4, "emotion": {"euphoria": 1}}, 400,
         "euphoria"),
        ("unknown route GET /v1/nope", "GET", "/v1/nope", None, 404, None),
        ("unknown route POST /v1/nope", "POST", "/v1/nope", chat_body(m), 404, None),
        ("unknown route GET /nope", "GET", "/nope", None, 404, None),
        ("wrong method GET /v1/chat/completions", "GET", CHAT, None, (404, 405), None),
        ("wrong method PUT /v1/models", "PUT", "/v1/models", "{}", (404, 405), None),
        ("DELETE unknown emotion", "DELETE", "/v1/emotions/no_such_emotion", None, 404, None),
        ("POST /v1/emotions with a missing file", "POST", "/v1/emotions",
         {"path": "/nonexistent/dir/none.gguf", "name": "ghost"}, 400, None),
        ("POST /v1/emotions without path", "POST", "/v1/emotions", {"name": "ghost"}, 400, None),
        ("JSON arrays nested 30000 deep", "POST", CHAT, "[" * 30000 + "]" * 30000, 400, None),
        ("JSON objects nested 10000 deep", "POST", CHAT, '{"a":' * 10000 + "1" + "}" * 10000, 400,
         None),
        ("a content part of type image_url", "POST", CHAT, chat_body(m, messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]), 400, None),
        ("stop is a number", "POST", CHAT, chat_body(m, stop=5), 400, None),
    ]
    tmp = tempfile.TemporaryDirectory()
    files = {
        # plain text, then binary bytes that are not UTF-8 (the refusal message must still be
        # valid JSON), then the GGUF magic followed by nonsense
        "text.gguf": b"this is not a GGUF file\n" * 100,
        "binary.gguf": bytes((i * 37 + 128) % 256 for i in range(4096)),
        "fake.gguf": b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64,
        "binary.json": b"\x80\xfe{\"0\": [[\xff\xfe]]}",
    }
    for fname, content in files.items():
        (Path(tmp.name) / fname).write_bytes(content)
    cases += [
        ("POST /v1/emotions with a non-GGUF text file", "POST", "/v1/emotions",
         {"path": str(Path(tmp.name) / "text.gguf"), "name": "garbage1"}, 400, None),
        ("POST /v1/emotions with a non-GGUF binary file (bytes 0x80, 0xa5, ...: not UTF-8)", "POST",
         "/v1/emotions", {"path": str(Path(tmp.name) / "binary.gguf"), "name": "garbage2"}, 400, None),
        ("POST /v1/emotions with the GGUF magic then nonsense", "POST", "/v1/emotions",
         {"path": str(Path(tmp.name) / "fake.gguf"), "name": "garbage3"}, 400, None),
        ("POST /v1/emotions with a .json file of non-UTF-8 bytes", "POST", "/v1/emotions",
         {"path": str(Path(tmp.name) / "binary.json"), "name": "garbage4"}, 400, None),
        ("POST /v1/emotions with a directory", "POST", "/v1/emotions",
         {"path": tmp.name, "name": "garbage5"}, 400, None),
    ]
    joy = Path(data_dir) / "vectors" / model / "joy.gguf"
    if joy.exists():
        cases.append(("POST /v1/emotions under an already loaded name (joy)", "POST", "/v1/emotions",
                      {"path": str(joy), "name": "joy"}, 409, None))
    try:
        for name, method, path, body, want, mention in cases:
            try:
                status, headers, payload = request(server, method, path, body)
            except Exception as e:
                time.sleep(0.3)
                alive = server.alive()
                c.check("%s -> %s with an error object" % (name, want), False,
                        "%s: %s; request %s %s %s; %s" % (
                            type(e).__name__, e, method, path, short(encode(body), 300),
                            "server still running" if alive else died(server)))
                if not alive:
                    restart(server)
                continue
            expect_error(c, name, status, headers, payload, want, mention)
    finally:
        tmp.cleanup()


def read_http_response(sock, deadline):
    """(status, headers, body) read from a socket until the body (per Content-Length) or EOF."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.1, deadline - time.time()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise RuntimeError("no HTTP response, got %s" % short(buf))
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        sock.settimeout(max(0.1, deadline - time.time()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def send_raw(server, path, data):
    """(status, headers, body, send error) of a POST sent over a raw socket; the server may answer
    before it has read the whole body, so the answer is read even if sending fails."""
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (path, len(data))).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    send_error = None
    try:
        try:
            sock.sendall(head + data)
        except OSError as e:
            send_error = "%s: %s" % (type(e).__name__, e)
        status, headers, payload = read_http_response(sock, time.time() + 30)
        return status, headers, payload, send_error
    finally:
        sock.close()


def check_oversized_body(c, server, model):
    # valid JSON over --max-body-bytes 65536 (with a prompt far past the context, so a server that
    # ignored the limit would answer 400, not 413)
    for name, size in (("oversized body (200 KB)", 200_000), ("body just over the limit (66 KB)", 66_000)):
        data = encode(chat_body(model, messages=[{"role": "user", "content": "x" * size}]))
        try:
            status, headers, payload, send_error = send_raw(server, CHAT, data)
        except (OSError, RuntimeError) as e:
            c.check("%s -> 413 with an error object" % name, False,
                    "no response could be read (%s: %s)" % (type(e).__name__, e))
            continue
        print("   %s: sending %d bytes %s" % (name, len(data), send_error or "completed"))
        expect_error(c, name, status, headers, payload, 413)
    # just under the limit is not refused for its size (it is a valid request)
    data = encode(chat_body(model, max_tokens=2, messages=[{"role": "user", "content": "Say hi." + " " * 60_000}]))
    status, headers, payload, _ = send_raw(server, CHAT, data)
    c.check("body just under the limit (%d bytes) is not 413" % len(data), status != 413,
            "status %s, body %s" % (status, short(payload)))


def health(server):
    status, _, payload = request(server, "GET", "/health", timeout=10)
    return status, parse_json(payload)


def wait_idle(server, limit):
    """Seconds until /health says active == 0 and queued == 0 (None if not within limit s)."""
    t0 = time.time()
    while time.time() - t0 < limit:
        status, body = health(server)
        if status == 200 and isinstance(body, dict) and body.get("active") == 0 \
                and body.get("queued") == 0:
            return time.time() - t0
        time.sleep(0.02)
    return None


def open_stream(server, body):
    """A raw socket with a streaming chat request sent and the response headers read."""
    data = encode(body)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\n\r\n" % (CHAT, len(data))).encode() + data)
    return sock


def read_events(sock, count, buf=b""):
    """Reads until the response headers and `count` SSE events arrived; returns (status, events)."""
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            events = [e for e in rest.split(b"\n\n")[:-1] if e.strip()]
            if len(events) >= count or not head.startswith(b"HTTP/1.1 200"):
                return int(head.split()[1]), events
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed early, got %s" % short(buf))
        buf += chunk


def timed_chat(server, model, max_tokens=8):
    t0 = time.time()
    status, _, payload = request(server, "POST", CHAT,
                                 chat_body(model, max_tokens=max_tokens, temperature=0), timeout=60)
    body = parse_json(payload)
    ok = status == 200 and isinstance(body, dict) and body.get("choices")
    return ok, time.time() - t0, status, payload


def decode_rate(server, model):
    """Completion tokens per second of one greedy request of 64 tokens (ignore_eos)."""
    t0 = time.time()
    status, _, payload = request(server, "POST", CHAT, chat_body(
        model, max_tokens=64, temperature=0, ignore_eos=True,
        messages=[{"role": "user", "content": "Write a long story about a dragon."}]))
    body = parse_json(payload) or {}
    tokens = (body.get("usage") or {}).get("completion_tokens", 0)
    return tokens / max(1e-6, time.time() - t0), status


def check_disconnects(c, server, model):
    rate, status = decode_rate(server, model)
    c.check("reference request (64 tokens) succeeded", status == 200, "status %s" % status)
    rate = max(rate, 1.0)
    long_req = chat_body(model, max_tokens=400, temperature=0, stream=True, ignore_eos=True,
                         messages=[{"role": "user", "content": "Write a long story about a dragon."}])
    # a leaked 400-token generation would run about 398 / rate s more; freed means well before that
    limit = max(1.0, min(3.0, 0.4 * 398 / rate))
    print("   decode rate alone: %.0f tokens/s; a freed slot must show in /health within %.1f s"
          % (rate, limit))

    def after_close(name, t_close):
        idle = wait_idle(server, 15)
        c.check("%s: slots freed promptly (/health active 0, queued 0)" % name,
                idle is not None and idle <= limit,
                "idle after %s s (limit %.1f s)" % ("%.2f" % idle if idle is not None else ">15", limit))
        c.check("%s: server still alive" % name, server.alive())
        ok, took, st, payload = timed_chat(server, model)
        c.check("%s: a following request completes promptly" % name, ok and took < 10,
                "status %s in %.2f s (%.2f s after the close)%s" % (
                    st, took, time.time() - t_close, "" if ok else ", body " + short(payload)))

    def scenario(name, n_streams, events_to_read):
        socks = [open_stream(server, long_req) for _ in range(n_streams)]
        statuses = []
        try:
            for s in socks:
                if events_to_read:
                    statuses.append(read_events(s, events_to_read)[0])
        finally:
            for s in socks:
                s.close()
        t_close = time.time()
        if events_to_read:
            c.check("%s: streams started (200)" % name, statuses == [200] * n_streams,
                    "statuses %s" % statuses)
        after_close(name, t_close)

    scenario("disconnect after 2 chunks", 1, 2)
    scenario("2 streams (all slots) disconnect after 1 chunk", 2, 1)
    scenario("disconnect right after sending the request", 1, 0)

    # A non-streaming request whose client gives up (a client-side timeout) while it decodes:
    # closed once /health shows it has made at least 8 tokens.
    name = "non-streaming request, client gone while it decodes"
    made_before = (health(server)[1] or {}).get("tokens_generated", 0)
    sock = open_stream(server, dict(long_req, stream=False))
    t0 = time.time()
    decoding, body = False, None
    while time.time() - t0 < 10 and not decoding:
        status, body = health(server)
        decoding = status == 200 and isinstance(body, dict) and body.get("active") == 1 \
            and body.get("tokens_generated", 0) >= made_before + 8
        time.sleep(0.02)
    sock.close()
    c.check("%s: the request was decoding" % name, decoding, "health %s" % body)
    after_close(name, time.time())

    # An HTTP/1.0 client may not read a chunked body: its non-streaming reply comes whole, with
    # a Content-Length.
    data = encode(chat_body(model, max_tokens=8, temperature=0))
    status, headers, payload = raw_request(
        server, None, ("POST %s HTTP/1.0\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n" % (CHAT, len(data))).encode() + data)
    body = parse_json(payload)
    c.check("HTTP/1.0 non-streaming request: 200 with Content-Length, not chunked, the whole JSON",
            status == 200 and "transfer-encoding" not in headers
            and headers.get("content-length") == str(len(payload))
            and isinstance(body, dict) and bool(body.get("choices")),
            "status %s, headers %s, body %s" % (status, headers, short(payload)))


def check_overload(c, server, model):
    n = 8
    body = chat_body(model, max_tokens=200, temperature=0, stream=True, ignore_eos=True,
                     stream_options={"include_usage": True},
                     messages=[{"role": "user", "content": "Write a long story about a dragon."}])
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        barrier.wait()
        t0 = time.time()
        try:
            status, headers, payload = request(server, "POST", CHAT, body, timeout=120)
            results[i] = ("ok", status, headers, payload, time.time() - t0)
        except Exception as e:
            results[i] = ("exception", "%s: %s" % (type(e).__name__, e), None, None, time.time() - t0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    accepted = rejected = 0
    for i, (kind, status, headers, payload, took) in enumerate(results):
        name = "burst request %d" % (i + 1)
        if kind == "exception":
            c.check("%s: answered (no connection error)" % name, False, status)
            continue
        if status == 429:
            rejected += 1
            expect_error(c, "%s (rejected after %.2f s)" % (name, took), status, headers, payload, 429)
            err = (parse_json(payload) or {}).get("error") or {}
            if err.get("type") != "rate_limit_error":
                print("   note: %s: 429 error type is %r (contract: rate_limit_error)"
                      % (name, err.get("type")))
            continue
        if status != 200:
            c.check("%s: status 200 or 429" % name, False,
                    "status %s, body %s" % (status, short(payload, 300)))
            continue
        accepted += 1
        text = payload.decode("utf-8", "replace")
        events = [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]
        finish, usage = None, None
        for e in events[:-1]:
            chunk = parse_json(e) or {}
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                finish = choice.get("finish_reason") or finish
        c.check("%s (accepted): stream completed with finish_reason and [DONE] in %.1f s"
                % (name, took), bool(events) and events[-1].strip() == "[DONE]" and finish is not None,
                "finish %s, completion_tokens %s, last event %s" % (
                    finish, (usage or {}).get("completion_tokens"), short(events[-1:] or text)))
    print("   burst of %d: %d accepted, %d rejected with 429" % (n, accepted, rejected))
    c.check("burst: some requests rejected with 429", rejected >= 1, "%d rejected" % rejected)
    c.check("burst: at least --parallel (2) requests accepted", accepted >= 2, "%d accepted" % accepted)
    c.check("burst: at most --parallel + --max-queue (4) requests accepted", accepted <= 4,
            "%d accepted" % accepted)
    idle = wait_idle(server, 15)
    c.check("burst: server idle afterwards", idle is not None,
            "idle after %s s" % ("%.2f" % idle if idle is not None else ">15"))


def check_final(c, server, model):
    status, body = health(server)
    c.check("GET /health is 200 with status ok", status == 200 and isinstance(body, dict)
            and body.get("status") == "ok", "status %s body %s" % (status, short(body)))
    status, _, payload = request(server, "POST", CHAT, chat_body(model, max_tokens=16, temperature=0))
    body = parse_json(payload) or {}
    content = ((body.get("choices") or [{}])[0].get("message") or {}).get("content")
    c.check("a normal chat request succeeds", status == 200 and isinstance(content, str) and content,
            "status %s, content %s" % (status, short(content if status == 200 else payload)))
    c.check("server process still alive", server.alive())


def check_port_in_use(c, server, model, emovec, data_dir):
    """A second server on the port the first one holds fails with a clear error (it must not
    bind the port too and share its connections)."""
    run = subprocess.run([emovec, "serve", "-m", model, "--port", str(server.port), "-t", "1"],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, EMOVEC_DATA_DIR=data_dir))
    c.check("a second server on the same port exits with an error", run.returncode != 0,
            "exit %d" % run.returncode)
    c.check("... naming the port", ("cannot listen on 127.0.0.1:%d" % server.port) in run.stderr,
            short(run.stderr))
    c.check("... and the first server still answers", health(server)[0] == 200)


def main():
    ap = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    args = ap.parse_args()

    t_start = time.time()
    server = EmovecServer(args.emovec, args.model, SERVER_ARGS, env={"EMOVEC_DATA_DIR": args.data_dir})
    c = Checks(server)
    try:
        if not start_server(server):
            return 2
        sections = [
            ("bad requests", check_bad_requests, (c, server, args.model, args.data_dir)),
            ("bytes that are not UTF-8, malformed HTTP", check_not_utf8, (c, server, args.model)),
            ("oversized body", check_oversized_body, (c, server, args.model)),
            ("replies cut inside a character", check_cut_characters, (c, server, args.model)),
            ("clients that disconnect", check_disconnects, (c, server, args.model)),
            ("too many concurrent requests", check_overload, (c, server, args.model)),
            ("port in use", check_port_in_use,
             (c, server, args.model, args.emovec, args.data_dir)),
            ("after all cases", check_final, (c, server, args.model)),
        ]
        for name, fn, fn_args in sections:
            c.section(name, fn, *fn_args)
            if name == "oversized body":
                c.check("error responses are application/json", not c.non_json_errors,
                        "; ".join(c.non_json_errors))
        c.check("the server never died (one process served every case)", not RESTARTS,
                "%d new servers had to be started" % len(RESTARTS))
    finally:
        stop_server(server)
    return c.report(t_start)


if __name__ == "__main__":
    sys.exit(main())
