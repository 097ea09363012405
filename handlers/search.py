"""Search across the caller's chats: ``GET /api/search/`` (see docs/files.md)."""

import search
from handlers.base import BaseHandler, bad_request


class SearchHandler(BaseHandler):
    async def get(self):
        user = self.require_user()
        await self.pay("reads", user.id)
        arg = self.get_query_argument
        try:
            results, following = search.search(
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
        self.send_json(
            {
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
        )
