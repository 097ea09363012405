"""Outgoing webhooks: the messages of a chat, posted to a bot's own HTTP receiver.

Delivery never holds the chat up. ``Messenger.post`` hands each stored message to
``Webhooks.posted`` only after publishing it to the room's sockets, and that only puts
an event on the queue of each webhook it is for. One task per webhook with anything
queued posts its events in order with Tornado's non-blocking HTTP client, and retries
a failed one with exponential backoff before giving up on it. The client is an
instance of its own, so receivers that hang take none of the connections anything else
in the process makes. How each attempt went is kept on the webhook's row
(``models.Webhook.record``) for the bot's owner to see.

Each body is signed: ``X-Chatbox-Signature: sha256=<hex>``, the HMAC-SHA256 of the
exact bytes of the body with the webhook's secret (docs/bots.md shows how to check it).
"""

import asyncio
import collections
import hashlib
import hmac
import json
import logging

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from database import ReadPool
from models import Membership, User, Webhook, db, utcnow
from writer import DiskFull

log = logging.getLogger("chatbox.webhooks")

# A receiver on the LAN answers within milliseconds; one that has not answered in five
# seconds is busy or gone, and waiting longer only makes the queue behind it longer.
TIMEOUT = 5.0
# The first retry waits this long, each next one twice as long as the one before: 1, 2,
# 4, 8 and 16 s, about half a minute in all. That covers a receiver being restarted, and
# gives up on a dead one before its queue has filled.
BACKOFF = 1.0
RETRIES = 5
# Events waiting per webhook. A receiver that falls this far behind is not coming back
# soon: newer events are dropped (and counted as failures) rather than kept in memory
# without end.
QUEUE_SIZE = 100
# Requests in flight at once, over all webhooks (each has at most one); beyond this they
# wait their turn in the client.
MAX_CONNECTIONS = 50
SIGNATURE_HEADER = "X-Chatbox-Signature"


def sign(secret, body):
    """The signature header's value for ``body`` (bytes) signed with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(room, message):
    """The JSON event a receiver gets for a new message, as bytes."""
    event = {
        "type": "message",
        "chat": {
            "uri": room.uri,
            "kind": room.kind,
            "name": room.uri if not room.is_private else (room.name or None),
        },
        "message": message.as_dict(room),
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def listening(hook):
    """Whether the bot of ``hook`` is still an active member of its chat."""
    return (
        User.select(User.id)
        .join(Membership)
        .where(
            (Membership.room == hook.room_id) & (User.id == hook.bot_id) & User.is_active
        )
        .exists()
    )


class Webhooks:
    """The outgoing webhooks of every chat, and their delivery queues."""

    def __init__(
        self,
        writer,
        timeout=TIMEOUT,
        backoff=BACKOFF,
        retries=RETRIES,
        queue_size=QUEUE_SIZE,
        user_agent="chatbox",
        reads=None,
    ):
        self.writer = writer
        # Where the check that a bot still hears its chat reads (database.ReadPool).
        self.reads = reads or ReadPool(db, 0)
        self.timeout = timeout
        self.backoff = backoff
        self.retries = retries
        self.queue_size = queue_size
        self.user_agent = user_agent
        self._by_room = {}  # room id -> {webhook id: webhook}
        self._queues = {}  # webhook id -> deque of (webhook, body) waiting
        self._tasks = {}  # webhook id -> the task delivering its queue
        self._client = None

    def load(self):
        """Read every outgoing webhook from the database (once, at start)."""
        self._by_room = {}
        for hook in Webhook.outgoing():
            self.add(hook)

    def add(self, hook):
        self._by_room.setdefault(hook.room_id, {})[hook.id] = hook

    def remove(self, hook_ids):
        """Forget webhooks (deleted, or their bot deactivated) and what they had queued."""
        for hook_id in hook_ids:
            for room_id, hooks in list(self._by_room.items()):
                if hooks.pop(hook_id, None) is not None and not hooks:
                    del self._by_room[room_id]
            self._queues.pop(hook_id, None)
            task = self._tasks.pop(hook_id, None)
            if task is not None:
                task.cancel()

    def queued(self, hook_id):
        """Events waiting for one webhook (the one being delivered included)."""
        return len(self._queues.get(hook_id, ()))

    def posted(self, room, message):
        """A new message of ``room``, already published: queue it for the webhooks it
        is for. Returns how many."""
        hooks = self._by_room.get(room.id)
        if not hooks:
            return 0
        mentioned = {mention["user"] for mention in getattr(message, "mentions", ())}
        wanted = [
            hook
            for hook in hooks.values()
            if hook.bot_id != message.author_id
            and (hook.trigger == "all" or hook.bot_id in mentioned)
        ]
        if not wanted:
            return 0
        body = event_body(room, message)
        for hook in wanted:
            self._enqueue(hook, body)
        return len(wanted)

    def _enqueue(self, hook, body):
        queue = self._queues.setdefault(hook.id, collections.deque())
        if len(queue) >= self.queue_size:
            log.warning("webhook %d is %d events behind; dropping one", hook.id, len(queue))
            asyncio.ensure_future(
                self._record(hook, None, "The receiver fell behind; an event was dropped.")
            )
            return
        queue.append((hook, body))
        if hook.id not in self._tasks:
            self._tasks[hook.id] = asyncio.ensure_future(self._drain(hook.id))

    async def _drain(self, hook_id):
        queue = self._queues.get(hook_id)
        try:
            while queue:
                hook, body = queue[0]
                # Only bots that are still active members hear the chat: the room's
                # own rule, checked here because a removal or deactivation does not
                # come through here. Read off the event loop, like every read.
                if await self.reads.run(listening, hook):
                    await self._deliver(hook, body)
                queue.popleft()
        finally:
            # Unless the webhook was removed meanwhile (its queue then is gone, or is a
            # new one of a new webhook that took the id), this task was its deliverer.
            if self._queues.get(hook_id) is queue:
                self._tasks.pop(hook_id, None)
                if not queue:
                    del self._queues[hook_id]

    async def _deliver(self, hook, body):
        """Post one event, retrying with backoff; True once the receiver took it."""
        signature = sign(hook.secret, body)
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            status, error = await self._attempt(hook, body, signature)
            if error and attempt == self.retries:
                error = f"Gave up after {attempt + 1} attempts: {error}"
            await self._record(hook, status, error)
            if not error:
                return True
        return False

    @property
    def client(self):
        if self._client is None:
            self._client = AsyncHTTPClient(force_instance=True, max_clients=MAX_CONNECTIONS)
        return self._client

    async def _attempt(self, hook, body, signature):
        """One POST: ``(status, error)``, error "" for a 2xx answer."""
        request = HTTPRequest(
            hook.url,
            method="POST",
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": self.user_agent,
                SIGNATURE_HEADER: signature,
            },
            connect_timeout=self.timeout,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        try:
            response = await self.client.fetch(request, raise_error=False)
        except HTTPClientError as exc:  # a timeout, or the connection closed early
            return None, exc.message or str(exc)
        except (OSError, ValueError) as exc:  # refused, unreachable, no such host, TLS
            return None, str(exc) or type(exc).__name__
        if 200 <= response.code < 300:
            return response.code, ""
        return response.code, f"The receiver answered {response.code}."

    async def _record(self, hook, status, error):
        try:
            await self.writer.run(hook.record, status, error, utcnow())
        except DiskFull:
            log.warning(
                "webhook %d: could not keep its delivery state (disk full)", hook.id
            )

    def close(self):
        """Stop delivering (at shutdown): what is still queued is dropped."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._queues.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
