"""Starts `emovec serve` on a free loopback port for a test, and stops it afterwards.

    with EmovecServer(emovec, "smollm2-135m-instruct", ["--parallel", "4"]) as server:
        requests.get(server.url + "/health")

The server prints "listening on http://HOST:PORT" on stderr once it accepts connections; the
launcher waits for that line (and fails with the server's own output if it exits first).
"""

import os
import re
import subprocess
import threading
import time

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
