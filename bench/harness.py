"""The measured chatbox: a seeded database, a pinned server process, and its costs.

The server runs as a real subprocess (``python chatbox.py``) pinned to one core; the load
generator pins itself to the other, so the two do not steal each other's time. Both get a
high open-file limit: every websocket is a file descriptor on each side.
"""

import asyncio
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass

import psutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_CORE = 0
GENERATOR_CORE = 1
# As many open files as the box lets a process have (its hard limit; raising the hard
# limit needs CAP_SYS_RESOURCE, which a container may not grant even to root).
FD_LIMIT = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
HOST = "127.0.0.1"
# Every loopback address is local on Linux; spreading clients over several source
# addresses gives each its own ~28,000 ephemeral ports.
SOURCE_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 18)]
PER_SOURCE = 5000


def source_address(index):
    return SOURCE_ADDRESSES[(index // PER_SOURCE) % len(SOURCE_ADDRESSES)]


def raise_fd_limit(wanted=FD_LIMIT):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_generator():
    """Keep the generator off the server's core when the box has one to spare."""
    cores = os.sched_getaffinity(0)
    if os.cpu_count() and os.cpu_count() > GENERATOR_CORE:
        os.sched_setaffinity(0, {GENERATOR_CORE})
    return sorted(os.sched_getaffinity(0)), sorted(cores)


@dataclass
class Person:
    index: int  # the bench's own number for the client, carried in every message
    user_id: int
    token: str
    uri: str
    room: int


def seed(path, plan):
    """Users, API tokens, named rooms and memberships, written straight into SQLite.

    ``plan`` gives each user's room number, in order. Signing thousands up over REST
    would cost one bcrypt (~60 ms) each; the bench instead stores one precomputed hash
    for every user. Nothing else differs from an account made by signup: the server sees
    ordinary users, tokens, rooms and memberships.
    """
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    import models
    import schema

    schema.init_db(path)
    password_hash = models.User.hash_password("bench-password-never-used")
    people, rooms = [], {}
    with models.db.atomic():
        for index, room_index in enumerate(plan):
            user = models.User.register(f"bench{index}", password_hash)
            token = models.Token.issue(user)
            room = rooms.get(room_index)
            if room is None:
                room = rooms[room_index] = models.Room.create(
                    uri=f"room{room_index}", owner=user, is_private=False
                )
            models.Membership.create(user=user, room=room)
            people.append(Person(index, user.id, token, room.uri, room_index))
    models.db.close()
    return people


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Server:
    """``python chatbox.py`` on a fresh temporary database, pinned to SERVER_CORE.

    ``repo`` is the checkout whose chatbox.py runs (another one gives a before/after
    figure; its schema must match this one's, which seeds the database), ``args`` more
    options for it.
    """

    def __init__(self, plan, durability="full", profile=None, gc_log=None, repo=REPO,
                 args=()):  # fmt: skip
        self.workdir = tempfile.mkdtemp(prefix="chatbox-bench-")
        self.db = os.path.join(self.workdir, "bench.db")
        self.durability = durability
        self.profile = profile
        self.gc_log = gc_log
        self.repo = repo
        self.args = list(args)
        started = time.monotonic()
        self.people = seed(self.db, plan)
        self.seed_seconds = time.monotonic() - started
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.workdir, "server.log")

    @property
    def command(self):
        return [
            "taskset", "-c", str(SERVER_CORE),
            "prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}",
            sys.executable,
            *(["-m", "cProfile", "-o", self.profile] if self.profile else []),
            *(["bench/gclog.py", self.gc_log] if self.gc_log else []),
            "chatbox.py",
            f"--port={self.port}", f"--address={HOST}",
            f"--db={self.db}", f"--durability={self.durability}",
            *self.args,
        ]  # fmt: skip

    @property
    def url(self):
        return f"ws://{HOST}:{self.port}"

    def start(self, timeout=20):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.command, cwd=self.repo, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chatbox exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(
                    f"http://{HOST}:{self.port}/healthz", timeout=1
                ) as answer:
                    if answer.status == 200:
                        self.ps = psutil.Process(self.proc.pid)
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("chatbox did not answer /healthz in time")

    def log_tail(self, lines=20):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def log_count(self, needle):
        with open(self.log_path, errors="replace") as f:
            return sum(needle in line for line in f)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class Meter:
    """CPU and memory of the server and of the generator, over chosen windows.

    CPU is measured from cumulative CPU times at the window's two ends (exact, not
    sampled); RSS is sampled every half second by a thread so peaks are seen.
    """

    def __init__(self, server_process):
        self.server = server_process
        self.me = psutil.Process()
        self.rss = []  # (monotonic, server rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.5):
            try:
                self.rss.append((time.monotonic(), self.server.memory_info().rss))
            except psutil.Error:
                return

    def close(self):
        self._stop.set()

    def mark(self):
        server = self.server.cpu_times()
        me = self.me.cpu_times()
        return (
            time.monotonic(),
            server.user + server.system,
            me.user + me.system,
            self.server.memory_info().rss,
            [(c.idle + c.iowait, sum(c)) for c in psutil.cpu_times(percpu=True)],
        )

    def window(self, start, end=None):
        end = end or self.mark()
        seconds = max(end[0] - start[0], 1e-9)
        peak = max(
            [rss for t, rss in self.rss if start[0] <= t <= end[0]] + [start[3], end[3]]
        )
        return {
            "seconds": round(seconds, 2),
            "server_cpu_pct": round(100 * (end[1] - start[1]) / seconds, 1),
            "generator_cpu_pct": round(100 * (end[2] - start[2]) / seconds, 1),
            "server_rss_mib": round(end[3] / 2**20, 1),
            "server_rss_peak_mib": round(peak / 2**20, 1),
            # Busy share of each core, whoever used it: core 0 well above the server's
            # own CPU, or core 1 well above the generator's, means other work competed.
            "cores_busy_pct": [
                round(100 * (1 - (i1 - i0) / max(t1 - t0, 1e-9)), 1)
                for (i0, t0), (i1, t1) in zip(start[4], end[4], strict=True)
            ],
        }


def machine():
    """What the numbers were measured on."""
    import tornado
    import websockets

    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tornado": tornado.version,
        "websockets": websockets.__version__,
    }


def wait_for_quiet_box(max_seconds=300, busy_limit=25.0):
    """Wait (bounded) until neither core is busy with other work; returns the last reading."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy = psutil.cpu_percent(interval=3, percpu=True)
        if max(busy) < busy_limit or time.monotonic() > deadline:
            return busy


def load_average():
    return [round(x, 2) for x in os.getloadavg()]


RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def run_scenario(server, scenario, deadline, keep_log=None):
    """Start ``server``, run ``scenario(meter)`` for at most ``deadline`` seconds, stop
    the server whatever happens; returns ``(results, the last lines of its log)``.

    ``keep_log`` names a file to copy the server's whole log to.
    """
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    meter = Meter(server.ps)
    try:
        results = asyncio.run(asyncio.wait_for(scenario(meter), deadline))
    finally:
        meter.close()
        log_tail = server.log_tail(5)
        if keep_log:
            shutil.copyfile(server.log_path, keep_log)
        server.stop()
    return results, log_tail


def save_results(summary, name):
    """Write a run's summary as ``bench/results/<name>``; returns its path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, name)
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)
    return path
