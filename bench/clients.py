"""Real websocket clients that time every message and notice any lost or repeated one.

Each message's text is ``"<sender> <seq> <monotonic_ns>[ padding]"``: the sender's bench
number, its own running count, and the send time on the monotonic clock that the server
and generator share (one machine). A receiver records receive time minus send time, and
for each sender in its room expects the counts 1, 2, 3, ... with nothing skipped and
nothing twice: the server delivers a room's messages in order, once each.
"""

import asyncio
import base64
import json
import os
import socket
import struct
import time

from harness import HOST, source_address
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode


class Tally:
    """What was seen while one measured window was open."""

    def __init__(self):
        self.latency_ns = []  # receive - send, every delivered message
        # The same, of deliveries whose sender talks to another server process.
        self.cross_ns = []
        self.ack_ns = []  # ack - send, per send
        self.sent = 0
        self.send_failures = 0
        self.errors = 0


class Run:
    """Shared by every client of a run: the open window and the running counts."""

    def __init__(self):
        self.window = None
        self.duplicates = 0
        self.gaps = 0
        self.closed = 0
        self.error_samples = []
        self.on_message = None  # optional hook(sender, seq, now_ns)
        # Which server process a client (by index) talks to; None: there is one.
        self.process_of = None

    def open_window(self):
        self.window = Tally()
        return self.window

    def close_window(self):
        window, self.window = self.window, None
        return window


class TimedConnection(ClientConnection):
    """A websockets client connection that hands each text frame over as it is parsed.

    The stock connection queues every frame for a ``recv()`` in another task: one task
    wake-up per frame, which at thousands of frames a second costs the generator more
    CPU than the server spends sending them. Once ``on_text`` is set, complete text
    frames go straight to it, stamped with the time they came off the socket; control
    frames, fragments and the close handshake still take the library's own path.
    """

    on_text = None

    def process_event(self, event):
        handler = self.on_text
        if handler is not None and event.opcode is Opcode.TEXT and event.fin:
            handler(event.data, time.monotonic_ns())
            return
        super().process_event(event)


class Client:
    """One websocket: ``/ws`` (the web app's socket) or ``/ws/chat/<room>/`` (the seed's)."""

    def __init__(self, person, run, kind="ws"):
        self.person = person
        self.index = person.index
        self.run = run
        self.kind = kind
        self.seq = 0
        self.last = {}  # sender index -> highest seq received
        self.conn = None
        self.reader = None
        self.close_code = None

    async def open(self, base_url, timeout=30):
        """Connect to ``base_url``, or to ``base_url(index)`` if it is a function."""
        if callable(base_url):
            base_url = base_url(self.index)
        path = "/ws" if self.kind == "ws" else f"/ws/chat/{self.person.uri}/"
        self.conn = await connect(
            base_url + path,
            additional_headers={"Authorization": f"Token {self.person.token}"},
            compression=None,
            proxy=None,
            ping_interval=None,
            open_timeout=timeout,
            close_timeout=2,
            user_agent_header=None,
            local_addr=(source_address(self.index), 0),
            create_connection=TimedConnection,
        )
        if self.kind == "ws":
            await self._subscribe(timeout)
        self.conn.on_text = self.on_frame
        self.reader = asyncio.ensure_future(self._watch())
        return self

    async def _subscribe(self, timeout):
        async with asyncio.timeout(timeout):
            hello = json.loads(await self.conn.recv())
            assert hello["type"] == "hello", hello
            await self.conn.send(json.dumps({"type": "subscribe", "uri": self.person.uri}))
            while True:
                frame = json.loads(await self.conn.recv())
                if frame.get("type") == "subscribed":
                    return
                if frame.get("type") == "error":
                    raise RuntimeError(f"subscribe refused: {frame}")

    async def _watch(self):
        # Frames that came before on_text was set sit in the library's queue; reading
        # them keeps that queue from filling and pausing the socket for good.
        try:
            async for raw in self.conn:
                self.on_frame(raw, time.monotonic_ns())
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.conn.close_code
            self.run.closed += 1

    def on_frame(self, raw, now):
        frame = json.loads(raw)
        kind = frame.get("type")
        window = self.run.window
        if kind == "message":
            sender, seq, sent_at = frame["message"].split(" ", 3)[:3]
            sender, seq = int(sender), int(seq)
            last = self.last.get(sender, 0)
            if seq <= last:
                self.run.duplicates += 1
                return
            if seq > last + 1:
                self.run.gaps += seq - last - 1
            self.last[sender] = seq
            if window is not None:
                window.latency_ns.append(now - int(sent_at))
                where = self.run.process_of
                if where is not None and where(sender) != where(self.index):
                    window.cross_ns.append(now - int(sent_at))
                # The seed socket has no ack: the sender's own copy is its ack.
                if self.kind != "ws" and sender == self.index:
                    window.ack_ns.append(now - int(sent_at))
            if self.run.on_message is not None:
                self.run.on_message(sender, seq, now)
        elif kind == "ack":
            if window is not None:
                sent_at = int(frame["client_id"].rsplit("-", 1)[1])
                window.ack_ns.append(now - sent_at)
        elif kind == "error" or "error" in frame:
            if window is not None:
                window.errors += 1
            if len(self.run.error_samples) < 5:
                self.run.error_samples.append(frame)

    async def say(self, padding=""):
        """Send the next message; the client_id carries the send time for the ack."""
        self.seq += 1
        sent_at = time.monotonic_ns()
        text = f"{self.index} {self.seq} {sent_at}{padding}"
        client_id = f"b{self.index}.{self.seq}-{sent_at}"
        if self.kind == "ws":
            frame = {
                "type": "send",
                "uri": self.person.uri,
                "client_id": client_id,
                "text": text,
            }
        else:
            frame = {"message": text, "client_id": client_id}
        window = self.run.window
        if window is not None:
            window.sent += 1
        try:
            await self.conn.send(json.dumps(frame))
        except ConnectionClosed:
            if window is not None:
                window.send_failures += 1

    def missing_from(self, senders):
        """Messages of ``senders`` this client should have had by now but has not."""
        return sum(max(0, s.seq - self.last.get(s.index, 0)) for s in senders)

    async def close(self):
        if self.conn is not None:
            try:
                await asyncio.wait_for(self.conn.close(), 3)
            except (TimeoutError, OSError):
                pass
        if self.reader is not None:
            self.reader.cancel()


async def open_all(people, run, base_url, kind="ws", concurrency=100, deadline=600):
    """Connect (and subscribe) everyone, ``concurrency`` handshakes at a time;
    ``base_url`` is one server's or a function of a client's index (``Cluster.url_for``)."""
    gate = asyncio.Semaphore(concurrency)
    clients = [Client(p, run, kind) for p in people]

    async def one(client):
        async with gate:
            await client.open(base_url)

    async with asyncio.timeout(deadline):
        results = await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise RuntimeError(
            f"{len(failures)} of {len(clients)} failed to connect: {failures[0]!r}"
        )
    return clients


def masked_frame(text):
    """A client text frame, masked as RFC 6455 requires of clients."""
    payload = text.encode()
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        header = struct.pack("!BB", 0x81, 0x80 | len(payload))
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, len(payload))
    return header + mask + body


def stuck_reader(port, person, index):
    """A /ws client that subscribes and then never reads again.

    A plain socket with a tiny receive buffer: once it fills, the server's writes back
    up, which is what a frozen phone or a stalled tab does to a real server.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((source_address(index), 0))
    sock.settimeout(10)
    sock.connect((HOST, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Token {person.token}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)
        if not chunk:
            raise RuntimeError("handshake refused")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {answer[:60]!r}")
    sock.sendall(masked_frame(json.dumps({"type": "subscribe", "uri": person.uri})))
    return sock


def drained_to_eof(sock, limit_bytes=64 * 2**20, seconds=10):
    """Read what the server left for the stuck client; True if the server closed it."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline and total < limit_bytes:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return False, total
        except ConnectionResetError:
            return True, total
        if not chunk:
            return True, total
        total += len(chunk)
    return False, total
