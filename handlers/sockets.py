"""Websockets: the seed's one-room socket and the web UI's socket for all rooms.

Both authenticate on the handshake (session cookie or ``Authorization: Token``), keep
Tornado's Origin check, and check membership on every subscribe and send. The UI
protocol is documented in docs/protocol.md.
"""
import json
import logging

import tornado.websocket
from tornado.web import HTTPError

from handlers.base import Authenticated
from hub import encode, message_frame
from models import DiskFull, Message, Room, ValidationError

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


class FrameError(Exception):
    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Socket(Authenticated, tornado.websocket.WebSocketHandler):
    """What both sockets share: handshake authentication and bounded sending."""

    wants_signals = False

    def initialize(self, messenger, **_):
        self.messenger = messenger
        self.hub = messenger.hub

    def prepare(self):
        # Runs before the upgrade, so a refusal is an ordinary HTTP status.
        self.current_user = self.authenticate()
        if self.current_user is None:
            raise HTTPError(401)

    @property
    def user_id(self):
        return self.current_user.id

    def check_xsrf_cookie(self):
        # The handshake is a GET; cross-site use is stopped by the Origin check.
        pass

    def pending_bytes(self):
        # Tornado offers no public count of unsent bytes; the stream's buffer is it.
        connection = self.ws_connection
        if connection is None or connection.stream is None:
            return 0
        return len(connection.stream._write_buffer)

    def send_text(self, text):
        """Queue a frame, or close the socket if its client has stopped reading."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.pending_bytes() > MAX_PENDING_BYTES:
            log.info("closing a socket of user %s: it stopped reading", self.user_id)
            self.hub.drop(self)
            self.close(CLOSE_TOO_SLOW, "too slow")
            # Close frames queue behind the stuck data; do not wait for them.
            self.ws_connection._abort()
            return
        try:
            self.write_message(text)
        except tornado.websocket.WebSocketClosedError:
            pass

    def send_frame(self, frame):
        self.send_text(encode(frame))

    def deliver(self, room_id, message_id, frame):
        self.send_text(frame)

    def signal(self, room_id, frame):
        self.send_text(frame)

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

    def open(self, *_):
        self.hub.attach(self)

    def on_close(self):
        for room_id in self.hub.detach(self):
            self.messenger.presence_changed(room_id)


class RoomSocket(Socket):
    """``/ws/chat/<room>/``: the seed protocol, one room per socket.

    Send ``{"message": "hi"}``; every socket in the room, the sender's too, receives
    the stored message. The sender's copy arrives only after the message is committed,
    so it doubles as the acknowledgement.
    """

    async def prepare(self):
        super().prepare()
        uri = self.path_kwargs["room"]
        self.room = Room.by_uri(uri)
        if self.room is None:
            try:
                self.room, _ = await self.messenger.open_named(self.current_user, uri)
            except ValidationError:
                raise HTTPError(404) from None
        elif not self.current_user.is_member(self.room):
            if self.room.is_private:
                raise HTTPError(403)
            await self.messenger.join(self.room, self.current_user)

    def open(self, room):
        super().open()
        if self.hub.subscribe(self.room.id, self):
            self.messenger.presence_changed(self.room)

    async def on_message(self, raw):
        try:
            frame = self.parse(raw)
            if not self.current_user.is_member(self.room):
                raise FrameError("forbidden", "You are no longer a member of this room.")
            await self.messenger.post(
                self.room, self.current_user, frame.get("message"), frame.get("client_id")
            )
        except FrameError as error:
            self.send_frame({"error": error.code, "detail": error.detail})
        except ValidationError as error:
            self.send_frame({"error": "invalid", "detail": error.errors})
        except DiskFull as error:
            self.send_frame({"error": "disk_full", "detail": error.detail})
        except Exception:
            log.exception("a room socket frame failed")
            self.send_frame({"error": "server", "detail": "The message was not stored."})

    def removed(self, room):
        self.close(CLOSE_REMOVED, "removed from the room")


class ClientSocket(Socket):
    """``/ws``: the web UI's socket, carrying every room of one user.

    See docs/protocol.md for the frames. Besides messages it carries acks, resume,
    typing, presence and membership changes.
    """

    wants_signals = True

    def open(self):
        # Highest message id sent per room: a message committed while a resume was
        # being read is then sent once, not twice.
        self.last_sent = {}
        super().open()
        self.send_frame({"type": "hello", "user": self.current_user.private()})

    async def on_message(self, raw):
        ref = None
        try:
            frame = self.parse(raw)
            ref = frame.get("ref")
            kind = frame.get("type")
            action = self.ACTIONS.get(kind) if isinstance(kind, str) else None
            if action is None:
                raise FrameError("unknown_type", f"Unknown frame type {kind!r}.")
            await action(self, frame)
        except FrameError as error:
            self.send_frame(
                {"type": "error", "code": error.code, "detail": error.detail, "ref": ref}
            )
        except ValidationError as error:
            self.send_frame(
                {"type": "error", "code": "invalid", "detail": error.errors, "ref": ref}
            )
        except DiskFull as error:
            self.send_frame(
                {"type": "error", "code": "disk_full", "detail": error.detail, "ref": ref}
            )
        except Exception:
            log.exception("a client socket frame failed")
            self.send_frame(
                {"type": "error", "code": "server", "detail": "Server error.", "ref": ref}
            )

    def member_room(self, frame):
        uri = frame.get("uri")
        room = Room.by_uri(uri) if isinstance(uri, str) else None
        if room is None:
            raise FrameError("not_found", "No such room.")
        if not self.current_user.is_member(room):
            raise FrameError("forbidden", "You are not a member of this room.")
        return room

    async def subscribe(self, frame):
        room = self.member_room(frame)
        after = frame.get("after")
        if after is not None and (
            not isinstance(after, int) or isinstance(after, bool) or after < 0
        ):
            raise FrameError("invalid", "after must be a message id.")
        # Read the backlog and join the room in one step of the event loop, so no
        # message can be published in between and fall into a gap.
        backlog = Message.since(room, after, MAX_RESUME) if after is not None else []
        latest_id = Message.latest_id(room)
        came_online = self.hub.subscribe(room.id, self)
        self.send_frame(
            {
                "type": "subscribed",
                "uri": room.uri,
                "latest_id": latest_id,
                "online": self.hub.online(room.id),
            }
        )
        if backlog is None:
            # Too far behind to replay: the client must refetch history.
            self.last_sent[room.id] = latest_id
            self.send_frame({"type": "reset", "uri": room.uri})
        else:
            self.last_sent[room.id] = latest_id if after is None else after
            for message in backlog:
                self.deliver(room.id, message.id, message_frame(room, message))
        if came_online:
            self.messenger.presence_changed(room)

    async def unsubscribe(self, frame):
        room = self.member_room(frame)
        self.last_sent.pop(room.id, None)
        if self.hub.unsubscribe(room.id, self):
            self.messenger.presence_changed(room)
        self.send_frame({"type": "unsubscribed", "uri": room.uri})

    async def send(self, frame):
        room = self.member_room(frame)
        client_id = frame.get("client_id")
        if client_id is None:
            raise FrameError("invalid", "A send needs a client_id.")
        message, created = await self.messenger.post(
            room, self.current_user, frame.get("text"), client_id
        )
        self.send_frame(
            {
                "type": "ack",
                "client_id": client_id,
                "id": message.id,
                "uri": room.uri,
                "created_at": message.as_dict(room)["created_at"],
                "duplicate": not created,
            }
        )

    async def typing(self, frame):
        room = self.member_room(frame)
        if room.id not in self.hub.rooms_of(self):
            raise FrameError("not_subscribed", "Subscribe to the room first.")
        self.hub.signal(
            room.id,
            encode(
                {"type": "typing", "uri": room.uri, "user": self.current_user.public()}
            ),
            skip=self,
        )

    async def ping(self, frame):
        self.send_frame({"type": "pong", "ref": frame.get("ref")})

    ACTIONS = {
        "subscribe": subscribe,
        "unsubscribe": unsubscribe,
        "send": send,
        "typing": typing,
        "ping": ping,
    }

    def deliver(self, room_id, message_id, frame):
        if message_id <= self.last_sent.get(room_id, 0):
            return
        self.last_sent[room_id] = message_id
        self.send_text(frame)

    def removed(self, room):
        self.last_sent.pop(room.id, None)
        self.send_frame({"type": "removed", "uri": room.uri})
