"""Bots: accounts people make for their scripts, and their webhooks (docs/bots.md)."""

from handlers.base import APIError, BaseHandler, bad_request
from handlers.budget import RateLimited
from models import Room, User, Webhook

NOT_FOUND = {"detail": "Not found."}


def bot_of(owner, username):
    """``owner``'s active bot named ``username``; 404 if they have none of that name."""
    bot = owner.bot_named(username)
    if bot is None:
        raise APIError(404, {"detail": "You have no bot with that username."})
    return bot


def bots_of(owner):
    """``owner``'s bots as ``GET /api/bots/`` shows them, with their webhooks."""
    bots = owner.bots_owned()
    hooks = {}
    if bots:
        query = (
            Webhook.select(Webhook, Room)
            .join(Room)
            .where(Webhook.bot.in_([bot.id for bot in bots]))
            .order_by(Webhook.id)
        )
        for hook in query:
            hooks.setdefault(hook.bot_id, []).append(hook)
    return [bot.bot_view(hooks.get(bot.id, [])) for bot in bots]


def bot_and_hook_ids(owner, username):
    bot = bot_of(owner, username)
    return bot, [hook.id for hook in Webhook.select(Webhook.id).where(Webhook.bot == bot)]


def bot_and_room(owner, username, uri):
    """``owner``'s bot and the chat at ``uri`` (None if there is none)."""
    bot = bot_of(owner, username)
    return bot, Room.by_uri(uri) if isinstance(uri, str) and uri else None


def hook_and_membership(secret):
    """The incoming webhook at ``secret`` (None if none) and whether its bot is still
    a member of its chat."""
    hook = Webhook.for_secret(secret)
    return hook, hook is not None and hook.bot.is_member(hook.room)


class BotOwnerHandler(BaseHandler):
    """A person managing their bots: a bot cannot have bots."""

    def owner(self):
        user = self.require_user()
        if user.is_bot:
            raise APIError(403, {"detail": "A bot cannot manage bots."})
        return user

    async def my_bot(self, username):
        return await self.read(bot_of, self.owner(), username)

    @property
    def webhooks(self):
        return self.messenger.webhooks


class BotsHandler(BotOwnerHandler):
    async def get(self):
        """The caller's bots, each with its webhooks and how their deliveries went."""
        self.send_json({"bots": await self.read(bots_of, self.owner())})

    async def post(self):
        """Make a bot: ``{"username", "display_name"}``; its token is shown only here."""
        owner = self.owner()
        data = self.body()
        username = data.get("username")
        if username in (None, ""):
            raise bad_request({"username": ["This field is required."]})
        if not User.is_valid_name(username):
            raise bad_request({"username": [User.USERNAME_RULE]})
        display_name = data.get("display_name")
        # A bot is an account: paid for like a sign-up from the caller's address.
        await self.pay("signup", self.request.remote_ip, turn=False)
        bot, token = await self.writer.run(
            User.make_bot, owner, username, "" if display_name is None else display_name
        )
        self.send_json({"bot": bot.bot_view(), "token": token}, 201)


class BotHandler(BotOwnerHandler):
    async def delete(self, username):
        """Switch the bot off: its token, sockets and webhooks end at once."""
        bot, hook_ids = await self.read(bot_and_hook_ids, self.owner(), username)
        await self.writer.run(bot.set_active, False)
        self.webhooks.remove(hook_ids)
        # Close its open sockets now, here and on every process.
        await self.messenger.signed_out(bot.id)
        self.set_status(204)
        self.finish()


class BotTokenHandler(BotOwnerHandler):
    async def post(self, username):
        """A new token for the bot; the old one stops working, its sockets close."""
        bot = await self.my_bot(username)
        token = await self.writer.run(bot.new_bot_token)
        await self.messenger.signed_out(bot.id)
        self.send_json({"bot": bot.bot_view(), "token": token})


class WebhooksHandler(BotOwnerHandler):
    async def post(self, username):
        """A webhook of the bot in one of its chats:
        ``{"chat": uri, "direction": "in"}``, or
        ``{"chat": uri, "direction": "out", "url": ..., "trigger": "all"|"mention"}``.
        The incoming address's secret, or the outgoing signing secret, is shown only here.
        """
        owner = self.owner()
        data = self.body()
        uri, direction = data.get("chat"), data.get("direction")
        bot, room = await self.read(bot_and_room, owner, username, uri)
        if direction not in Webhook.DIRECTIONS:
            raise bad_request({"direction": ['Choose "in" or "out".']})
        if room is None:
            raise bad_request({"chat": ["There is no chat with that address."]})
        if direction == "in":
            hook, secret = await self.writer.run(Webhook.make_incoming, bot, room)
            answer = {"id": hook.id, "url": f"/hooks/{secret}"}
        else:
            hook, secret = await self.writer.run(
                Webhook.make_outgoing,
                bot,
                room,
                data.get("url"),
                data.get("trigger", "all"),
            )
            self.webhooks.add(hook)
            answer = {"id": hook.id, "secret": secret}
        hook.room = room
        self.send_json(dict(answer, webhook=hook.as_dict()), 201)


class WebhookHandler(BotOwnerHandler):
    async def delete(self, username, hook_id):
        bot = await self.my_bot(username)
        if not await self.writer.run(Webhook.remove, bot, int(hook_id)):
            raise APIError(404, {"detail": "The bot has no such webhook."})
        self.webhooks.remove([int(hook_id)])
        self.set_status(204)
        self.finish()


class IncomingHookHandler(BaseHandler):
    """``POST /hooks/<secret>``: a script posts as the bot, with ``{"text": ...}`` (the
    shape Slack's incoming webhooks take) or ``{"message": ...}``.

    The secret in the address is the only credential: no login, no cookie, no XSRF.
    """

    def prepare(self):
        pass  # nobody logs in here; the address is the credential

    def check_xsrf_cookie(self):
        pass  # a cookie grants nothing here, so there is no ambient authority to forge

    async def post(self, secret):
        hook, member = await self.read(hook_and_membership, secret)
        if hook is None:
            raise APIError(404, NOT_FOUND)
        data = self.body()
        text = data["text"] if "text" in data else data.get("message")
        if not isinstance(text, str):
            raise bad_request({"text": ["This field is required."]})
        room, bot = hook.room, hook.bot
        if not member:
            raise APIError(403, {"detail": "The bot is no longer a member of this chat."})
        try:
            message, created = await self.messenger.post(
                room, bot, text, data.get("client_id")
            )
        except RateLimited as error:
            await self.slow_down(error)
            raise
        view = await self.message_view(message, room)
        self.send_json(dict(view, status="SUCCESS"), 201 if created else 200)
