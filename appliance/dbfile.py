"""The database file itself: vetted before it is served, watched while it is, made whole.

A box must not serve a file that is not its database. An empty file, a file of some
other program, or one with damaged pages is refused at start with one line saying
why, rather than turned into a new box (whose next sign-up would be its administrator)
or served until some query meets the damage. The check is SQLite's ``quick_check``:
every page of every table and index is read and its structure verified, without the
cross-checks of ``integrity_check`` that make that one several times slower. On a
database of 100,000 messages (19 MiB) it takes about 45 ms here, 180 ms with a cold page
cache (``python bench/disk.py``; docs/operations.md, Figures): a fraction of a second on
a Raspberry Pi.

While the server runs, damage shows where it is met (a query fails with SQLITE_CORRUPT)
and when the periodic backup checks its copy; ``Health`` remembers it for ``/healthz``.

In WAL mode a commit lands in ``chatbox.db-wal`` and reaches ``chatbox.db`` only at a
checkpoint. A server that stops with the log still full leaves a database file that
means nothing without its companion, and an owner who stops the service and copies
``chatbox.db`` alone would copy an old or empty box: a clean stop folds the log in.
"""

import logging
import os
import sqlite3
import urllib.parse

from peewee import DatabaseError

from models import db
from writer import causes

log = logging.getLogger("chatbox.database")

# SQLite's primary result codes for a file with damaged pages and for a file that is
# not a database at all.
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
# Seconds a check waits for a lock an admin command holds; their transactions are short.
BUSY_TIMEOUT = 30


class Unsound(Exception):
    """The file is not a sound chatbox database; the message says why, in one line."""


def _connect(path):
    # mode=rw: a check never creates the file it is asked about.
    uri = f"file:{urllib.parse.quote(path)}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)


def _one_line(rows):
    lines = [
        line.strip()
        for row in rows
        for line in str(row[0]).splitlines()
        if line.strip() and not line.startswith("***")
    ]
    return "; ".join(lines)


def _primary_code(exc):
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def _refusal(path, exc):
    code = _primary_code(exc)
    if code == SQLITE_NOTADB:
        return Unsound(f"{path} is not a SQLite database ({exc})")
    if code == SQLITE_CORRUPT:
        return Unsound(f"{path} is damaged ({exc}); restore a backup")
    return Unsound(f"cannot read {path}: {exc}")


def check(path, thorough=True):
    """Raise Unsound unless ``path`` is a chatbox database, and (``thorough``) sound.

    Without ``thorough`` only what the file is gets checked, not every page: for a
    backup, which may be the way to salvage a damaged database.
    """
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise Unsound(f"there is no database at {path}") from None
    except OSError as exc:
        raise Unsound(f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        raise Unsound(
            f"{path} is an empty file (0 bytes), not a chatbox database; only a missing "
            "file becomes a new box: move it away to start afresh, or restore a backup"
        )
    try:
        con = _connect(path)
    except sqlite3.Error as exc:
        raise Unsound(f"cannot open {path}: {exc}") from None
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        if "user" not in tables:
            raise Unsound(f"{path} is a SQLite database but not a chatbox one")
        if thorough:
            # quick_check(1): the first problem is reason enough, and a badly damaged
            # file would otherwise list thousands.
            verdict = _one_line(con.execute("PRAGMA quick_check(1)").fetchall())
            if verdict != "ok":
                raise Unsound(f"{path} is damaged ({verdict}); restore a backup")
    except sqlite3.DatabaseError as exc:
        raise _refusal(path, exc) from None
    finally:
        con.close()


def damage(exc):
    """SQLite's words if ``exc`` (raw, or wrapped by peewee) says the file is damaged or
    not a database; None for any other error."""
    for cause in causes(exc):
        if isinstance(cause, sqlite3.DatabaseError) and _primary_code(cause) in (
            SQLITE_CORRUPT,
            SQLITE_NOTADB,
        ):
            return str(cause)
    return None


class Health:
    """What the running server knows to be wrong with its database file, for /healthz.

    Damage found once is reported until the server stops: SQLite cannot mend a file in
    place. The cure is to stop the server and restore a backup; the next start checks
    the file again.
    """

    def __init__(self):
        self.problem = None

    def noticed(self, exc):
        """Look at an error a query raised; True if it shows the file is damaged."""
        reason = damage(exc)
        if reason is not None:
            self.failed(reason)
        return reason is not None

    def failed(self, reason):
        if self.problem is None:
            log.error(
                "the database is failing (%s); stop the server and restore a backup", reason
            )
            self.problem = reason


def fold_and_close(database=db):
    """Fold the write-ahead log into the database file and close this thread's connection.

    Call it last, on the thread that opened the database, once the writer thread has
    closed its own connection: then nothing is left in the log, and closing the last
    connection also removes the ``-wal`` and ``-shm`` files.
    """
    if database.is_closed():
        return
    try:
        # TRUNCATE: copy every committed page into the file, fsync it, and empty the log,
        # so the file is whole even if some other connection were still open.
        busy, _, _ = database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except DatabaseError as exc:  # the stop goes on: the next start replays the log
        log.warning("could not fold the write-ahead log into the database: %s", exc)
    else:
        if busy:
            log.warning(
                "another connection was reading at stop; part of the database stays in "
                "its -wal file, which the next start replays"
            )
    database.close()


def make(path, init_db):
    """Write a new chatbox database at ``path``, whole in that one file.

    ``path`` is a temporary name: the new file takes the database's name only once it
    holds the schema (see ``ServerLock.acquire``), so a file under that name is always
    a chatbox database, never an empty file a crash left behind.
    """
    init_db(path)
    fold_and_close()
