"""One server per database: an advisory lock on the database file, and a note of who holds it.

The server keeps an exclusive ``flock`` on the database file itself for as long as it
runs. A lock is held on a file, not on a name, so a second server reaching the same
file through a symlink, a hard link or another spelling of the path finds it taken. The
kernel drops the lock when the process dies, however it dies, so nothing stale ever
blocks a restart; a command that must not run beside a server (restore) takes the same
lock.

``flock`` and SQLite's own locks (``fcntl`` byte ranges) do not interact on Linux. But
closing any descriptor of a file drops every ``fcntl`` lock the process holds on it, so
the server closes its lock descriptor only after its database connections.

A restore puts a new file in place of the old one; a lock on the old file guards nothing
from then on. That is fine: the restore held the lock on the old file while it worked,
and the new file is complete before it appears under the name. A server taking the lock
checks that the file it locked is still the one the path names.

Beside the database the holder writes a note, ``<db>.lock``, with its pid, port and start
time for ``status``. The note is information only; the lock is on the database.
"""

import fcntl
import json
import logging
import os
import tempfile

from appliance.paths import give_to_owner_of, put_in_place

log = logging.getLogger("chatbox.lock")

# A restore replacing the file between our open and our flock is rare and quick; two
# more tries ride it out, and a path that keeps changing under us is refused as busy.
TRIES = 3


class Busy(Exception):
    """Another process holds the lock."""


def _identity(st):
    return f"{st.st_dev}:{st.st_ino}"


class ServerLock:
    """The lock on the database file ``db``; ``describe`` writes the note at ``note``."""

    def __init__(self, db, note):
        self.db = db
        self.note = note
        self._fd = None
        self._described = False

    def acquire(self, make=None):
        """Take the lock; Busy if a server (or a restore) holds it.

        Without a database file: FileNotFoundError, or, given ``make``, a new one.
        ``make(path)`` writes a complete database at a temporary path, which is locked
        before it takes the database's name, so no other process ever sees it unlocked
        or half made. Returns True when it made the file.
        """
        for _ in range(TRIES):
            try:
                # Read-only is enough for flock, and opens a file its owner made read-only.
                fd = os.open(self.db, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                if make is None:
                    raise
                fd = self._make(make)
                if fd is not None:
                    self._fd = fd
                    return True
                continue  # another process made it first: lock theirs (or find it busy)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise Busy(self.db) from None
            try:
                current = os.stat(self.db)
            except FileNotFoundError:
                current = None
            if current is not None and _identity(current) == _identity(os.fstat(fd)):
                self._fd = fd
                return False
            os.close(fd)  # replaced while we locked it: lock the file there now
        raise Busy(self.db)

    def _make(self, make):
        """The locked descriptor of a new database now named ``db``, or None if another
        process gave the name a file first."""
        # Through a dangling symlink: make the file it points to.
        target = os.path.realpath(self.db)
        directory, name = os.path.split(target)
        # 0600, and SQLite gives the -wal and -shm files the database file's mode.
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".new", dir=directory)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a file no one else can know of yet
            give_to_owner_of(temp, directory)
            make(temp)
            try:
                put_in_place(temp, target)
            except FileExistsError:
                os.close(fd)
                return None
            # Left by a database deleted by hand: SQLite would replay that log into
            # this new file. Nobody else uses them: we hold the lock on the new file.
            for suffix in ("-wal", "-shm"):
                try:
                    os.unlink(target + suffix)
                except FileNotFoundError:
                    pass
            return fd
        except BaseException:
            os.close(fd)
            raise
        finally:
            for leftover in (temp, temp + "-wal", temp + "-shm", temp + "-journal"):
                try:
                    os.unlink(leftover)
                except FileNotFoundError:
                    pass

    def describe(self, **info):
        """Record who holds the lock, for ``status``."""
        data = json.dumps(dict(info, pid=os.getpid(), file=_identity(os.fstat(self._fd))))
        try:
            fd = os.open(self.note, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                give_to_owner_of(self.note, os.path.dirname(self.note))
                os.ftruncate(fd, 0)
                os.pwrite(fd, data.encode(), 0)
            finally:
                os.close(fd)
        except OSError as exc:  # the server runs and is locked all the same
            log.warning("could not write %s for the status command: %s", self.note, exc)
            return
        self._described = True

    def release(self):
        if self._fd is None:
            return
        if self._described:
            try:
                os.truncate(self.note, 0)
            except OSError:
                pass  # only information; the lock itself goes with the descriptor
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def holder(db, note):
    """What the server running on ``db`` wrote about itself: None if no server runs.

    ``{}`` when a server runs but its note is missing or about another file (it reached
    the database by another name, a hard link in another folder).
    """
    try:
        fd = os.open(db, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            # A shared lock is refused exactly while a server holds the exclusive one.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_note(note, _identity(os.fstat(fd)))
        return None
    finally:
        os.close(fd)


def _read_note(note, identity):
    try:
        with open(note, "rb") as f:
            info = json.loads(f.read(4096) or b"{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(info, dict) or info.get("file") != identity:
        return {}
    return info
