"""Which database chatbox runs on, and the rule that keeps it off the event loop.

chatbox runs on one SQLite file by default, or on PostgreSQL when several processes
share one database (docs/scale-out.md). ``models.db`` is a proxy that ``schema`` points
at one of the two classes below when the server starts.

On SQLite a read is a few page lookups in memory (WAL readers never wait for the
writer), so reads run where they are called, on the event loop: a thread hop would cost
more than the read. On PostgreSQL every statement is a round trip to another process,
so ``ReadPool`` runs reads on threads of their own and the event loop never waits on the
network. ``forbid_loop`` makes that a rule the code cannot break silently: once it is
on, a statement issued from the event loop's thread while serving raises ``OnLoop``.
"""

import asyncio
import contextvars
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from peewee import PostgresqlDatabase, SqliteDatabase

# Set in the context of everything that serves a request or a socket (handlers.base,
# handlers.sockets) and of the periodic work (appliance.service); test code that sets
# up rows with the models directly runs outside it.
serving = contextvars.ContextVar("serving", default=False)

log = logging.getLogger("chatbox.database")

_forbidden_thread = None  # the event loop's thread id while the rule is on
# Whether a statement on the loop raises (the test suite) or is logged once per
# statement (a running server: the answer is late, not lost).
_strict = False
_reported = set()


class OnLoop(RuntimeError):
    """A database statement was issued on the event loop while serving."""


def forbid_loop(on=True, strict=False):
    """Turn the rule on for the calling thread (the event loop's), or off.

    ``strict``: a statement on the loop raises ``OnLoop``; otherwise it runs and is
    logged, once per statement, as a fault to fix.
    """
    global _forbidden_thread, _strict
    _forbidden_thread = threading.get_ident() if on else None
    _strict = on and strict


def _check_thread(sql):
    if (
        _forbidden_thread is not None
        and threading.get_ident() == _forbidden_thread
        and serving.get()
    ):
        if _strict:
            raise OnLoop(f"database statement on the event loop: {sql[:80]}")
        if sql not in _reported:
            _reported.add(sql)
            log.warning("database statement on the event loop: %s", sql[:200])


class Sqlite(SqliteDatabase):
    def execute_sql(self, sql, params=None):
        _check_thread(sql)
        return super().execute_sql(sql, params)


class Postgres(PostgresqlDatabase):
    """PostgreSQL, made to accept what chatbox writes for SQLite where the two agree.

    Integers are 64-bit, as SQLite's are, so an id or a size the SQLite box accepts
    fits here too. SQL written out by hand in models.py and search.py uses SQLite's
    ``?`` placeholders; they are turned into psycopg's ``%s`` here, once per distinct
    statement, so such SQL holds neither a literal ``?`` nor a literal ``%``.

    PostgreSQL text cannot hold the character NUL, which SQLite's can; chatbox never
    stores it (models refuse it in what they keep), but a lookup may be given one (a
    URL's ``%00``). Such a value is sent with U+FFFD in its place, so that it finds
    nothing, as on SQLite, rather than failing the request.
    """

    field_types = {**PostgresqlDatabase.field_types, "AUTO": "BIGSERIAL", "INT": "BIGINT"}

    def __init__(self, database, **kwargs):
        # psycopg takes both spellings of the scheme; peewee only the long one.
        if isinstance(database, str) and database.startswith("postgres://"):
            database = "postgresql://" + database[len("postgres://") :]
        super().__init__(database, **kwargs)
        self._translated = {}

    def drop_lost_connection(self):
        """Forget this thread's connection if the server dropped it (a restart, a cut
        network), so that the next statement connects again. Outside a transaction
        only: one cut inside fails that transaction, as it must."""
        connection = self._state.conn
        if connection is not None and connection.closed and not self.in_transaction():
            self._state.reset()

    def execute_sql(self, sql, params=None):
        _check_thread(sql)
        self.drop_lost_connection()
        if "?" in sql:
            translated = self._translated.get(sql)
            if translated is None:
                if len(self._translated) > 1000:  # a few dozen in practice; stay bounded
                    self._translated.clear()
                translated = self._translated[sql] = sql.replace("?", "%s")
            sql = translated
        return super().execute_sql(sql, params)

    def _connect(self):
        connection = super()._connect()
        connection.adapters.register_dumper(str, _text_dumper())
        return connection


_TEXT_DUMPER = None


def _text_dumper():
    global _TEXT_DUMPER
    if _TEXT_DUMPER is None:
        from psycopg.types.string import StrDumperUnknown

        class TextDumper(StrDumperUnknown):
            def dump(self, obj):
                return super().dump(obj.replace("\0", "\ufffd") if "\0" in obj else obj)

        _TEXT_DUMPER = TextDumper
    return _TEXT_DUMPER


def is_postgres(target):
    """Whether a ``--database`` value names a PostgreSQL server rather than a file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class ReadPool:
    """Runs reads of the database: inline on SQLite, on threads on PostgreSQL.

    ``await reads.run(read, *args)`` returns what ``read(*args)`` returns. With
    ``threads`` 0 the call happens at once on the caller's thread; otherwise on one of
    ``threads`` worker threads, each keeping its own connection (peewee opens one per
    thread on first use).
    """

    def __init__(self, database, threads=0):
        self._database = database
        self.threads = threads
        self._executor = (
            ThreadPoolExecutor(threads, thread_name_prefix="chatbox-reader")
            if threads
            else None
        )
        self._closed = False

    @property
    def threaded(self):
        return self._executor is not None

    async def run(self, read, *args, **kwargs):
        if self._executor is None:
            return read(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(read, *args, **kwargs)
        )

    def close(self):
        """Close every worker thread's connection, then the threads."""
        if self._executor is None or self._closed:
            return
        self._closed = True
        # One task per thread, each held at the barrier until all have started, so that
        # every thread runs exactly one of them.
        barrier = threading.Barrier(self.threads)

        def close_mine():
            barrier.wait(timeout=10)
            self._database.close()

        for future in [self._executor.submit(close_mine) for _ in range(self.threads)]:
            future.result()
        self._executor.shutdown(wait=True)
