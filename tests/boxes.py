"""A chatbox run as a separate process, the way systemd runs it, for appliance tests."""

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import websockets.sync.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHATBOX = os.path.join(ROOT, "chatbox.py")
# The password every test account has.
PASSWORD = "correct horse battery"
# Generous: the machine running the tests may be busy with other work.
START_TIMEOUT = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, input=None, timeout=60):
    """Run an admin command to completion; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, CHATBOX, *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


class Notifications:
    """A stand-in for systemd's notification socket."""

    def __init__(self, address):
        if not address.startswith("@") and os.path.exists(address):
            os.unlink(address)  # left by an earlier run over the same data dir
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # "@name" is an abstract socket, as systemd may hand out.
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.seen = []

    def wait_for(self, line, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while line not in self.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {line!r} within {timeout} s; saw {self.seen}")
            self.sock.settimeout(remaining)
            try:
                datagram = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.seen.extend(datagram.decode().split("\n"))
        return self.seen

    def close(self):
        self.sock.close()


class Box:
    """``python chatbox.py`` on a loopback port over a data dir, started and stopped."""

    def __init__(
        self, data_dir, *args, env=None, notify_address=None, open_files=None, name=None
    ):
        """``name`` tells apart boxes that share ``data_dir`` (several processes of one
        chatbox on PostgreSQL): each keeps its own log and notification socket."""
        self.data_dir = str(data_dir)
        suffix = f"-{name}" if name else ""
        self.log_path = os.path.join(self.data_dir, f"server{suffix}.log")
        self.port = free_port()
        self.args = [
            f"--data-dir={self.data_dir}",
            f"--port={self.port}",
            "--address=127.0.0.1",
            *args,
        ]
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.notify_path = os.path.join(self.data_dir, f"notify{suffix}.sock")
        self.notify_address = notify_address
        self.scheme = "https" if any(a.startswith("--certfile") for a in args) else "http"
        # (soft, hard) RLIMIT_NOFILE for the server process, or None to inherit ours.
        self.open_files = open_files
        self.proc = None
        self.notifications = None
        self.log = None

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self):
        """Start (or restart, on the same port and data) and wait for READY=1."""
        os.makedirs(self.data_dir, exist_ok=True)
        self.close()
        address = self.notify_address or self.notify_path
        self.notifications = Notifications(address)
        self.env["NOTIFY_SOCKET"] = address
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [sys.executable, CHATBOX, *self.args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_open_files if self.open_files else None,
        )
        try:
            self.notifications.wait_for("READY=1")
        except AssertionError:
            self.kill()
            raise AssertionError(self.output()) from None
        return self

    def _limit_open_files(self):
        # Runs in the child between fork and exec: a system call, nothing that locks.
        resource.setrlimit(resource.RLIMIT_NOFILE, self.open_files)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def terminate(self, timeout=15):
        """SIGTERM, then the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self):
        self.kill()
        if self.notifications is not None:
            self.notifications.close()
        if self.log is not None:
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def call(self, method, path, body=None, token=None, context=None):
        """One HTTP call; returns (status, parsed JSON or None, headers)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                raw, status, headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, error.headers
        return status, (json.loads(raw) if raw else None), headers

    def signup(self, username, password=PASSWORD):
        status, data, _ = self.call(
            "POST", "/auth/users/", {"username": username, "password": password}
        )
        assert status == 201, data
        status, data, _ = self.call(
            "POST", "/auth/token/login/", {"username": username, "password": password}
        )
        assert status == 200, data
        return data["auth_token"]

    def socket(self, token, path="/ws", **kwargs):
        url = self.url.replace("http", "ws", 1) + path
        return websockets.sync.client.connect(
            url,
            additional_headers={"Authorization": f"Token {token}"},
            proxy=None,
            open_timeout=20,
            **kwargs,
        )


# Generous: the machine running the tests may be busy with other work.
def wait_until(condition, timeout=30):
    """Poll ``condition`` until it is true (returns True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def small_disk(directory):
    """A 1 MiB tmpfs mounted over ``directory`` (made if missing), to fill up; skips the
    test where mounting is not allowed (it takes root or CAP_SYS_ADMIN)."""
    os.makedirs(directory, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {result.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory, leave=8192):
    """Take all but ``leave`` bytes of the filesystem holding ``directory``; returns the
    filler's path."""
    stat = os.statvfs(directory)
    path = os.path.join(directory, "filler")
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return path
