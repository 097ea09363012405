"""One member cannot slow the box for everyone: per-person budgets, on a real server.

Each test gives the box small budgets and a clock it moves by hand, so a refill takes
no waiting. The budgets' arithmetic is tested on its own in test_budget_buckets.py.
"""

import asyncio
import base64
import json

import pytest
from boxes import Box, run
from conftest import API, PASSWORD
from realtime import (
    chat_between,
    drain,
    handshake_status,
    read,
    read_type,
    room_socket,
    send,
    subscribe,
    ui_socket,
)

from handlers import sockets
from handlers.base import BaseHandler
from handlers.budget import Limits
from models import Membership, Message, Room, User


@pytest.fixture
def limit(app, clock, monkeypatch):
    """Give the running box the budgets of a ``--limits`` spec, on the test's clock.

    A client over a budget is answered only after a moment (see the tests of that
    below); elsewhere the tests go on at once.
    """
    monkeypatch.setattr(sockets.Socket, "rate_limited_pause", 0)
    monkeypatch.setattr(BaseHandler, "rate_limited_pause", 0)

    def install(spec):
        app.messenger.limits = Limits(spec, clock=clock)

    return install


def post(ws, uri, client_id, text="hi", ref=None):
    frame = {"type": "send", "uri": uri, "client_id": client_id, "text": text}
    if ref is not None:
        frame["ref"] = ref
    send(ws, frame)


def stored(uri):
    return [m.text for m in Message.page(Room.by_uri(uri), limit=200)]


def of_type(frames, kind):
    return [f for f in frames if f.get("type") == kind]


@pytest.mark.gen_test
async def test_sends_over_the_budget_are_answered_rate_limited_and_neither_stored_nor_sent(
    api, limit
):
    limit("send=3/10s")
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    for n in range(5):
        post(a, uri, f"c-{n}", f"hi {n}", ref=f"c-{n}")
    # A socket's frames are handled in order, each send only once the one before it is
    # answered, so a ping's pong comes after every answer to the sends.
    frames = await drain(a)
    assert [f["client_id"] for f in of_type(frames, "ack")] == ["c-0", "c-1", "c-2"]
    refusals = of_type(frames, "error")
    assert [(f["code"], f["ref"]) for f in refusals] == [
        ("rate_limited", "c-3"),
        ("rate_limited", "c-4"),
    ]
    assert all(f["retry_after"] == pytest.approx(10 / 3, abs=0.1) for f in refusals)
    assert "too fast" in refusals[0]["detail"]
    assert stored(uri) == ["hi 0", "hi 1", "hi 2"]
    bob_saw = of_type(await drain(b), "message")
    assert [m["message"] for m in bob_saw] == ["hi 0", "hi 1", "hi 2"]


@pytest.mark.gen_test
async def test_a_rate_limited_socket_stays_open_and_works_again_once_the_budget_refills(
    api, limit, clock
):
    limit("send=2/10s")
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    for n in range(3):
        post(a, uri, f"c-{n}")
    refusal = await read_type(a, "error", skip=("message", "ack"))
    assert refusal["code"] == "rate_limited"
    # Still open, still answering what costs nothing.
    send(a, {"type": "ping", "ref": 7})
    assert await read_type(a, "pong", skip=("message", "ack")) == {"type": "pong", "ref": 7}
    clock.advance(refusal["retry_after"])
    post(a, uri, "c-2", "again")
    ack = await read_type(a, "ack", skip=("message",))
    assert (ack["client_id"], ack["duplicate"]) == ("c-2", False)
    assert stored(uri)[-1] == "again"
    # The refusal spent nothing: a whole refill brings the whole budget back.
    clock.advance(10)
    for n in range(3, 5):
        post(a, uri, f"c-{n}")
        assert (await read_type(a, "ack", skip=("message",)))["client_id"] == f"c-{n}"


@pytest.mark.gen_test
async def test_a_socket_over_its_budget_is_not_read_for_a_moment_so_a_flood_costs_little(
    api, limit, monkeypatch
):
    limit("typing=1/10s")
    monkeypatch.setattr(sockets.Socket, "rate_limited_pause", 0.25)
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    await drain(b)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(3):
        send(a, {"type": "typing", "uri": uri})
    send(a, {"type": "ping", "ref": "after"})
    assert (await read_type(a, "error"))["code"] == "rate_limited"
    # Only the socket that went over waits: the rest of the room goes on meanwhile.
    send(b, {"type": "typing", "uri": uri})
    frames = [await read(a)]
    while frames[-1].get("type") != "pong":
        frames.append(await read(a))
    kinds = [f["type"] for f in frames if f["type"] != "presence"]
    assert kinds == ["typing", "error", "pong"]
    # Each refusal left the socket unread for a quarter of a second before the next.
    assert loop.time() - started >= 0.5


@pytest.mark.gen_test
async def test_the_seed_socket_answers_an_over_budget_message_with_its_own_error_shape(
    api, limit, clock
):
    limit("send=1/5s")
    alice = await api.signup("alice")
    ws = await room_socket(alice, "general")
    send(ws, {"message": "one"})
    assert (await read(ws))["message"] == "one"
    send(ws, {"message": "two"})
    refusal = await read(ws)
    assert set(refusal) == {"error", "detail", "retry_after"}
    assert refusal["error"] == "rate_limited" and refusal["retry_after"] == 5
    clock.advance(5)
    send(ws, {"message": "three"})
    assert (await read(ws))["message"] == "three"
    assert stored("general") == ["one", "three"]


@pytest.mark.gen_test
async def test_a_rest_post_over_the_budget_is_429_with_retry_after_and_stores_nothing(
    api, limit
):
    limit("send=2/60s")
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "one")
    await alice.say(uri, "two")
    status, data = await alice.call("POST", f"/api/chats/{uri}/messages/", {"message": "3"})
    assert status == 429
    assert api.last_response.headers["Retry-After"] == "30"
    assert "too fast" in data["detail"]
    assert stored(uri) == ["one", "two"]


@pytest.mark.gen_test
async def test_one_budget_covers_every_socket_and_the_api_together(api, limit):
    limit("send=3/60s")
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    a1, a2 = await ui_socket(alice, uri), await ui_socket(alice, uri)
    seed = await room_socket(alice, uri)
    post(a1, uri, "c-1")
    await read_type(a1, "ack", skip=("message",))
    post(a2, uri, "c-2")
    await read_type(a2, "ack", skip=("message",))
    await alice.say(uri, "by the api")
    send(seed, {"message": "by the seed socket"})
    frame = await read(seed)
    while "error" not in frame:  # the three messages stored so far come first
        frame = await read(seed)
    assert frame["error"] == "rate_limited"
    status, _ = await alice.call("POST", f"/api/chats/{uri}/messages/", {"message": "x"})
    assert status == 429
    assert len(stored(uri)) == 3


@pytest.mark.gen_test
async def test_long_messages_spend_the_bytes_budget_by_their_utf8_size(api, limit, clock):
    limit("send-bytes=10k/60s")
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    a = await ui_socket(alice, uri)
    long = "x" * 4000
    post(a, uri, "c-1", long)
    post(a, uri, "c-2", long)
    # 4,000 characters of three bytes each: over what is left, and refused.
    post(a, uri, "c-3", "€" * 4000, ref="c-3")
    frames = await drain(a)
    assert [f["client_id"] for f in of_type(frames, "ack")] == ["c-1", "c-2"]
    [refusal] = of_type(frames, "error")
    assert refusal["code"] == "rate_limited" and "too much text" in refusal["detail"]
    # Short messages still fit in what is left.
    post(a, uri, "c-4", "short")
    assert (await read_type(a, "ack", skip=("message",)))["client_id"] == "c-4"
    assert len(stored(uri)) == 3
    clock.advance(60)
    post(a, uri, "c-3", "€" * 4000)
    assert (await read_type(a, "ack", skip=("message",)))["client_id"] == "c-3"


@pytest.mark.gen_test
async def test_a_burst_of_typing_reaches_the_room_only_as_often_as_the_budget_allows(
    api, limit, clock
):
    limit("typing=2/10s")
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    elsewhere = await bob.start_chat()
    await alice.join(elsewhere)
    a = await ui_socket(alice, uri, elsewhere)
    c = await ui_socket(carol, uri)
    b = await ui_socket(bob, uri, elsewhere)
    await drain(a)
    await drain(c)
    for _ in range(50):
        send(b, {"type": "typing", "uri": uri})
    bob_got = await drain(b)
    assert [f["code"] for f in of_type(bob_got, "error")] == ["rate_limited"] * 48
    for ws in (a, c):
        assert len(of_type(await drain(ws), "typing")) == 2
    # The budget is per room: typing elsewhere is still relayed.
    send(b, {"type": "typing", "uri": elsewhere})
    assert (await read_type(a, "typing"))["uri"] == elsewhere
    clock.advance(5)
    send(b, {"type": "typing", "uri": uri})
    assert (await read_type(c, "typing"))["user"]["username"] == "bob"


@pytest.mark.gen_test
async def test_repeated_subscribes_are_refused_once_over_the_budget_and_change_nothing(
    api, limit, clock
):
    limit("subscribe=3/30s")
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ws = await ui_socket(alice)
    for _ in range(3):
        await subscribe(ws, uri)
    send(ws, {"type": "subscribe", "uri": uri, "ref": "again"})
    refusal = await read_type(ws, "error")
    assert (refusal["code"], refusal["ref"]) == ("rate_limited", "again")
    assert refusal["retry_after"] == 10
    # Still subscribed from before, and still delivering.
    said = await bob.say(uri, "still here")
    assert (await read_type(ws, "message"))["id"] == said["id"]
    clock.advance(10)
    await subscribe(ws, uri)


@pytest.mark.gen_test
async def test_replays_are_paid_for_by_their_length_so_resubscribing_from_zero_stops_paying(
    api, limit, clock
):
    limit("replay=10/10s")
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ids = [(await alice.say(uri, f"m{n}"))["id"] for n in range(6)]
    ws = await ui_socket(bob)
    await subscribe(ws, uri, after=0)
    assert len(of_type(await drain(ws), "message")) == 6
    # Six more would need six of the four left: refused before anything is read.
    send(ws, {"type": "subscribe", "uri": uri, "after": 0, "ref": 2})
    refusal = await read_type(ws, "error")
    assert (refusal["code"], refusal["ref"]) == ("rate_limited", 2)
    assert refusal["retry_after"] == pytest.approx(2.0)
    assert of_type(await drain(ws), "message") == []
    # A subscribe that replays nothing costs nothing of it, and a short one still fits.
    await subscribe(ws, uri)
    await subscribe(ws, uri, after=ids[2])
    assert [m["id"] for m in of_type(await drain(ws), "message")] == ids[3:]
    clock.advance(10)
    await subscribe(ws, uri, after=0)
    assert len(of_type(await drain(ws), "message")) == 6


@pytest.mark.gen_test
async def test_a_resume_by_sequence_number_pays_for_every_event_it_replays(
    api, limit, clock
):
    limit("replay=10/10s")
    alice, bob, uri = await chat_between(api, "alice", "bob")
    for n in range(6):
        await alice.say(uri, f"m{n}")
    ws = await ui_socket(bob)
    # Alice starting the chat and bob joining it are events too: eight in all.
    send(ws, {"type": "subscribe", "uri": uri, "after_seq": 0})
    await read_type(ws, "subscribed")
    assert len([f for f in await drain(ws) if "seq" in f]) == 8
    send(ws, {"type": "subscribe", "uri": uri, "after_seq": 0, "ref": 2})
    refusal = await read_type(ws, "error")
    assert (refusal["code"], refusal["ref"]) == ("rate_limited", 2)
    assert [f for f in await drain(ws) if "seq" in f] == []
    send(ws, {"type": "subscribe", "uri": uri, "after_seq": 6})
    await read_type(ws, "subscribed")
    assert [f["seq"] for f in await drain(ws) if "seq" in f] == [7, 8]


@pytest.mark.gen_test
async def test_new_chats_over_the_budget_are_429_and_make_nothing_but_rooms_that_exist_open(
    api, limit, clock
):
    limit("new-chat=2/1h")
    alice, bob = await api.signup("alice"), await api.signup("bob")
    await bob.start_chat("lobby")
    await alice.start_chat()
    await alice.start_chat("general")
    rooms_before = Room.select().count()
    status, data = await alice.call("POST", "/api/chats/", {})
    assert status == 429 and "Too many new chats" in data["detail"]
    assert api.last_response.headers["Retry-After"] == "1800"
    status, _ = await alice.call("POST", "/api/chats/", {"name": "brand-new"})
    assert status == 429
    # Connecting the seed socket to a new name would create it: refused at the handshake.
    path = "/ws/chat/also-new/"
    assert await handshake_status(api, path, Authorization=f"Token {alice.token}") == 429
    assert Room.select().count() == rooms_before
    # Opening a room that exists creates nothing, so it is never refused.
    status, data = await alice.call("POST", "/api/chats/", {"name": "lobby"})
    assert status == 200 and data["uri"] == "lobby"
    ws = await room_socket(alice, "general")
    send(ws, {"message": "the old room still works"})
    assert (await read(ws))["message"] == "the old room still works"
    clock.advance(1800)
    assert await alice.start_chat()


@pytest.mark.gen_test(timeout=60)
async def test_signups_from_one_address_over_the_budget_are_429_and_elsewhere_still_work(
    api, base_url, limit
):
    limit("signup=3/10m")
    for name in ("ann", "ben", "cat"):
        await api.signup(name)
    status, data = await api.call(
        "POST", "/auth/users/create/", {"username": "dan", "password": "long enough pw"}
    )
    assert status == 429 and "sign-ups from this address" in data["detail"]
    assert api.last_response.headers["Retry-After"] == "200"
    assert User.by_username("dan") is None
    # Bad input is answered as before, without spending the budget.
    status, data = await api.call("POST", "/auth/users/create/", {"username": "dan"})
    assert status == 400 and "password" in data
    # Logging in is not signing up.
    status, _ = await api.call(
        "POST", "/auth/token/create/", {"username": "ann", "password": PASSWORD}
    )
    assert status == 200
    elsewhere = API(base_url.replace("//localhost:", "//127.0.0.1:"), source="127.0.0.2")
    assert (await elsewhere.signup("dan")).username == "dan"


@pytest.mark.gen_test
async def test_reads_of_chats_and_history_over_the_budget_are_429_until_it_refills(
    api, limit, clock
):
    limit("reads=3/60s")
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for path in ("/api/chats/", f"/api/chats/{uri}/", f"/api/chats/{uri}/messages/"):
        status, _ = await alice.call("GET", path)
        assert status == 200, path
    for path in ("/api/chats/", f"/api/chats/{uri}/", f"/api/chats/{uri}/messages/"):
        status, data = await alice.call("GET", path)
        assert status == 429 and "Too many requests" in data["detail"], path
        assert api.last_response.headers["Retry-After"] == "20"
    # Someone else's reads are their own; writing is not reading.
    bob = await api.signup("bob")
    assert (await chats_page(bob))["chats"] == []
    await alice.say(uri, "still allowed")
    clock.advance(20)
    assert len((await chats_page(alice))["chats"]) == 1


@pytest.mark.gen_test
async def test_an_api_client_over_a_budget_waits_a_moment_for_its_429(
    api, limit, monkeypatch
):
    limit("new-chat=1/1h")
    monkeypatch.setattr(BaseHandler, "rate_limited_pause", 0.25)
    alice = await api.signup("alice")
    await alice.start_chat()
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _ = await alice.call("POST", "/api/chats/", {})
    assert status == 429
    assert loop.time() - started >= 0.25
    # A write refused for its rate: the same.
    limit("send=1/1h")
    uri = await alice.start_chat("lobby")
    await alice.say(uri, "one")
    started = loop.time()
    status, _ = await alice.call("POST", f"/api/chats/{uri}/messages/", {"message": "two"})
    assert status == 429 and loop.time() - started >= 0.25


async def chats_page(person, query=""):
    status, data = await person.call("GET", f"/api/chats/{query}")
    assert status == 200, data
    return data


@pytest.mark.gen_test(timeout=60)
async def test_the_chat_list_comes_in_pages_in_order_and_a_cursor_continues_it(api, app):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uris = [await alice.start_chat() for _ in range(5)]
    await bob.join(uris[1])
    await bob.say(uris[1], "now the busiest")
    expected = [uris[1], uris[4], uris[3], uris[2], uris[0]]
    assert [c["uri"] for c in (await chats_page(alice))["chats"]] == expected
    seen, query = [], "?limit=2"
    for _ in range(5):
        page = await chats_page(alice, query)
        assert len(page["chats"]) <= 2
        seen += [c["uri"] for c in page["chats"]]
        if page["next"] is None:
            break
        query = f"?limit=2&cursor={page['next']}"
    assert seen == expected
    first = (await chats_page(alice, "?limit=2"))["chats"][0]
    assert first["last_message"]["message"] == "now the busiest" and first["unread"] == 1


@pytest.mark.gen_test(timeout=60)
async def test_a_chat_list_read_answers_one_page_however_many_chats_there_are(api, app):
    alice = await api.signup("alice")
    owner = User.get_by_id(alice.id)

    def many_chats():
        for n in range(250):
            Membership.create(user=owner, room=Room.create(uri=f"bulk-{n}", owner=owner))

    # Set up through the writer, as any write is; 250 requests would only be slow.
    await app.messenger.writer.run(many_chats)
    page = await chats_page(alice)
    assert len(page["chats"]) == 100 and page["next"]
    assert page["chats"][0]["uri"] == "bulk-249"
    status, data = await alice.call("GET", "/api/chats/?limit=201")
    assert status == 400 and "limit" in data
    biggest = await chats_page(alice, "?limit=200")
    rest = await chats_page(alice, f"?limit=200&cursor={biggest['next']}")
    assert len(biggest["chats"]) + len(rest["chats"]) == 250 and rest["next"] is None


@pytest.mark.gen_test
async def test_a_cursor_that_did_not_come_from_the_list_is_400_never_500(api):
    alice = await api.signup("alice")
    await alice.start_chat()

    def token(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()

    for cursor in (
        "",
        "not-base64!",
        "e30",
        token([]),
        token(["2026-01-01", "7"]),
        token(["2026-01-01", 2**70]),
        token(["\ud800", 1]),
        token(["2026-01-01", True]),
        token(None),
    ):
        status, data = await alice.call("GET", f"/api/chats/?cursor={cursor}")
        assert status == 400 and "cursor" in data, cursor


@pytest.mark.sqlite_only
def test_budgets_given_with_the_limits_option_are_the_running_boxs(tmp_path):
    with Box(tmp_path, "--limits", "new-chat=1/1h,send=off") as box:
        token = box.signup("alice")
        status, _, _ = box.call("POST", "/api/chats/", {}, token=token)
        assert status == 201
        status, data, headers = box.call("POST", "/api/chats/", {}, token=token)
        assert status == 429 and headers["Retry-After"] == "3600", data


def test_a_limits_spec_the_box_cannot_read_stops_the_start_and_says_why(tmp_path):
    result = run(f"--data-dir={tmp_path}", "--port=0", "--limits=sends=1/1s")
    assert result.returncode == 1
    assert "unknown limit 'sends'" in result.stderr


@pytest.mark.gen_test
async def test_renaming_a_chat_spends_the_send_budget_so_a_flood_of_names_stops(api, limit):
    limit("send=2/60s")
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for name in ("one", "two"):
        status, _ = await alice.call("PUT", f"/api/chats/{uri}/name/", {"name": name})
        assert status == 200
    status, data = await alice.call("PUT", f"/api/chats/{uri}/name/", {"name": "three"})
    assert status == 429 and "too fast" in data["detail"]
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    assert chat["name"] == "two"
