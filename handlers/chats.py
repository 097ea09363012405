"""Chats: start a private session or open a named room, join, list, add, leave, move."""
from handlers.base import APIError, BaseHandler, bad_request
from models import Membership, Room, User


def members_of(room, hub):
    """The room's members, owner first, each with whether they are online now."""
    online = set(hub.online(room.id))
    return [dict(m.public(), online=m.id in online) for m in room.members()]


class ChatListHandler(BaseHandler):
    def get(self):
        user = self.require_user()
        self.send_json({"chats": Room.summaries_for(user)})

    async def post(self):
        user = self.require_user()
        name = self.body().get("name")
        if name in (None, ""):
            room = await self.writer.run(Room.start_private, user)
            created = True
        else:
            room, created = await self.messenger.open_named(user, name)
        self.send_json(
            {
                "status": "SUCCESS",
                "uri": room.uri,
                "message": "New chat session created"
                if created
                else f"Joined the chat {room.uri}",
                "chat": Room.summaries_for(user, room)[0],
            },
            201 if created else 200,
        )


class ChatHandler(BaseHandler):
    def get(self, uri):
        room = self.member_room(uri)
        # Every member here, with who is online, in place of the list's preview.
        summary = Room.summaries_for(self.current_user, room)[0]
        self.send_json(dict(summary, members=members_of(room, self.hub)))

    async def patch(self, uri):
        """Join the caller to the chat; Chatire's body may name the caller, no one else."""
        user = self.require_user()
        named = self.body().get("username")
        if named not in (None, "") and not user.answers_to(named):
            raise APIError(403, {"detail": "You can only add yourself to a chat."})
        room = Room.by_uri(uri)
        if room is None:
            raise APIError(404, {"detail": "Not found."})
        await self.messenger.join(room, user)
        self.send_json(
            {
                "status": "SUCCESS",
                "members": members_of(room, self.hub),
                "message": f"{user.username} joined the chat",
                "user": user.public(),
            }
        )


class ReadHandler(BaseHandler):
    async def post(self, uri):
        """Mark the chat read up to a message, for every tab and device of the caller."""
        user = self.require_user()
        room = self.member_room(uri)
        marker = await self.messenger.mark_read(room, user, self.body().get("id"))
        unread = Membership.unread_counts(user, [room.id]).get(room.id, 0)
        self.send_json({"uri": room.uri, "last_read_id": marker, "unread": unread})


class AddMemberHandler(BaseHandler):
    async def post(self, uri):
        """A member adds someone by username, lifting the owner's removal of them.

        In a private chat any member may, as anyone they gave the link to could join
        anyway. A named room is open to all, so there only its owner may take back a
        removal: otherwise anybody could join and let the removed person in again.
        """
        caller = self.require_user()
        room = self.member_room(uri)
        username = self.body().get("username")
        if username in (None, ""):
            raise bad_request({"username": ["This field is required."]})
        user = User.by_username(username.strip() if isinstance(username, str) else None)
        if user is None or not user.is_active:
            raise bad_request({"username": ["There is no account with that username."]})
        if not room.is_private and caller.id != room.owner_id and room.keeps_out(user):
            raise APIError(
                403, {"detail": "Only the owner can add back someone they removed."}
            )
        added = await self.messenger.join(room, user, added_by_member=True)
        self.send_json(
            {
                "status": "SUCCESS",
                "members": members_of(room, self.hub),
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
        room = self.member_room(uri)
        target = User.by_username(username)
        if target is None or not target.is_member(room):
            raise APIError(404, {"detail": "Not found."})
        if target.id == room.owner_id:
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
        room = self.member_room(uri)
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
                "chat": Room.summaries_for(caller, room)[0],
            }
        )
