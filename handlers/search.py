"""Search across the caller's chats: ``GET /api/search/`` (see docs/files.md)."""

import search
from handlers.base import BaseHandler, bad_request


def found(user, query, **where):
    """``search.search``'s results as ``GET /api/search/`` answers them."""
    results, following = search.search(user, query, **where)
    return {
        "results": [
            {
                "message": message.as_dict(room),
                "chat": search.chat_view(room),
                "snippet": snippet,
            }
            for message, room, snippet in results
        ],
        "next": following,
    }


class SearchHandler(BaseHandler):
    async def get(self):
        user = self.require_user()
        await self.pay("reads", user.id)
        arg = self.get_query_argument
        try:
            answer = await self.read(
                found,
                user,
                arg("q", ""),
                chat=arg("chat", None),
                author=arg("from", None),
                after=arg("after", None),
                before=arg("before", None),
                has=arg("has", None),
                limit=self.query_int(
                    "limit", default=search.DEFAULT_LIMIT, high=search.MAX_LIMIT
                ),
                cursor=arg("cursor", None),
            )
        except search.BadQuery as error:
            raise bad_request(error.errors) from None
        self.send_json(answer)
