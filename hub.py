"""The in-memory side of real time: who is listening to which room, and fan-out.

``RoomHub`` knows nothing of HTTP, sockets or the event loop; what it asks of a
subscriber is the ``Subscriber`` protocol below. Frames (frames.py) are encoded once
per broadcast by the caller and shared by every recipient.

``Messenger`` joins the hub to the database: a message is stored (and committed) first,
then published, so nobody ever sees a message the disk does not hold.
"""

import asyncio
import functools
import logging
from typing import Protocol

from bus import TooLarge
from database import ReadPool
from frames import (
    change_frame,
    encode,
    member_frame,
    message_frame,
    moved_frame,
    renamed_frame,
)
from handlers.revocation import close_ended
from models import Attachment, Membership, Message, NotFound, Room, db
from relay import InOrder, Relay
from writer import DiskFull

log = logging.getLogger("chatbox.hub")


class Subscriber(Protocol):
    """What the hub and the ``Messenger`` ask of one open connection of one user."""

    user_id: int
    # False for connections that only carry messages (the seed's room socket).
    wants_signals: bool
    # The digest of the login behind the connection, re-checked while it stays open
    # (handlers/revocation.py); None when nothing needs checking.
    credential: str | None

    def deliver(self, room_id: int, message_id: int | None, seq: int, frame: str) -> None:
        """A stored event of a room it is subscribed to, encoded once for all: number
        ``seq`` of the room's sequence, a message if ``message_id`` is not None."""

    def signal(self, room_id: int, frame: str) -> None:
        """What is not an event of the room: typing, presence, read markers."""

    def removed(self, room, kept_out: bool) -> None:
        """Its user's membership of ``room`` ended, by the owner's removal if
        ``kept_out`` (else they left); the hub already unsubscribed it."""

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """End the connection (shutdown, a login that ended)."""


class RoomHub:
    """Which subscribers are in which room, and who is online there.

    A room is any object with an ``id`` (and, for presence, a ``uri``); the hub keeps
    the room objects a subscriber is in, so a connection need not keep its own list.
    """

    def __init__(self):
        self._subscribers = {}  # room id -> set of subscribers
        self._rooms_of = {}  # subscriber -> {room id: room}
        self._online = {}  # room id -> {user id: number of that user's subscribers}
        self._connections = {}  # user id -> set of that user's attached subscribers
        # Who is online through other processes (with a bus): room id -> {user id:
        # set of node ids}. Only ever read together with _online, never instead of it.
        self._remote = {}

    def attach(self, subscriber):
        """Register an open connection, whether or not it is in any room yet."""
        self._connections.setdefault(subscriber.user_id, set()).add(subscriber)

    def detach(self, subscriber):
        """Forget a closed connection; returns the rooms its user left."""
        mine = self._connections.get(subscriber.user_id)
        if mine is not None:
            mine.discard(subscriber)
            if not mine:
                del self._connections[subscriber.user_id]
        return self.drop(subscriber)

    def connections(self, user_id=None):
        """Every open connection, or one user's."""
        if user_id is not None:
            return frozenset(self._connections.get(user_id, ()))
        return frozenset(s for mine in self._connections.values() for s in mine)

    def subscribe(self, room, subscriber):
        """Add a subscriber; returns True if its user just came online in the room."""
        room_id = room.id
        members = self._subscribers.setdefault(room_id, set())
        if subscriber in members:
            return False
        members.add(subscriber)
        self._rooms_of.setdefault(subscriber, {})[room_id] = room
        counts = self._online.setdefault(room_id, {})
        counts[subscriber.user_id] = counts.get(subscriber.user_id, 0) + 1
        return counts[subscriber.user_id] == 1

    def unsubscribe(self, room_id, subscriber):
        """Remove a subscriber; returns True if its user just went offline in the room."""
        members = self._subscribers.get(room_id)
        if not members or subscriber not in members:
            return False
        members.discard(subscriber)
        if not members:
            del self._subscribers[room_id]
        rooms = self._rooms_of.get(subscriber)
        if rooms is not None:
            rooms.pop(room_id, None)
            if not rooms:
                del self._rooms_of[subscriber]
        counts = self._online[room_id]
        counts[subscriber.user_id] -= 1
        if counts[subscriber.user_id]:
            return False
        del counts[subscriber.user_id]
        if not counts:
            del self._online[room_id]
        return True

    def drop(self, subscriber):
        """Remove a subscriber from every room; returns the rooms its user left."""
        left = []
        for room_id, room in list(self._rooms_of.get(subscriber, {}).items()):
            if self.unsubscribe(room_id, subscriber):
                left.append(room)
        return left

    def evict(self, room_id, user_id):
        """Unsubscribe every subscriber of one user from a room; returns them."""
        gone = [s for s in self._subscribers.get(room_id, ()) if s.user_id == user_id]
        for subscriber in gone:
            self.unsubscribe(room_id, subscriber)
        return gone

    def readdress(self, room_id, uri):
        """The room's address changed: the room objects kept for its subscribers take
        the new one, so that what is sent about the room from now on carries it."""
        for subscriber in self._subscribers.get(room_id, ()):
            self._rooms_of[subscriber][room_id].uri = uri

    def rooms_of(self, subscriber):
        """Ids of the rooms a subscriber is in."""
        return frozenset(self._rooms_of.get(subscriber, ()))

    def subscribers(self, room_id):
        return frozenset(self._subscribers.get(room_id, ()))

    def online(self, room_id):
        """Ids of the users with at least one subscriber in the room, on this process
        or (with a bus) another."""
        remote = self._remote.get(room_id)
        if remote:
            return sorted(set(self._online.get(room_id, ())) | set(remote))
        return sorted(self._online.get(room_id, ()))

    def is_online(self, room_id, user_id):
        return self.is_here(room_id, user_id) or user_id in self._remote.get(room_id, ())

    def is_here(self, room_id, user_id):
        """Whether the user has a subscriber in the room on this process."""
        return user_id in self._online.get(room_id, ())

    def here(self):
        """Who is online where on this process: {room id: [user ids]}."""
        return {room_id: sorted(counts) for room_id, counts in self._online.items()}

    def room(self, room_id):
        """A room object kept for one of the room's subscribers, or None."""
        for subscriber in self._subscribers.get(room_id, ()):
            return self._rooms_of[subscriber][room_id]
        return None

    def elsewhere(self, node, room_id, user_id, online):
        """Process ``node`` says the user came online (or went offline) in the room."""
        users = self._remote.setdefault(room_id, {})
        nodes = users.setdefault(user_id, set())
        if online:
            nodes.add(node)
        else:
            nodes.discard(node)
            if not nodes:
                del users[user_id]
        if not users:
            del self._remote[room_id]

    def forget_node(self, node):
        """Process ``node`` is gone, or is about to restate all it has: forget who was
        online through it; returns the (room id, user id) pairs it had."""
        had = []
        for room_id, users in list(self._remote.items()):
            for user_id, nodes in list(users.items()):
                if node in nodes:
                    had.append((room_id, user_id))
                    self.elsewhere(node, room_id, user_id, False)
        return had

    def publish(self, room_id, seq, frame, message_id=None):
        """Hand one encoded event (a message if ``message_id`` is given) to every
        subscriber of its room; returns how many."""
        members = self._subscribers.get(room_id, ())
        # Copy: a subscriber that is too slow may unsubscribe itself while we iterate.
        for subscriber in tuple(members):
            subscriber.deliver(room_id, message_id, seq, frame)
        return len(members)

    def signal(self, room_id, frame, skip=None):
        """Hand a non-message frame to the subscribers that want them, but ``skip``."""
        for subscriber in tuple(self._subscribers.get(room_id, ())):
            if subscriber.wants_signals and subscriber is not skip:
                subscriber.signal(room_id, frame)

    def stats(self):
        return {
            "connections": sum(len(mine) for mine in self._connections.values()),
            "users_online": len(self._connections),
            "rooms_active": len(self._subscribers),
        }


# How long presence changes collect before one frame per room reports them. Every change
# used to reach every subscriber at once, so n people arriving in a room of n cost n^2
# frames (a room of 2,000 took minutes to fill). Half a second turns a burst of joins
# (a class logging in, a box restarting and every browser reconnecting) into a handful of
# frames per socket, and is still shorter than anyone notices when a dot turns green.
PRESENCE_DELAY = 0.5


class Presence:
    """Collects who came online or went offline per room; reports them in batches.

    A batch names each user touched since the last one by their state at sending time,
    not by what happened: someone who left and came back within the window is reported
    online, so a client that applies every batch to its ``subscribed`` snapshot is right.
    """

    def __init__(self, hub, delay=PRESENCE_DELAY):
        self.hub = hub
        self.delay = delay
        self._touched = {}  # room id -> (room, set of user ids changed since the last batch)
        self._timer = None

    def changed(self, room, user_id):
        entry = self._touched.get(room.id)
        if entry is None:
            entry = self._touched[room.id] = (room, set())
        entry[1].add(user_id)
        if self._timer is None:
            # One timer for every room: rooms that empty out leave nothing behind, as
            # each batch forgets all it reported.
            self._timer = asyncio.get_running_loop().call_later(self.delay, self.flush)

    @property
    def pending(self):
        return bool(self._touched)

    def readdress(self, room_id, uri):
        """A batch still collecting for a room whose address changed reports the new one."""
        entry = self._touched.get(room_id)
        if entry is not None:
            entry[0].uri = uri

    def flush(self):
        self._timer = None
        touched, self._touched = self._touched, {}
        for room_id, (room, users) in touched.items():
            if not self.hub.subscribers(room_id):
                continue  # nobody left to tell
            came, went = [], []
            for user_id in sorted(users):
                (came if self.hub.is_online(room_id, user_id) else went).append(user_id)
            self.hub.signal(
                room_id,
                encode(
                    {
                        "type": "presence",
                        "uri": room.uri,
                        "came_online": came,
                        "went_offline": went,
                    }
                ),
            )

    def close(self):
        """Drop what is pending: on shutdown every socket is closing anyway."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._touched.clear()


class Messenger:
    """Stores, then delivers: the one path by which a message or a membership changes.

    With a ``bus`` (bus.py) several processes share the database: each change is also
    announced on the bus, and what other processes announce reaches this one's sockets
    in order (``InOrder``, ``Relay``).
    """

    def __init__(
        self,
        writer,
        hub,
        presence_delay=PRESENCE_DELAY,
        limits=None,
        webhooks=None,
        reads=None,
        bus=None,
    ):
        self.writer = writer
        # Where reads of the database run (database.ReadPool): inline unless given one.
        self.reads = reads if reads is not None else ReadPool(db, 0)
        self.hub = hub
        self.presence = Presence(hub, presence_delay)
        self.bus = bus
        # Changes of a room reach its subscribers in number order by construction when
        # one process alone commits them and nothing between a commit and its publish
        # waits (SQLite, reads inline). Otherwise (another process commits too, or a
        # read on a thread sits between a commit and its publish) they may arrive out
        # of order, and InOrder puts them back in it.
        self.order = InOrder(self) if bus is not None or self.reads.threaded else None
        self.relay = Relay(self, bus) if bus is not None else None
        # The per-person budgets (handlers/budget.py), or None for none: every message
        # passes here, whichever way it came, so this is where sending is paid for.
        self.limits = limits
        # Where shared files are kept (files.Storage), so a deleted message's files can
        # leave the disk; None where nothing is stored.
        self.files = None
        # The outgoing webhooks (webhooks.py), or None: told of each new message once
        # the room has it, so a slow receiver never delays the room.
        self.webhooks = webhooks

    async def start(self):
        """Join the bus, if there is one: returns once listening."""
        if self.relay is not None:
            await self.relay.start()

    async def stop(self):
        """Leave the bus and stop the periodic checks (shutdown)."""
        if self.relay is not None:
            await self.relay.stop()

    def _publish(self, room, seq, frame, message_id=None):
        """A change of ``room`` numbered ``seq`` is committed: hand it to the room's
        subscribers here and, with a bus, tell the other processes where to look.

        A new message's frame travels with its notice when it fits, so that the other
        processes need not read it back (the database stays the log: a notice lost,
        or one without its frame, is read from there). Other changes are read back:
        a move, say, also changes what each process knows of the room.
        """
        if self.order is None:
            self.hub.publish(room.id, seq, frame, message_id)
            return
        self.order.local(room, seq, frame, message_id)
        if self.bus is None:
            return
        notice = {"kind": "news", "room": room.id, "seq": seq}
        if message_id is not None:
            try:
                self.bus.publish(dict(notice, frame=frame, message=message_id))
                return
            except TooLarge:
                pass  # a long message: the others read it from the database
        self.bus.publish(notice)

    async def post(
        self, room, author, text, client_id=None, reply_to=None, attachments=None
    ):
        """Store a message and deliver it to the room; returns ``(message, created)``.

        A resend of a ``client_id`` returns the original message and delivers nothing
        again. ``reply_to``: the id of the message of the room it answers;
        ``attachments``: ids of the author's uploads to the room, with which the text
        may be blank. Raises ``models.ValidationError`` on bad input, and the limits'
        refusal when the author is over budget (nothing stored either way).
        """
        attachments = Attachment.validate_ids(attachments)
        text = Message.validate_text(text, blank_ok=bool(attachments))
        client_id = Message.validate_client_id(client_id)
        if self.limits is not None:
            # A resend pays too: it costs a trip to the writer all the same.
            self.limits.charge_all(
                [("send", author.id, 1), ("send-bytes", author.id, len(text.encode()))]
            )
        try:
            message, created = await self.writer.run(
                Message.post,
                room,
                author,
                text,
                client_id,
                reply_to,
                attachments,
                rooms=(room.id,),
            )
        except DiskFull:
            raise DiskFull(
                "The server's disk is full; the message was not stored."
            ) from None
        message.author = author
        if created:
            self._publish(room, message.seq, message_frame(room, message), message.id)
            if self.webhooks is not None:
                self.webhooks.posted(room, message)
        return message, created

    async def change(self, room, user, message_id, kind, *args):
        """Edit (``kind`` "edited"), delete ("deleted") or react to ("reacted") message
        ``message_id`` of ``room`` as ``user``, then tell the room; returns ``(seq,
        message)``, seq None when nothing changed.

        Raises ``models.NotFound`` for no such message in the room,
        ``models.NotAllowed`` when it is not the user's to change, and
        ``models.ValidationError`` on bad input; nothing changed then. Paid from the
        ``send`` budget: each change is a write and a broadcast, as a message is.
        """
        if self.limits is not None:
            self.limits.charge("send", user.id)
        message = await self.reads.run(Message.in_room, room, message_id)
        if message is None:
            raise NotFound("There is no such message in this chat.")
        if kind == "edited":
            change = functools.partial(message.edit, user, *args)
        elif kind == "deleted":
            change = functools.partial(message.erase, room, user)
        else:
            change = functools.partial(message.react, room, user, *args)
        try:
            seq = await self.writer.run(change, rooms=(room.id,))
        except DiskFull:
            raise DiskFull("The server's disk is full; nothing was changed.") from None
        if getattr(message, "freed", None) and self.files is not None:
            await self.files.remove(message.freed)
        if seq is not None:
            details = {"emoji": args[0], "on": args[1]} if kind == "reacted" else None
            frame = await self.reads.run(
                change_frame, room, kind, seq, message, user, details
            )
            self._publish(room, seq, frame)
        return seq, message

    async def rename(self, room, user, name):
        """Name a private chat and tell every socket of every member, subscribed to it
        or not (each lists all of its user's chats); returns the seq or None. Paid from
        the ``send`` budget, as a message is: each is a write and a broadcast."""
        if self.limits is not None:
            self.limits.charge("send", user.id)
        seq = await self.writer.run(room.rename, user, name, rooms=(room.id,))
        if seq is not None:
            await self.tell_members(room, seq, renamed_frame(room, seq, room.name, user))
        return seq

    async def open_direct(self, user, other):
        """The direct chat of ``user`` and ``other`` (see ``Room.open_direct``); returns
        ``(room, created)``. Whoever became a member hears of the chat."""
        room, created, joined = await self.writer.run(Room.open_direct, user, other)
        for person, seq in joined:
            self._publish(room, seq, member_frame(room, person, "joined", seq))
            await self.tell_new_member(room, person)
        return room, created

    async def tell_members(self, room, seq, frame):
        """A change numbered ``seq`` that every socket of every member hears of."""
        # The room's subscribers at once, in order with the room's other changes; the
        # members' other sockets (each lists all its user's chats) once the members are
        # read, here and, through the bus, on every process.
        self._publish(room, seq, frame)
        members = await self.reads.run(lambda: [m.id for m in room.members()])
        self.to_people(members, room.id, frame, seq)
        if self.bus is not None:
            for start in range(0, len(members), PEOPLE_PER_NOTICE):
                self.bus.publish(
                    {
                        "kind": "user",
                        "users": members[start : start + PEOPLE_PER_NOTICE],
                        "room": room.id,
                        "seq": seq,
                        "frame": frame,
                    }
                )

    def to_people(self, user_ids, room_id, frame, seq=None, skip=None):
        """Hand a frame to every web-app socket of these people on this process: a
        change numbered ``seq`` (to the sockets not subscribed to its room, which have
        it in order from the room) or a signal (``seq`` None)."""
        for user_id in user_ids:
            for connection in self.hub.connections(user_id):
                if not connection.wants_signals or connection is skip:
                    continue
                if seq is None:
                    connection.signal(room_id, frame)
                elif room_id not in self.hub.rooms_of(connection):
                    connection.deliver(room_id, None, seq, frame)

    async def tell_new_member(self, room, user, announce=True):
        """Show ``user``'s open web-app sockets a chat they were just made a member of
        by someone else, so that it appears in their list without a reload."""
        if announce and self.bus is not None:
            self.bus.publish({"kind": "chat", "user": user.id, "room": room.id})
        connections = [c for c in self.hub.connections(user.id) if c.wants_signals]
        if connections:
            summaries = await self.reads.run(Room.summaries_for, user, room)
            frame = encode({"type": "chat", "uri": room.uri, "chat": summaries[0]})
            for connection in connections:
                connection.signal(room.id, frame)

    async def join(self, room, user, added_by_member=False):
        """Make ``user`` a member of ``room`` and tell those online; idempotent.

        Raises ``models.Removed`` if the owner removed them and no member has added
        them back; ``added_by_member`` is such an adding (see ``Room.admit``).
        """
        seq = await self.writer.run(room.admit, user, added_by_member, rooms=(room.id,))
        if seq is None:
            return False
        self._publish(room, seq, member_frame(room, user, "joined", seq))
        if added_by_member:
            await self.tell_new_member(room, user)
        return True

    async def open_named(self, user, name):
        """Open (creating if new) the named room and make ``user`` a member."""
        room, created = await self.writer.run(Room.open_named, user, name)
        if not created:
            await self.join(room, user)
        return room, created

    async def remove(self, room, user, keep_out=False):
        """End a membership; the user's sockets in the room stop receiving at once.

        ``keep_out``: the owner removed them, and the link will not let them back in.
        """
        seq = await self.writer.run(room.remove, user, keep_out, rooms=(room.id,))
        if self.bus is not None:
            self.bus.publish(
                {"kind": "evict", "room": room.id, "user": user.id, "kept_out": keep_out}
            )
        self.evict(room, user.id, keep_out)
        if seq is not None:
            self._publish(room, seq, member_frame(room, user, "left", seq))
        return seq is not None

    def evict(self, room, user_id, keep_out):
        """Unsubscribe the user's sockets here from the room, and tell them."""
        gone = self.hub.evict(room.id, user_id)
        for subscriber in gone:
            subscriber.removed(room, keep_out)
        if gone:
            self.presence_changed(room, user_id)

    async def change_address(self, room):
        """Give a private chat a new address (the old one answers 404 from now on) and
        move everyone in it there; returns the new URI.

        Every open socket of every member hears of it, whether subscribed to the room or
        not, since each lists all of its user's chats. Nobody else learns the address.
        """
        old = room.uri
        room.uri, seq = await self.writer.run(room.change_address, rooms=(room.id,))
        self.hub.readdress(room.id, room.uri)
        self.presence.readdress(room.id, room.uri)
        await self.tell_members(room, seq, moved_frame(old, room.uri, seq))
        return room.uri

    async def mark_read(self, room, user, message_id, origin=None):
        """Move the user's read marker in ``room`` forward to ``message_id``, then tell
        the user's other open sockets (other tabs, other devices) so they clear the
        chat's unread count; ``origin`` is the socket that asked, which already knows.

        Returns the marker. Raises ``models.ValidationError`` unless ``message_id`` is a
        message of the room (nothing changed).
        """
        message_id = await self.reads.run(Message.read_marker, room, message_id)
        moved, marker = await self.writer.run(Membership.mark_read, user, room, message_id)
        if moved:
            frame = encode({"type": "read", "uri": room.uri, "id": marker})
            self.to_people([user.id], room.id, frame, skip=origin)
            if self.bus is not None:
                self.bus.publish(
                    {"kind": "user", "users": [user.id], "room": room.id, "frame": frame}
                )
        return marker

    def typing(self, room, frame, origin):
        """A typing notice for the room's other sockets, here and elsewhere."""
        self.hub.signal(room.id, frame, skip=origin)
        if self.bus is not None:
            self.bus.publish({"kind": "signal", "room": room.id, "frame": frame})

    async def signed_out(self, user_id):
        """A login of ``user_id`` ended (signed out elsewhere, deactivated, a token
        replaced): close the sockets it held, on every process; returns how many here."""
        if self.bus is not None:
            self.bus.publish({"kind": "close", "user": user_id})
        return await close_ended(self.hub, self.reads, user_id)

    def presence_changed(self, room, user_id):
        """Note that ``user_id`` came online or went offline in ``room`` on this
        process; the room hears of it in the next batch (see ``Presence``), and the
        other processes at once."""
        self.presence.changed(room, user_id)
        if self.bus is not None:
            self.bus.publish(
                {
                    "kind": "presence",
                    "room": room.id,
                    "user": user_id,
                    "on": self.hub.is_here(room.id, user_id),
                }
            )


# A notice naming people lists this many at most: 200 ids of up to seven digits and a
# rename's frame (a name of 80 characters of four bytes each) stay well inside the
# bus's 7,000 bytes.
PEOPLE_PER_NOTICE = 200
