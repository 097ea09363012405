"""One server per database: an advisory lock that also tells who holds it.

The server keeps an exclusive ``flock`` on ``<db>.lock`` for as long as it runs and
writes its pid, port and start time into the file. The kernel drops the lock when the
process dies, however it dies, so a stale file never blocks a restart; a command that
must not run beside a server (restore) just tries to take the same lock.
"""
import fcntl
import json
import os

from appliance.paths import give_to_owner_of


class Busy(Exception):
    """Another process holds the lock."""


class ServerLock:
    def __init__(self, path):
        self.path = path
        self._fd = None

    def acquire(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        give_to_owner_of(self.path, os.path.dirname(self.path))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(self.path) from None
        self._fd = fd
        return self

    def describe(self, **info):
        """Record who holds the lock, for ``status``."""
        data = json.dumps(dict(info, pid=os.getpid())).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self):
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def holder(path):
    """What the running server wrote about itself, or None if no server holds ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            # A shared lock is refused exactly while a server holds the exclusive one.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raw = os.read(fd, 4096)
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return {}
        return None
    finally:
        os.close(fd)
