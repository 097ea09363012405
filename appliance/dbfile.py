"""The database file itself: made whole, before it has a name and at a clean stop.

In WAL mode a commit lands in ``chatbox.db-wal`` and reaches ``chatbox.db`` only at a
checkpoint. A server that stops with the log still full leaves a database file that
means nothing without its companion, and an owner who stops the service and copies
``chatbox.db`` alone would copy an old or empty box.
"""
import logging

from peewee import DatabaseError

from models import db

log = logging.getLogger("chatbox.database")


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
