#!/usr/bin/env python3
"""A bounded load test of `emovec serve` (a benchmark, not a unit test): prints a table.

Usage: server_load.py --emovec PATH/TO/emovec [--model smollm2-135m-instruct] [--requests 320]
                      [--clients 32] [--parallel 8] [--threads 2] [--server-args "..."] [--json OUT]

Starts its own server (`--parallel 8 -t 2` unless overridden) on a free port.
Phase A (mixed load): --clients threads send --requests chat requests in all: short prompts from a
  built-in list, random mixes of the loaded emotions with alphas in [-1, 2], temperature 0.7, a
  seed per request, max_tokens 32, half of them streaming. Reports failures (must be 0), latency
  p50/p90/p99, aggregate completion tokens/s, and the server's RSS sampled every 0.5 s (median of
  the first quarter of the samples vs the last quarter, and the maximum).
Phase B (batching): aggregate decode throughput, greedy, max_tokens 128 with ignore_eos, of one
  request at a time (3 times) vs 8 concurrent requests (3 times): medians and their ratio
  (target >= 3x).
Exits 1 if any request failed (or the server died), 2 if the server did not start, else 0; a
missed throughput target or an unstable RSS is reported, not an error.
"""
import argparse
import http.client
import json
import os
import queue
import random
import shlex
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "py"))
from emovec_server import EmovecServer, common_arguments, start_server, stop_server  # noqa: E402

PROMPTS = [
    "How was your weekend?",
    "Tell me about the weather today.",
    "What do you think of cats?",
    "Describe your favourite food.",
    "Write one sentence about the sea.",
    "What should I do this evening?",
    "How do you feel about Mondays?",
    "Give me a tip for learning to cook.",
    "What is a good name for a dog?",
    "Tell me about a city you like.",
    "My train was late again this morning.",
    "I just got a new job!",
    "Summarise your day in a few words.",
    "What is your opinion of rainy days?",
    "Suggest a gift for a friend.",
    "Why do people like music?",
]
LONG_PROMPT = "Write a long, detailed story about a dragon who learns to bake bread."


def percentile(values, p):
    """The p-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def send(port, path, body, timeout):
    """One request on a new connection. Returns a dict: ok, status, latency, ttft (streaming: until
    the first chunk with text), completion_tokens, finish, error (what went wrong, if anything)."""
    out = {"ok": False, "status": None, "latency": None, "ttft": None, "completion_tokens": 0,
           "finish": None, "error": None}
    data = json.dumps(body).encode()
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        out["status"] = r.status
        if r.status != 200:
            payload = r.read()
            out["latency"] = time.perf_counter() - t0
            out["error"] = "status %d: %s" % (r.status, payload[:300].decode("utf-8", "replace"))
            return out
        usage = None
        if body.get("stream"):
            done = False
            while True:
                line = r.readline()
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data: "):
                    continue
                event = line[len(b"data: "):]
                if event == b"[DONE]":
                    done = True
                    continue
                chunk = json.loads(event)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content") or choice.get("text")
                    if piece and out["ttft"] is None:
                        out["ttft"] = time.perf_counter() - t0
                    out["finish"] = choice.get("finish_reason") or out["finish"]
            out["latency"] = time.perf_counter() - t0
            if not done:
                out["error"] = "the stream did not end with data: [DONE]"
                return out
        else:
            obj = json.loads(r.read())
            out["latency"] = time.perf_counter() - t0
            usage = obj.get("usage")
            out["finish"] = obj["choices"][0].get("finish_reason")
        if not usage or "completion_tokens" not in usage:
            out["error"] = "no usage in the response"
            return out
        if out["finish"] not in ("stop", "length"):
            out["error"] = "finish_reason %r" % (out["finish"],)
            return out
        out["completion_tokens"] = usage["completion_tokens"]
        out["ok"] = True
        return out
    except Exception as e:  # a connection error, a timeout, bad JSON: a failed request
        out["latency"] = time.perf_counter() - t0
        out["error"] = "%s: %s" % (type(e).__name__, e)
        return out
    finally:
        conn.close()


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (from /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def get_json(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


class RssSampler(threading.Thread):
    def __init__(self, server, period=0.5):
        super().__init__(daemon=True)
        self.server, self.period = server, period
        self.samples = []  # (seconds since start, KiB)
        self._halt = threading.Event()

    def run(self):
        t0 = time.perf_counter()
        while not self._halt.is_set():
            try:
                self.samples.append((time.perf_counter() - t0, self.server.rss_kib()))
            except Exception:
                pass
            self._halt.wait(self.period)

    def stop(self):
        self._halt.set()
        self.join()


def phase_a(server, model, emotions, args):
    rng = random.Random(args.seed)
    jobs = queue.Queue()
    for i in range(args.requests):
        mix = {}
        if emotions:
            for name in rng.sample(emotions, rng.randint(0, min(3, len(emotions)))):
                mix[name] = round(rng.uniform(-1.0, 2.0), 3)
        body = {"model": model,
                "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
                "temperature": 0.7, "seed": rng.randrange(1 << 31), "max_tokens": args.max_tokens,
                "emotion": mix, "stream": i % 2 == 1}
        if body["stream"]:
            body["stream_options"] = {"include_usage": True}
        jobs.put(body)
    results, lock = [], threading.Lock()

    def client():
        while True:
            try:
                body = jobs.get_nowait()
            except queue.Empty:
                return
            res = send(server.port, "/v1/chat/completions", body, args.request_timeout)
            res["stream"] = body["stream"]
            res["mix"] = body["emotion"]
            with lock:
                results.append(res)
                if len(results) % max(1, args.requests // 10) == 0:
                    print("   %d/%d done" % (len(results), args.requests), flush=True)

    sampler = RssSampler(server)
    sampler.start()
    load0, cpu0 = loadavg(), cpu_seconds(server.process.pid)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(server.process.pid) - cpu0
    sampler.stop()

    ok = [r for r in results if r["ok"]]
    failed = [r for r in results if not r["ok"]]
    lat = [r["latency"] for r in ok]
    ttft = [r["ttft"] for r in ok if r["stream"] and r["ttft"] is not None]
    tokens = sum(r["completion_tokens"] for r in ok)
    rss = [kib for _, kib in sampler.samples]
    q = max(1, len(rss) // 4)
    first_q = statistics.median(rss[:q]) if rss else float("nan")
    last_q = statistics.median(rss[-q:]) if rss else float("nan")
    summary = {
        "requests": len(results), "ok": len(ok), "failures": len(failed),
        "failure_examples": [r["error"] for r in failed[:5]],
        "wall_s": wall,
        "latency_s": {"p50": percentile(lat, 50), "p90": percentile(lat, 90),
                      "p99": percentile(lat, 99), "max": max(lat) if lat else float("nan")},
        "stream_ttft_s": {"p50": percentile(ttft, 50), "p90": percentile(ttft, 90)},
        "completion_tokens": tokens,
        "completion_tokens_per_s": tokens / wall if wall > 0 else 0.0,
        "requests_per_s": len(ok) / wall if wall > 0 else 0.0,
        "finish_length": sum(1 for r in ok if r["finish"] == "length"),
        "server_cpu_cores": cpu / wall if wall > 0 else 0.0,
        "loadavg_1min": [load0, loadavg()],
        "rss_kib": {"samples": len(rss), "first_quarter_median": first_q,
                    "last_quarter_median": last_q, "max": max(rss) if rss else float("nan"),
                    "min": min(rss) if rss else float("nan"),
                    "growth_pct": 100.0 * (last_q - first_q) / first_q if rss else float("nan")},
    }
    summary["rss_kib"]["stable"] = bool(rss) and abs(summary["rss_kib"]["growth_pct"]) <= 10.0
    return summary, failed


def phase_b(server, model, args):
    def body(i):
        return {"model": model, "messages": [{"role": "user", "content": LONG_PROMPT}],
                "temperature": 0, "max_tokens": args.b_tokens, "ignore_eos": True,
                "emotion": {"joy": 1.0} if i % 2 else {}}

    failed, short, cpu_use = [], [], []

    def run_batch(n):
        res = [None] * n
        barrier = threading.Barrier(n)

        def worker(i):
            barrier.wait()
            res[i] = send(server.port, "/v1/chat/completions", body(i), args.request_timeout)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        health0 = get_json(server.port, "/health")[1]
        load0, cpu0 = loadavg(), cpu_seconds(server.process.pid)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cores = (cpu_seconds(server.process.pid) - cpu0) / wall
        health1 = get_json(server.port, "/health")[1]
        # The server's own count: tokens made in decoding steps over the time spent in them
        # (prompt passes excluded).
        decode_s = health1["decode_seconds"] - health0["decode_seconds"]
        decode_rate = (health1["tokens_generated"] - health0["tokens_generated"]) / decode_s
        for r in res:
            if not r["ok"]:
                failed.append(r)
            elif r["completion_tokens"] != args.b_tokens:
                short.append(r["completion_tokens"])
        tokens = sum(r["completion_tokens"] for r in res if r["ok"])
        print("   %d stream%s: %4d tokens in %.2f s = %6.1f tokens/s; decoding steps alone %6.1f "
              "tokens/s   (server used %.2f cores; load average %.2f before)"
              % (n, "s" if n > 1 else " ", tokens, wall, tokens / wall, decode_rate, cores, load0),
              flush=True)
        cpu_use.append({"streams": n, "tokens_per_s": tokens / wall, "server_cores": cores,
                        "decode_steps_tokens_per_s": decode_rate, "loadavg_before": load0})
        return tokens / wall, decode_rate

    send(server.port, "/v1/chat/completions", dict(body(0), max_tokens=8), args.request_timeout)
    single, multi = [], []
    for _ in range(args.b_reps):
        single.append(run_batch(1))
    for _ in range(args.b_reps):
        multi.append(run_batch(args.b_streams))
    s = statistics.median(r[0] for r in single)
    m = statistics.median(r[0] for r in multi)
    s_steps = statistics.median(r[1] for r in single)
    m_steps = statistics.median(r[1] for r in multi)
    summary = {"max_tokens": args.b_tokens, "streams": args.b_streams, "reps": args.b_reps,
               "single_tokens_per_s": [r[0] for r in single],
               "concurrent_tokens_per_s": [r[0] for r in multi],
               "single_median": s, "concurrent_median": m, "ratio": m / s if s > 0 else float("nan"),
               "single_steps_median": s_steps, "concurrent_steps_median": m_steps,
               "steps_ratio": m_steps / s_steps if s_steps > 0 else float("nan"),
               "target_ratio": 3.0, "failures": len(failed),
               "failure_examples": [r["error"] for r in failed[:5]],
               "short_replies": short, "runs": cpu_use}
    summary["target_met"] = summary["ratio"] >= 3.0
    return summary, failed


def main():
    ap = common_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    ap.add_argument("--requests", type=int, default=320, help="phase A: requests in all")
    ap.add_argument("--clients", type=int, default=32, help="phase A: concurrent client threads")
    ap.add_argument("--max-tokens", type=int, default=32, help="phase A: max_tokens per request")
    ap.add_argument("--parallel", type=int, default=8, help="server --parallel")
    ap.add_argument("--threads", type=int, default=2, help="server -t")
    ap.add_argument("--server-args", default="", help="more server flags, e.g. \"--max-queue 128\"")
    ap.add_argument("--b-streams", type=int, default=8, help="phase B: concurrent streams")
    ap.add_argument("--b-tokens", type=int, default=128, help="phase B: max_tokens (ignore_eos)")
    ap.add_argument("--b-reps", type=int, default=3, help="phase B: repetitions of each measure")
    ap.add_argument("--phases", default="AB", help="which phases to run: A, B or AB")
    ap.add_argument("--seed", type=int, default=20240601, help="phase A: the request generator's seed")
    ap.add_argument("--request-timeout", type=float, default=600)
    ap.add_argument("--json", metavar="OUT", help="also write the numbers as JSON to OUT")
    args = ap.parse_args()

    server_args = ["--parallel", str(args.parallel), "-t", str(args.threads)] + shlex.split(args.server_args)
    server = EmovecServer(args.emovec, args.model, server_args, env={"EMOVEC_DATA_DIR": args.data_dir})
    report = {"model": args.model, "server_args": server_args, "requests": args.requests,
              "clients": args.clients}
    failures = 0
    try:
        if not start_server(server, "server did not start: "):
            return 2
        status, listing = get_json(server.port, "/v1/emotions")
        emotions = sorted(e["id"] for e in listing.get("data", [])) if status == 200 else []
        print("emotions: %s" % ", ".join(emotions), flush=True)
        report["emotions"] = emotions
        report["rss_kib_idle"] = server.rss_kib()

        if "A" in args.phases.upper():
            print("\n== phase A: %d requests from %d clients (max_tokens %d, temperature 0.7)"
                  % (args.requests, args.clients, args.max_tokens), flush=True)
            a, failed = phase_a(server, args.model, emotions, args)
            report["phase_a"] = a
            failures += len(failed)
            for r in failed[:10]:
                print("   FAILED (%s, mix %s): %s" % ("stream" if r["stream"] else "plain", r["mix"], r["error"]))
            lat, rss = a["latency_s"], a["rss_kib"]
            print()
            print("  %-34s %s" % ("requests (ok / failed)", "%d / %d" % (a["ok"], a["failures"])))
            print("  %-34s %.1f s" % ("wall time", a["wall_s"]))
            print("  %-34s %.2f / %.2f / %.2f s (max %.2f)" % ("latency p50 / p90 / p99", lat["p50"],
                                                             lat["p90"], lat["p99"], lat["max"]))
            print("  %-34s %.2f / %.2f s" % ("stream first text p50 / p90", a["stream_ttft_s"]["p50"],
                                           a["stream_ttft_s"]["p90"]))
            print("  %-34s %d (%d hit max_tokens)" % ("completion tokens", a["completion_tokens"],
                                                     a["finish_length"]))
            print("  %-34s %.1f tokens/s, %.2f requests/s" % ("aggregate throughput",
                                                               a["completion_tokens_per_s"],
                                                               a["requests_per_s"]))
            print("  %-34s %.2f cores (load average %.2f at the start, %.2f at the end)" % (
                "server CPU use", a["server_cpu_cores"], a["loadavg_1min"][0], a["loadavg_1min"][1]))
            print("  %-34s %.1f MiB idle; %.1f -> %.1f MiB (first vs last quarter median, %+.1f%%), "
                  "max %.1f MiB, %d samples: %s" % (
                      "server RSS", report["rss_kib_idle"] / 1024, rss["first_quarter_median"] / 1024,
                      rss["last_quarter_median"] / 1024, rss["growth_pct"], rss["max"] / 1024,
                      rss["samples"], "stable" if rss["stable"] else "NOT stable (> 10%)"))

        if "B" in args.phases.upper():
            print("\n== phase B: decode throughput, 1 stream vs %d concurrent (greedy, %d tokens, "
                  "ignore_eos)" % (args.b_streams, args.b_tokens), flush=True)
            b, failed = phase_b(server, args.model, args)
            report["phase_b"] = b
            failures += len(failed)
            for r in failed[:10]:
                print("   FAILED: %s" % r["error"])
            if b["short_replies"]:
                print("   note: %d replies shorter than %d tokens (%s): ignore_eos not honoured?"
                      % (len(b["short_replies"]), args.b_tokens, b["short_replies"][:8]))
            print()
            print("  %-34s %.1f tokens/s (runs %s)" % ("1 stream (median)", b["single_median"],
                                                      ", ".join("%.1f" % x for x in b["single_tokens_per_s"])))
            print("  %-34s %.1f tokens/s (runs %s)" % ("%d streams (median)" % args.b_streams,
                                                      b["concurrent_median"],
                                                      ", ".join("%.1f" % x for x in b["concurrent_tokens_per_s"])))
            print("  %-34s %.2fx (target >= 3x: %s)" % ("ratio", b["ratio"],
                                                       "met" if b["target_met"] else "NOT met"))
            print("  %-34s %.1f vs %.1f tokens/s: %.2fx" % (
                "decoding steps alone (medians)", b["single_steps_median"],
                b["concurrent_steps_median"], b["steps_ratio"]))
        report["server_alive"] = server.alive()
        if report["server_alive"]:
            report["rss_kib_end"] = server.rss_kib()
    finally:
        if stop_server(server):
            report["server_alive"] = False
    report["failures"] = failures
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print("\nwrote %s" % args.json)
    if failures or not report.get("server_alive", False):
        print("\nFAILED: %d requests failed%s" % (failures, "" if report.get("server_alive") else
                                                     "; the server is not running"))
        return 1
    print("\nOK: no request failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
