"""Several processes on one database, told of each other's changes through the bus.

Each test runs two chatbox apps on two ports of this process, sharing one database and
one bus (Redis, or PostgreSQL's LISTEN/NOTIFY), with real websocket clients: two hubs
that know of each other only through the bus, as two processes would. The database is
a SQLite file: the PostgreSQL schema is not in this branch yet, and the bus neither
knows nor cares which database holds the changes. Reads run on threads, as they do on
PostgreSQL, with the rule on that fails any statement a socket issues on the event
loop.
"""

import asyncio
import contextlib
import os
import subprocess
import sys

import psycopg
import pytest
import redis.asyncio
import tornado.httpserver
import tornado.testing
from conftest import API, Person
from realtime import closed, drain, read, read_type, send, ui_socket, until
from servers import free_port

import bus as buses
import database as engine
import models
import relay
from chatbox import make_app
from handlers.budget import Limits
from schema import open_database


@pytest.fixture
def postgres_url(postgres):
    """Where the PostgreSQL bus listens: the test cluster's own database."""
    return postgres.url()


@pytest.fixture(params=["redis", "postgres"])
def make_bus(request):
    """A new bus of each kind, each end as a separate process would have it."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return lambda: buses.RedisBus(url)
    url = request.getfixturevalue("postgres_url")
    return lambda: buses.PostgresBus(url)


class Box:
    def __init__(self, app, server, port):
        self.app = app
        self.server = server
        self.api = API(f"http://127.0.0.1:{port}")
        self.messenger = app.messenger
        self.hub = app.messenger.hub
        self.bus = app.messenger.bus

    def person(self, someone):
        """The same person, as a client of this box."""
        return Person(self.api, someone.username, someone.token, {"id": someone.id})


@contextlib.asynccontextmanager
async def two_boxes(target, make_bus):
    """Two apps on one database (``target``: the suite's SQLite file or PostgreSQL
    database) and one bus, as two processes would be."""
    open_database(target)
    secret = "test-secret-" + os.urandom(8).hex()
    boxes = []
    engine.forbid_loop(strict=True)
    try:
        for _ in range(2):
            app = make_app(secret, limits=Limits("off"), bus=make_bus())
            app.messenger.presence.delay = 0.02
            app.messenger.bus.first_retry = 0.05
            app.messenger.reads = engine.ReadPool(models.db, 2)
            await app.messenger.start()
            sock, port = tornado.testing.bind_unused_port()
            server = tornado.httpserver.HTTPServer(app)
            server.add_sockets([sock])
            boxes.append(Box(app, server, port))
        yield boxes
    finally:
        for box in boxes:
            box.server.stop()
            for socket in box.hub.connections():
                socket.close()
            await box.messenger.stop()
            box.messenger.presence.close()
            box.messenger.webhooks.close()
            box.app.files.close()
            box.messenger.writer.close()
            box.messenger.reads.close()
        engine.forbid_loop(False)
        models.db.close()


async def people_in_a_chat(a, b, *names):
    """People signed up on box a, all members of one new chat; returns (uri, people)."""
    people = [await a.api.signup(name) for name in names]
    uri = await people[0].start_chat()
    for person in people[1:]:
        await person.join(uri)
    return uri, people


class HeldBacklog:
    """A box's read pool whose first subscribe backlog read is held until ``go_on`` is
    set: before it reads (``after_reading`` False) or after (True). ``reached`` is set
    once it is held."""

    threaded = True

    def __init__(self, reads, after_reading):
        self.reads = reads
        self.after_reading = after_reading
        self.reached, self.go_on = asyncio.Event(), asyncio.Event()
        self.first = True

    async def run(self, fn, *args):
        hold = getattr(fn, "__name__", "") == "backlog" and self.first
        if hold and not self.after_reading:
            await self._hold()
        result = await self.reads.run(fn, *args)
        if hold and self.after_reading:
            await self._hold()
        return result

    async def _hold(self):
        self.first = False
        self.reached.set()
        await self.go_on.wait()

    def close(self):
        self.reads.close()


async def nothing_more(*sockets):
    """After a moment for stragglers, no socket has another message (no copy)."""
    await asyncio.sleep(0.3)
    for ws in sockets:
        assert [f for f in await drain(ws) if f.get("type") == "message"] == []


def send_in_turn(uri, ann_ws, bob_ws, count):
    """``count`` messages from each socket, one from each in turn, without waiting."""
    for n in range(count):
        for ws, who in ((ann_ws, "a"), (bob_ws, "b")):
            send(
                ws,
                {"type": "send", "uri": uri, "client_id": f"{who}{n}", "text": f"{who}{n}"},
            )


async def messages(ws, count):
    """The next ``count`` message frames, passing over chatter."""
    got = []
    while len(got) < count:
        frame = await read_type(ws, "message", skip=("read", "chat", "ack"))
        got.append(frame)
    return got


def quietly_committed(box):
    """While in this context, ``box`` stores changes but announces none of them, as if
    every notice it sent were lost."""
    publish = box.bus.publish

    def drop_news(message):
        if message["kind"] != "news":
            publish(message)

    return _patched(box.bus, "publish", drop_news)


@contextlib.contextmanager
def _patched(thing, name, value):
    old = getattr(thing, name)
    setattr(thing, name, value)
    try:
        yield
    finally:
        setattr(thing, name, old)


@pytest.mark.gen_test(timeout=60)
async def test_messages_from_both_processes_reach_every_socket_once_and_in_order(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        ann_ws = await ui_socket(ann, uri)
        bob_ws = await ui_socket(b.person(bob), uri)
        send_in_turn(uri, ann_ws, bob_ws, 20)
        for ws in (ann_ws, bob_ws):
            got = await messages(ws, 40)
            seqs = [frame["seq"] for frame in got]
            assert seqs == sorted(set(seqs)) and len(seqs) == 40
            assert seqs == list(range(seqs[0], seqs[0] + 40))
            assert {f["message"] for f in got} == {
                f"{who}{n}" for who in "ab" for n in range(20)
            }
        # And nothing more: each came once.
        await nothing_more(ann_ws, bob_ws)


@pytest.mark.gen_test(timeout=60)
async def test_a_gap_in_the_notices_is_filled_from_the_database_before_the_next(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        with quietly_committed(a):
            await ann.say(uri, "one")
            await ann.say(uri, "two")
        await ann.say(uri, "three")  # its notice names a number two past bob's box
        got = await messages(bob_ws, 3)
        assert [f["message"] for f in got] == ["one", "two", "three"]
        assert [f["seq"] for f in got] == list(range(got[0]["seq"], got[0]["seq"] + 3))


@pytest.mark.gen_test(timeout=60)
async def test_a_new_message_reaches_the_other_process_without_being_read_back(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        read_back = []
        read = b.messenger.reads.run

        async def watched(fn, *args, **kwargs):
            if fn == models.Event.since:
                read_back.append(args[1:])
            return await read(fn, *args, **kwargs)

        b.messenger.reads.run = watched
        await ann.say(uri, "carried")
        await ann.say(uri, "é" * 4000)  # 8,000 bytes: too long to travel with its notice
        got = await messages(bob_ws, 2)
        assert [f["message"] for f in got] == ["carried", "é" * 4000]
        # Only the long one was read from the database: after the number before it.
        assert read_back == [(got[0]["seq"], relay.CATCH_UP_LIMIT)]


@pytest.mark.gen_test(timeout=60)
async def test_a_notice_lost_without_a_disconnect_is_caught_up_by_the_periodic_check(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        b.messenger.relay.check_interval = 0.2
        await b.messenger.stop()  # restart its timers with the short interval
        b.messenger.relay.bus = b.bus = b.messenger.bus = make_bus()
        await b.messenger.start()
        with quietly_committed(a):
            await ann.say(uri, "unannounced")
        assert (await messages(bob_ws, 1))[0]["message"] == "unannounced"


async def cut(*ends):
    """Drop the listening connections of these ends of the bus, from the server."""
    if isinstance(ends[0], buses.RedisBus):
        client = redis.asyncio.Redis.from_url(ends[0].url)
        try:
            # Every subscriber's connection: here, those of both boxes.
            assert await client.client_kill_filter(_type="pubsub") == len(ends)
        finally:
            await client.aclose()
        return
    for end in ends:
        pid = await end.listener_pid()
        async with await psycopg.AsyncConnection.connect(end.url, autocommit=True) as c:
            await c.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.gen_test(timeout=60)
async def test_changes_made_while_the_bus_was_cut_arrive_in_order_once_it_is_back(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        await ann.say(uri, "before")
        assert (await messages(bob_ws, 1))[0]["message"] == "before"
        for box in (a, b):
            # Long enough that what is said meanwhile is never heard through the bus.
            box.bus.first_retry = 1.0
        connections = b.bus.connections
        await cut(a.bus, b.bus)
        await until(lambda: not b.bus.connected)
        for text in ("during 1", "during 2", "during 3"):
            await ann.say(uri, text)
        await until(lambda: b.bus.connections > connections, timeout=10)
        await ann.say(uri, "after")
        got = await messages(bob_ws, 4)
        assert [f["message"] for f in got] == ["during 1", "during 2", "during 3", "after"]


@pytest.mark.gen_test(timeout=60)
async def test_someone_online_on_both_processes_counts_once_and_goes_offline_once(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        room_id = models.Room.by_uri(uri).id
        ann_a = await ui_socket(ann, uri)
        ann_b = await ui_socket(b.person(ann), uri)
        await until(lambda: a.hub.online(room_id) == sorted([ann.id, bob.id]))
        await until(lambda: b.hub.online(room_id) == sorted([ann.id, bob.id]))
        ann_a.close()
        await until(lambda: not a.hub.connections(ann.id))
        await asyncio.sleep(0.2)
        assert b.hub.online(room_id) == sorted([ann.id, bob.id])
        assert a.hub.online(room_id) == sorted([ann.id, bob.id])
        ann_b.close()
        await until(lambda: b.hub.online(room_id) == [bob.id])
        await until(lambda: a.hub.online(room_id) == [bob.id])
        # Bob's socket was told that ann went offline, and never that she left twice.
        await asyncio.sleep(0.2)  # the last presence batch
        frames = await drain(bob_ws)
        offline = [
            f for f in frames if f.get("type") == "presence" and ann.id in f["went_offline"]
        ]
        assert len(offline) == 1


@pytest.mark.gen_test(timeout=60)
async def test_a_process_not_heard_from_stops_counting_its_people_online(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        room_id = models.Room.by_uri(uri).id
        await ui_socket(b.person(bob), uri)
        await ui_socket(ann, uri)
        await until(lambda: ann.id in b.hub.online(room_id))
        b.messenger.relay.dead_after = 0.3
        b.messenger.relay.beat_interval = 0.1
        await b.messenger.stop()
        b.messenger.relay.bus = b.bus = b.messenger.bus = make_bus()
        await b.messenger.start()
        for timer in a.messenger.relay._timers:
            timer.cancel()  # box a goes silent, as a process that hangs or dies
        await until(lambda: b.hub.online(room_id) == [bob.id], timeout=5)


@pytest.mark.gen_test(timeout=60)
async def test_typing_and_read_markers_reach_the_other_process(database, make_bus):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        bob_elsewhere = await ui_socket(bob)  # on box a, in no room
        ann_ws = await ui_socket(ann, uri)
        send(ann_ws, {"type": "typing", "uri": uri})
        typing = await read_type(bob_ws, "typing")
        assert typing["user"]["id"] == ann.id
        said = await ann.say(uri, "read me")
        await messages(bob_ws, 1)
        send(bob_ws, {"type": "read", "uri": uri, "id": said["id"]})
        frame = await read_type(bob_elsewhere, "read", skip=("chat",))
        assert frame == {"type": "read", "uri": uri, "id": said["id"]}


@pytest.mark.gen_test(timeout=60)
async def test_someone_removed_on_one_process_is_removed_from_the_room_on_the_other(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        status, _ = await ann.call("DELETE", f"/api/chats/{uri}/members/bob/")
        assert status in (200, 204)
        removed = await read_type(bob_ws, "removed")
        assert removed == {"type": "removed", "uri": uri, "reason": "removed"}
        room_id = models.Room.by_uri(uri).id
        await until(lambda: not b.hub.subscribers(room_id))
        await ann.say(uri, "after bob left")
        await asyncio.sleep(0.3)
        assert [f for f in await drain(bob_ws) if f.get("type") == "message"] == []


@pytest.mark.gen_test(timeout=60)
async def test_a_removal_whose_notice_was_lost_takes_effect_when_the_bus_is_back(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        publish = a.bus.publish
        with _patched(a.bus, "publish", lambda m: m["kind"] == "evict" or publish(m)):
            status, _ = await ann.call("DELETE", f"/api/chats/{uri}/members/bob/")
        assert status in (200, 204)
        await b.messenger.relay.recheck_members()  # as on reconnecting
        removed = await read_type(bob_ws, "removed")
        assert removed["uri"] == uri


@pytest.mark.gen_test(timeout=60)
async def test_a_deactivated_account_loses_its_sockets_on_every_process(database, make_bus):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (admin, bob) = await people_in_a_chat(a, b, "admin", "bob")
        bob_a = await ui_socket(bob, uri)
        bob_b = await ui_socket(b.person(bob), uri)
        # The periodic sweep is not running in these apps: only the bus can tell b.
        status, _ = await admin.call("POST", "/api/admin/users/bob/deactivate")
        assert status == 200
        assert await asyncio.wait_for(closed(bob_a), 5) == 4401
        assert await asyncio.wait_for(closed(bob_b), 5) == 4401


def test_the_bus_option_names_none_postgres_or_a_redis_server():
    assert buses.from_option("", "postgresql://db/chatbox") is None
    assert isinstance(
        buses.from_option("postgres", "postgresql://u@db/chatbox"), buses.PostgresBus
    )
    redis_bus = buses.from_option("redis://127.0.0.1:6379/0")
    assert isinstance(redis_bus, buses.RedisBus)
    assert redis_bus.url == "redis://127.0.0.1:6379/0"
    with pytest.raises(ValueError, match="--database=postgresql"):
        buses.from_option("postgres", "/var/lib/chatbox/chatbox.db")
    with pytest.raises(ValueError, match="expected 'postgres' or a Redis URL"):
        buses.from_option("kafka://broker")
    with pytest.raises(ValueError, match="port"):
        buses.from_option("redis://127.0.0.1:xx/0")


def test_a_notice_too_large_for_the_bus_is_refused_by_its_sender():
    bus_ = buses.RedisBus("redis://127.0.0.1:1/0")
    with pytest.raises(buses.TooLarge):
        bus_.publish({"kind": "signal", "frame": "x" * 8000})
    assert len(bus_.encode({"kind": "signal", "frame": "x" * 6000}).encode()) <= 7000


def test_each_process_has_its_own_node_id():
    assert buses.RedisBus("redis://h/0").node != buses.RedisBus("redis://h/0").node


@pytest.mark.gen_test(timeout=60)
async def test_what_is_committed_while_a_subscribe_reads_its_backlog_follows_it_once(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        said = await ann.say(uri, "before")
        # The room is live on box b already: its changes are handed out as they come.
        await ui_socket(b.person(ann), uri)
        reads = b.messenger.reads
        held = HeldBacklog(reads, after_reading=False)
        b.messenger.reads = held
        bob_ws = await b.person(bob).socket("/ws")
        assert (await read(bob_ws))["type"] == "hello"
        send(bob_ws, {"type": "subscribe", "uri": uri, "after": said["id"] - 1})
        await held.reached.wait()
        await ann.say(uri, "during, from a")
        await b.person(ann).say(uri, "during, from b")
        await asyncio.sleep(0.3)
        held.go_on.set()
        subscribed = await read_type(bob_ws, "subscribed")
        got = await messages(bob_ws, 3)
        assert [f["message"] for f in got] == ["before", "during, from a", "during, from b"]
        assert [f["seq"] for f in got] == list(range(got[0]["seq"], got[0]["seq"] + 3))
        assert subscribed["latest_seq"] <= got[-1]["seq"]
        await asyncio.sleep(0.3)
        assert [f for f in await drain(bob_ws) if f.get("type") == "message"] == []


@pytest.mark.gen_test(timeout=60)
async def test_a_room_too_far_behind_is_reset_rather_than_replayed(
    database, make_bus, monkeypatch
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob) = await people_in_a_chat(a, b, "ann", "bob")
        bob_ws = await ui_socket(b.person(bob), uri)
        monkeypatch.setattr(relay, "CATCH_UP_LIMIT", 2)
        with quietly_committed(a):
            for n in range(4):
                await ann.say(uri, f"quiet {n}")
        await ann.say(uri, "loud")
        reset = await read_type(bob_ws, "reset")
        assert reset == {"type": "reset", "uri": uri}
        await ann.say(uri, "after the reset")
        got = await messages(bob_ws, 1)
        assert got[0]["message"] == "after the reset"


@pytest.mark.gen_test(timeout=60)
async def test_the_seed_room_socket_on_one_process_hears_messages_sent_on_the_other(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        ann = await a.api.signup("ann")
        bob = await a.api.signup("bob")
        ann_ws = await ann.socket("/ws/chat/general/")
        bob_ws = await b.person(bob).socket("/ws/chat/general/")

        def bob_in_general_on_b():
            # The room is made by ann's socket, once its handshake is done.
            general = models.Room.by_uri("general")
            return general is not None and b.hub.subscribers(general.id)

        await until(bob_in_general_on_b)
        for n in range(5):
            send(ann_ws, {"message": f"hello {n}"})
        got = [await read(bob_ws) for _ in range(5)]
        assert [f["message"] for f in got] == [f"hello {n}" for n in range(5)]


@contextlib.contextmanager
def two_processes(db_path, bus_option):
    """Two chatbox processes on one SQLite file and one bus; yields their APIs."""
    secret = "test-secret-" + os.urandom(8).hex()
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "busnode.py")
    processes, apis = [], []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, script, db_path, str(port), bus_option, secret],
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(process)
            assert process.stdout.readline().strip() == "ready"
            apis.append(API(f"http://127.0.0.1:{port}"))
        yield apis
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


@pytest.mark.sqlite_only  # two processes on one SQLite file; test_scale_out.py runs PostgreSQL
@pytest.mark.gen_test(timeout=60)
async def test_two_real_processes_deliver_each_others_messages_once_and_in_order(
    db_path, redis_url
):
    with two_processes(db_path, redis_url) as (a, b):
        ann = await a.signup("ann")
        bob = await a.signup("bob")
        uri = await ann.start_chat()
        await bob.join(uri)
        bob_b = Person(b, bob.username, bob.token, {"id": bob.id})
        ann_ws = await ui_socket(ann, uri)
        bob_ws = await ui_socket(bob_b, uri)
        send_in_turn(uri, ann_ws, bob_ws, 25)
        for ws in (ann_ws, bob_ws):
            got = await messages(ws, 50)
            seqs = [frame["seq"] for frame in got]
            assert seqs == list(range(seqs[0], seqs[0] + 50))
        await nothing_more(ann_ws, bob_ws)


@pytest.mark.gen_test(timeout=60)
async def test_a_subscribe_that_read_less_than_the_room_has_started_at_reads_the_rest(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        uri, (ann, bob, cat) = await people_in_a_chat(a, b, "ann", "bob", "cat")
        said = await ann.say(uri, "one")
        reads = b.messenger.reads
        held = HeldBacklog(reads, after_reading=True)
        b.messenger.reads = held
        bob_ws = await b.person(bob).socket("/ws")
        assert (await read(bob_ws))["type"] == "hello"
        send(bob_ws, {"type": "subscribe", "uri": uri, "after": said["id"] - 1})
        await held.reached.wait()
        # Meanwhile two more messages, and a second socket that starts the room here
        # after them.
        await ann.say(uri, "two")
        await ann.say(uri, "three")
        await ui_socket(b.person(cat), uri)
        held.go_on.set()
        await read_type(bob_ws, "subscribed")
        await ann.say(uri, "four")
        got = await messages(bob_ws, 4)
        assert [f["message"] for f in got] == ["one", "two", "three", "four"]
        assert [f["seq"] for f in got] == list(range(got[0]["seq"], got[0]["seq"] + 4))


@pytest.mark.gen_test(timeout=60)
async def test_a_chat_someone_is_added_to_and_its_new_name_reach_their_other_process(
    database, make_bus
):
    async with two_boxes(database, make_bus) as (a, b):
        ann = await a.api.signup("ann")
        bob = await a.api.signup("bob")
        uri = await ann.start_chat()
        bob_ws = await ui_socket(b.person(bob))
        status, _ = await ann.call(
            "POST", f"/api/chats/{uri}/members/", {"username": "bob"}
        )
        assert status in (200, 201)
        chat = await read_type(bob_ws, "chat")
        assert chat["uri"] == uri and chat["chat"]["uri"] == uri
        status, _ = await ann.call("PUT", f"/api/chats/{uri}/name/", {"name": "Plans"})
        assert status == 200
        renamed = await read_type(bob_ws, "renamed")
        assert renamed["uri"] == uri and renamed["name"] == "Plans"
