"""Chats: start a private session or open a named room, join, list, leave."""
from handlers.base import APIError, BaseHandler
from models import Membership, Room, User


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
        self.send_json(dict(summary, members=self.members(room)))

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
                "members": self.members(room),
                "message": f"{user.username} joined the chat",
                "user": user.public(),
            }
        )

    def members(self, room):
        online = set(self.hub.online(room.id))
        return [dict(m.public(), online=m.id in online) for m in room.members()]


class ReadHandler(BaseHandler):
    async def post(self, uri):
        """Mark the chat read up to a message, for every tab and device of the caller."""
        user = self.require_user()
        room = self.member_room(uri)
        marker = await self.messenger.mark_read(room, user, self.body().get("id"))
        unread = Membership.unread_counts(user, [room.id]).get(room.id, 0)
        self.send_json({"uri": room.uri, "last_read_id": marker, "unread": unread})


class MemberHandler(BaseHandler):
    async def delete(self, uri, username):
        """Leave a chat, or (its owner only) remove someone from it."""
        caller = self.require_user()
        room = self.member_room(uri)
        target = User.by_username(username)
        if target is None or not target.is_member(room):
            raise APIError(404, {"detail": "Not found."})
        if target.id == room.owner_id:
            raise APIError(403, {"detail": "The owner cannot leave their own chat."})
        if target.id != caller.id and caller.id != room.owner_id:
            raise APIError(403, {"detail": "Only the owner can remove others."})
        await self.messenger.remove(room, target)
        self.set_status(204)
        self.finish()
