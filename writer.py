"""The one writer thread: every database write runs there, many to a transaction.

Writes from the event loop are queued and run on a single thread, which commits what
has piled up in one transaction (group commit). Reads run wherever they are called: in
WAL mode readers never wait for the writer.

On PostgreSQL several processes each have their writer, and their batches meet in the
database: a batch first locks the rooms its writes will number, in id order, so two
batches never hold rooms in opposite orders; should the database still report a
deadlock or a serialization failure, the batch is rolled back and run again as a whole.
"""

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from peewee import OperationalError

from database import Postgres
from models import db

log = logging.getLogger("chatbox.writer")


class DiskFull(Exception):
    """A write failed because the disk holding the database is full; nothing was kept."""

    def __init__(self, detail="The server's disk is full; nothing was stored."):
        super().__init__(detail)
        self.detail = detail


def causes(exc):
    """``exc`` and every exception behind it, each once: its cause and context, and the
    driver's exception that peewee keeps (as ``orig``, or as an argument)."""
    seen, todo = set(), [exc]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        todo.extend(arg for arg in exc.args if isinstance(arg, BaseException))
        todo.extend((exc.__cause__, exc.__context__, getattr(exc, "orig", None)))


# PostgreSQL's SQLSTATE for a full disk (disk_full).
_PG_DISK_FULL = "53100"
# What PostgreSQL answers when two transactions got in each other's way: a deadlock, a
# serialization failure, a lock that could not be had. Running the batch again is the
# documented remedy.
_PG_RETRY = {"40P01", "40001", "55P03"}


def is_disk_full(exc):
    """True for SQLite's SQLITE_FULL, raw or wrapped by peewee, or hidden behind the
    "cannot rollback" error peewee raises after SQLite already rolled a failed COMMIT
    back by itself; and for PostgreSQL's disk_full."""
    return any(
        (
            isinstance(cause, (sqlite3.OperationalError, OperationalError))
            and (
                getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "database or disk is full" in str(cause)
            )
        )
        or getattr(cause, "sqlstate", None) == _PG_DISK_FULL
        for cause in causes(exc)
    )


def is_conflict(exc):
    """True when PostgreSQL gave the transaction up for another's sake (deadlock,
    serialization failure, lock not available): worth running again."""
    return any(getattr(cause, "sqlstate", None) in _PG_RETRY for cause in causes(exc))


class _Again(Exception):
    """Leaves a batch's transaction (rolling it back) to run the batch again."""


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
    # Runs of a batch that PostgreSQL keeps giving up for another's sake before each of
    # its writes fails: a deadlock between two batches that lock their rooms in order
    # takes a row lock outside the rooms, which is rare, and twice in a row rarer.
    MAX_ATTEMPTS = 5

    def __init__(self, database=db):
        self._database = database
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chatbox-writer")
        self._pending = []
        self._draining = None

    async def run(self, write, *args, rooms=()):
        """Run ``write(*args)`` in the next batch; resolves once committed.

        ``rooms`` are the ids of the rooms the write will number (take ``Event``
        sequence numbers of): on PostgreSQL the batch locks them first, in order.
        """
        future = asyncio.get_running_loop().create_future()
        self._pending.append((write, args, future, rooms))
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
                for (_, _, future, _), (ok, value) in zip(batch, results, strict=True):
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
        postgres = isinstance(getattr(self._database, "obj", self._database), Postgres)
        if not postgres:
            return self._commit_once(batch, False)
        self._database.drop_lost_connection()
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            try:
                return self._commit_once(batch, True)
            except Exception as exc:
                if not is_conflict(exc) or attempt == self.MAX_ATTEMPTS:
                    raise
                log.info("batch of %d writes ran into another; again", len(batch))

    def _commit_once(self, batch, postgres):
        results = []
        try:
            with self._database.atomic():
                if postgres:
                    self._lock_rooms(batch)
                for write, args, _, _ in batch:
                    try:
                        with self._database.atomic():
                            results.append((True, write(*args)))
                    except Exception as exc:
                        if postgres and is_conflict(exc):
                            raise _Again() from exc
                        if not self._transaction_open():
                            # The database itself rolled the whole transaction back (a
                            # full disk, an I/O error): the batch's earlier writes are
                            # gone, and later ones would each commit on their own. Fail
                            # the whole batch.
                            raise
                        results.append((False, exc))
        except _Again as again:
            raise again.__cause__ from None
        return results

    def _lock_rooms(self, batch):
        rooms = sorted({room for *_, hinted in batch for room in hinted})
        if rooms:
            self._database.execute_sql(
                'SELECT "id" FROM "room" WHERE "id" = ANY(%s) ORDER BY "id" FOR UPDATE',
                (rooms,),
            ).fetchall()

    def _transaction_open(self):
        """Whether the writer's connection is still inside its transaction."""
        connection = self._database.connection()
        info = getattr(connection, "info", None)  # psycopg's; sqlite3 has no such thing
        if info is not None and hasattr(info, "transaction_status"):
            from psycopg.pq import TransactionStatus

            return info.transaction_status == TransactionStatus.INTRANS
        return connection.in_transaction

    async def flush(self):
        """Wait until everything queued so far is committed."""
        while self._draining is not None:
            await asyncio.shield(self._draining)

    def close(self):
        """Finish queued work and close the writer thread's connection."""
        self._executor.submit(self._database.close).result()
        self._executor.shutdown(wait=True)
