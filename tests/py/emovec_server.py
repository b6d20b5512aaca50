"""Starts `emovec serve` on a free loopback port for a test, and stops it afterwards.

    with EmovecServer(emovec, "smollm2-135m-instruct", ["--parallel", "4"]) as server:
        requests.get(server.url + "/health")

The server prints "listening on http://HOST:PORT" on stderr once it accepts connections; the
launcher waits for that line (and fails with the server's own output if it exits first).

Also what the server scripts share (server_openai.py and server_bad_input.py use all of it,
bench/server_load.py all but Checks; browser_chat.py only the launcher):
  - Checks: counts and prints named checks (PASS/FAIL lines), runs groups of them as sections
    (a section that raises is a failed check, the others still run), and prints the final report;
  - start_server(server): starts it and prints its address, or prints why it did not start;
  - stop_server(server): stops the server, first printing the end of its stderr if it had died;
  - common_arguments(parser): the --emovec, --model and --data-dir options.
"""

import os
import re
import subprocess
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_LISTENING = re.compile(r"listening on (http://[0-9.]+:(\d+))")


class ServerError(RuntimeError):
    pass


class EmovecServer:
    def __init__(self, emovec, model, args=(), env=None, start_timeout=180):
        self.command = [emovec, "serve", "-m", model, "--port", "0", *args]
        self.env = dict(os.environ, **(env or {}))
        self.start_timeout = start_timeout
        self.process = None
        self.url = None
        self.port = None
        self.log = []  # the server's stderr lines
        self._ready = threading.Event()

    def start(self):
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.time() + self.start_timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None:
                time.sleep(0.2)
                raise ServerError(
                    "emovec serve exited with %d before listening:\n%s"
                    % (self.process.returncode, "".join(self.log))
                )
            if time.time() > deadline:
                self.stop()
                raise ServerError("emovec serve did not start in %d s" % self.start_timeout)
        return self

    def _read_stderr(self):
        for line in self.process.stderr:
            self.log.append(line)
            m = _LISTENING.search(line)
            if m and not self._ready.is_set():
                self.url = m.group(1)
                self.port = int(m.group(2))
                self._ready.set()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def rss_kib(self):
        """Resident memory of the server process, in KiB (from /proc)."""
        with open("/proc/%d/status" % self.process.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerError("no VmRSS for the server process")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def start_server(server, failed="FAIL  server start: "):
    """Starts the server and prints its address and command line; returns True. If it does not
    start, prints `failed` and the reason instead, and returns False."""
    try:
        server.start()
    except ServerError as e:
        print(failed + str(e), flush=True)
        return False
    print("server: %s (%s)" % (server.url, " ".join(server.command)), flush=True)
    return True


def stop_server(server):
    """Stops the server; if it had already exited, prints its exit status and the end of its
    stderr first. Returns whether it had exited (died) before this call."""
    died = server.process is not None and server.process.poll() is not None
    if died:
        print("server exited with %d; its stderr:\n%s" % (server.process.returncode,
                                                          "".join(server.log[-40:])))
    server.stop()
    return died


def common_arguments(parser):
    """Adds --emovec (required), --model (default smollm2-135m-instruct) and --data-dir (default
    $EMOVEC_DATA_DIR, else the repository root) to an argparse parser; returns the parser."""
    parser.add_argument("--emovec", required=True, help="path to the emovec binary")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--data-dir", default=os.environ.get("EMOVEC_DATA_DIR") or str(REPO),
                        help="EMOVEC_DATA_DIR for the server (holds vectors/MODEL/*.gguf)")
    return parser


class Checks:
    """Named checks, printed as they are made: "PASS  name  (detail)" or "FAIL  name  -- detail"."""

    def __init__(self):
        self.failed = []  # names of the failed checks
        self.passed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS  %s%s" % (name, ("  (" + detail + ")") if detail else ""), flush=True)
        else:
            self.failed.append(name)
            print("FAIL  %s%s" % (name, ("  -- " + detail) if detail else ""), flush=True)
        return ok

    def section(self, name, fn, *args):
        """Runs fn(*args), one group of checks, under a "== name" heading with its duration; an
        exception in it is a failed check (the other sections still run). Then after_section."""
        print("\n== %s" % name, flush=True)
        t0 = time.time()
        try:
            fn(*args)
        except Exception as e:
            self.check("%s: completed without an exception" % name, False,
                       "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
        print("   (%.1f s)" % (time.time() - t0), flush=True)
        self.after_section(name)

    def after_section(self, name):
        """A hook run after each section (a subclass may check the server there); does nothing."""

    def report(self, started):
        """Prints the counts (with the seconds since started) and the failed checks' names;
        returns the exit status: 0 if every check held, else 1."""
        print("\n%d checks passed, %d failed (%.1f s)" % (self.passed, len(self.failed),
                                                         time.time() - started))
        if self.failed:
            print("FAILED checks:")
            for name in self.failed:
                print("  - " + name)
            return 1
        print("OK: all checks held")
        return 0
