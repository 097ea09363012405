"""Consistent copies of the database, taken while the server runs, and putting one back.

Copies use SQLite's online backup API through a connection of their own: it reads one
snapshot (in WAL mode the server's writer carries on meanwhile), so the copy is exactly
the database as of one commit, never a torn file as ``cp`` could give.

A copy is written under a ``.partial`` name and renamed once complete; a copy that
fails (a full disk, most often) is removed, so failures never pile up on the disk they
are short of. The automatic backups note their latest outcome for ``status``.

A box with uploads backs up to a folder instead of a file: ``chatbox.db`` (the copy
above) and ``uploads/`` holding every file that copy refers to. Uploads are named by
their content and never changed, so they are hard links to the box's own files where
the backup is on the same disk (no space taken, nothing to copy), copies elsewhere.
"""

import datetime
import errno
import glob
import json
import logging
import os
import re
import shutil
import sqlite3
import time

from appliance.paths import give_to_owner_of

log = logging.getLogger("chatbox.backup")

# SQLite's primary result code for "database or disk is full".
SQLITE_FULL = 13
# Where the automatic backups note their latest outcome, inside the backups folder.
OUTCOME = "last-backup.json"
# The note is rewritten in place; kept under one 4 KiB block so that rewriting it never
# needs a block the full disk cannot give.
OUTCOME_DETAIL_MAX = 1000
# A partial copy left untouched this long was abandoned by a crash or a power cut: the
# largest box copies in seconds, so one still being written is never this old.
STALE_PARTIAL = 3600
# Inside a backup folder: the database copy, and the uploads it refers to.
DATABASE = "chatbox.db"
UPLOADS = "uploads"
# An upload's place under uploads/: "<first two hex digits>/<sha256>", then perhaps a
# suffix for what is made from it (a thumbnail). Nothing else there (a half-written
# upload) belongs in a backup.
BLOB_FILE = re.compile(r"([0-9a-f]{2})/(\1[0-9a-f]{62})(\.[A-Za-z0-9_.-]+)?")


class BackupError(Exception):
    pass


class Damaged(BackupError):
    """The copy, and so the database it came from, failed its check (``verdict``)."""

    def __init__(self, verdict):
        super().__init__(
            f"the database is damaged ({verdict}); the copy was deleted and the older "
            "ones kept"
        )
        self.verdict = verdict


def _fsync_dir(path):
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def database_of(backup_path):
    """The database file of a backup: the file itself, or a folder's ``chatbox.db``."""
    if os.path.isdir(backup_path):
        return os.path.join(backup_path, DATABASE)
    return backup_path


def integrity(path, quick=False):
    """``"ok"`` or SQLite's description of what is wrong with the file at ``path``
    (or with the database of the backup folder at ``path``).

    ``quick``: ``PRAGMA quick_check``, which reads every page but skips the slower
    cross-checks of indexes against their tables, and stops at the first problem.
    """
    path = database_of(path)
    pragma = "quick_check(1)" if quick else "integrity_check"
    try:
        con = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = con.execute(f"PRAGMA {pragma}").fetchall()
        # One line: a row may hold several, under a "*** in database main ***" heading.
        return "; ".join(
            line.strip()
            for row in rows
            for line in str(row[0]).splitlines()
            if line.strip() and not line.startswith("***")
        )
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        con.close()


def _why(exc):
    """The reason a copy failed, in words an owner acts on."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_FULL:
        return "the disk is full"
    return str(exc)


def _remove_partial(partial):
    if os.path.isdir(partial):
        shutil.rmtree(partial, ignore_errors=True)
        return
    # With the journal SQLite may have made beside it while writing.
    for leftover in (partial, partial + "-journal", partial + "-wal", partial + "-shm"):
        try:
            os.unlink(leftover)
        except FileNotFoundError:
            pass


def _write_copy(source, partial):
    src = sqlite3.connect(source, timeout=30)
    try:
        out = sqlite3.connect(partial)
        try:
            # The copy inherits the database's WAL mode until switched back below; with
            # an exclusive lock SQLite keeps the WAL index in memory instead of a -shm
            # file, which a nearly full disk may have no room to grow.
            out.execute("PRAGMA locking_mode=EXCLUSIVE")
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


def copy(source, dest):
    """Write a consistent copy of the database ``source`` to ``dest``, atomically.

    Raises BackupError if it cannot; a failed copy leaves no file behind.
    """
    if not os.path.exists(source):
        raise BackupError(f"there is no database at {source}")
    partial = dest + ".partial"
    _remove_partial(partial)
    try:
        _write_copy(source, partial)
        os.chmod(partial, 0o600)
        give_to_owner_of(partial, os.path.dirname(os.path.abspath(dest)))
        os.replace(partial, dest)
    except BaseException as exc:
        _remove_partial(partial)
        if isinstance(exc, (sqlite3.Error, OSError)):
            raise BackupError(f"could not copy {source} to {dest}: {_why(exc)}") from exc
        raise
    _fsync_dir(dest)
    return dest


def blob_files(uploads):
    """The uploads' files as paths relative to ``uploads`` ("ab/ab12…")."""
    found = []
    try:
        folders = sorted(os.listdir(uploads))
    except FileNotFoundError:
        return found
    for folder in folders:
        try:
            names = sorted(os.listdir(os.path.join(uploads, folder)))
        except (NotADirectoryError, FileNotFoundError):
            continue
        found += [
            f"{folder}/{name}" for name in names if BLOB_FILE.fullmatch(f"{folder}/{name}")
        ]
    return found


def uploads_size(uploads):
    """``(files, bytes)`` of the uploads, for ``status``."""
    files = blob_files(uploads)
    total = 0
    for name in files:
        try:
            total += os.path.getsize(os.path.join(uploads, name))
        except FileNotFoundError:
            pass
    return len(files), total


def referenced_blobs(database):
    """The sha256 of every upload the database at ``database`` refers to."""
    con = sqlite3.connect(database)
    try:
        has_blobs = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='blob'"
        ).fetchone()
        if not has_blobs:
            return set()
        return {row[0] for row in con.execute('SELECT "sha256" FROM "blob"')}
    finally:
        con.close()


def _place(source, dest):
    """Give ``dest`` the bytes of the upload ``source``: a hard link where possible."""
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    try:
        os.link(source, dest)
    except FileExistsError:
        pass  # the same name is the same content
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        # Another disk, or a filesystem without hard links (FAT on a USB stick).
        partial = dest + ".partial"
        shutil.copyfile(source, partial)
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, dest)


def _missing(folder, shas):
    return sorted(
        sha for sha in shas if not os.path.exists(os.path.join(folder, sha[:2], sha))
    )


def _write_folder(source, partial, uploads):
    """A backup folder at ``partial``: the database as of one commit, and every upload
    that commit refers to.

    The uploads on disk are linked first, then the database is copied; an upload made
    in between is linked after. One that vanished meanwhile (made and deleted within
    the copy's few seconds) fails the backup rather than leave it incomplete.
    """
    os.makedirs(os.path.join(partial, UPLOADS), mode=0o700)
    for name in blob_files(uploads):
        try:
            _place(os.path.join(uploads, name), os.path.join(partial, UPLOADS, name))
        except FileNotFoundError:
            pass  # deleted just now; the database copy says whether it is needed
    database = os.path.join(partial, DATABASE)
    _write_copy(source, database)
    os.chmod(database, 0o600)
    for sha in _missing(os.path.join(partial, UPLOADS), referenced_blobs(database)):
        name = f"{sha[:2]}/{sha}"
        try:
            _place(os.path.join(uploads, name), os.path.join(partial, UPLOADS, name))
        except FileNotFoundError:
            raise BackupError(
                f"the upload {sha} changed during the backup; take it again"
            ) from None


def take(source, dest, uploads=None):
    """Back the box up to ``dest``: a database copy (``copy``), or, when ``uploads``
    holds files, a folder of the database and its uploads. Atomic either way: the
    backup is complete or absent. Returns ``dest``."""
    if uploads is None or not blob_files(uploads):
        return copy(source, dest)
    if not os.path.exists(source):
        raise BackupError(f"there is no database at {source}")
    partial = dest + ".partial"
    _remove_partial(partial)
    try:
        _write_folder(source, partial, uploads)
        give_to_owner_of(partial, os.path.dirname(os.path.abspath(dest)))
        os.replace(partial, dest)
    except BaseException as exc:
        _remove_partial(partial)
        if isinstance(exc, (sqlite3.Error, OSError)):
            raise BackupError(f"could not back up to {dest}: {_why(exc)}") from exc
        raise
    _fsync_dir(dest)
    return dest


def stamped_name(directory, label="", folder=False):
    """A new backup's path in ``directory``: ``chatbox-<time><label>.db``, or without
    ``.db`` for a backup folder."""
    moment = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = "" if folder else ".db"
    path = os.path.join(directory, f"chatbox-{moment}{label}{suffix}")
    counter = 1
    while os.path.exists(path):  # two in one second: keep both
        counter += 1
        path = os.path.join(directory, f"chatbox-{moment}{label}-{counter}{suffix}")
    return path


def listed(directory):
    """The backups in ``directory`` (files and folders) by name, oldest name first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(
        name
        for name in names
        if name.startswith("chatbox-")
        and ".partial" not in name
        and (
            name.endswith(".db") or os.path.isfile(os.path.join(directory, name, DATABASE))
        )
    )


def prune(directory, keep):
    """Delete the oldest periodic backups beyond the newest ``keep``; returns them."""
    periodic = sorted(
        (os.path.join(directory, n) for n in listed(directory) if "-before-" not in n),
        # Oldest first by time written: names made within one second do not sort.
        key=lambda p: (os.stat(p).st_mtime_ns, p),
    )
    doomed = periodic[:-keep] if keep > 0 else []
    for path in doomed:
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return doomed


def make_dir(directory):
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        give_to_owner_of(directory, os.path.dirname(os.path.abspath(directory)))


def sweep_partials(directory, now=None):
    """Delete partial copies a crash or a power cut abandoned; returns them."""
    now = time.time() if now is None else now
    swept = []
    for path in glob.glob(os.path.join(directory, "chatbox-*.partial*")):
        try:
            if now - os.stat(path).st_mtime > STALE_PARTIAL:
                if os.path.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                swept.append(path)
        except FileNotFoundError:
            pass  # a copy finishing or failing just now
    return swept


def note_outcome(directory, ok, detail):
    """Note the latest automatic backup's outcome in ``<directory>/last-backup.json``.

    Rewritten in place, not replaced: when the disk is full a new file cannot be made,
    but the block the note already has can be written again.
    """
    path = os.path.join(directory, OUTCOME)
    data = json.dumps(
        {
            "time": datetime.datetime.now().isoformat(timespec="seconds"),
            "ok": ok,
            "detail": detail[:OUTCOME_DETAIL_MAX],
        }
    ).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        give_to_owner_of(path, directory)
    except OSError as exc:
        log.warning("could not note the backup's outcome in %s: %s", path, exc)


def last_outcome(directory):
    """What ``note_outcome`` noted last: ``{time, ok, detail}``, or None."""
    try:
        with open(os.path.join(directory, OUTCOME), "rb") as f:
            outcome = json.loads(f.read(8192))
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None


def periodic(db_path, directory, keep, uploads=None):
    """One scheduled backup, checked, then pruning; runs on a worker thread.

    Whatever happens, the outcome is noted for ``status``, no partial copy stays, and
    no more than ``keep`` copies remain. A failed copy never costs a good one: pruning
    removes only copies beyond the newest ``keep`` good ones, which a failure does not
    add to. The copy is checked page by page (``quick_check``), which also checks the
    database it came from; a damaged copy is deleted and raises Damaged.
    """
    make_dir(directory)
    sweep_partials(directory)
    try:
        folder = uploads is not None and bool(blob_files(uploads))
        path = take(db_path, stamped_name(directory, folder=folder), uploads)
        verdict = integrity(path, quick=True)
        if verdict != "ok":
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            raise Damaged(verdict)
    except BackupError as exc:
        note_outcome(directory, False, str(exc))
        raise
    finally:
        prune(directory, keep)
    note_outcome(directory, True, os.path.basename(path))
    log.info("backed up the database to %s", path)
    return path


def before_upgrade(db_path, directory, version):
    """The copy taken before a schema upgrade runs; never pruned automatically."""
    make_dir(directory)
    path = copy(db_path, stamped_name(directory, f"-before-v{version}-upgrade"))
    log.info("backed up schema version %d to %s before upgrading it", version, path)
    return path


def vet(backup_path):
    """Refuse a backup that is missing, fails ``PRAGMA integrity_check`` or is not
    chatbox's, or a backup folder that lacks an upload its database refers to."""
    if os.path.isdir(backup_path):
        database = database_of(backup_path)
        if not os.path.isfile(database):
            raise BackupError(f"{backup_path} is a folder without a {DATABASE}")
        vet(database)
        missing = _missing(os.path.join(backup_path, UPLOADS), referenced_blobs(database))
        if missing:
            raise BackupError(
                f"{backup_path} lacks {len(missing)} of the uploads its database "
                f"refers to (the first: {missing[0]})"
            )
        return
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


def restore_uploads(backup_path, uploads):
    """Put a backup folder's uploads in ``uploads`` (before its database goes back, so
    that the database never refers to a file that is not there). Returns how many."""
    source = os.path.join(backup_path, UPLOADS)
    names = blob_files(source)
    for name in names:
        _place(os.path.join(source, name), os.path.join(uploads, name))
    return len(names)


def set_aside_unreferenced(db_path, uploads, aside):
    """Move the uploads the (restored) database does not refer to into ``aside``, as the
    replaced database is kept: they belong to messages the restore took back. Returns
    how many."""
    wanted = referenced_blobs(db_path)
    moved = 0
    for name in blob_files(uploads):
        if name.split("/")[1][:64] in wanted:
            continue
        os.makedirs(os.path.join(aside, os.path.dirname(name)), mode=0o700, exist_ok=True)
        os.replace(os.path.join(uploads, name), os.path.join(aside, name))
        moved += 1
    return moved


def restore(backup_path, db_path):
    """Put the vetted ``backup_path`` (a database file) in place of the database at
    ``db_path``.

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
