"""The in-memory side of real time: who is listening to which room, and fan-out.

``RoomHub`` knows nothing of HTTP, sockets or the event loop; what it asks of a
subscriber is the ``Subscriber`` protocol below. Frames are encoded once per broadcast
by the caller and shared by every recipient: a ``Frame`` is the JSON text, on which a
transport may also keep its own encoding of it.

``Messenger`` joins the hub to the database: a message is stored (and committed) first,
then published, so nobody ever sees a message the disk does not hold.
"""

import asyncio
import functools
import json
from typing import Protocol

from database import ReadPool
from models import Attachment, Membership, Message, NotFound, Room, db
from writer import DiskFull


class Frame(str):
    """A frame's JSON text, shared by every recipient of one broadcast.

    Being a ``str`` it goes anywhere text does; the attribute ``wire`` lets the first
    recipient's transport store the bytes it makes of it, for the others to reuse.
    """

    wire = None


def encode(frame):
    # Compact separators: fewer bytes per frame, for every recipient of every broadcast.
    return Frame(json.dumps(frame, separators=(",", ":"), ensure_ascii=False))


def message_frame(room, message):
    """A stored message as both sockets send it: the seed's frame plus ``type`` and
    what docs/conversations.md adds (its number in the room's sequence among them)."""
    return encode(dict(message.as_dict(room), type="message"))


def change_frame(room, kind, seq, message, user, details=None):
    """An edit, a delete or a reaction: the message as it is now, and who did it."""
    frame = {"type": kind, "uri": room.uri, "seq": seq, "target": message.as_dict(room)}
    if kind == "deleted":
        frame["by"] = user.public()
    else:
        frame["user"] = user.public()
    if kind == "reacted":
        frame.update(emoji=details["emoji"], on=details["on"])
    return encode(frame)


def renamed_frame(room, seq, name, user):
    return encode(
        {
            "type": "renamed",
            "uri": room.uri,
            "seq": seq,
            "name": name,
            "user": user.public(),
        }
    )


def member_frame(room, user, event, seq):
    return encode(
        {
            "type": "member",
            "uri": room.uri,
            "event": event,
            "user": user.public(),
            "seq": seq,
        }
    )


def moved_frame(old_uri, new_uri, seq):
    return encode({"type": "moved", "uri": old_uri, "new_uri": new_uri, "seq": seq})


# The changes to a message, each its own frame type.
CHANGES = ("edited", "deleted", "reacted")


def event_frame(room, event):
    """A stored event (``models.Event.since``) as the frame that announced it live."""
    if event.kind == "message":
        return message_frame(room, event.message)
    if event.kind == "moved":
        details = event.details
        return moved_frame(details["uri"], details["new_uri"], event.seq)
    if event.kind == "renamed":
        return renamed_frame(room, event.seq, event.details["name"], event.user)
    if event.kind in CHANGES:
        return change_frame(
            room, event.kind, event.seq, event.message, event.user, event.details
        )
    # Whether someone left or was removed, the room sees them go the same way.
    return member_frame(
        room, event.user, "joined" if event.kind == "joined" else "left", event.seq
    )


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
        """Ids of the users with at least one subscriber in the room."""
        return sorted(self._online.get(room_id, ()))

    def is_online(self, room_id, user_id):
        return user_id in self._online.get(room_id, ())

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
    """Stores, then delivers: the one path by which a message or a membership changes."""

    def __init__(
        self,
        writer,
        hub,
        presence_delay=PRESENCE_DELAY,
        limits=None,
        webhooks=None,
        reads=None,
    ):
        self.writer = writer
        # Where reads of the database run (database.ReadPool): inline unless given one.
        self.reads = reads if reads is not None else ReadPool(db, 0)
        self.hub = hub
        self.presence = Presence(hub, presence_delay)
        # The per-person budgets (handlers/budget.py), or None for none: every message
        # passes here, whichever way it came, so this is where sending is paid for.
        self.limits = limits
        # Where shared files are kept (files.Storage), so a deleted message's files can
        # leave the disk; None where nothing is stored.
        self.files = None
        # The outgoing webhooks (webhooks.py), or None: told of each new message once
        # the room has it, so a slow receiver never delays the room.
        self.webhooks = webhooks

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
                Message.post, room, author, text, client_id, reply_to, attachments
            )
        except DiskFull:
            raise DiskFull(
                "The server's disk is full; the message was not stored."
            ) from None
        message.author = author
        if created:
            self.hub.publish(room.id, message.seq, message_frame(room, message), message.id)
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
        message = Message.in_room(room, message_id)
        if message is None:
            raise NotFound("There is no such message in this chat.")
        if kind == "edited":
            change = functools.partial(message.edit, user, *args)
        elif kind == "deleted":
            change = functools.partial(message.erase, room, user)
        else:
            change = functools.partial(message.react, room, user, *args)
        try:
            seq = await self.writer.run(change)
        except DiskFull:
            raise DiskFull("The server's disk is full; nothing was changed.") from None
        if getattr(message, "freed", None) and self.files is not None:
            await self.files.remove(message.freed)
        if seq is not None:
            details = {"emoji": args[0], "on": args[1]} if kind == "reacted" else None
            frame = change_frame(room, kind, seq, message, user, details)
            self.hub.publish(room.id, seq, frame)
        return seq, message

    async def rename(self, room, user, name):
        """Name a private chat and tell every socket of every member, subscribed to it
        or not (each lists all of its user's chats); returns the seq or None. Paid from
        the ``send`` budget, as a message is: each is a write and a broadcast."""
        if self.limits is not None:
            self.limits.charge("send", user.id)
        seq = await self.writer.run(room.rename, user, name)
        if seq is not None:
            self.tell_members(room, seq, renamed_frame(room, seq, room.name, user))
        return seq

    async def open_direct(self, user, other):
        """The direct chat of ``user`` and ``other`` (see ``Room.open_direct``); returns
        ``(room, created)``. Whoever became a member hears of the chat."""
        room, created, joined = await self.writer.run(Room.open_direct, user, other)
        for person, seq in joined:
            self.hub.publish(room.id, seq, member_frame(room, person, "joined", seq))
            self.tell_new_member(room, person)
        return room, created

    def tell_members(self, room, seq, frame):
        for member in room.members():
            for connection in self.hub.connections(member.id):
                if connection.wants_signals:
                    # Through the sequence, so a socket replaying the room as this
                    # arrives tells its client once.
                    connection.deliver(room.id, None, seq, frame)

    def tell_new_member(self, room, user):
        """Show ``user``'s open web-app sockets a chat they were just made a member of
        by someone else, so that it appears in their list without a reload."""
        connections = [c for c in self.hub.connections(user.id) if c.wants_signals]
        if connections:
            frame = encode(
                {"type": "chat", "uri": room.uri, "chat": Room.summaries_for(user, room)[0]}
            )
            for connection in connections:
                connection.signal(room.id, frame)

    async def join(self, room, user, added_by_member=False):
        """Make ``user`` a member of ``room`` and tell those online; idempotent.

        Raises ``models.Removed`` if the owner removed them and no member has added
        them back; ``added_by_member`` is such an adding (see ``Room.admit``).
        """
        seq = await self.writer.run(room.admit, user, added_by_member)
        if seq is None:
            return False
        self.hub.publish(room.id, seq, member_frame(room, user, "joined", seq))
        if added_by_member:
            self.tell_new_member(room, user)
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
        seq = await self.writer.run(room.remove, user, keep_out)
        gone = self.hub.evict(room.id, user.id)
        for subscriber in gone:
            subscriber.removed(room, keep_out)
        if seq is not None:
            self.hub.publish(room.id, seq, member_frame(room, user, "left", seq))
        if gone:
            self.presence_changed(room, user.id)
        return seq is not None

    async def change_address(self, room):
        """Give a private chat a new address (the old one answers 404 from now on) and
        move everyone in it there; returns the new URI.

        Every open socket of every member hears of it, whether subscribed to the room or
        not, since each lists all of its user's chats. Nobody else learns the address.
        """
        old = room.uri
        room.uri, seq = await self.writer.run(room.change_address)
        self.hub.readdress(room.id, room.uri)
        self.presence.readdress(room.id, room.uri)
        self.tell_members(room, seq, moved_frame(old, room.uri, seq))
        return room.uri

    async def mark_read(self, room, user, message_id, origin=None):
        """Move the user's read marker in ``room`` forward to ``message_id``, then tell
        the user's other open sockets (other tabs, other devices) so they clear the
        chat's unread count; ``origin`` is the socket that asked, which already knows.

        Returns the marker. Raises ``models.ValidationError`` unless ``message_id`` is a
        message of the room (nothing changed).
        """
        message_id = Message.read_marker(room, message_id)
        moved, marker = await self.writer.run(Membership.mark_read, user, room, message_id)
        if moved:
            frame = encode({"type": "read", "uri": room.uri, "id": marker})
            for connection in self.hub.connections(user.id):
                if connection is not origin and connection.wants_signals:
                    connection.signal(room.id, frame)
        return marker

    def presence_changed(self, room, user_id):
        """Note that ``user_id`` came online or went offline in ``room``; the room hears
        of it in the next batch (see ``Presence``)."""
        self.presence.changed(room, user_id)
