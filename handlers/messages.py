"""A chat's messages: read history by page, post a message."""

from handlers.base import BaseHandler, bad_request
from handlers.budget import RateLimited
from models import Message

MAX_PAGE = 200


class MessagesHandler(BaseHandler):
    async def get(self, uri):
        await self.pay("reads", self.require_user().id)
        room = self.member_room(uri)
        before = self.query_int("before")
        after = self.query_int("after", low=0)
        if before is not None and after is not None:
            raise bad_request({"detail": "Use either before or after, not both."})
        limit = self.query_int("limit", default=50, high=MAX_PAGE)
        messages = Message.page(room, before=before, after=after, limit=limit)
        self.send_json(
            {
                "id": room.id,
                "uri": room.uri,
                "messages": [m.as_dict(room) for m in messages],
            }
        )

    async def post(self, uri):
        room = self.member_room(uri)
        data = self.body()
        try:
            message, created = await self.messenger.post(
                room, self.current_user, data.get("message"), data.get("client_id")
            )
        except RateLimited as error:
            await self.slow_down(error)
            raise
        self.send_json(
            dict(message.as_dict(room), status="SUCCESS"), 201 if created else 200
        )
