"""Every change in a room is an event with the room's next number, and /ws resumes by it."""

import asyncio

import pytest
from realtime import chat_between, drain, read, read_type, send, subscribe, ui_socket

from models import Event, Message, Room, User


def numbered(frames):
    """The frames that are events of a room (they carry ``seq``), as (type, seq)."""
    return [(f["type"], f["seq"]) for f in frames if "seq" in f]


async def subscribe_after_seq(ws, uri, after_seq):
    send(ws, {"type": "subscribe", "uri": uri, "after_seq": after_seq})
    subscribed = await read_type(ws, "subscribed")
    assert subscribed["uri"] == uri
    return subscribed


def seqs_of(room):
    """Every number the room gave out (messages keep theirs on their rows, other
    changes in event rows), checking that each table's numbers rise in the order its
    rows were written."""
    messages = [
        seq
        for (seq,) in Message.select(Message.seq)
        .where(Message.room == room)
        .order_by(Message.id)
        .tuples()
    ]
    events = [
        seq
        for (seq,) in Event.select(Event.seq)
        .where(Event.room == room)
        .order_by(Event.id)
        .tuples()
    ]
    assert messages == sorted(messages) and events == sorted(events)
    return sorted(messages + events)


@pytest.mark.gen_test(timeout=60)
async def test_sequence_numbers_are_gapless_and_increasing_per_room_and_independent_across_rooms_under_concurrent_posts(  # noqa: E501
    api, unlimited
):
    alice, bob, first = await chat_between(api, "alice", "bob")
    second = await alice.start_chat()
    await bob.join(second)
    watcher = await ui_socket(bob, first, second)
    await drain(watcher)

    await asyncio.gather(
        *(
            person.say(uri, f"{person.username} {n}")
            for n in range(40)
            for person in (alice, bob)
            for uri in (first, second)
        )
    )

    for uri in (first, second):
        room = Room.by_uri(uri)
        # Started by alice (1), joined by bob (2), then 80 messages, committed in the
        # order of their numbers.
        assert seqs_of(room) == list(range(1, 83))
        assert room.seq == 82
        message_seqs = [
            seq
            for (seq,) in Message.select(Message.seq)
            .where(Message.room == room)
            .order_by(Message.id)
            .tuples()
        ]
        assert message_seqs == list(range(3, 83))
    frames = []
    while len([f for f in frames if f["type"] == "message"]) < 160:
        frames.append(await read(watcher))
    for uri in (first, second):
        live = [f["seq"] for f in frames if f.get("type") == "message" and f["uri"] == uri]
        assert live == list(range(3, 83))


@pytest.mark.gen_test(timeout=30)
async def test_a_socket_offline_meanwhile_gets_every_message_join_and_removal_once_in_order_by_after_seq(  # noqa: E501
    api,
):
    alice, bob, dave, uri = await chat_between(api, "alice", "bob", "dave")
    carol = await api.signup("carol")
    ws = await ui_socket(bob)
    subscribed = await subscribe(ws, uri)
    assert subscribed["latest_seq"] == 3
    ws.close()

    await alice.say(uri, "one")
    await carol.join(uri)
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/dave/")
    assert status == 204
    await alice.say(uri, "two")

    back = await ui_socket(bob)
    subscribed = await subscribe_after_seq(back, uri, subscribed["latest_seq"])
    assert subscribed["latest_seq"] == 7
    replay = await drain(back)
    assert numbered(replay) == [
        ("message", 4),
        ("member", 5),
        ("member", 6),
        ("message", 7),
    ]
    events = [f for f in replay if "seq" in f]
    assert events[0]["message"] == "one" and events[3]["message"] == "two"
    assert (events[1]["event"], events[1]["user"]["username"]) == ("joined", "carol")
    assert (events[2]["event"], events[2]["user"]["username"]) == ("left", "dave")

    await alice.say(uri, "three")
    live = await read_type(back, "message")
    assert (live["message"], live["seq"]) == ("three", 8)
    assert numbered(await drain(back)) == []


@pytest.mark.gen_test(timeout=30)
async def test_a_replayed_move_names_both_addresses_and_carries_its_number(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    status, data = await alice.call("POST", f"/api/chats/{uri}/address/")
    assert status == 200
    ws = await ui_socket(bob)
    await subscribe_after_seq(ws, data["uri"], 2)
    assert [f for f in await drain(ws) if "seq" in f] == [
        {"type": "moved", "uri": uri, "new_uri": data["uri"], "seq": 3}
    ]


@pytest.mark.gen_test(timeout=30)
async def test_resuming_by_message_id_still_replays_the_messages_after_it(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    first = await alice.say(uri, "one")
    carol = await api.signup("carol")
    await carol.join(uri)
    await alice.say(uri, "two")
    await alice.say(uri, "three")

    ws = await ui_socket(bob)
    subscribed = await subscribe(ws, uri, after=first["id"])
    assert subscribed["latest_seq"] == 6
    replay = await drain(ws)
    # As before numbers existed: the messages only, each now with its number too.
    assert [(f["message"], f["seq"]) for f in replay if f["type"] == "message"] == [
        ("two", 5),
        ("three", 6),
    ]
    assert [f for f in replay if f["type"] == "member"] == []


@pytest.mark.gen_test(timeout=30)
async def test_a_gap_beyond_the_replay_limit_gives_a_reset_and_exactly_the_limit_is_replayed(
    api, app
):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    room, author = Room.by_uri(uri), User.get(User.id == alice.id)
    await app.messenger.writer.run(
        lambda: [Message.post(room, author, f"m{n}") for n in range(501)]
    )
    ws = await ui_socket(bob)
    subscribed = await subscribe_after_seq(ws, uri, 2)
    assert subscribed["latest_seq"] == 503
    frames = await drain(ws)
    assert [f["type"] for f in frames if f["type"] != "presence"] == ["reset"]

    again = await ui_socket(bob)
    await subscribe_after_seq(again, uri, 3)
    assert [seq for _, seq in numbered(await drain(again))] == list(range(4, 504))

    # Ahead of anything the box holds (a box restored from a backup): refetch.
    ahead = await ui_socket(bob)
    await subscribe_after_seq(ahead, uri, 504)
    assert [f["type"] for f in await drain(ahead) if f["type"] != "presence"] == ["reset"]


@pytest.mark.gen_test(timeout=30)
async def test_a_resend_of_a_stored_message_takes_no_number(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await alice.say(uri, "once", client_id="c-1")
    await alice.say(uri, "once", client_id="c-1")
    await alice.say(uri, "twice", client_id="c-2")
    assert seqs_of(Room.by_uri(uri)) == [1, 2, 3, 4]


@pytest.mark.gen_test(timeout=30)
async def test_after_seq_must_be_a_sequence_number(api):
    alice, uri = await chat_between(api, "alice")
    ws = await ui_socket(alice)
    for bad in (-1, "3", 1.5, True, 2**63):
        send(ws, {"type": "subscribe", "uri": uri, "after_seq": bad})
        error = await read_type(ws, "error")
        assert error["code"] == "invalid"
