"""Presence: a snapshot on subscribe, then batches of changes, one frame per room."""
import json

import pytest

from models import Room

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

# Long enough that nothing flushes on its own while a test is arranging a batch: those
# tests send the batch themselves, as the timer would, so they never race the clock.
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
