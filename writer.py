"""The one writer thread: every database write runs there, many to a transaction.

Writes from the event loop are queued and run on a single thread, which commits what
has piled up in one transaction (group commit). Reads run wherever they are called: in
WAL mode readers never wait for the writer.
"""

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from peewee import OperationalError

from models import db

log = logging.getLogger("chatbox.writer")


class DiskFull(Exception):
    """A write failed because the disk holding the database is full; nothing was kept."""

    def __init__(self, detail="The server's disk is full; nothing was stored."):
        super().__init__(detail)
        self.detail = detail


def causes(exc):
    """``exc`` and every exception behind it, each once: its cause and context, and the
    driver's exception that peewee passes along as an argument."""
    seen, todo = set(), [exc]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        todo.extend(arg for arg in exc.args if isinstance(arg, BaseException))
        todo.extend((exc.__cause__, exc.__context__))


def is_disk_full(exc):
    """True for SQLite's SQLITE_FULL, raw or wrapped by peewee, or hidden behind the
    "cannot rollback" error peewee raises after SQLite already rolled a failed COMMIT
    back by itself."""
    return any(
        isinstance(cause, (sqlite3.OperationalError, OperationalError))
        and (
            getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(cause)
        )
        for cause in causes(exc)
    )


class WriteQueue:
    """Runs every database write on one thread, committing many in one transaction.

    ``await queue.run(write, *args)`` resolves only after the transaction that ran ``write`` has
    committed, so an answer sent after it is backed by the disk. While a commit (and its
    fsync) is under way, new writes queue up and go together in the next transaction:
    group commit, so durability costs one fsync per batch rather than one per message.
    Each write runs in its own savepoint, so one failing write does not undo the others.
    """

    # Large enough that a burst from a full school commits in a handful of fsyncs, small
    # enough that one transaction stays short.
    MAX_BATCH = 1000

    def __init__(self, database=db):
        self._database = database
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chatbox-writer")
        self._pending = []
        self._draining = None

    async def run(self, write, *args):
        future = asyncio.get_running_loop().create_future()
        self._pending.append((write, args, future))
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self):
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch = self._pending[: self.MAX_BATCH]
                del self._pending[: self.MAX_BATCH]
                try:
                    results = await loop.run_in_executor(
                        self._executor, self._commit, batch
                    )
                except Exception as exc:  # the commit itself failed: nothing was kept
                    if is_disk_full(exc):
                        log.error("database write refused: the disk is full")
                    else:
                        log.error("database write failed: %s", exc)
                    results = [(False, exc)] * len(batch)
                results = [
                    (False, DiskFull()) if not ok and is_disk_full(value) else (ok, value)
                    for ok, value in results
                ]
                for (_, _, future), (ok, value) in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._draining = None

    def _commit(self, batch):
        # This thread keeps its own connection (peewee opens one per thread on first
        # use), so it never shares a transaction with readers on the event loop.
        results = []
        with self._database.atomic():
            for write, args, _ in batch:
                try:
                    with self._database.atomic():
                        results.append((True, write(*args)))
                except Exception as exc:
                    if not self._database.connection().in_transaction:
                        # SQLite itself rolled the whole transaction back (a full disk,
                        # an I/O error): the batch's earlier writes are gone, and later
                        # ones would each commit on their own. Fail the whole batch.
                        raise
                    results.append((False, exc))
        return results

    async def flush(self):
        """Wait until everything queued so far is committed."""
        while self._draining is not None:
            await asyncio.shield(self._draining)

    def close(self):
        """Finish queued work and close the writer thread's connection."""
        self._executor.submit(self._database.close).result()
        self._executor.shutdown(wait=True)
