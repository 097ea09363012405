"""The writer: one thread, many writes per transaction, each write's failure its own."""

import asyncio
import threading
import time

import pytest
from peewee import OperationalError
from realtime import read, read_type, send

from models import Message, Room, User, ValidationError, db


class CountedCommits:
    """Wraps a WriteQueue's commit to record each transaction's size.

    ``delay`` stands in for a slow disk (an SD card's fsync takes tens of
    milliseconds): it makes sure writes arrive while a commit is under way.
    """

    def __init__(self, writer, delay=0.0):
        self.sizes = []
        self._commit = writer._commit
        self._delay = delay
        writer._commit = self

    def __call__(self, batch):
        self.sizes.append(len(batch))
        if self._delay:
            time.sleep(self._delay)
        return self._commit(batch)


def register(name):
    return User.register(name, "not-a-real-hash")


@pytest.mark.gen_test(timeout=60)
async def test_many_concurrent_socket_posts_commit_in_fewer_transactions_than_messages(
    api, app, unlimited
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    commits = CountedCommits(app.messenger.writer, delay=0.02)
    sockets, per_socket = 20, 10
    clients = []
    for _ in range(sockets):
        ws = await alice.socket("/ws")
        assert (await read(ws))["type"] == "hello"
        clients.append(ws)
    for n in range(per_socket):
        for s, ws in enumerate(clients):
            send(ws, {"type": "send", "uri": uri, "client_id": f"{s}-{n}", "text": "hi"})
    for ws in clients:
        for _ in range(per_socket):
            assert (await read_type(ws, "ack"))["duplicate"] is False
    total = sockets * per_socket
    assert sum(commits.sizes) == total
    assert len(commits.sizes) < total / 2, commits.sizes
    assert max(commits.sizes) > 1
    assert Message.select().count() == total
    print(f"\n{total} messages in {len(commits.sizes)} transactions: {commits.sizes}")


@pytest.mark.gen_test(timeout=30)
async def test_one_failing_write_in_a_batch_does_not_undo_the_others(app):
    writer = app.messenger.writer
    commits = CountedCommits(writer)
    owner = await writer.run(register, "owner")
    room = await writer.run(Room.start_private, owner)
    commits.sizes.clear()

    def half_done_then_fails():
        Message.create(room=room, author=owner, text="half done")
        raise RuntimeError("changed its mind")

    results = await asyncio.gather(
        writer.run(register, "first"),
        writer.run(half_done_then_fails),
        writer.run(register, "first"),  # the same name again: a constraint fails
        writer.run(Message.post, room, owner, "kept"),
        return_exceptions=True,
    )
    assert commits.sizes == [4]  # all four went in one transaction
    first, failed, duplicate, (message, created) = results
    assert isinstance(first, User) and first.username == "first"
    assert isinstance(failed, RuntimeError)
    assert isinstance(duplicate, ValidationError)
    assert created and message.text == "kept"
    assert [m.text for m in Message.select()] == ["kept"]  # the half-done row is gone
    assert User.select().where(User.username == "first").count() == 1


@pytest.mark.sqlite_only
@pytest.mark.gen_test(timeout=30)
async def test_a_commit_that_fails_fails_every_write_in_its_batch_and_the_queue_goes_on(
    app,
):
    writer = app.messenger.writer
    owner = await writer.run(register, "owner")
    room = await writer.run(Room.start_private, owner)
    commits = CountedCommits(writer)

    def breaks_the_commit():
        # A deferred foreign key is checked only at COMMIT: this write itself
        # succeeds, and the transaction holding it cannot commit.
        db.execute_sql("PRAGMA defer_foreign_keys = ON")
        Message.insert(room=999999, author=owner, text="dangling").execute()

    results = await asyncio.gather(
        writer.run(Message.post, room, owner, "innocent"),
        writer.run(breaks_the_commit),
        writer.run(register, "bystander"),
        return_exceptions=True,
    )
    assert commits.sizes == [3]
    assert all(isinstance(r, Exception) for r in results), results
    assert len({type(r) for r in results}) == 1  # the commit's own error, for each
    assert "FOREIGN KEY" in str(results[0])
    assert Message.select().count() == 0
    assert User.by_username("bystander") is None
    # The writer is not wedged: the next write commits.
    message, created = await writer.run(Message.post, room, owner, "after")
    assert created
    assert [m.text for m in Message.select()] == ["after"]


@pytest.mark.gen_test(timeout=30)
async def test_a_write_after_sqlite_rolled_the_batch_back_is_not_kept_on_its_own(app):
    writer = app.messenger.writer
    owner = await writer.run(register, "owner")
    room = await writer.run(Room.start_private, owner)
    commits = CountedCommits(writer)

    def fails_like_a_full_disk():
        # On SQLITE_FULL or an I/O error SQLite ends the transaction by itself; a
        # ROLLBACK from inside the write does the same.
        db.connection().execute("ROLLBACK")
        raise OperationalError("database or disk is full")

    results = await asyncio.gather(
        writer.run(Message.post, room, owner, "before"),
        writer.run(fails_like_a_full_disk),
        writer.run(Message.post, room, owner, "after"),
        return_exceptions=True,
    )
    assert commits.sizes == [3]
    assert all(isinstance(r, Exception) for r in results), results
    assert Message.select().count() == 0  # "after" was not committed on its own
    message, created = await writer.run(Message.post, room, owner, "later")
    assert created
    assert [m.text for m in Message.select()] == ["later"]


@pytest.mark.gen_test(timeout=30)
async def test_writes_run_in_the_order_they_were_queued_on_one_thread(app):
    writer = app.messenger.writer

    seen = []

    def note(n):
        seen.append((n, threading.current_thread().name))
        return n

    results = await asyncio.gather(*(writer.run(note, n) for n in range(50)))
    assert results == list(range(50))
    assert [n for n, _ in seen] == list(range(50))
    assert len({name for _, name in seen}) == 1
    assert seen[0][1].startswith("chatbox-writer")
    assert threading.current_thread().name != seen[0][1]


@pytest.mark.gen_test(timeout=30)
async def test_flush_waits_for_everything_queued(app):
    writer = app.messenger.writer
    CountedCommits(writer, delay=0.05)
    futures = [asyncio.ensure_future(writer.run(register, f"u{n}")) for n in range(5)]
    await asyncio.sleep(0)
    await writer.flush()
    assert all(f.done() for f in futures)
    assert User.select().count() == 5
