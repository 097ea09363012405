"""Everyone on the box, and the one direct chat of each pair of them."""

from handlers.base import APIError, BaseHandler, bad_request
from models import Room, User

MAX_PEOPLE = 200


class PeopleHandler(BaseHandler):
    async def get(self):
        """Active accounts, optionally those matching ``q``: a directory of the box."""
        await self.pay("reads", self.require_user().id)
        query = self.get_query_argument("q", "")
        if len(query) > 64:
            raise bad_request({"q": ["Search with at most 64 characters."]})
        limit = self.query_int("limit", default=50, high=MAX_PEOPLE)
        people = await self.read(User.directory, query.strip(), limit)
        self.send_json({"users": [person.public() for person in people]})


class DirectHandler(BaseHandler):
    async def post(self):
        """Open the direct chat with ``{"username": ...}``: created on first use, the
        same chat every time after, from either side."""
        user = self.require_user()
        name = self.body().get("username")
        if not isinstance(name, str) or not name.strip():
            raise bad_request({"username": ["This field is required."]})
        other = await self.read(User.by_username, name.strip())
        if other is None or not other.is_active:
            raise APIError(404, {"detail": "There is no account with that username."})
        if other.id == user.id:
            raise bad_request({"username": ["A direct chat needs someone else."]})
        room, created = await self.messenger.open_direct(user, other)
        chat = await self.read(Room.summaries_for, user, room)
        self.send_json(chat[0], 201 if created else 200)
