"""RoomHub on its own: plain function calls, fake subscribers, no IOLoop anywhere."""

from collections import namedtuple
from types import SimpleNamespace

from hub import RoomHub

Room = namedtuple("Room", "id uri")


def room(room_id):
    return Room(room_id, f"room-{room_id}")


def ids(rooms):
    return sorted(r.id for r in rooms)


class Subscriber:
    """Records what the hub hands it; optionally runs a hook on each delivery."""

    def __init__(self, user_id, wants_signals=True, on_deliver=None):
        self.user_id = user_id
        self.wants_signals = wants_signals
        self.on_deliver = on_deliver
        self.delivered = []
        self.signals = []

    def deliver(self, room_id, message_id, seq, frame):
        self.delivered.append((room_id, message_id, frame))
        if self.on_deliver:
            self.on_deliver(self)

    def signal(self, room_id, frame):
        self.signals.append((room_id, frame))

    def __repr__(self):
        return f"Subscriber(user={self.user_id})"


def assert_consistent(hub):
    """Every index of the hub says the same thing as the others."""
    from_rooms = {}
    for room_id, members in hub._subscribers.items():
        assert members, f"room {room_id} kept an empty set"
        for subscriber in members:
            from_rooms.setdefault(subscriber, set()).add(room_id)
    assert from_rooms == {s: set(rooms) for s, rooms in hub._rooms_of.items()}
    for room_id, members in hub._subscribers.items():
        counts = {}
        for subscriber in members:
            counts[subscriber.user_id] = counts.get(subscriber.user_id, 0) + 1
        assert hub._online.get(room_id) == counts
    assert set(hub._online) == set(hub._subscribers)
    for user_id, mine in hub._connections.items():
        assert mine and all(s.user_id == user_id for s in mine)


def test_subscribe_and_unsubscribe_keep_every_index_in_step():
    hub = RoomHub()
    a, b = Subscriber(1), Subscriber(2)
    hub.attach(a)
    hub.attach(b)
    assert hub.subscribe(room(10), a) is True
    assert hub.subscribe(room(10), b) is True
    assert hub.subscribe(room(11), a) is True
    assert_consistent(hub)
    assert hub.subscribers(10) == {a, b}
    assert hub.rooms_of(a) == {10, 11}
    assert hub.unsubscribe(10, a) is True
    assert_consistent(hub)
    assert hub.rooms_of(a) == {11}
    assert hub.unsubscribe(11, a) is True
    assert hub.unsubscribe(10, b) is True
    assert_consistent(hub)
    assert hub._subscribers == {} and hub._rooms_of == {} and hub._online == {}


def test_subscribing_twice_counts_once():
    hub = RoomHub()
    a = Subscriber(1)
    assert hub.subscribe(room(10), a) is True
    assert hub.subscribe(room(10), a) is False
    assert hub.online(10) == [1]
    assert hub.unsubscribe(10, a) is True
    assert hub.online(10) == []
    assert_consistent(hub)


def test_unsubscribing_what_was_never_subscribed_changes_nothing():
    hub = RoomHub()
    a, b = Subscriber(1), Subscriber(2)
    hub.subscribe(room(10), a)
    assert hub.unsubscribe(10, b) is False
    assert hub.unsubscribe(99, a) is False
    assert hub.subscribers(10) == {a}
    assert_consistent(hub)


def test_a_user_is_online_once_across_several_tabs_and_leaves_with_the_last():
    hub = RoomHub()
    tab1, tab2, other = Subscriber(1), Subscriber(1), Subscriber(2)
    assert hub.subscribe(room(10), tab1) is True
    assert hub.subscribe(room(10), tab2) is False  # already online: no presence change
    assert hub.subscribe(room(10), other) is True
    assert hub.online(10) == [1, 2]
    assert hub.unsubscribe(10, tab1) is False  # the second tab keeps the user online
    assert hub.online(10) == [1, 2]
    assert hub.unsubscribe(10, tab2) is True
    assert hub.online(10) == [2]
    assert_consistent(hub)


def test_drop_leaves_every_room_and_reports_only_where_the_user_went_offline():
    hub = RoomHub()
    tab1, tab2 = Subscriber(1), Subscriber(1)
    for room_id in (10, 11, 12):
        hub.subscribe(room(room_id), tab1)
    hub.subscribe(room(11), tab2)
    assert ids(hub.drop(tab1)) == [10, 12]
    assert hub.rooms_of(tab1) == frozenset()
    assert hub.online(11) == [1]
    assert hub.drop(tab1) == []
    assert_consistent(hub)


def test_evict_removes_every_tab_of_one_user_from_one_room_only():
    hub = RoomHub()
    tab1, tab2, other = Subscriber(1), Subscriber(1), Subscriber(2)
    for s in (tab1, tab2, other):
        hub.attach(s)
        hub.subscribe(room(10), s)
    hub.subscribe(room(11), tab1)
    gone = hub.evict(10, 1)
    assert set(gone) == {tab1, tab2}
    assert hub.subscribers(10) == {other}
    assert hub.online(10) == [2]
    assert hub.rooms_of(tab1) == {11}
    assert hub.connections(1) == {tab1, tab2}  # still connected, just not in room 10
    assert hub.evict(10, 1) == []
    assert_consistent(hub)


def test_attach_and_detach_track_connections_and_detach_leaves_every_room():
    hub = RoomHub()
    tab1, tab2, other = Subscriber(1), Subscriber(1), Subscriber(2)
    for s in (tab1, tab2, other):
        hub.attach(s)
    hub.subscribe(room(10), tab1)
    hub.subscribe(room(10), tab2)
    hub.subscribe(room(11), tab1)
    assert hub.connections() == {tab1, tab2, other}
    assert hub.stats() == {"connections": 3, "users_online": 2, "rooms_active": 2}
    assert ids(hub.detach(tab1)) == [11]  # still online in 10 through the other tab
    assert hub.connections(1) == {tab2}
    assert ids(hub.detach(tab2)) == [10]
    assert hub.connections(1) == frozenset()
    assert hub.stats() == {"connections": 1, "users_online": 1, "rooms_active": 0}
    assert hub.detach(tab2) == []  # a second detach is harmless
    assert_consistent(hub)


def test_a_new_address_reaches_the_room_objects_kept_for_every_subscriber():
    hub = RoomHub()
    # Each connection may hold its own object for the same room; all of them follow.
    moving = [SimpleNamespace(id=10, uri="old") for _ in range(2)]
    tab1, tab2, bystander = Subscriber(1), Subscriber(2), Subscriber(3)
    hub.subscribe(moving[0], tab1)
    hub.subscribe(moving[1], tab2)
    staying = SimpleNamespace(id=11, uri="old")  # another room keeps its own
    hub.subscribe(staying, bystander)
    hub.readdress(10, "new")
    assert [r.uri for r in moving] == ["new", "new"]
    assert staying.uri == "old"
    assert [r.uri for r in hub.drop(tab1)] == ["new"]
    hub.readdress(12, "nowhere")  # a room nobody listens to: nothing to do
    assert_consistent(hub)


def test_publish_hands_the_same_encoded_string_object_to_every_subscriber():
    hub = RoomHub()
    subscribers = [Subscriber(n) for n in range(50)]
    for s in subscribers:
        hub.subscribe(room(10), s)
    outsider = Subscriber(99)
    hub.subscribe(room(11), outsider)
    frame = '{"type":"message","id":7}'
    assert hub.publish(10, 3, frame, 7) == 50
    for s in subscribers:
        assert len(s.delivered) == 1
        room_id, message_id, got = s.delivered[0]
        assert (room_id, message_id) == (10, 7)
        assert got is frame
    assert outsider.delivered == []


def test_publish_to_a_room_nobody_listens_to_delivers_nothing():
    assert RoomHub().publish(10, 1, "{}", 1) == 0


def test_signal_skips_subscribers_that_do_not_want_signals_and_the_skipped_one():
    hub = RoomHub()
    ui, seed, me = Subscriber(1), Subscriber(2, wants_signals=False), Subscriber(3)
    for s in (ui, seed, me):
        hub.subscribe(room(10), s)
    frame = '{"type":"typing"}'
    hub.signal(10, frame, skip=me)
    assert ui.signals == [(10, frame)]
    assert ui.signals[0][1] is frame
    assert seed.signals == []
    assert me.signals == []
    hub.signal(10, frame)
    assert len(me.signals) == 1


def test_a_subscriber_that_unsubscribes_itself_during_publish_does_not_break_it():
    hub = RoomHub()
    quitter = Subscriber(1, on_deliver=lambda s: hub.drop(s))
    others = [Subscriber(n) for n in range(2, 12)]
    hub.subscribe(room(10), quitter)
    for s in others:
        hub.subscribe(room(10), s)
    hub.publish(10, 1, "first", 1)
    assert all(len(s.delivered) == 1 for s in others)
    assert len(quitter.delivered) == 1
    hub.publish(10, 2, "second", 2)
    assert len(quitter.delivered) == 1
    assert all(len(s.delivered) == 2 for s in others)
    assert_consistent(hub)


def test_a_subscriber_that_unsubscribes_another_during_publish_does_not_break_it():
    hub = RoomHub()
    victim = Subscriber(2)
    killer = Subscriber(1, on_deliver=lambda s: hub.drop(victim))
    hub.subscribe(room(10), killer)
    hub.subscribe(room(10), victim)
    hub.publish(10, 1, "frame")  # whichever goes first, iteration must survive
    assert hub.subscribers(10) == {killer}
    assert_consistent(hub)


def test_someone_online_here_and_on_another_process_counts_once():
    hub = RoomHub()
    hub.subscribe(room(1), Subscriber(7))
    hub.elsewhere("node-b", 1, 7, True)
    hub.elsewhere("node-b", 1, 8, True)
    assert hub.online(1) == [7, 8]
    assert hub.is_online(1, 8) and not hub.is_here(1, 8)
    assert hub.here() == {1: [7]}
    hub.elsewhere("node-b", 1, 8, False)
    assert hub.online(1) == [7]


def test_a_person_online_through_two_other_processes_stays_online_until_both_say_not():
    hub = RoomHub()
    hub.elsewhere("b", 1, 8, True)
    hub.elsewhere("c", 1, 8, True)
    hub.elsewhere("b", 1, 8, False)
    assert hub.online(1) == [8]
    hub.elsewhere("c", 1, 8, False)
    assert hub.online(1) == []


def test_forgetting_a_process_reports_whom_it_had_online_and_keeps_the_others():
    hub = RoomHub()
    hub.elsewhere("b", 1, 8, True)
    hub.elsewhere("b", 2, 9, True)
    hub.elsewhere("c", 2, 9, True)
    assert sorted(hub.forget_node("b")) == [(1, 8), (2, 9)]
    assert hub.online(1) == [] and hub.online(2) == [9]
    assert hub.forget_node("b") == []
