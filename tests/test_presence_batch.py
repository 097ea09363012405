"""Presence batching on its own: a real hub, fake subscribers, the timer driven by hand."""
import asyncio
import json
from types import SimpleNamespace

from hub import Presence, RoomHub
from test_hub import Subscriber

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
