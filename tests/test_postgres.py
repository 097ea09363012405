"""PostgreSQL as chatbox's database: its schema, its writer batches among several
writers, and what differs from SQLite. Each test gets a database of its own on the
suite's cluster (servers.py), whichever engine the rest of the suite runs on."""

import asyncio
import itertools
import time

import psycopg
import pytest

import models
import schema
import search
from models import Event, Room, User, db
from writer import DiskFull, WriteQueue, is_conflict, is_disk_full

_names = itertools.count()


@pytest.fixture
def fresh(postgres):
    """The URL of an empty database of its own; models.db is closed afterwards."""
    name = f"fresh_{next(_names)}"
    url = postgres.create_database(name)
    yield url
    models.db.close()
    postgres.drop_database(name)


def test_a_new_database_gets_todays_schema_and_its_version_in_a_table(fresh):
    assert schema.open_database(fresh) == schema.SCHEMA_VERSION
    assert schema.schema_version() == schema.SCHEMA_VERSION
    tables = set(db.get_tables())
    assert {model._meta.table_name for model in models.MODELS} | {
        "schema_version"
    } == tables
    # Opening it again changes nothing.
    assert schema.open_database(fresh) == schema.SCHEMA_VERSION
    assert db.execute_sql('SELECT COUNT(*) FROM "schema_version"').fetchone() == (1,)


def test_every_model_column_exists_with_64_bit_integers(fresh):
    schema.open_database(fresh)
    for model in models.MODELS:
        columns = {
            name: kind
            for name, kind in db.execute_sql(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_name = %s",
                (model._meta.table_name,),
            )
        }
        for field in model._meta.sorted_fields:
            assert field.column_name in columns, (model, field)
            if columns[field.column_name] == "integer":
                pytest.fail(f"{model.__name__}.{field.name} is a 32-bit integer")


def test_a_database_with_tables_chatbox_did_not_make_is_refused(fresh, postgres):
    postgres.execute('CREATE TABLE "user" ("id" INTEGER)', dbname=fresh.rsplit("/", 1)[1])
    with pytest.raises(RuntimeError, match="not made by chatbox"):
        schema.open_database(fresh)


def test_a_database_of_a_newer_chatbox_is_refused(fresh):
    schema.open_database(fresh)
    db.execute_sql(
        'UPDATE "schema_version" SET "version" = %s', (schema.SCHEMA_VERSION + 1,)
    )
    with pytest.raises(RuntimeError, match="newer than this chatbox"):
        schema.open_database(fresh)


def test_every_later_version_has_a_step_for_each_engine():
    later = {n for n in schema.UPGRADES if n >= schema.POSTGRES_FIRST_VERSION}
    assert later == set(schema.POSTGRES_UPGRADES)
    assert all(n >= schema.POSTGRES_FIRST_VERSION for n in schema.POSTGRES_UPGRADES)


def test_a_lookup_with_a_nul_character_finds_nothing_rather_than_failing(fresh):
    schema.open_database(fresh)
    assert Room.by_uri("general\x00") is None
    assert User.by_username("alice\x00") is None


def test_search_words_are_folded_prefixes_and_match_inside_addresses(fresh):
    schema.open_database(fresh)
    alice = User.register("alice", "not-a-real-hash")
    room = Room.start_private(alice)
    with db.atomic():
        models.Message.post(room, alice, "Ωμέγα at the CAFÉ, see example.org")
    for q, found in [("ωμεγα", 1), ("cafe", 1), ("caf ωμ", 1), ("exam", 1), ("tea", 0)]:
        results, _ = search.search(alice, q)
        assert len(results) == found, q
    results, _ = search.search(alice, "cafe")
    assert [p["text"] for p in results[0][2] if p["match"]] == ["CAFÉ"]


def test_a_long_message_gives_a_snippet_of_about_sixteen_words_around_the_match():
    text = " ".join(f"w{n}" for n in range(40)) + " needle " + "tail " * 30
    snippet = search.marked_snippet(text, "need")
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet.split()) <= search.SNIPPET_TOKENS
    assert f"{search.START}needle{search.END}" in snippet


def test_disk_full_and_conflicts_are_told_apart_by_sqlstate():
    assert is_disk_full(psycopg.errors.DiskFull())
    assert not is_disk_full(psycopg.errors.DeadlockDetected())
    assert is_conflict(psycopg.errors.DeadlockDetected())
    assert is_conflict(psycopg.errors.SerializationFailure())
    assert not is_conflict(psycopg.errors.UniqueViolation())


def two_rooms():
    alice = User.register("alice", "not-a-real-hash")
    return Room.start_private(alice).id, Room.start_private(alice).id


def number_both(first, second, pause):
    """Take a number of one room, wait, then of the other: two batches doing this in
    opposite orders each hold what the other waits for."""
    Event.next_seq(Room(id=first))
    time.sleep(pause)
    return Event.next_seq(Room(id=second))


async def crossing_batches(first, second, hint):
    one, two = WriteQueue(), WriteQueue()  # one writer thread, one connection each
    try:
        return await asyncio.gather(
            one.run(number_both, first, second, 0.3, rooms=(first, second) if hint else ()),
            two.run(number_both, second, first, 0.3, rooms=(first, second) if hint else ()),
        )
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize("hint", [True, False], ids=["rooms-locked-first", "no-hint"])
def test_two_writers_numbering_the_same_rooms_in_opposite_orders_both_commit(fresh, hint):
    schema.open_database(fresh)
    first, second = two_rooms()
    (base,) = {Event.latest_seq(Room(id=room)) for room in (first, second)}
    started = time.monotonic()
    results = asyncio.run(crossing_batches(first, second, hint))
    # One batch numbered both rooms, then the other did.
    assert sorted(results) == [base + 1, base + 2]
    seqs = dict(db.execute_sql('SELECT "id", "seq" FROM "room"').fetchall())
    assert seqs == {first: base + 2, second: base + 2}
    if hint:
        # Locked in order, the second batch waited for the first rather than meeting
        # it in a deadlock (which PostgreSQL takes a second to find).
        assert time.monotonic() - started < 1.0


def test_a_batch_the_database_gives_up_is_run_again_whole(fresh):
    schema.open_database(fresh)
    first, _ = two_rooms()
    base = Event.latest_seq(Room(id=first))
    attempts = []

    def flaky():
        attempts.append(1)
        seq = Event.next_seq(Room(id=first))
        if len(attempts) < 3:
            raise psycopg.errors.SerializationFailure("could not serialize access")
        return seq

    async def go():
        queue = WriteQueue()
        try:
            return await asyncio.gather(
                queue.run(flaky), queue.run(Event.next_seq, Room(id=first))
            )
        finally:
            queue.close()

    # The batch ran three times and committed once: numbers taken by the failed runs
    # were rolled back with them.
    assert asyncio.run(go()) == [base + 1, base + 2]
    assert len(attempts) == 3


def test_a_batch_given_up_every_time_fails_each_of_its_writes(fresh):
    schema.open_database(fresh)

    def never():
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    async def go():
        queue = WriteQueue()
        try:
            return await asyncio.gather(queue.run(never), return_exceptions=True)
        finally:
            queue.close()

    (outcome,) = asyncio.run(go())
    assert is_conflict(outcome) and not isinstance(outcome, DiskFull)


def test_after_the_server_drops_a_connection_the_next_statements_connect_again(
    fresh, postgres
):
    schema.open_database(fresh)
    first, _ = two_rooms()
    name = fresh.rsplit("/", 1)[1]

    def cut():
        postgres.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )

    async def go():
        queue = WriteQueue()
        try:
            await queue.run(Event.next_seq, Room(id=first))
            cut()
            # The statement that meets the cut fails; the next connects again.
            with pytest.raises(Exception):  # noqa: B017 (psycopg's, through peewee)
                db.execute_sql("SELECT 1")
            assert db.execute_sql("SELECT 1").fetchone() == (1,)
            outcome = await asyncio.gather(
                queue.run(Event.next_seq, Room(id=first)), return_exceptions=True
            )
            return outcome, await queue.run(Event.next_seq, Room(id=first))
        finally:
            queue.close()

    db.execute_sql("SELECT 1")
    (failed,), seq = asyncio.run(go())
    assert isinstance(failed, Exception) or failed > 0
    assert seq > 0


def test_usernames_keys_compare_byte_by_byte_whatever_the_databases_collation(fresh):
    schema.open_database(fresh)
    db.execute_sql(
        'INSERT INTO "user" (username, username_key, password_hash, email, first_name,'
        " last_name, created_at, is_admin, is_active, display_name, is_bot)"
        " VALUES ('alice', 'alice', '', '', '', '', now(), false, true, '', false),"
        " ('Alice', 'alice#2', '', '', '', '', now(), false, true, '', false),"
        " ('alice3', 'alice3', '', '', '', '', now(), false, true, '', false)"
    )
    assert [u.username for u in User.select().where(User.key_with_suffix("alice"))] == [
        "Alice"
    ]
    assert User.by_username("Alice").username_key == "alice#2"


def test_an_older_database_is_upgraded_by_its_engines_steps_after_the_backup_hook(
    fresh, monkeypatch
):
    schema.open_database(fresh)
    version = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", version + 1)
    monkeypatch.setitem(
        schema.POSTGRES_UPGRADES,
        version,
        ('ALTER TABLE "setting" ADD COLUMN "note" TEXT',),
    )
    hooked = []
    assert schema.open_database(fresh, before_upgrade=hooked.append) == version + 1
    assert hooked == [version]
    assert schema.schema_version() == version + 1
    assert "note" in [c.name for c in db.get_columns("setting")]
    # Done once: opening again finds nothing to do.
    assert schema.open_database(fresh, before_upgrade=hooked.append) == version + 1
    assert hooked == [version]
