"""Chats: start a private session or open a named room, join, list, add, leave, move."""

import base64
import binascii
import json

from handlers.base import APIError, BaseHandler, bad_request, member_room
from handlers.budget import RateLimited
from models import MAX_ID, Membership, Room, User

# Chats per page of the list: more than any screen shows, and few enough that a page
# takes a few milliseconds to build however many chats someone has.
CHAT_PAGE = 100
MAX_CHAT_PAGE = 200


def encode_cursor(place):
    """A place in the chat list as a token for ``?cursor=`` (None stays None)."""
    if place is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(place).encode()).decode().rstrip("=")


def decode_cursor(token):
    """The place a ``?cursor=`` token names; 400 unless it came from ``encode_cursor``."""
    if token is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mark, room_id = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        mark = room_id = None
    # Whatever was tampered with must still bind as SQLite parameters: ASCII text (a
    # time), and an integer SQLite can hold.
    if (
        not isinstance(mark, str)
        or not mark.isascii()
        or not isinstance(room_id, int)
        or isinstance(room_id, bool)
        or not 0 <= room_id <= MAX_ID
    ):
        raise bad_request({"cursor": ["Use the next cursor of an earlier page."]})
    return mark, room_id


def members_of(members, hub, room):
    """The room's ``members`` as public users, each with whether they are online now."""
    online = set(hub.online(room.id))
    return [dict(m.public(), online=m.id in online) for m in members]


def chat_with_members(user, uri):
    """The caller's chat at ``uri`` (``member_room``'s answers otherwise), its list
    summary and its members: what ``GET /api/chats/<uri>/`` reads."""
    room = member_room(user, uri)
    return room, Room.summaries_for(user, room)[0], room.members()


def adding(caller, uri, username):
    """The caller's chat, the account named ``username`` (None if none or inactive),
    and whether the owner keeps that account out of it."""
    room = member_room(caller, uri)
    user = User.by_username(username)
    if user is None or not user.is_active:
        return room, None, False
    return room, user, room.keeps_out(user)


def leaving(caller, uri, username):
    """The caller's chat, and its member named ``username`` (None if none)."""
    room = member_room(caller, uri)
    target = User.by_username(username)
    return room, target if target is not None and target.is_member(room) else None


def summary(user, room):
    return Room.summaries_for(user, room)[0]


class ChatListHandler(BaseHandler):
    async def get(self):
        """A page of the caller's chats, most recently active first; ``next`` is the
        cursor of the page after it, null on the last."""
        user = self.require_user()
        await self.pay("reads", user.id)
        limit = self.query_int("limit", default=CHAT_PAGE, high=MAX_CHAT_PAGE)
        after = decode_cursor(self.get_query_argument("cursor", None))
        chats, place = await self.read(Room.chat_page, user, limit, after)
        self.send_json({"chats": chats, "next": encode_cursor(place)})

    async def post(self):
        user = self.require_user()
        name = self.body().get("name")
        if name in (None, ""):
            await self.pay("new-chat", user.id)
            room = await self.writer.run(Room.start_private, user)
            created = True
        else:
            # Opening a room that exists already makes nothing new to pay for.
            if await self.read(Room.by_uri, Room.normalise_name(name)) is None:
                await self.pay("new-chat", user.id)
            room, created = await self.messenger.open_named(user, name)
        self.send_json(
            {
                "status": "SUCCESS",
                "uri": room.uri,
                "message": "New chat session created"
                if created
                else f"Joined the chat {room.uri}",
                "chat": await self.read(summary, user, room),
            },
            201 if created else 200,
        )


class ChatHandler(BaseHandler):
    async def get(self, uri):
        user = self.require_user()
        await self.pay("reads", user.id)
        room, chat, members = await self.read(chat_with_members, user, uri)
        # Every member here, with who is online, in place of the list's preview.
        self.send_json(dict(chat, members=members_of(members, self.hub, room)))

    async def patch(self, uri):
        """Join the caller to the chat; Chatire's body may name the caller, no one else."""
        user = self.require_user()
        named = self.body().get("username")
        if named not in (None, "") and not user.answers_to(named):
            raise APIError(403, {"detail": "You can only add yourself to a chat."})
        room = await self.read(Room.by_uri, uri)
        if room is None:
            raise APIError(404, {"detail": "Not found."})
        await self.messenger.join(room, user)
        self.send_json(
            {
                "status": "SUCCESS",
                "members": members_of(await self.read(room.members), self.hub, room),
                "message": f"{user.username} joined the chat",
                "user": user.public(),
            }
        )


class ReadHandler(BaseHandler):
    async def post(self, uri):
        """Mark the chat read up to a message, for every tab and device of the caller."""
        user = self.require_user()
        room = await self.member_room(uri)
        marker = await self.messenger.mark_read(room, user, self.body().get("id"))
        unread = await self.read(Membership.unread_counts, user, [room.id])
        self.send_json(
            {"uri": room.uri, "last_read_id": marker, "unread": unread.get(room.id, 0)}
        )


class AddMemberHandler(BaseHandler):
    async def post(self, uri):
        """A member adds someone by username, lifting the owner's removal of them.

        In a private chat any member may, as anyone they gave the link to could join
        anyway. A named room is open to all, so there only its owner may take back a
        removal: otherwise anybody could join and let the removed person in again.
        """
        caller = self.require_user()
        username = self.body().get("username")
        if username in (None, ""):
            await self.member_room(uri)
            raise bad_request({"username": ["This field is required."]})
        room, user, kept_out = await self.read(
            adding, caller, uri, username.strip() if isinstance(username, str) else None
        )
        if user is None:
            raise bad_request({"username": ["There is no account with that username."]})
        if not room.is_private and caller.id != room.owner_id and kept_out:
            raise APIError(
                403, {"detail": "Only the owner can add back someone they removed."}
            )
        added = await self.messenger.join(room, user, added_by_member=True)
        self.send_json(
            {
                "status": "SUCCESS",
                "members": members_of(await self.read(room.members), self.hub, room),
                "message": f"{caller.username} added {user.username} to the chat"
                if added
                else f"{user.username} is already in the chat",
                "user": user.public(),
            },
            201 if added else 200,
        )


class MemberHandler(BaseHandler):
    async def delete(self, uri, username):
        """Leave a chat, or (its owner only) remove someone from it.

        A removal keeps them out: the link no longer lets them back in, until a member
        adds them. Someone who leaves may come back by the link.
        """
        caller = self.require_user()
        room, target = await self.read(leaving, caller, uri, username)
        if target is None:
            raise APIError(404, {"detail": "Not found."})
        if target.id == room.owner_id and not room.is_direct:
            raise APIError(403, {"detail": "The owner cannot leave their own chat."})
        if target.id != caller.id and caller.id != room.owner_id:
            raise APIError(403, {"detail": "Only the owner can remove others."})
        await self.messenger.remove(room, target, keep_out=target.id != caller.id)
        self.set_status(204)
        self.finish()


class AddressHandler(BaseHandler):
    async def post(self, uri):
        """The owner gives a private chat a new address, for when its link leaked."""
        caller = self.require_user()
        room = await self.member_room(uri)
        if caller.id != room.owner_id:
            raise APIError(403, {"detail": "Only the owner can change the address."})
        if not room.is_private:
            raise bad_request({"detail": "Only a private chat's address can change."})
        old = room.uri
        await self.messenger.change_address(room)
        self.send_json(
            {
                "status": "SUCCESS",
                "uri": room.uri,
                "old_uri": old,
                "message": "The chat has a new address; the old link no longer works.",
                "chat": await self.read(summary, caller, room),
            }
        )


class NameHandler(BaseHandler):
    async def put(self, uri):
        """Name or rename a private chat (any member); everyone in it sees it live."""
        user = self.require_user()
        room = await self.member_room(uri)
        try:
            await self.messenger.rename(room, user, self.body().get("name"))
        except RateLimited as error:
            await self.slow_down(error)
            raise
        self.send_json(await self.read(summary, user, room))


class NotificationsHandler(BaseHandler):
    async def put(self, uri):
        """Choose what of a chat one hears: all messages, mentions only, or nothing."""
        user = self.require_user()
        room = await self.member_room(uri)
        await self.writer.run(Membership.set_notify, user, room, self.body().get("level"))
        self.send_json(await self.read(summary, user, room))
