"""Start-up time, memory after start, and the cost of one login, on this machine.

    python bench/startup.py [--runs 5] [--logins 20]

Starts ``chatbox.py`` as a separate process on a free loopback port, each time over a new
database file, and polls /healthz until it answers 200. Everything stays on 127.0.0.1,
every loop is bounded, and each server is stopped with SIGTERM before the next starts.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import psutil
from harness import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT = 30.0  # seconds; far beyond the one second the box aims for
POLL_INTERVAL = 0.005


def request(port, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def start(db_path):
    """Spawn a server; returns (process, port, seconds until /healthz answered 200)."""
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "chatbox.py"),
            f"--port={port}",
            "--address=127.0.0.1",
            f"--db={db_path}",
            "--logging=warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    while time.perf_counter() - began < START_TIMEOUT:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
        try:
            status, _ = request(port, "GET", "/healthz")
            if status == 200:
                return process, port, time.perf_counter() - began
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(POLL_INTERVAL)
    stop(process)
    raise RuntimeError("chatbox did not answer /healthz in time")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        fresh, reopened, rss = [], [], []
        for run in range(args.runs):
            db_path = os.path.join(tmp, f"run{run}.db")
            process, _, seconds = start(db_path)
            fresh.append(seconds)
            rss.append(psutil.Process(process.pid).memory_info().rss)
            stop(process)
            # The same file again: the usual case, a box restarting over its data.
            process, _, seconds = start(db_path)
            reopened.append(seconds)
            stop(process)

        process, port, _ = start(os.path.join(tmp, "logins.db"))
        try:
            password = "correct horse battery"
            request(
                port,
                "POST",
                "/auth/users/create/",
                {"username": "bench", "password": password},
            )
            logins = []
            for _ in range(args.logins):
                began = time.perf_counter()
                status, _ = request(
                    port,
                    "POST",
                    "/auth/token/create/",
                    {"username": "bench", "password": password},
                )
                logins.append(time.perf_counter() - began)
                assert status == 200
            rss_after_logins = psutil.Process(process.pid).memory_info().rss
        finally:
            stop(process)

    def ms(values):
        return (
            f"median {statistics.median(values) * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
        )

    def mib(size):
        return f"{size / 2**20:.1f} MiB"

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    print(f"start to first /healthz 200, new database ({args.runs} runs): {ms(fresh)}")
    print(
        f"start to first /healthz 200, existing database ({args.runs} runs): {ms(reopened)}"
    )
    print(f"RSS right after start: median {mib(statistics.median(rss))}")
    print(f"RSS after {args.logins} logins: {mib(rss_after_logins)}")
    print(f"POST /auth/token/create/ ({args.logins} logins, bcrypt cost 10): {ms(logins)}")


if __name__ == "__main__":
    main()
