"""Consistent copies of the database, taken while the server runs, and putting one back.

Copies use SQLite's online backup API through a connection of their own: it reads one
snapshot (in WAL mode the server's writer carries on meanwhile), so the copy is exactly
the database as of one commit, never a torn file as ``cp`` could give.
"""
import datetime
import glob
import logging
import os
import shutil
import sqlite3

from appliance.paths import give_to_owner_of

log = logging.getLogger("chatbox.backup")


class BackupError(Exception):
    pass


def _fsync_dir(path):
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def integrity(path):
    """``"ok"`` or SQLite's description of what is wrong with the file at ``path``."""
    try:
        con = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(row[0]) for row in rows)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        con.close()


def copy(source, dest):
    """Write a consistent copy of the database ``source`` to ``dest``, atomically."""
    if not os.path.exists(source):
        raise BackupError(f"there is no database at {source}")
    partial = dest + ".partial"
    if os.path.exists(partial):
        os.unlink(partial)
    src = sqlite3.connect(source, timeout=30)
    try:
        out = sqlite3.connect(partial)
        try:
            # One step (pages=-1): the whole copy comes from a single read snapshot.
            src.backup(out)
            # A self-contained single file: no -wal beside it to lose when copied away.
            out.execute("PRAGMA journal_mode=DELETE")
        finally:
            out.close()
    finally:
        src.close()
    with open(partial, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(partial, 0o600)
    give_to_owner_of(partial, os.path.dirname(os.path.abspath(dest)))
    os.replace(partial, dest)
    _fsync_dir(dest)
    return dest


def stamped_name(directory, label=""):
    moment = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"chatbox-{moment}{label}.db"
    path = os.path.join(directory, name)
    counter = 1
    while os.path.exists(path):  # two in one second: keep both
        counter += 1
        path = os.path.join(directory, f"chatbox-{moment}{label}-{counter}.db")
    return path


def prune(directory, keep):
    """Delete the oldest periodic backups beyond the newest ``keep``; returns them."""
    periodic = sorted(
        (p for p in glob.glob(os.path.join(directory, "chatbox-*.db"))
         if "-before-" not in os.path.basename(p)),
        # Oldest first by time written: names made within one second do not sort.
        key=lambda p: (os.stat(p).st_mtime_ns, p),
    )
    doomed = periodic[:-keep] if keep > 0 else []
    for path in doomed:
        os.unlink(path)
    return doomed


def make_dir(directory):
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        give_to_owner_of(directory, os.path.dirname(os.path.abspath(directory)))


def periodic(db_path, directory, keep):
    """One scheduled backup plus pruning; runs on a worker thread."""
    make_dir(directory)
    path = copy(db_path, stamped_name(directory))
    prune(directory, keep)
    log.info("backed up the database to %s", path)
    return path


def before_upgrade(db_path, directory, version):
    """The copy taken before a schema upgrade runs; never pruned automatically."""
    make_dir(directory)
    path = copy(db_path, stamped_name(directory, f"-before-v{version}-upgrade"))
    log.info("backed up schema version %d to %s before upgrading it", version, path)
    return path


def vet(backup_path):
    """Refuse a file that is missing, fails ``PRAGMA integrity_check`` or is not chatbox's."""
    if not os.path.isfile(backup_path):
        raise BackupError(f"there is no file at {backup_path}")
    verdict = integrity(backup_path)
    if verdict != "ok":
        raise BackupError(f"{backup_path} is not a sound SQLite database: {verdict}")
    con = sqlite3.connect(backup_path)
    try:
        has_users = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='user'"
        ).fetchone()
    finally:
        con.close()
    if not has_users:
        raise BackupError(f"{backup_path} is not a chatbox database")


def prepare(source, dest):
    """Copy the file ``source`` byte for byte to ``dest``, on disk and private to the box."""
    shutil.copyfile(source, dest)
    with open(dest, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(dest, 0o600)
    give_to_owner_of(dest, os.path.dirname(os.path.abspath(dest)))


def restore(backup_path, db_path):
    """Put the vetted ``backup_path`` in place of the database at ``db_path``.

    The caller holds the server lock on that database (a missing database is made from
    the backup while taking the lock instead: see ``ServerLock.acquire``). The database
    it replaces is kept (consistently copied) as ``<db>.before-restore``; returns that path.
    """
    # The file a symlink leads to: SQLite names its -wal after it, and a server through
    # the link must open the restored file, not find the link replaced by it.
    db_path = os.path.realpath(db_path)
    kept = db_path + ".before-restore"
    try:
        copy(db_path, kept)
    except (sqlite3.DatabaseError, BackupError):
        # Not a database SQLite can read (a damaged or foreign file, as likely as not
        # the reason for this restore): keep its bytes as they are.
        for suffix in ("", "-wal"):
            if os.path.exists(db_path + suffix):
                prepare(db_path + suffix, kept + suffix)
    incoming = db_path + ".restoring"
    prepare(backup_path, incoming)
    # A -wal left beside the old file would be replayed into the restored one.
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.unlink(db_path + suffix)
    os.replace(incoming, db_path)
    _fsync_dir(db_path)
    return kept
