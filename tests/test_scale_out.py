"""Several chatbox processes on one PostgreSQL database, over each bus: real processes,
real servers, real sockets (docs/scale-out.md).

Each test starts its own processes on a database of its own, on the run's PostgreSQL
(and Redis) from servers.py; every test runs over both buses.
"""

import asyncio
import itertools
import time

import psycopg
import pytest
from cluster import (
    TIMEOUT,
    Cluster,
    PostgresBus,
    RedisBus,
    Tab,
    eventually,
    on,
    scalar,
)
from conftest import API, ON_POSTGRES

from hub import PRESENCE_DELAY
from relay import BEAT_INTERVAL, DEAD_AFTER

# docs/scale-out.md: a process not heard from for 15 s is dead, which each process
# checks at its own beats, so its people go offline within 20 s of its last notice; then
# the presence batch, and a second for a loaded machine.
OFFLINE_WITHIN = DEAD_AFTER + BEAT_INTERVAL + PRESENCE_DELAY + 1

_databases = itertools.count(1)

# These processes are on PostgreSQL whichever database the rest of the suite uses: the
# suite's second pass, on PostgreSQL, would only repeat them.
pytestmark = pytest.mark.skipif(
    ON_POSTGRES, reason="runs once, in the suite's first pass; it is on PostgreSQL already"
)


@pytest.fixture
def database(postgres):
    """A database of the test's own on the run's PostgreSQL (servers.py)."""
    name = f"scale_out_{next(_databases)}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(params=["postgres", "redis"])
def bus(request, database):
    if request.param == "postgres":
        return PostgresBus(database)
    # The run's Redis, emptied for this test.
    return RedisBus(
        request.getfixturevalue("redis_server"), request.getfixturevalue("redis_url")
    )


@pytest.fixture
def cluster(tmp_path, database, bus):
    """Starts ``processes`` chatbox processes on the test's database and bus."""
    made = []

    def start(processes=2, *args):
        group = Cluster(
            tmp_path / f"cluster{len(made)}", database, bus.option, processes, args
        )
        made.append(group)
        return group.start()

    yield start
    for group in made:
        group.close()
        # Shown only when the test failed.
        print(group.logs())


async def chat_of(box, *names):
    """People signed up on ``box``; the first starts a private chat and the others join
    it. Returns the people, then the chat's URI."""
    api = API(box.url)
    people = [await api.signup(name) for name in names]
    uri = await people[0].start_chat()
    for person in people[1:]:
        await person.join(uri)
    return (*people, uri)


def latest_seq(database, uri):
    return scalar(database, 'SELECT "seq" FROM "room" WHERE "uri" = %s', uri)


async def caught_up(tabs, uri, seq, timeout=TIMEOUT):
    await eventually(
        lambda: all(tab.last_seq(uri) >= seq for tab in tabs),
        timeout,
        f"every tab has {uri} up to {seq}",
    )


def assert_gapless(tab, uri, last):
    seqs = tab.seqs(uri)
    assert seqs == list(range(1, last + 1)), (
        f"{tab.person.username} on port {tab.box.port}: "
        f"missing {sorted(set(range(1, last + 1)) - set(seqs))}, "
        f"twice {sorted(s for s in set(seqs) if seqs.count(s) > 1)}"
    )


@pytest.mark.gen_test(timeout=180)
async def test_clients_on_every_process_receive_every_message_once_and_in_order(
    cluster, database
):
    boxes = cluster(3)
    people = await chat_of(boxes[0], *(f"person{i}" for i in range(6)))
    everyone, people = people[-1], people[:-1]
    some = await people[1].start_chat()
    for person in people[2:4]:
        await person.join(some)
    # Two people on each process.
    tabs = [await Tab(person, boxes[i % 3]).open() for i, person in enumerate(people)]
    rooms = {everyone: tabs, some: tabs[1:4]}
    for uri, members in rooms.items():
        for tab in members:
            await tab.subscribe(uri)
    # Everyone at once: 40 messages each to the big chat, and 20 each to the small
    # one from its three members, 300 in all, from every process at the same time.
    for n in range(40):
        for i, tab in enumerate(tabs):
            tab.say(everyone, f"everyone-{i}-{n}")
            if tab in rooms[some] and n < 20:
                tab.say(some, f"some-{i}-{n}")
        await asyncio.sleep(0)
    for tab in tabs:
        await eventually(lambda tab=tab: not tab.unacked(), what="every send acked")
    for uri, members in rooms.items():
        last = latest_seq(database, uri)
        await caught_up(members, uri, last)
        sent = [c for tab in members for c, (room, _) in tab.sent.items() if room == uri]
        first = members[0].messages(uri)
        for tab in members:
            assert_gapless(tab, uri, last)
            # The same messages with the same numbers, in the same order, everywhere.
            assert tab.messages(uri) == first
        client_ids = [client_id for _, _, client_id, _ in first]
        assert sorted(c for c in client_ids if c) == sorted(sent)
        # Each sender's messages are numbered in the order it sent them.
        for tab in members:
            mine = [c for c, (room, _) in tab.sent.items() if room == uri]
            assert [c for c in client_ids if c in tab.sent] == mine
    assert not any(f.get("type") in ("error", "reset") for tab in tabs for f in tab.frames)


@pytest.mark.gen_test(timeout=120)
async def test_a_number_taken_first_but_committed_last_is_delivered_before_the_next(
    cluster, database
):
    a, b = cluster(2)
    alice, bob, carol, uri = await chat_of(a, "alice", "bob", "carol")
    # Someone on each process, and one on B beside the sender.
    tabs = [await Tab(alice, a).open(), await Tab(carol, b).open()]
    bob_tab = await Tab(bob, b).open()
    tabs.append(bob_tab)
    for tab in tabs:
        await tab.subscribe(uri)
    before = latest_seq(database, uri)
    await caught_up(tabs, uri, before)
    # A writer that takes the room's next number and holds the room, as a chatbox
    # process's writer does while its transaction is open (and that never says so on
    # the bus).
    with psycopg.connect(database) as held:
        room_id, taken = held.execute(
            'UPDATE "room" SET "seq" = "seq" + 1 WHERE "uri" = %s RETURNING "id", "seq"',
            (uri,),
        ).fetchone()
        held.execute(
            'INSERT INTO "message" ("room_id", "author_id", "text", "client_id",'
            ' "created_at", "seq")'
            " VALUES (%s, %s, 'taken first', 'held-1', now() AT TIME ZONE 'UTC', %s)",
            (room_id, alice.id, taken),
        )
        bob_tab.say(uri, "bob-1", "taken second")
        # Bob's write on B waits for the room: it will get the number after.
        await eventually(
            lambda: (
                scalar(
                    database,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'",
                )
                > 0
            ),
            what="B's write waits for the room's lock",
        )
        await asyncio.sleep(0.3)
        assert all(tab.last_seq(uri) == before for tab in tabs)
        assert not bob_tab.acks
        held.commit()
    await caught_up(tabs, uri, taken + 1)
    await eventually(lambda: "bob-1" in bob_tab.acks, what="bob's ack")
    for tab in tabs:
        assert_gapless(tab, uri, taken + 1)
        assert [(seq, text) for seq, _, _, text in tab.messages(uri)][-2:] == [
            (taken, "taken first"),
            (taken + 1, "taken second"),
        ]


@pytest.mark.gen_test(timeout=180)
async def test_clients_of_a_killed_process_resume_elsewhere_and_nothing_is_lost_or_doubled(
    cluster, database
):
    boxes = cluster(3)
    *people, uri = await chat_of(boxes[0], *(f"person{i}" for i in range(6)))
    tabs = [await Tab(person, boxes[i % 3]).open() for i, person in enumerate(people)]
    for tab in tabs:
        await tab.subscribe(uri)
    survivors = boxes[1:]
    per_tab = 60

    async def chat(i, tab):
        for n in range(per_tab):
            if tab.closed:
                # Its process is gone: another one, where the room picks up again.
                await tab.reopen(survivors[i % 2])
            tab.say(uri, f"t{i}-{n}")
            await asyncio.sleep(0.01)

    chatting = asyncio.gather(*(chat(i, tab) for i, tab in enumerate(tabs)))
    # Mid-conversation, with sends in flight on every process.
    await eventually(lambda: sum(len(tab.acks) for tab in tabs) >= 100, what="100 acks")
    boxes[0].kill()
    killed_at = time.monotonic()
    await chatting

    async def acked(i, tab):
        deadline = time.monotonic() + TIMEOUT
        while tab.unacked():
            if tab.closed:  # seen closed only after its last send
                await tab.reopen(survivors[i % 2])
            assert time.monotonic() < deadline, (
                f"{tab.person.username} on port {tab.box.port}: no ack for "
                f"{tab.unacked()}; errors: "
                f"{[f for f in tab.frames if f.get('type') == 'error']}"
            )
            await asyncio.sleep(0.02)

    for i, tab in enumerate(tabs):
        if tab.box is boxes[0]:  # killed after its last send: it may not know yet
            await eventually(lambda tab=tab: tab.closed, what="its socket closed")
            await tab.reopen(survivors[i % 2])
    for i, tab in enumerate(tabs):
        await acked(i, tab)
    assert all(tab.box is not boxes[0] for tab in tabs)
    assert time.monotonic() - killed_at < 60
    last = latest_seq(database, uri)
    await caught_up(tabs, uri, last)
    sent = sorted(c for tab in tabs for c in tab.sent)
    assert len(sent) == per_tab * len(tabs)
    # In the database once each, and acknowledged with the stored message's id.
    with psycopg.connect(database, autocommit=True) as conn:
        stored = dict(
            conn.execute(
                'SELECT "client_id", "id" FROM "message" WHERE "room_id" ='
                ' (SELECT "id" FROM "room" WHERE "uri" = %s) AND "client_id" IS NOT NULL',
                (uri,),
            ).fetchall()
        )
    assert sorted(stored) == sent
    for tab in tabs:
        assert {c: ack["id"] for c, ack in tab.acks.items()} == {
            c: stored[c] for c in tab.sent
        }
    # Every tab, whether or not it had to move, saw every change once, in order.
    first = tabs[0].messages(uri)
    for tab in tabs:
        assert_gapless(tab, uri, last)
        assert tab.messages(uri) == first
    assert sorted(c for _, _, c, _ in first if c) == sent


@pytest.mark.gen_test(timeout=120)
async def test_messages_sent_while_the_bus_is_cut_reach_the_other_process_in_order(
    cluster, database, bus
):
    a, b = cluster(2)
    alice, bob, uri = await chat_of(a, "alice", "bob")
    alice_tab, bob_tab = await Tab(alice, a).open(), await Tab(bob, b).open()
    for tab in (alice_tab, bob_tab):
        await tab.subscribe(uri)
    alice_tab.say(uri, "before")
    await eventually(lambda: any(m[2] == "before" for m in bob_tab.messages(uri)))
    assert bus.cut() >= 2, "each process listens on the bus"
    with bus.down() as cuts:
        for n in range(20):
            alice_tab.say(uri, f"during-{n}")
            await asyncio.sleep(0.05)
        await eventually(lambda: not alice_tab.unacked(), what="alice's sends acked")
        # The news of the last ones went out while B could not hear it.
        await asyncio.sleep(0.5)
    assert sum(cuts) >= 2
    during = latest_seq(database, uri)
    # No further message: what was said during the cut must arrive by itself, once B
    # is listening again and has compared the room with the database.
    await caught_up([bob_tab], uri, during)
    alice_tab.say(uri, "after")
    await eventually(lambda: not alice_tab.unacked(), what="alice's last send acked")
    last = latest_seq(database, uri)
    await caught_up([alice_tab, bob_tab], uri, last, timeout=5)
    for tab in (alice_tab, bob_tab):
        assert_gapless(tab, uri, last)
        assert [c for _, _, c, _ in tab.messages(uri)] == [
            "before",
            *(f"during-{n}" for n in range(20)),
            "after",
        ]


@pytest.mark.gen_test(timeout=120)
async def test_a_person_with_tabs_on_two_processes_is_online_once_until_both_close(
    cluster,
):
    a, b = cluster(2)
    alice, bob, carol, uri = await chat_of(a, "alice", "bob", "carol")
    bob_tab = await Tab(bob, a).open()
    await bob_tab.subscribe(uri)
    carol_tab = await Tab(carol, b).open()
    subscribed = await carol_tab.subscribe(uri)
    # Bob, on the other process, is in carol's snapshot.
    assert sorted(subscribed["online"]) == [bob.id, carol.id]
    watchers = (bob_tab, carol_tab)
    await eventually(lambda: all(t.online[uri] == {bob.id, carol.id} for t in watchers))
    first = await Tab(alice, a).open()
    await first.subscribe(uri)
    second = await Tab(alice, b).open()
    subscribed = await second.subscribe(uri)
    assert sorted(subscribed["online"]) == [alice.id, bob.id, carol.id]
    everyone = {alice.id, bob.id, carol.id}
    await eventually(lambda: all(t.online[uri] == everyone for t in watchers))
    # A newcomer on either process counts alice once.
    for box in (a, b):
        late = await Tab(carol, box).open()
        assert sorted((await late.subscribe(uri))["online"]) == sorted(everyone)
        late.close()
    first.close()
    # Long enough for a presence batch and a bus message to have gone out.
    await asyncio.sleep(2)
    assert all(t.online[uri] == everyone for t in watchers)
    second.close()
    took = await eventually(
        lambda: all(t.online[uri] == {bob.id, carol.id} for t in watchers),
        timeout=5,
        what="alice offline everywhere",
    )
    assert took < 5


@pytest.mark.gen_test(timeout=120)
async def test_unread_counts_and_read_markers_agree_across_processes(cluster):
    a, b = cluster(2)
    alice, bob, uri = await chat_of(a, "alice", "bob")
    tab_a, tab_b = await Tab(alice, a).open(), await Tab(alice, b).open()
    for tab in (tab_a, tab_b):
        await tab.subscribe(uri)
    said = [await on(bob, b).say(uri, f"unread {n}") for n in range(3)]
    newest = said[-1]["id"]
    await eventually(
        lambda: all(newest in [m[1] for m in t.messages(uri)] for t in (tab_a, tab_b))
    )

    async def chat(box):
        status, data = await on(alice, box).call("GET", "/api/chats/")
        assert status == 200, data
        return next(c for c in data["chats"] if c["uri"] == uri)

    for box in (a, b):
        assert (await chat(box))["unread"] == 3
    mark = len(tab_b.frames)
    tab_a.send({"type": "read", "uri": uri, "id": newest})
    read = await tab_b.next(lambda f: f.get("type") == "read", since=mark)
    assert read == {"type": "read", "uri": uri, "id": newest}
    for box in (a, b):
        chat_now = await chat(box)
        assert (chat_now["unread"], chat_now["last_read_id"]) == (0, newest)
    # The tab that sent the marker is not told of it again.
    await asyncio.sleep(0.5)
    assert not any(f.get("type") == "read" for f in tab_a.frames)


@pytest.mark.gen_test(timeout=120)
async def test_a_person_only_on_a_killed_process_goes_offline_for_everyone_else(cluster):
    a, b = cluster(2)
    bob, dave, uri = await chat_of(a, "bob", "dave")
    dave_tab = await Tab(dave, a).open()
    await dave_tab.subscribe(uri)
    bob_tab = await Tab(bob, b).open()
    await bob_tab.subscribe(uri)
    await eventually(lambda: bob_tab.online[uri] == {bob.id, dave.id})
    a.kill()
    took = await eventually(
        lambda: bob_tab.online[uri] == {bob.id},
        timeout=OFFLINE_WITHIN + 10,
        what="dave offline after his process died",
    )
    assert took <= OFFLINE_WITHIN
