"""A chat's messages: read history by page, post, edit, delete and react."""

from handlers.base import BaseHandler, bad_request, member_room
from handlers.budget import RateLimited
from models import Message

MAX_PAGE = 200


def history(user, uri, **where):
    """A page of the caller's chat at ``uri`` as ``GET .../messages/`` answers it."""
    room = member_room(user, uri)
    messages = Message.page(room, **where)
    return {"id": room.id, "uri": room.uri, "messages": [m.as_dict(room) for m in messages]}


class MessagesHandler(BaseHandler):
    async def get(self, uri):
        user = self.require_user()
        await self.pay("reads", user.id)
        before = self.query_int("before")
        after = self.query_int("after", low=0)
        around = self.query_int("around")
        if before is not None and after is not None:
            raise bad_request({"detail": "Use either before or after, not both."})
        if around is not None and (before is not None or after is not None):
            raise bad_request(
                {"detail": "Use around on its own, not with before or after."}
            )
        limit = self.query_int("limit", default=50, high=MAX_PAGE)
        self.send_json(
            await self.read(
                history, user, uri, before=before, after=after, limit=limit, around=around
            )
        )

    async def post(self, uri):
        room = await self.member_room(uri)
        data = self.body()
        try:
            message, created = await self.messenger.post(
                room,
                self.current_user,
                data.get("message"),
                data.get("client_id"),
                data.get("reply_to"),
                data.get("attachments"),
            )
        except RateLimited as error:
            await self.slow_down(error)
            raise
        view = await self.message_view(message, room)
        self.send_json(dict(view, status="SUCCESS"), 201 if created else 200)


class ChangeHandler(BaseHandler):
    """The changes to one message, each through ``Messenger.change``, as the socket's."""

    async def change(self, uri, message_id, kind, *args):
        room = await self.member_room(uri)
        try:
            seq, message = await self.messenger.change(
                room, self.current_user, int(message_id), kind, *args
            )
        except RateLimited as error:
            await self.slow_down(error)
            raise
        return seq, await self.message_view(message, room)


class MessageHandler(ChangeHandler):
    async def patch(self, uri, message_id):
        """Edit one's own message: ``{"message": "new text"}``."""
        _, message = await self.change(
            uri, message_id, "edited", self.body().get("message")
        )
        self.send_json(message)

    async def delete(self, uri, message_id):
        """Delete a message, leaving a tombstone; again, it changes nothing."""
        _, message = await self.change(uri, message_id, "deleted")
        self.send_json(message)


class ReactionsHandler(ChangeHandler):
    async def post(self, uri, message_id):
        """React: ``{"emoji": "👍"}``; 201 if new, 200 if the user had already."""
        seq, message = await self.change(
            uri, message_id, "reacted", self.body().get("emoji"), True
        )
        self.send_json(message, 200 if seq is None else 201)


class ReactionHandler(ChangeHandler):
    async def delete(self, uri, message_id, symbol):
        """Take one's reaction back, whether or not there was one."""
        # Tornado has already decoded the emoji from the path.
        _, message = await self.change(uri, message_id, "reacted", symbol, False)
        self.send_json(message)
