"""Real PostgreSQL and Redis servers for tests, each started in a temporary directory.

``Postgres.start()`` runs ``initdb`` and ``postgres`` from the machine's PostgreSQL
binaries; ``Redis.start()`` runs ``redis-server``. Both listen on 127.0.0.1 only, on a
free port, keep nothing after ``stop()``, and are made for speed rather than durability
(no fsync, no snapshots): they hold test data only.

PostgreSQL refuses to run as root. When the tests run as root (CI on a fresh machine),
the cluster's directory is made in the system's temporary directory, owned by the
unprivileged user ``nobody``, and ``initdb`` and ``postgres`` run as that user through
``setpriv``, which changes the user and then executes the program itself (no
intermediate process), so that signals reach the server directly.

The session fixtures ``postgres`` and ``redis_server`` (with ``redis_url``) start one
server each for the whole run. When a server's program is not installed they skip the
test with the reason, but fail it when the environment variable ``CI`` is set: CI must
run what it claims to.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

# How long a server may take to accept connections after starting: initdb and the first
# start of a cluster take about a second on a laptop, several on a slow CI machine.
START_TIMEOUT = 60

# The unprivileged user that runs PostgreSQL when the tests run as root.
POSTGRES_USER_WHEN_ROOT = "nobody"


class Missing(RuntimeError):
    """A server's program is not installed."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bindir():
    """Where initdb and postgres are: $CHATBOX_PG_BIN, pg_config's answer, or the
    newest /usr/lib/postgresql/<version>/bin (Debian does not put them on the PATH)."""
    candidates = [os.environ.get("CHATBOX_PG_BIN")]
    if shutil.which("pg_config"):
        try:
            candidates.append(
                subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
            )
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(path.split("/")[-2]) if path.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if directory and os.path.exists(os.path.join(directory, "postgres")):
            return directory
    if shutil.which("postgres") and shutil.which("initdb"):
        return os.path.dirname(shutil.which("postgres"))
    raise Missing(
        "PostgreSQL is not installed (no initdb/postgres; Debian: apt-get install postgresql)"
    )


def _wait(ready, process, what, log):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log()}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {START_TIMEOUT} s:\n{log()}")


class Postgres:
    """A PostgreSQL cluster of our own; ``url(name)`` addresses one of its databases.

    ``Postgres.start()`` returns a running cluster with the superuser ``postgres``
    (trusted, no password, loopback only). ``create_database(name)`` makes an empty
    database (or a copy of ``template``); ``stop()`` shuts it down and removes its files.
    """

    def __init__(self, directory, port, process, owned_directory):
        self.directory = directory
        self.port = port
        self.process = process
        self._owned_directory = owned_directory

    @classmethod
    def start(cls, parent=None):
        """Start a cluster in a new directory under ``parent`` (default: the system's
        temporary directory, which every user can reach; as root the parent must be
        reachable by ``nobody``)."""
        bindir = postgres_bindir()
        directory = tempfile.mkdtemp(prefix="chatbox-pg-", dir=parent)
        run_as = []
        if os.geteuid() == 0:
            user = pwd.getpwnam(POSTGRES_USER_WHEN_ROOT)
            os.chown(directory, user.pw_uid, user.pw_gid)
            run_as = [
                "setpriv",
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--clear-groups",
                "--",
            ]
        data = os.path.join(directory, "data")
        log_path = os.path.join(directory, "server.log")
        env = dict(os.environ, LC_ALL="C", HOME=directory)
        subprocess.run(
            run_as
            + [
                os.path.join(bindir, "initdb"),
                "--pgdata",
                data,
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            env=env,
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": directory,
            # Test data only: durability is not worth its time here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Every app a test starts keeps a connection per reader thread and one for
            # its writer; tests that run several processes need a few hundred at most.
            "max_connections": "300",
            "shared_buffers": "64MB",
        }
        command = [os.path.join(bindir, "postgres"), "-D", data]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        # The log is opened here and handed over as the server's output, so it need not
        # be writable by the server's user.
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                run_as + command,
                env=env,
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        cluster = cls(directory, port, process, directory)

        def log_text():
            with open(log_path, errors="replace") as log:
                return log.read()[-4000:]

        try:
            _wait(cluster._accepts, process, "postgres", log_text)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _accepts(self):
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def url(self, dbname="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql, params=None, dbname="postgres"):
        """Run one statement outside a transaction (as CREATE DATABASE needs)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else None

    def create_database(self, name, template=None):
        """Make the database ``name`` (empty, or a copy of ``template``); return its URL."""
        sql = f'CREATE DATABASE "{name}"'
        if template:
            sql += f' TEMPLATE "{template}"'
        self.execute(sql)
        return self.url(name)

    def drop_database(self, name):
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self):
        """Shut the server down (fast: connected clients are cut) and remove its files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._owned_directory, ignore_errors=True)


class Redis:
    """A Redis server of our own, with nothing saved to disk.

    ``Redis.start()`` returns it running; ``url`` is ``redis://127.0.0.1:<port>/0``.
    ``cut_clients()`` closes its clients' connections (by default those subscribed to
    channels), as a network cut or a restart of Redis would, for tests of the bus.
    """

    def __init__(self, directory, port, process):
        self.directory = directory
        self.port = port
        self.process = process
        self.url = f"redis://127.0.0.1:{port}/0"

    @classmethod
    def start(cls, parent=None):
        program = shutil.which("redis-server")
        if not program:
            raise Missing(
                "Redis is not installed (no redis-server; Debian: apt-get install redis-server)"
            )
        directory = tempfile.mkdtemp(prefix="chatbox-redis-", dir=parent)
        port = free_port()
        log_path = os.path.join(directory, "server.log")
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    program,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    directory,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ],
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = cls(directory, port, process)

        def log_text():
            with open(log_path, errors="replace") as log:
                return log.read()[-4000:]

        try:
            _wait(server._accepts, process, "redis-server", log_text)
        except BaseException:
            server.stop()
            raise
        return server

    def command(self, *args):
        """Send one command over a connection of its own; return the reply."""
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def _accepts(self):
        import redis

        try:
            return self.command("PING")
        except redis.ConnectionError:
            return False

    def cut_clients(self, kind="pubsub"):
        """Close the connections of every client of ``kind`` (normal, pubsub, replica);
        return how many were closed."""
        return self.command("CLIENT", "KILL", "TYPE", kind)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def unavailable(reason):
    """Skip for want of a server program, but fail under CI, which installs them all."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run every test", pytrace=False)
    pytest.skip(reason)


def _started(kind):
    try:
        return kind.start()
    except Missing as missing:
        unavailable(str(missing))


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster for the whole run (a ``Postgres``)."""
    cluster = _started(Postgres)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_server():
    """One Redis server for the whole run (a ``Redis``)."""
    server = _started(Redis)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The URL of the session's Redis, emptied for each test."""
    redis_server.command("FLUSHALL")
    return redis_server.url
