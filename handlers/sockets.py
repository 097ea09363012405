"""Websockets: the seed's one-room socket and the web UI's socket for all rooms.

Both authenticate on the handshake (session cookie, or an API token in the
``Authorization`` header, the query string or a subprotocol), keep Tornado's Origin
check, and check membership on every subscribe and send. The UI protocol is documented
in docs/protocol.md.
"""

import asyncio
import json
import logging

import tornado.websocket
from tornado.web import HTTPError

import database
from frames import Frame, encode, event_frame, message_frame
from handlers import wsio
from handlers.base import RATE_LIMITED_PAUSE, Authenticated, JSONErrors
from handlers.budget import RateLimited
from models import (
    MAX_ID,
    Event,
    Membership,
    Message,
    NotAllowed,
    NotFound,
    Removed,
    Room,
    ValidationError,
    isoformat,
)
from writer import DiskFull

log = logging.getLogger("chatbox.sockets")

# A client that stops reading while others chat gets this much queued for it before we
# close it (it will reconnect and resume by id). One MiB is hundreds of messages: far
# more than a phone that pauses for a moment accumulates, little enough that even a
# thousand stuck clients do not exhaust a Pi's memory.
MAX_PENDING_BYTES = 1 << 20
# A client asking to resume further back than this is told to refetch history over
# REST instead: replaying thousands of frames down a socket helps nobody.
MAX_RESUME = 500
# Close codes: RFC 6455 1008 (policy) for clients that will not keep up, and 4403 in the
# application range when a membership ends, so the client knows not to reconnect there.
CLOSE_TOO_SLOW = 1008
CLOSE_REMOVED = 4403
# RFC 6455 1011: the server could not open the room it had accepted a socket for.
CLOSE_NOT_OPENED = 1011

# A browser cannot set headers on a websocket, so a page holding a token offers it as
# the subprotocol "token.<key>" beside this one, which the server then selects:
# offered alone, the token would have to be echoed back for the browser to connect.
SUBPROTOCOL = "chatbox"
TOKEN_SUBPROTOCOL = "token."


# The largest ref echoed back: enough for a counter or a UUID with a prefix.
MAX_REF_LENGTH = 64
# JavaScript's largest exact integer: a larger number would come back changed.
MAX_SAFE_INTEGER = 2**53 - 1


def echoable_ref(value):
    """The client's ``ref``, if it can be sent back as it came: None, an integer a
    browser holds exactly, or a short string of valid Unicode (JSON can carry a lone
    surrogate, which could not be encoded into the reply)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) <= MAX_SAFE_INTEGER:
            return value
    elif isinstance(value, str) and len(value) <= MAX_REF_LENGTH:
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            pass
    raise FrameError(
        "invalid", f"ref must be an integer or up to {MAX_REF_LENGTH} characters of text."
    )


class FrameError(Exception):
    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Socket(Authenticated, JSONErrors, tornado.websocket.WebSocketHandler):
    """What both sockets share: handshake authentication and bounded sending."""

    wants_signals = False
    # After a refusal for going over a budget the socket is not read for a moment: the
    # client's next frames wait in TCP, so a flood of ten thousand typing notices a
    # second costs the box one refusal a second.
    rate_limited_pause = RATE_LIMITED_PAUSE

    def initialize(self, messenger, **_):
        self.messenger = messenger
        self.hub = messenger.hub
        self.limits = messenger.limits
        self.reads = messenger.reads
        self.opened = False
        # Rooms being subscribed to: their live frames wait here, as (message id, seq,
        # frame), until the backlog read from the database has been sent.
        self.held = {}
        # Highest message id (seed socket) or event seq (/ws) sent per room: what is
        # committed while a backlog is being read is then sent once, not twice.
        self.last_sent = {}

    async def prepare(self):
        # Runs before the upgrade, so a refusal is an ordinary HTTP status. A request
        # that is no upgrade at all (a link followed) is refused here too, so that its
        # answer is JSON like every other error.
        database.serving.set(True)  # and so for the socket's frames, which inherit it
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise HTTPError(400, reason="Expected a websocket upgrade")
        offered = self.offered_subprotocols()
        if self.subprotocol_token(offered) is not None and SUBPROTOCOL not in offered:
            raise HTTPError(
                400, reason=f"Offer the {SUBPROTOCOL} subprotocol with the token"
            )
        self.current_user = await self.reads.run(self.authenticate)
        if self.current_user is None:
            raise HTTPError(401)

    def offered_subprotocols(self):
        header = self.request.headers.get("Sec-WebSocket-Protocol", "")
        return [name.strip() for name in header.split(",") if name.strip()]

    @staticmethod
    def subprotocol_token(offered):
        for name in offered:
            if name.startswith(TOKEN_SUBPROTOCOL):
                return name[len(TOKEN_SUBPROTOCOL) :]
        return None

    def token_key(self):
        # The header first, as for every API call; then the two forms a browser can
        # send. The query string's is kept out of the logs (handlers.base.redacted).
        key = super().token_key()
        if key is None:
            key = self.get_query_argument("token", None)
        if key is None:
            key = self.subprotocol_token(self.offered_subprotocols())
        return key

    def select_subprotocol(self, subprotocols):
        return SUBPROTOCOL if SUBPROTOCOL in subprotocols else None

    def check_origin(self, origin):
        # Called only for a page of another origin. One named by --allow-origin may
        # open a socket with a token it holds, never with a visitor's cookie.
        policy = self.settings.get("cross_origin")
        return self.auth_method == "token" and bool(policy) and policy.allows(origin)

    @property
    def user_id(self):
        return self.current_user.id

    def get_compression_options(self):
        # Off, and relied on by send_text: a compressed frame would differ per client,
        # so a broadcast could not share one. Chat frames are small anyway.
        return None

    def send_text(self, text):
        """Queue a frame, or close the socket if its client has stopped reading."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return
        if wsio.unsent_bytes(self) > MAX_PENDING_BYTES:
            log.info("closing a socket of user %s: it stopped reading", self.user_id)
            # A close frame would queue behind the data the client is not reading:
            # drop the connection now instead. on_close then leaves the rooms; until it
            # runs, is_closing() above keeps frames from queueing.
            wsio.drop(self)
            self.close(CLOSE_TOO_SLOW, "too slow")
            return
        wsio.write_frame(self, text if isinstance(text, Frame) else Frame(text))

    def send_frame(self, frame):
        self.send_text(encode(frame))

    def deliver(self, room_id, message_id, seq, frame):
        held = self.held.get(room_id)
        if held is not None:
            held.append((message_id, seq, frame))
            return
        # The seed protocol carries messages only, and its clients resume by id.
        if message_id is None or message_id <= self.last_sent.get(room_id, 0):
            return
        self.last_sent[room_id] = message_id
        self.send_text(frame)

    def signal(self, room_id, frame):
        held = self.held.get(room_id)
        if held is not None:
            # After the room's "subscribed", which it may follow up on (presence).
            held.append((None, None, frame))
            return
        self.send_text(frame)

    def release(self, room_id):
        """Send what was held for the room while its backlog was read, in the order it
        came; the numbers the backlog already had are dropped by ``deliver``."""
        for message_id, seq, frame in self.held.pop(room_id, ()):
            if seq is None:
                self.send_text(frame)
            else:
                self.deliver(room_id, message_id, seq, frame)

    def skip_to(self, room_id, seq):
        """The room's changes up to ``seq`` will not be sent: its client was told to
        refetch them (see ``relay.InOrder``)."""

    def is_member(self, room):
        """Asked again on every frame: while a socket stays open its user may be
        removed from the room or have the account deactivated."""
        return Membership.is_active_member(self.user_id, room.id)

    def parse(self, raw):
        if isinstance(raw, bytes):
            raise FrameError("bad_frame", "Frames must be text.")
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." within 64 KiB
            raise FrameError("bad_json", "Frames must be JSON.") from None
        if not isinstance(frame, dict):
            raise FrameError("bad_frame", "Frames must be JSON objects.")
        return frame

    async def on_message(self, raw):
        """Parse and handle one frame; whatever goes wrong, answer with an error frame.

        An exception escaping here would make Tornado drop the connection (and with it
        the socket's other rooms), so every failure becomes a frame instead.
        """
        ref = None
        extra = {}
        pause = 0
        try:
            frame = self.parse(raw)
            ref = frame["ref"] = echoable_ref(frame.get("ref"))
            await self.handle(frame)
            return
        except FrameError as error:
            code, detail = error.code, error.detail
        except RateLimited as error:
            code, detail = "rate_limited", error.detail
            extra["retry_after"] = error.retry_after
            pause = min(error.retry_after, self.rate_limited_pause)
        except ValidationError as error:
            code, detail = "invalid", error.errors
        except NotFound as error:
            code, detail = "not_found", str(error)
        except NotAllowed as error:
            code, detail = "forbidden", str(error)
        except DiskFull as error:
            code, detail = "disk_full", error.detail
        except Exception:
            log.exception("a websocket frame failed")
            code, detail = "server", "Server error; nothing was stored."
        self.send_frame(dict(self.error_frame(code, detail, ref), **extra))
        if pause:
            # Tornado reads a socket's next frame only once this one is handled.
            await asyncio.sleep(pause)

    def open(self, *_):
        self.opened = True
        # Without this, Nagle's algorithm holds a small frame written right after
        # another (the ack after the sender's own copy, a message after a presence
        # frame) until the client's delayed ACK, about 40 ms later on Linux.
        self.set_nodelay(True)
        self.hub.attach(self)

    def join_room(self, room):
        """Subscribe to a room's frames; tells the room if this user just came online."""
        if self.hub.subscribe(room, self):
            self.messenger.presence_changed(room, self.user_id)

    def leave_room(self, room):
        if self.hub.unsubscribe(room.id, self):
            self.messenger.presence_changed(room, self.user_id)

    def on_close(self):
        if not self.opened:  # refused at the handshake: never attached
            return
        for room in self.hub.detach(self):
            self.messenger.presence_changed(room, self.user_id)


class RoomSocket(Socket):
    """``/ws/chat/<room>/``: the seed protocol, one room per socket.

    Send ``{"message": "hi"}``; every socket in the room, the sender's too, receives
    the stored message. The sender's copy arrives only after the message is committed,
    so it doubles as the acknowledgement.

    Opening it joins the caller, as ``PATCH /api/chats/<uri>/`` does: a named room on
    its name, a private chat on its exact address, which is the invitation. A client
    that opens its socket while its join is still on the way (Chatire does both at
    once) is therefore joined here rather than refused.
    """

    async def prepare(self):
        await super().prepare()
        # Decide here whether the handshake may go ahead, but change nothing: Tornado
        # refuses a foreign Origin or a request that is not an upgrade only after
        # prepare(), so the room is opened or joined in open(), once it has accepted.
        await self.reads.run(self.find_room, self.path_kwargs["room"])

    def find_room(self, uri):
        """The room the handshake names, and whether its caller may enter; runs as one
        read (``database.ReadPool``)."""
        self.room = Room.by_uri(uri)
        self.room_name = uri
        if self.room is None:
            try:
                self.room_name = Room.normalise_name(uri)
            except ValidationError:
                raise HTTPError(404) from None
            self.room = Room.by_uri(self.room_name)
            if self.room is not None and self.room.is_private:
                # A private chat is reached by its exact address only, never as a
                # name that happens to normalise to it.
                raise HTTPError(404)
            if self.room is None:
                # Connecting creates the room: a new chat, paid for like any other
                # (refused with 429 before the upgrade, so nothing is made).
                self.limits.charge("new-chat", self.user_id)
        if (
            self.room is not None
            and self.room.is_direct
            and self.user_id not in self.room.pair()
        ):
            raise NotAllowed("A direct chat is for its two people only.")
        if self.room is not None and self.room.keeps_out(self.current_user):
            # Someone the owner removed is told why, and the address lets them in no more.
            raise Removed(self.room)
        self.joining = self.room is not None and not self.is_member(self.room)
        # This protocol has no "subscribed" frame: a client counts itself in the room
        # once the handshake completes. Everything stored from here on is sent to it,
        # including what is said while open() below is still joining.
        self.since = Message.latest_id(self.room) if self.room is not None else 0

    async def open(self, room):
        super().open()
        # Tornado holds the client's frames back until open() returns, so its first
        # send already finds it a member.
        name = self.room.uri if self.room is not None else self.room_name
        try:
            if self.room is None or not self.room.is_private:
                self.room, _ = await self.messenger.open_named(self.current_user, name)
            elif self.joining:
                # The join PATCH makes, through the same path, so the rules of who
                # may (re)join a chat hold here too.
                await self.messenger.join(self.room, self.current_user)
        except Removed:  # by the owner, since the handshake was accepted
            self.close(CLOSE_REMOVED, "removed from the room")
            return
        except (ValidationError, DiskFull) as error:
            log.info("room socket for %r not opened: %s", name, error)
            self.close(CLOSE_NOT_OPENED, "the room could not be opened")
            return
        room = self.room
        if self.joining and not await self.reads.run(self.is_member, room):
            self.close(CLOSE_REMOVED, "not admitted to the room")
            return
        # Join (holding what is published meanwhile), read the backlog since the
        # handshake, send it, then what was held: a message is published only after
        # its commit, so each is either in the backlog or held, and last_sent drops a
        # second copy.
        self.held[room.id] = []
        self.join_room(room)
        self.last_sent[room.id] = self.since

        def backlog():
            # The number first: every message up to it is committed, so the page read
            # after it holds them all (and perhaps later ones, which last_sent drops
            # when they come again). Read the other way round, a message committed
            # between the two reads would be in neither.
            latest_seq = Event.latest_seq(room)
            return Message.page(room, after=self.since, limit=MAX_RESUME), latest_seq

        messages, latest_seq = await self.reads.run(backlog)
        order = self.messenger.order
        if order is not None:
            due = order.start(room, latest_seq)
            if due > latest_seq:
                # Another subscriber here started the room further on: read up to it
                # (all committed, as it was handed out); what follows is held.
                events = await self.reads.run(Event.since, room, latest_seq, MAX_RESUME)
                messages += [
                    e.message for e in events or () if e.kind == "message" and e.seq <= due
                ]
        held = self.held.pop(room.id, [])
        for message in messages:
            frame = message_frame(room, message)
            self.deliver(room.id, message.id, message.seq, frame)
        for message_id, seq, frame in held:
            self.deliver(room.id, message_id, seq, frame)

    async def handle(self, frame):
        if not await self.reads.run(self.is_member, self.room):
            raise FrameError("forbidden", "You are no longer a member of this room.")
        message, created = await self.messenger.post(
            self.room,
            self.current_user,
            frame.get("message"),
            frame.get("client_id"),
            frame.get("reply_to"),
            frame.get("attachments"),
        )
        if not created:
            # A resend: nobody else hears it again, but the sender needs its echo,
            # which is the only acknowledgement this protocol has.
            self.send_text(message_frame(self.room, message))

    def error_frame(self, code, detail, ref):
        return {"error": code, "detail": detail}

    def removed(self, room, kept_out):
        self.close(CLOSE_REMOVED, "removed from the room")


class ClientSocket(Socket):
    """``/ws``: the web UI's socket, carrying every room of one user.

    See docs/protocol.md for the frames. Besides messages it carries acks, resume,
    typing, presence and membership changes.
    """

    wants_signals = True

    def open(self):
        super().open()
        self.send_frame({"type": "hello", "user": self.current_user.private()})

    async def handle(self, frame):
        kind = frame.get("type")
        action = self.ACTIONS.get(kind) if isinstance(kind, str) else None
        if action is None:
            raise FrameError("unknown_type", f"Unknown frame type {kind!r}.")
        await action(self, frame)

    def error_frame(self, code, detail, ref):
        return {"type": "error", "code": code, "detail": detail, "ref": ref}

    async def member_room(self, frame):
        uri = frame.get("uri")
        if not isinstance(uri, str):
            raise FrameError("not_found", "No such room.")
        # The room and the membership in one read: checked again on every frame, as
        # is_member explains.
        room, member = await self.reads.run(Room.for_member, uri, self.user_id)
        if room is None:
            raise FrameError("not_found", "No such room.")
        if not member:
            raise FrameError("forbidden", "You are not a member of this room.")
        return room

    async def subscribe(self, frame):
        # Paid for before anything is read: a flood of subscribes costs a lookup each.
        self.limits.charge("subscribe", self.user_id)
        room = await self.member_room(frame)
        after = self.position(frame, "after", "a message id")
        after_seq = self.position(frame, "after_seq", "a sequence number")
        # Subscribe first, holding what is published from now on; then read the
        # backlog; send it, then what was held. An event is published only after its
        # commit, so each is either in the backlog or held (or both: last_sent drops
        # the second copy).
        was_in = room.id in self.hub.rooms_of(self)
        self.held[room.id] = []
        came_online = self.hub.subscribe(room, self)
        try:
            latest_seq, latest_id, backlog = await self.reads.run(
                self.backlog, room, after, after_seq
            )
            last = max([latest_seq] + [event.seq or 0 for event in backlog or ()])
            order = self.messenger.order
            if order is not None:
                due = order.start(room, last)
                if due > last:
                    # Another subscriber here started the room further on: what lies
                    # between is read too, or this socket would skip it. All of it
                    # is committed (it was handed out); what follows is held.
                    more = await self.reads.run(Event.since, room, last, MAX_RESUME)
                    if backlog is not None:
                        if more is None:
                            backlog = None
                        else:
                            backlog += [e for e in more if last < e.seq <= due]
                    last = due
        except BaseException:
            self.held.pop(room.id, None)
            if not was_in:
                self.hub.unsubscribe(room.id, self)
            raise
        if room.id not in self.hub.rooms_of(self):
            # Removed from the room, or closed, while the backlog was read.
            self.held.pop(room.id, None)
            raise FrameError("forbidden", "You are not a member of this room.")
        self.last_sent[room.id] = last
        for event in backlog or ():
            if event.kind == "message":
                latest_id = max(latest_id, event.message_id)
        self.send_frame(
            {
                "type": "subscribed",
                "uri": room.uri,
                "latest_id": latest_id,
                "latest_seq": last,
                "online": self.hub.online(room.id),
            }
        )
        if backlog is None:
            # Too far behind to replay, or ahead of anything this box holds (a restored
            # backup): either way the client must refetch history.
            self.send_frame({"type": "reset", "uri": room.uri})
        else:
            for event in backlog:
                self.send_text(event_frame(room, event))
        self.release(room.id)
        if came_online:
            self.messenger.presence_changed(room, self.user_id)
        if backlog:
            # A replay is up to 500 frames written in one step of the event loop; a
            # client resuming many rooms at once sends its subscribes together, and
            # Tornado reads them one after another without letting other sockets in.
            await asyncio.sleep(0)

    def backlog(self, room, after, after_seq):
        """Every read a subscribe makes, as one (``database.ReadPool``): the room's
        latest number and message id, and the events the client is owed (None: it
        must refetch). The number is read first, so every event up to it is committed
        and in what is read after."""
        latest_seq = Event.latest_seq(room)
        latest_id = Message.latest_id(room)
        if after_seq is not None:
            backlog = self.events_since(room, after_seq, latest_seq)
        elif after is not None:
            backlog = self.messages_since(room, after, latest_id, latest_seq)
        else:
            backlog = []
        return latest_seq, latest_id, backlog

    @staticmethod
    def position(frame, name, meaning):
        value = frame.get(name)
        if value is not None and (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 <= value <= MAX_ID
        ):
            raise FrameError("invalid", f"{name} must be {meaning}.")
        return value

    def events_since(self, room, after_seq, latest_seq):
        """Every event after ``after_seq``, or None when the client must refetch."""
        if after_seq > latest_seq:
            return None
        # The replay is paid for by its length, known before any event is read (the
        # numbers have no gaps); one too long to replay is a reset, which costs nothing.
        waiting = latest_seq - after_seq
        if waiting > MAX_RESUME:
            return None
        self.limits.charge("replay", self.user_id, waiting)
        return Event.since(room, after_seq, MAX_RESUME)

    def messages_since(self, room, after, latest_id, latest_seq):
        """What a client resuming by message id is owed, as events: the messages after
        ``after``, and whatever else was committed since ``latest_seq`` was read (a
        member who joined meanwhile would otherwise be skipped as already sent).
        None when the client must refetch."""
        if after > latest_id:
            return None
        waiting = Message.count_since(room, after, MAX_RESUME + 1)
        if waiting > MAX_RESUME:
            return None
        self.limits.charge("replay", self.user_id, waiting)
        messages = Message.since(room, after, MAX_RESUME)
        if messages is None:
            return None
        backlog = [
            Event(room=room, seq=message.seq, kind="message", message=message)
            for message in messages
        ]
        sent = {message.id for message in messages}
        tail = Event.since(room, latest_seq, MAX_RESUME)
        if tail is None:
            return None
        for event in tail:
            if event.kind != "message" or (
                event.message.id > after and event.message.id not in sent
            ):
                backlog.append(event)
        # A message written without a number (bulk history loaded into the file) goes
        # first, in id order: it can only be older than anything numbered.
        return sorted(backlog, key=lambda event: event.seq or 0)

    def deliver(self, room_id, message_id, seq, frame):
        held = self.held.get(room_id)
        if held is not None:
            held.append((message_id, seq, frame))
            return
        # A room this socket does not follow gets nothing through the hub; what comes
        # here anyway (a move, told to every socket of every member) is sent as is.
        last = self.last_sent.get(room_id)
        if last is not None:
            if seq <= last:
                return
            self.last_sent[room_id] = seq
        self.send_text(frame)

    async def unsubscribe(self, frame):
        room = await self.member_room(frame)
        self.last_sent.pop(room.id, None)
        self.leave_room(room)
        self.send_frame({"type": "unsubscribed", "uri": room.uri})

    async def send(self, frame):
        room = await self.member_room(frame)
        client_id = frame.get("client_id")
        if client_id is None:
            raise FrameError("invalid", "A send needs a client_id.")
        message, created = await self.messenger.post(
            room,
            self.current_user,
            frame.get("text"),
            client_id,
            frame.get("reply_to"),
            frame.get("attachments"),
        )
        self.send_frame(
            {
                "type": "ack",
                "client_id": client_id,
                "id": message.id,
                "uri": room.uri,
                "created_at": isoformat(message.created_at),
                "duplicate": not created,
            }
        )

    async def typing(self, frame):
        room = await self.member_room(frame)
        if room.id not in self.hub.rooms_of(self):
            raise FrameError("not_subscribed", "Subscribe to the room first.")
        # Each notice is copied to every other socket in the room: a burst must not be.
        self.limits.charge("typing", (self.user_id, room.id))
        self.messenger.typing(
            room,
            encode({"type": "typing", "uri": room.uri, "user": self.current_user.public()}),
            self,
        )

    async def read(self, frame):
        room = await self.member_room(frame)
        await self.messenger.mark_read(
            room, self.current_user, frame.get("id"), origin=self
        )

    async def edit(self, frame):
        await self.change(frame, "edited", frame.get("text"))

    # Not named "delete": on a RequestHandler that is the answer to an HTTP DELETE.
    async def erase(self, frame):
        await self.change(frame, "deleted")

    async def react(self, frame):
        await self.change(frame, "reacted", frame.get("emoji"), frame.get("on"))

    async def change(self, frame, kind, *args):
        room = await self.member_room(frame)
        seq, _ = await self.messenger.change(
            room, self.current_user, frame.get("id"), kind, *args
        )
        self.send_frame({"type": "done", "uri": room.uri, "seq": seq, "ref": frame["ref"]})

    async def ping(self, frame):
        self.send_frame({"type": "pong", "ref": frame.get("ref")})

    ACTIONS = {
        "subscribe": subscribe,
        "unsubscribe": unsubscribe,
        "send": send,
        "typing": typing,
        "read": read,
        "edit": edit,
        "delete": erase,
        "react": react,
        "ping": ping,
    }

    def skip_to(self, room_id, seq):
        if room_id in self.last_sent:
            self.last_sent[room_id] = max(self.last_sent[room_id], seq)

    def removed(self, room, kept_out):
        self.last_sent.pop(room.id, None)
        self.held.pop(room.id, None)
        reason = "removed" if kept_out else "left"
        self.send_frame({"type": "removed", "uri": room.uri, "reason": reason})
