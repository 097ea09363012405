"""Presence: who is online in a room, counted per user across tabs, and sent in batches
(first through real sockets, then the batching on its own with the timer driven by hand)."""

import asyncio
import json
from types import SimpleNamespace

import pytest
from realtime import (
    apply_presence,
    chat_between,
    drain,
    presence_settled,
    read_type,
    send,
    subscribe,
    ui_socket,
    until,
)
from test_hub import Subscriber

from hub import Presence, RoomHub
from models import Room

STOPPED = 3600


async def next_of_type(socket, kind):
    # Bounded: a handful of frames (hello, subscribed, presence) precede the one wanted.
    for _ in range(20):
        frame = json.loads(await socket.read_message())
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


async def presence_becomes(socket, online, expected):
    """Apply batches to ``online`` until it equals ``expected``; returns it."""
    for _ in range(20):
        online = apply_presence(online, await next_of_type(socket, "presence"))
        if online == set(expected):
            return online
    raise AssertionError(f"presence never became {expected}")


def presence_frames(frames):
    return [f for f in frames if f["type"] == "presence"]


@pytest.mark.gen_test(timeout=10)
async def test_closing_a_socket_tells_the_room_its_user_went_offline(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    await bob.join(uri)
    alice_socket = await alice.socket()
    alice_socket.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    online = set((await next_of_type(alice_socket, "subscribed"))["online"])
    assert online == {alice.id}
    bob_socket = await bob.socket()
    bob_socket.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    online = await presence_becomes(alice_socket, online, [alice.id, bob.id])
    bob_socket.close()
    await presence_becomes(alice_socket, online, [alice.id])
    alice_socket.close()


@pytest.mark.gen_test(timeout=30)
async def test_many_arrivals_in_one_window_reach_each_subscriber_as_one_frame(api, app):
    names = ["ann", "ben", "cat", "dan", "eve", "fay"]
    people = await chat_between(api, *names)
    *people, uri = people
    watchers = [await ui_socket(person, uri) for person in people[:2]]
    await presence_settled(app)
    for ws in watchers:
        await drain(ws)
    app.messenger.presence.delay = STOPPED
    newcomers = [await ui_socket(person, uri) for person in people[2:]]
    for ws in watchers:
        assert presence_frames(await drain(ws)) == []
    app.messenger.presence.flush()
    for ws in watchers + newcomers:
        assert presence_frames(await drain(ws)) == [
            {
                "type": "presence",
                "uri": uri,
                "came_online": sorted(p.id for p in people[2:]),
                "went_offline": [],
            }
        ]
    assert not app.messenger.presence.pending


@pytest.mark.gen_test(timeout=30)
async def test_leaving_and_coming_back_within_one_window_reports_the_user_online(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    await presence_settled(app)
    await drain(a)
    app.messenger.presence.delay = STOPPED
    send(b, {"type": "unsubscribe", "uri": uri})
    await read_type(b, "unsubscribed")
    await subscribe(b, uri)
    b.close()
    again = await ui_socket(bob, uri)  # a reload: the old tab gone, a new one in
    await until(lambda: len(app.messenger.hub.connections(bob.id)) == 1)
    assert presence_frames(await drain(a)) == []
    app.messenger.presence.flush()
    assert presence_frames(await drain(a)) == [
        {"type": "presence", "uri": uri, "came_online": [bob.id], "went_offline": []}
    ]
    again.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_snapshot_plus_every_batch_after_it_is_who_is_online(api, app):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    b = await ui_socket(bob, uri)
    app.messenger.presence.delay = STOPPED
    a = await ui_socket(alice)
    online = set((await subscribe(a, uri))["online"])
    c = await ui_socket(carol, uri)
    b.close()
    await until(lambda: not app.messenger.hub.connections(bob.id))
    app.messenger.presence.flush()
    for frame in presence_frames(await drain(a)):
        online = apply_presence(online, frame)
    assert online == {alice.id, carol.id}
    assert app.messenger.hub.online(Room.by_uri(uri).id) == sorted(online)
    c.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_room_everyone_left_keeps_no_presence_state(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    a.close()
    b.close()
    await until(lambda: not app.messenger.hub.connections())
    await presence_settled(app)
    assert app.messenger.presence._timer is None
    assert app.messenger.hub.stats()["rooms_active"] == 0


ROOM = SimpleNamespace(id=1, uri="lobby")


def frames(subscriber):
    return [json.loads(frame) for _, frame in subscriber.signals]


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_batch_names_each_touched_user_once_by_their_state_at_sending_time():
    async def scenario():
        hub = RoomHub()
        presence = Presence(hub, delay=3600)
        watcher, ann, ben = Subscriber(1), Subscriber(2), Subscriber(3)
        hub.subscribe(ROOM, watcher)
        for subscriber in (ann, ben):
            assert hub.subscribe(ROOM, subscriber)
            presence.changed(ROOM, subscriber.user_id)
        assert hub.unsubscribe(ROOM.id, ann)
        presence.changed(ROOM, ann.user_id)
        assert hub.subscribe(ROOM, ann)  # back within the window
        presence.changed(ROOM, ann.user_id)
        assert hub.unsubscribe(ROOM.id, ben)
        presence.changed(ROOM, ben.user_id)
        assert watcher.signals == []
        presence.flush()
        assert frames(watcher) == [
            {"type": "presence", "uri": "lobby", "came_online": [2], "went_offline": [3]}
        ]
        assert not presence.pending and presence._timer is None
        presence.close()

    run(scenario())


def test_the_timer_sends_the_batch_and_a_room_nobody_is_left_in_costs_nothing():
    async def scenario():
        hub = RoomHub()
        presence = Presence(hub, delay=0.01)
        ann = Subscriber(2)
        hub.subscribe(ROOM, ann)
        presence.changed(ROOM, ann.user_id)
        hub.unsubscribe(ROOM.id, ann)
        presence.changed(ROOM, ann.user_id)
        for _ in range(500):  # bounded: five seconds at most
            if not presence.pending:
                break
            await asyncio.sleep(0.01)
        assert not presence.pending and presence._timer is None
        assert ann.signals == []

    run(scenario())


def test_closing_drops_a_pending_batch():
    async def scenario():
        hub = RoomHub()
        presence = Presence(hub, delay=3600)
        ann = Subscriber(2)
        hub.subscribe(ROOM, ann)
        presence.changed(ROOM, ann.user_id)
        presence.close()
        assert not presence.pending and presence._timer is None

    run(scenario())


def test_a_batch_collected_while_the_room_changed_address_reports_the_new_one():
    async def scenario():
        hub = RoomHub()
        presence = Presence(hub, delay=3600)
        room = SimpleNamespace(id=2, uri="old")
        # The object presence was told about need not be the one the hub keeps.
        told = SimpleNamespace(id=2, uri="old")
        watcher, ann = Subscriber(1), Subscriber(2)
        hub.subscribe(room, watcher)
        hub.subscribe(room, ann)
        presence.changed(told, ann.user_id)
        presence.readdress(2, "new")
        presence.flush()
        assert [f["uri"] for f in frames(watcher)] == ["new"]
        presence.close()

    run(scenario())
