"""What keeps several processes on one database right: each room's changes in number
order on every process (``InOrder``), and the bus's notices acted on (``Relay``).

See docs/scale-out.md, "Order within a process" and "The bus". With one process on
SQLite neither runs: ``hub.Messenger`` hands changes to the hub directly.
"""

import asyncio
import logging

from frames import Frame, encode, event_frame
from handlers.revocation import close_ended
from models import Event, Membership, Room, User

log = logging.getLogger("chatbox.relay")


# A room this far behind is not replayed to its sockets: they are told to refetch,
# as a client resuming from too far back is.
CATCH_UP_LIMIT = 500


class _Delivery:
    """What one room's sockets on this process have been handed (see ``InOrder``)."""

    __slots__ = ("room", "delivered", "wanted", "waiting", "task")

    def __init__(self, room):
        self.room = room
        self.delivered = None  # highest number handed out here; None: not known yet
        self.wanted = 0  # highest number known to be committed
        self.waiting = {}  # number -> (frame, message id) committed here, not yet due
        self.task = None  # the catch-up running for the room


class InOrder:
    """With a bus, hands each room's changes to its subscribers here in number order.

    Several processes commit changes of one room; each hears of the others' only
    through the bus, and may hear late or not at all. So per room with subscribers here
    this keeps ``delivered``, the highest number handed out: number N goes out only
    right after N-1; a gap is filled from the database (``Event.since``) first. The
    numbers have no gaps, so whatever is committed up to N can always be read.

    A room's first subscriber sets where it starts (``start``), from the number it read
    with its backlog; until then what arrives waits.
    """

    def __init__(self, messenger):
        self.messenger = messenger
        self.hub = messenger.hub
        self._rooms = {}  # room id -> _Delivery

    def _delivery(self, room_id, room=None):
        """The room's state, if it has subscribers here; made when first needed."""
        if not self.hub.subscribers(room_id):
            self._rooms.pop(room_id, None)
            return None
        delivery = self._rooms.get(room_id)
        if delivery is None:
            room = room if room is not None else self.hub.room(room_id)
            delivery = self._rooms[room_id] = _Delivery(room)
        return delivery

    def delivered(self, room_id):
        delivery = self._rooms.get(room_id)
        return None if delivery is None else delivery.delivered

    def active(self):
        """{room id: number delivered} of the rooms with subscribers here."""
        for room_id in list(self._rooms):
            self._delivery(room_id)  # forgets the rooms nobody follows any more
        return {
            room_id: delivery.delivered
            for room_id, delivery in self._rooms.items()
            if delivery.delivered is not None
        }

    def start(self, room, seq):
        """A subscriber read the room up to ``seq``; returns the number delivered here
        from now on (higher if the room had started already)."""
        delivery = self._delivery(room.id, room)
        if delivery is None:
            return seq
        if delivery.delivered is None:
            delivery.delivered = seq
            self._advance(delivery)
        return delivery.delivered

    def local(self, room, seq, frame, message_id=None):
        """Number ``seq`` of the room was committed by this process."""
        delivery = self._delivery(room.id, room)
        if delivery is None:
            return
        if (
            delivery.delivered is not None
            and seq == delivery.delivered + 1
            and delivery.task is None
        ):
            self._hand_out(delivery, seq, frame, message_id)
            if delivery.waiting:
                self._advance(delivery)
            return
        if delivery.delivered is None or seq > delivery.delivered:
            delivery.waiting[seq] = (frame, message_id)
            delivery.wanted = max(delivery.wanted, seq)
            self._advance(delivery)

    def news(self, room_id, seq, frame=None, message_id=None):
        """Another process says the room has changes up to ``seq``; with ``frame``,
        number ``seq`` itself (a new message, ``message_id``), as it committed it."""
        delivery = self._delivery(room_id)
        if delivery is None:
            return
        if frame is not None and (delivery.delivered is None or seq > delivery.delivered):
            delivery.waiting[seq] = (frame, message_id)
        delivery.wanted = max(delivery.wanted, seq)
        self._advance(delivery)

    def _hand_out(self, delivery, seq, frame, message_id):
        self.hub.publish(delivery.room.id, seq, frame, message_id)
        delivery.delivered = seq

    def _advance(self, delivery):
        """Hand out what is due from what waits; read the rest from the database."""
        if delivery.delivered is None or delivery.task is not None:
            return
        for seq in [seq for seq in delivery.waiting if seq <= delivery.delivered]:
            del delivery.waiting[seq]
        while delivery.delivered + 1 in delivery.waiting:
            seq = delivery.delivered + 1
            self._hand_out(delivery, seq, *delivery.waiting.pop(seq))
        if delivery.wanted > delivery.delivered or delivery.waiting:
            delivery.task = asyncio.ensure_future(self._catch_up(delivery))

    async def _catch_up(self, delivery):
        room = delivery.room
        idle = 0
        try:
            while (
                self._rooms.get(room.id) is delivery
                and max([delivery.wanted, *delivery.waiting]) > delivery.delivered
            ):
                after = delivery.delivered
                events = await self.messenger.reads.run(
                    Event.since, room, after, CATCH_UP_LIMIT
                )
                if self._rooms.get(room.id) is not delivery:
                    return
                if events is None:
                    await self._too_far(delivery)
                    continue
                for event in events:
                    if event.seq is None or event.seq <= delivery.delivered:
                        continue
                    if event.seq != delivery.delivered + 1:
                        break  # read between two commits: the next read has it
                    self._hand_out_event(delivery, event)
                for seq in [s for s in delivery.waiting if s <= delivery.delivered]:
                    del delivery.waiting[seq]
                if delivery.delivered == after:
                    # Told of a number not to be read yet: wait a little, and after a
                    # second without it leave it to the periodic check.
                    idle += 1
                    if idle > 20:
                        delivery.wanted = delivery.delivered
                        return
                    await asyncio.sleep(0.05)
                else:
                    idle = 0
        finally:
            delivery.task = None
        if self._rooms.get(room.id) is delivery and delivery.waiting:
            self._advance(delivery)

    def _hand_out_event(self, delivery, event):
        waiting = delivery.waiting.pop(event.seq, None)
        if waiting is not None:
            self._hand_out(delivery, event.seq, *waiting)
            return
        room = delivery.room
        if event.kind == "moved":
            room.uri = event.details["new_uri"]
            self.hub.readdress(room.id, room.uri)
            self.messenger.presence.readdress(room.id, room.uri)
        message_id = event.message.id if event.kind == "message" else None
        self._hand_out(delivery, event.seq, event_frame(room, event), message_id)

    async def _too_far(self, delivery):
        """Too many changes to replay: every subscriber here refetches the room."""
        latest = await self.messenger.reads.run(Event.latest_seq, delivery.room)
        if self._rooms.get(delivery.room.id) is not delivery:
            return
        frame = encode({"type": "reset", "uri": delivery.room.uri})
        for subscriber in self.hub.subscribers(delivery.room.id):
            if subscriber.wants_signals:
                subscriber.signal(delivery.room.id, frame)
            subscriber.skip_to(delivery.room.id, latest)
        delivery.delivered = max(delivery.delivered, latest)
        delivery.waiting.clear()


# A process says it is alive this often; one not heard from for DEAD_AFTER is gone and
# its people go offline. Three beats: one lost notice never makes a live process dead.
BEAT_INTERVAL = 5.0
DEAD_AFTER = 15.0
# How often the rooms with subscribers here are compared with the database, for a
# notice lost without the connection dropping: one small query every five seconds.
CHECK_INTERVAL = 5.0
# Who is online here, restated to the other processes: rooms per notice.
ROOMS_PER_NOTICE = 100


class Relay:
    """The hub's side of the bus: what other processes say, acted on here; who is
    online here, told to them; and the heartbeats and checks that cover lost notices.

    Kinds of notice (each also carries the sender's ``node``), see docs/scale-out.md:
    ``news``, ``signal``, ``user``, ``chat``, ``evict``, ``close``, ``presence``,
    ``state``, ``hello``, ``beat``.
    """

    beat_interval = BEAT_INTERVAL
    dead_after = DEAD_AFTER
    check_interval = CHECK_INTERVAL

    def __init__(self, messenger, bus):
        self.messenger = messenger
        self.hub = messenger.hub
        self.bus = bus
        self._heard = {}  # node id -> loop time of its last notice
        self._timers = []
        self._running = set()  # tasks started for notices, held until done

    async def start(self):
        await self.bus.start(self.received, self.reconnected)
        if not self._timers:
            self._timers = [
                asyncio.ensure_future(self._every(self.beat_interval, self.beat)),
                asyncio.ensure_future(self._every(self.check_interval, self.check)),
            ]
            self.reconnected()

    async def stop(self):
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        await self.bus.close()

    async def _every(self, seconds, job):
        while True:
            await asyncio.sleep(seconds)
            try:
                result = job()
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic bus job failed")

    def _spawn(self, coroutine):
        task = asyncio.ensure_future(coroutine)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def reconnected(self):
        """Connected again (or for the first time): notices may have been missed both
        ways, so ask the others to restate who is online, restate ours, and compare
        every room followed here with the database."""
        self.bus.publish({"kind": "hello"})
        self.restate()
        self._spawn(self.check())
        self._spawn(self.recheck_members())

    def restate(self):
        """Tell the others everyone online here, room by room."""
        here = list(self.hub.here().items())
        first = True
        for start in range(0, max(len(here), 1), ROOMS_PER_NOTICE):
            chunk = here[start : start + ROOMS_PER_NOTICE]
            self.bus.publish(
                {"kind": "state", "first": first, "rooms": [[r, u] for r, u in chunk]}
            )
            first = False

    def beat(self):
        self.bus.publish({"kind": "beat"})
        now = asyncio.get_running_loop().time()
        for node, heard in list(self._heard.items()):
            if now - heard > self.dead_after:
                log.info("bus: process %s not heard for %.0f s; gone", node, now - heard)
                del self._heard[node]
                self._gone(node)

    def _gone(self, node):
        for room_id, user_id in self.hub.forget_node(node):
            self._presence(room_id, user_id)

    async def check(self):
        """Catch up the rooms whose number moved past what was delivered here."""
        active = self.messenger.order.active()
        if not active:
            return
        ids = list(active)

        def numbers():
            return list(Room.select(Room.id, Room.seq).where(Room.id.in_(ids)).tuples())

        for room_id, seq in await self.messenger.reads.run(numbers):
            if seq is not None and seq > active[room_id]:
                self.messenger.order.news(room_id, seq)

    async def recheck_members(self):
        """After notices may have been lost: whoever is subscribed here to a room they
        are no longer an active member of (an ``evict`` missed) leaves it now."""
        pairs = {
            (room_id, subscriber.user_id)
            for subscriber in self.hub.connections()
            for room_id in self.hub.rooms_of(subscriber)
        }
        if not pairs:
            return
        members = await self.messenger.reads.run(active_members, {r for r, _ in pairs})
        for room_id, user_id in pairs - members:
            room = self.hub.room(room_id)
            if room is not None:
                self.messenger.evict(room, user_id, False)

    def _presence(self, room_id, user_id):
        room = self.hub.room(room_id)
        if room is not None:
            self.messenger.presence.changed(room, user_id)

    def received(self, message):
        node = message.get("node")
        self._heard[node] = asyncio.get_running_loop().time()
        handler = getattr(self, "on_" + str(message.get("kind")), None)
        if handler is None:
            log.warning("ignoring a bus notice of kind %r", message.get("kind"))
            return
        handler(node, message)

    def on_beat(self, node, message):
        pass

    def on_hello(self, node, message):
        self.restate()

    def on_news(self, node, message):
        frame = message.get("frame")
        self.messenger.order.news(
            message["room"],
            message["seq"],
            None if frame is None else Frame(frame),
            message.get("message"),
        )

    def on_signal(self, node, message):
        self.hub.signal(message["room"], Frame(message["frame"]))

    def on_user(self, node, message):
        self.messenger.to_people(
            message["users"], message["room"], Frame(message["frame"]), message.get("seq")
        )

    def on_chat(self, node, message):
        user_id = message["user"]
        if not any(c.wants_signals for c in self.hub.connections(user_id)):
            return

        async def tell():
            room, user = await self.messenger.reads.run(
                lambda: (Room.get_by_id(message["room"]), User.get_by_id(user_id))
            )
            await self.messenger.tell_new_member(room, user, announce=False)

        self._spawn(tell())

    def on_evict(self, node, message):
        room = self.hub.room(message["room"])
        if room is not None:
            self.messenger.evict(room, message["user"], message["kept_out"])

    def on_close(self, node, message):
        if self.hub.connections(message["user"]):
            self._spawn(close_ended(self.hub, self.messenger.reads, message["user"]))

    def on_presence(self, node, message):
        self.hub.elsewhere(node, message["room"], message["user"], message["on"])
        self._presence(message["room"], message["user"])

    def on_state(self, node, message):
        if message.get("first"):
            for room_id, user_id in self.hub.forget_node(node):
                self._presence(room_id, user_id)
        for room_id, users in message["rooms"]:
            for user_id in users:
                self.hub.elsewhere(node, room_id, user_id, True)
                self._presence(room_id, user_id)


def active_members(room_ids):
    """The (room id, user id) pairs of the active members of these rooms."""
    room_ids = sorted(room_ids)
    pairs = set()
    for start in range(0, len(room_ids), 500):
        query = (
            Membership.select(Membership.room, Membership.user)
            .join(User)
            .where(
                Membership.room.in_(room_ids[start : start + 500])
                & (User.is_active == True)  # noqa: E712
            )
            .tuples()
        )
        pairs.update(query)
    return pairs
