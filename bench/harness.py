"""The measured chatbox: a seeded database, pinned server processes, and their costs.

The server runs as a real subprocess (``python chatbox.py``) pinned to one core; the load
generator pins itself to the other, so the two do not steal each other's time. Both get a
high open-file limit: every websocket is a file descriptor on each side.

``Server`` is one process on SQLite; ``Cluster`` is several processes on one PostgreSQL
database with a bus (docs/scale-out.md), started here in temporary directories with the
test suite's helpers (tests/servers.py) and pinned to the server's core with them: the
whole server side shares one core, the generator has the other.
"""

import asyncio
import json
import os
import platform
import resource
import shutil
import signal
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


def seed(target, plan):
    """Users, API tokens, named rooms and memberships, written straight into the
    database: ``target`` is a SQLite file or a PostgreSQL URL.

    ``plan`` gives each user's room number, in order. Signing thousands up over REST
    would cost one bcrypt (~60 ms) each; the bench instead stores one precomputed hash
    for every user. Nothing else differs from an account made by signup: the server sees
    ordinary users, tokens, rooms and memberships.
    """
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    import database
    import models
    import schema

    if database.is_postgres(target):
        schema.open_database(target)
    else:
        schema.init_db(target)
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

    def url_for(self, index):
        """Where the client numbered ``index`` connects."""
        return self.url

    def port_for(self, index):
        return self.port

    def process_of(self, index):
        """Which server process the client numbered ``index`` talks to."""
        return 0

    def groups(self):
        """The processes whose CPU and memory count as the server's, by kind."""
        return {"chatbox": [self.ps]}

    def start(self, timeout=20):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.command, cwd=self.repo, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_healthy(self.proc, self.port, timeout, self.log_tail)
        self.ps = psutil.Process(self.proc.pid)
        return self

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


def wait_healthy(proc, port, timeout, log_tail):
    """Wait until the chatbox ``proc`` answers ``/healthz`` on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chatbox exited: {log_tail()}")
        try:
            with urllib.request.urlopen(
                f"http://{HOST}:{port}/healthz", timeout=1
            ) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"chatbox did not answer /healthz in time: {log_tail()}")


def _servers_module():
    """tests/servers.py: PostgreSQL and Redis in temporary directories."""
    tests = os.path.join(REPO, "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import servers

    return servers


def pin(pid, core=SERVER_CORE):
    """Pin every thread of process ``pid`` to ``core``."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {core})
        except OSError:
            pass  # a thread that just ended


def durable_postgres(parent):
    """tests/servers.py's PostgreSQL, restarted as a measured server runs: commits
    flushed to disk (the test server skips fsync to be quick) and pinned to
    SERVER_CORE (backends forked later inherit the postmaster's core)."""
    servers = _servers_module()
    made = servers.Postgres.start(parent)
    command = list(made.process.args)
    made.process.send_signal(signal.SIGINT)
    made.process.wait(30)
    durable = {"fsync=off": "fsync=on", "synchronous_commit=off": "synchronous_commit=on",
               "full_page_writes=off": "full_page_writes=on"}  # fmt: skip
    command = ["taskset", "-c", str(SERVER_CORE), *(durable.get(a, a) for a in command)]
    log = open(os.path.join(made.directory, "server.log"), "ab")
    process = subprocess.Popen(
        command,
        env=dict(os.environ, LC_ALL="C", HOME=made.directory),
        cwd=made.directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    server = servers.Postgres(made.directory, made.port, process, made.directory)
    deadline = time.monotonic() + 60
    while not server._accepts():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("PostgreSQL did not come back with durable settings")
        time.sleep(0.1)
    return server


class Cluster:
    """``processes`` chatbox processes on one PostgreSQL database with a bus.

    ``database`` is ``postgres`` (a PostgreSQL started here, in a temporary directory)
    or the URL of an empty database elsewhere; ``bus`` is ``postgres`` (LISTEN/NOTIFY),
    ``redis`` (a Redis started here), a ``redis://`` URL or ``none`` (one process).
    Client ``index`` talks to process ``index % processes``, so every room has members
    on every process. The processes share a data dir and an uploads folder, as on one
    machine.
    """

    def __init__(self, plan, processes=2, database="postgres", bus="postgres",
                 repo=REPO, args=()):  # fmt: skip
        self.workdir = tempfile.mkdtemp(prefix="chatbox-bench-")
        self.repo = repo
        self.args = list(args)
        self.backing = []  # PostgreSQL and Redis servers started here, to stop
        self.pinned = {}  # kind -> root processes of the servers started here
        started = time.monotonic()
        try:
            self.database = self._database(database)
            self.bus = self._bus(bus)
            self.people = seed(self.database, plan)
        except BaseException:
            self.stop()
            raise
        self.seed_seconds = time.monotonic() - started
        self.ports = [free_port() for _ in range(processes)]
        self.procs = []
        self.ps = []
        self.log_paths = [
            os.path.join(self.workdir, f"server-{n}.log") for n in range(processes)
        ]
        self._logs = []

    def _database(self, database):
        if database != "postgres":
            return database
        # In the system's temporary directory, which PostgreSQL's user can reach.
        server = durable_postgres(None)
        self.backing.append(server)
        self.pinned["postgres"] = [psutil.Process(server.process.pid)]
        return server.create_database("bench")

    def _bus(self, bus):
        if bus != "redis":
            return bus
        server = _servers_module().Redis.start()
        self.backing.append(server)
        pin(server.process.pid)
        self.pinned["redis"] = [psutil.Process(server.process.pid)]
        return server.url

    def command_for(self, n):
        return [
            "taskset", "-c", str(SERVER_CORE),
            "prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}",
            sys.executable, "chatbox.py",
            f"--port={self.ports[n]}", f"--address={HOST}",
            f"--database={self.database}",
            *([f"--bus={self.bus}"] if self.bus != "none" else []),
            f"--data-dir={os.path.join(self.workdir, 'data')}",
            f"--uploads={os.path.join(self.workdir, 'uploads')}",
            *self.args,
        ]  # fmt: skip

    @property
    def command(self):
        return self.command_for(0)

    @property
    def url(self):
        return self.url_for(0)

    @property
    def port(self):
        return self.ports[0]

    def process_of(self, index):
        return index % len(self.ports)

    def url_for(self, index):
        return f"ws://{HOST}:{self.port_for(index)}"

    def port_for(self, index):
        return self.ports[self.process_of(index)]

    def groups(self):
        return {"chatbox": self.ps, **self.pinned}

    def counters(self):
        """Running totals of the shared servers' work: PostgreSQL transactions in the
        bench's database (reads each count as one, outside a writer's batch), and
        notices published on Redis."""
        import psycopg

        totals = {}
        with psycopg.connect(self.database, autocommit=True) as conn:
            totals["pg_transactions"] = conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()[0]
        if self.bus.startswith("redis"):
            import redis

            client = redis.Redis.from_url(self.bus)
            try:
                stats = client.info("commandstats").get("cmdstat_publish", {})
            finally:
                client.close()
            totals["bus_notices"] = stats.get("calls", 0)
        return totals

    def start(self, timeout=60):
        # One after another: the first brings the schema up to date, the rest find it so.
        for n, port in enumerate(self.ports):
            log = open(self.log_paths[n], "w")
            self._logs.append(log)
            proc = subprocess.Popen(
                self.command_for(n), cwd=self.repo, stdout=log, stderr=subprocess.STDOUT
            )
            self.procs.append(proc)
            wait_healthy(proc, port, timeout, lambda n=n: self.log_tail(5, n))
            self.ps.append(psutil.Process(proc.pid))
        return self

    @property
    def log_path(self):
        return self.log_paths[0]

    def log_tail(self, lines=20, only=None):
        tails = []
        for n, path in enumerate(self.log_paths):
            if only is not None and n != only or not os.path.exists(path):
                continue
            with open(path, errors="replace") as f:
                tails.append(f"[{n}] " + "".join(f.readlines()[-lines:]))
        return "".join(tails)

    def log_count(self, needle):
        count = 0
        for path in self.log_paths:
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    count += sum(needle in line for line in f)
        return count

    def stop(self):
        for proc in getattr(self, "procs", []):
            if proc.poll() is None:
                proc.terminate()
        for proc in getattr(self, "procs", []):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in getattr(self, "_logs", []):
            log.close()
        for server in reversed(self.backing):
            server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _cpu_seconds(procs):
    """CPU time of ``procs`` and of every descendant, live or already reaped."""
    total = 0.0
    for root in procs:
        try:
            times = root.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            children = root.children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            try:
                times = child.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


def _rss(procs):
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


class Meter:
    """CPU and memory of the server and of the generator, over chosen windows.

    ``groups`` are the server's processes by kind (``Server.groups``): the chatbox
    processes, and PostgreSQL and Redis where the bench started them. ``server_cpu_pct``
    is all of them together (they share the server's core); each kind also has its own
    figure, and each chatbox process its own, when there is more than one.

    CPU is measured from cumulative CPU times at the window's two ends (exact, not
    sampled); RSS (of the chatbox processes) is sampled every half second by a thread
    so peaks are seen.
    """

    def __init__(self, groups):
        self.groups = groups
        self.me = psutil.Process()
        self.rss = []  # (monotonic, server rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.5):
            self.rss.append((time.monotonic(), _rss(self.groups["chatbox"])))

    def close(self):
        self._stop.set()

    def mark(self):
        parts = {kind: _cpu_seconds(procs) for kind, procs in self.groups.items()}
        each = [_cpu_seconds([p]) for p in self.groups["chatbox"]]
        me = self.me.cpu_times()
        return (
            time.monotonic(),
            sum(parts.values()),
            me.user + me.system,
            _rss(self.groups["chatbox"]),
            [(c.idle + c.iowait, sum(c)) for c in psutil.cpu_times(percpu=True)],
            parts,
            each,
        )

    def window(self, start, end=None):
        end = end or self.mark()
        seconds = max(end[0] - start[0], 1e-9)
        peak = max(
            [rss for t, rss in self.rss if start[0] <= t <= end[0]] + [start[3], end[3]]
        )
        pct = {
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
        if len(end[5]) > 1 or len(end[6]) > 1:
            for kind in end[5]:
                pct[f"{kind}_cpu_pct"] = round(
                    100 * (end[5][kind] - start[5][kind]) / seconds, 1
                )
            pct["chatbox_cpu_pct_each"] = [
                round(100 * (b - a) / seconds, 1)
                for a, b in zip(start[6], end[6], strict=True)
            ]
        return pct


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
    meter = Meter(server.groups())
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
