"""The bus: how several chatbox processes on one database tell each other about news.

The database holds every change; the bus only carries short notices between processes
(docs/scale-out.md): "room R has changes up to number N", a typing notice, "close
person P's sockets". A notice may be lost (a connection drops), so nothing relies on
one arriving: the hub catches up from the database on reconnect and every few seconds.

``Bus`` does what both transports share: a random ``node`` id per process, JSON on the
wire, a queue so that ``publish`` never blocks its caller, reconnecting with backoff,
and ignoring its own notices. ``PostgresBus`` uses LISTEN/NOTIFY on the database itself,
``RedisBus`` a Redis channel. ``from_option`` makes one from the ``--bus`` option.
"""

import asyncio
import collections
import json
import logging
import secrets
import urllib.parse

log = logging.getLogger("chatbox.bus")

CHANNEL = "chatbox"
# PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; below this every notice
# fits on either transport, with room for the envelope.
MAX_BYTES = 7000
# Notices waiting while the connection is down. A notice is only ever a hint (the
# database is caught up from on reconnect), so past this the oldest are dropped rather
# than let a long outage fill memory.
MAX_QUEUED = 10_000
# Reconnect after 0.1 s, then twice as long each time up to 5 s: a restarted database or
# Redis is back within seconds, and a dead one costs a connection attempt every 5 s.
FIRST_RETRY = 0.1
LAST_RETRY = 5.0
# How often a silent listening connection is checked: a network that vanishes without
# closing the connection would otherwise leave the process deaf until TCP gives up.
LIVENESS = 5.0


class TooLarge(ValueError):
    """A notice that would not fit through the bus."""


class Bus:
    """One process's end of the bus; a subclass supplies ``_connect``, ``_listen``,
    ``_send`` and ``_disconnect``.

    ``start(handler, on_reconnect)`` connects and returns once listening; from then on
    ``handler(message)`` gets every other process's notice (a dict with ``kind`` and
    ``node``), in the order each process published them, and ``on_reconnect()`` is
    called each time the connection came back after a loss, since notices may have been
    missed meanwhile.
    """

    first_retry = FIRST_RETRY
    last_retry = LAST_RETRY
    liveness = LIVENESS

    def __init__(self):
        self.node = secrets.token_hex(8)
        self._handler = None
        self._on_reconnect = None
        self._queue = collections.deque(maxlen=MAX_QUEUED)
        self._wakeup = None  # set when the queue has something or the bus closes
        self._connected = None  # asyncio.Event, set while connected
        self._tasks = []
        self._started = None
        self._closing = False
        # How many times the connection was made, for tests and the log.
        self.connections = 0

    async def start(self, handler, on_reconnect=None):
        """Connect and listen; a second call waits for the first one's connection."""
        if self._started is None:
            self._handler = handler
            self._on_reconnect = on_reconnect
            self._wakeup = asyncio.Event()
            self._connected = asyncio.Event()
            self._started = asyncio.get_running_loop().create_future()
            self._tasks = [
                asyncio.create_task(self._run(), name="chatbox-bus-listen"),
                asyncio.create_task(self._send_queued(), name="chatbox-bus-send"),
            ]
        await asyncio.shield(self._started)

    @property
    def connected(self):
        return self._connected is not None and self._connected.is_set()

    def encode(self, message):
        """The notice as sent: JSON with this process's node id; raises ``TooLarge``."""
        text = json.dumps(
            dict(message, node=self.node), separators=(",", ":"), ensure_ascii=False
        )
        if len(text.encode()) > MAX_BYTES:
            raise TooLarge(f"a {message.get('kind')} notice is over {MAX_BYTES} bytes")
        return text

    def publish(self, message):
        """Queue a notice for every other process; returns at once. A notice too large
        for the bus raises ``TooLarge`` here, in the caller."""
        self._queue.append(self.encode(message))
        if self._wakeup is not None:
            self._wakeup.set()

    async def close(self, grace=1.0):
        """Send what is queued (for up to ``grace`` seconds), then disconnect."""
        deadline = asyncio.get_running_loop().time() + grace
        while self._queue and self.connected:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        await self._disconnect()

    def received(self, text):
        """A notice from the transport: parsed, our own dropped, the rest handed on."""
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("ignoring a bus notice that is not JSON")
            return
        if not isinstance(message, dict) or message.get("node") == self.node:
            return
        try:
            self._handler(message)
        except Exception:
            log.exception("a bus notice of kind %r failed", message.get("kind"))

    async def _run(self):
        delay = self.first_retry
        while not self._closing:
            try:
                await self._connect()
            except Exception as error:
                log.warning("bus: cannot connect (%s); retrying in %.1f s", error, delay)
                await self._disconnect()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.last_retry)
                continue
            delay = self.first_retry
            self.connections += 1
            self._connected.set()
            self._wakeup.set()
            if not self._started.done():
                self._started.set_result(None)
            elif self._on_reconnect is not None:
                log.info("bus: reconnected; catching up")
                try:
                    self._on_reconnect()
                except Exception:
                    log.exception("bus: catching up after a reconnect failed")
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not self._closing:
                    log.warning("bus: connection lost (%s)", error)
            self._connected.clear()
            await self._disconnect()
            # A server that drops every connection at once must not be hammered.
            await asyncio.sleep(self.first_retry)

    async def _send_queued(self):
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._connected.wait()
                text = self._queue[0]
                try:
                    await self._send(text)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    # Kept at the head of the queue and sent again once reconnected;
                    # the listening side notices the loss and reconnects.
                    log.warning("bus: a notice was not sent (%s)", error)
                    self._connected.clear()
                    await self._lost()
                    continue
                if self._queue and self._queue[0] is text:
                    self._queue.popleft()

    async def _lost(self):
        """The sending side failed: make the listening side reconnect."""
        await self._disconnect()

    async def _connect(self):
        raise NotImplementedError

    async def _listen(self):
        raise NotImplementedError

    async def _send(self, text):
        raise NotImplementedError

    async def _disconnect(self):
        raise NotImplementedError


class PostgresBus(Bus):
    """LISTEN/NOTIFY on the database every process already shares: no other server to
    run. One connection listens, another sends, both in autocommit (a NOTIFY inside a
    transaction would wait for its commit)."""

    def __init__(self, url):
        super().__init__()
        self.url = url
        self._listener = None
        self._sender = None

    async def _connect(self):
        import psycopg

        self._listener = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        await self._listener.execute(f"LISTEN {CHANNEL}")
        self._sender = await psycopg.AsyncConnection.connect(self.url, autocommit=True)

    async def _listen(self):
        listener = self._listener
        while True:
            async for notice in listener.notifies(timeout=self.liveness):
                self.received(notice.payload)
            # Quiet for a while: make sure the connection is still there.
            await listener.execute("SELECT 1")

    async def _send(self, text):
        await self._sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))

    async def _disconnect(self):
        for name in ("_listener", "_sender"):
            connection = getattr(self, name)
            setattr(self, name, None)
            if connection is not None:
                try:
                    await connection.close()
                except Exception:
                    pass

    async def listener_pid(self):
        """The server process id of the listening connection (tests cut it)."""
        return self._listener.info.backend_pid


class RedisBus(Bus):
    """Publish/subscribe on a Redis channel."""

    def __init__(self, url):
        super().__init__()
        self.url = url
        self._client = None
        self._pubsub = None

    async def _connect(self):
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url)
        self._client = client
        pubsub = client.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(CHANNEL)
        # The confirmation of the subscription, before anything is published.
        while await pubsub.get_message(timeout=self.liveness) is None:
            pass

    async def _listen(self):
        pubsub = self._pubsub
        while True:
            message = await pubsub.get_message(timeout=self.liveness)
            if message is None:
                await pubsub.ping()
                continue
            if message["type"] == "message":
                self.received(message["data"].decode())
            elif message["type"] == "subscribe":
                # The client library reconnected and subscribed again by itself:
                # notices were missed meanwhile all the same.
                raise ConnectionError("the subscription was renewed")

    async def _send(self, text):
        await self._client.publish(CHANNEL, text)

    async def _disconnect(self):
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        for thing in (pubsub, client):
            if thing is not None:
                try:
                    await thing.aclose()
                except Exception:
                    pass


def from_option(value, database_url=None):
    """The bus the ``--bus`` option names: "" none, "postgres" LISTEN/NOTIFY on the
    ``--database`` server, "redis://host:port/N" a Redis server. Raises ``ValueError``
    with a message for the operator otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    if value == "postgres":
        if not database_url or not database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError(
                "--bus=postgres needs --database=postgresql://...: the notices travel "
                "through the PostgreSQL server the processes share"
            )
        return PostgresBus(database_url)
    if value.startswith(("redis://", "rediss://", "unix://")):
        parsed = urllib.parse.urlsplit(value)
        if parsed.scheme != "unix" and not parsed.hostname:
            raise ValueError(f"--bus={value}: name the Redis server, redis://host:port/0")
        try:
            parsed.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"--bus={value}: the port is not a number") from None
        return RedisBus(value)
    raise ValueError(
        f"--bus={value}: expected 'postgres' or a Redis URL such as redis://host:6379/0"
    )
