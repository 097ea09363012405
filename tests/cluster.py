"""Several chatbox processes on one PostgreSQL database and one bus (docs/scale-out.md),
and the web app's socket as a client that keeps everything it is sent.

``Cluster`` starts real ``python chatbox.py`` processes (tests/boxes.py) that share a
data dir (so a cookie secret), a database and a bus; ``Tab`` is one browser tab's
``/ws`` on one of them, read in the background; ``PostgresBus`` and ``RedisBus`` know
how to cut a bus's connections the way a network or an operator would.
"""

import asyncio
import contextlib
import json
import threading
import time

import psycopg
import tornado.websocket
from boxes import Box
from conftest import API, Person

# Generous: three servers, PostgreSQL, Redis and the test share a loaded two-core machine.
TIMEOUT = 20


class Cluster:
    """``processes`` chatbox processes sharing one data dir, database and bus."""

    def __init__(self, tmp_path, database, bus, processes=2, args=()):
        self.database = database
        self.boxes = [
            Box(
                tmp_path / "data",
                f"--database={database}",
                f"--bus={bus}",
                f"--uploads={tmp_path / 'uploads'}",
                # Tests send in bursts no person could type.
                "--limits=off",
                *args,
                name=f"p{i}",
            )
            for i in range(processes)
        ]

    def start(self):
        # One after another: the first brings the schema up to date, the rest find it so.
        for box in self.boxes:
            box.start()
        return self

    def close(self):
        for box in self.boxes:
            box.close()

    def __getitem__(self, index):
        return self.boxes[index]

    def __iter__(self):
        return iter(self.boxes)

    def __len__(self):
        return len(self.boxes)

    def logs(self, tail=6000):
        parts = []
        for index, box in enumerate(self.boxes):
            try:
                output = box.output()
            except FileNotFoundError:
                output = "(no log)"
            parts.append(f"--- process {index} (port {box.port})\n{output[-tail:]}")
        return "\n".join(parts)


def on(person, box):
    """The same account calling another process."""
    return Person(API(box.url), person.username, person.token, {"id": person.id})


def scalar(database, sql, *params):
    """One value read from the database with a connection of the test's own."""
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


async def eventually(condition, timeout=TIMEOUT, what="condition"):
    """Poll ``condition`` until true; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


class Tab:
    """One ``/ws`` socket of one person on one process, read in the background.

    Every frame is kept; events (frames with a ``seq``) by room, acks by client id,
    and who is online in each subscribed room as the ``subscribed`` snapshot and the
    ``presence`` frames after it say.
    """

    def __init__(self, person, box):
        self.person = person
        self.box = box
        self.frames = []
        self.events = {}  # uri -> event frames, as they arrived
        self.acks = {}  # client_id -> the last ack frame for it
        self.online = {}  # uri -> set of user ids
        self.sent = {}  # client_id -> (uri, text), every send ever made on this tab
        self.rooms = []  # uris subscribed, to subscribe again after a reconnect
        self.ws = None
        self.reader = None
        self._refs = 0

    async def open(self, box=None):
        self.box = box or self.box
        self.ws = await API(self.box.url).socket("/ws", token=self.person.token)
        hello = json.loads(await asyncio.wait_for(self.ws.read_message(), TIMEOUT))
        assert hello["type"] == "hello", hello
        self.reader = asyncio.ensure_future(self._read(self.ws))
        return self

    async def _read(self, ws):
        while True:
            raw = await ws.read_message()
            if raw is None:
                return
            frame = json.loads(raw)
            self.frames.append(frame)
            kind = frame.get("type")
            if kind == "ack":
                self.acks[frame["client_id"]] = frame
            elif kind == "subscribed":
                self.online[frame["uri"]] = set(frame["online"])
            elif kind == "presence":
                online = self.online.setdefault(frame["uri"], set())
                online |= set(frame["came_online"])
                online -= set(frame["went_offline"])
            elif "seq" in frame and "uri" in frame:
                self.events.setdefault(frame["uri"], []).append(frame)

    @property
    def closed(self):
        return self.reader is None or self.reader.done()

    def close(self):
        self.ws.close()

    def send(self, frame):
        try:
            self.ws.write_message(json.dumps(frame))
        except tornado.websocket.WebSocketClosedError:
            pass  # a send that never left is resent after the reconnect

    async def next(self, predicate, since=0, timeout=TIMEOUT):
        """The first frame from index ``since`` on that ``predicate`` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames[since:]:
                if predicate(frame):
                    return frame
            since = len(self.frames)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.person.username}: no such frame in {timeout} s"
                )
            if self.closed:
                raise AssertionError(f"{self.person.username}: socket closed")
            await asyncio.sleep(0.01)

    async def subscribe(self, uri, after_seq=0):
        """Subscribe from ``after_seq``; returns the ``subscribed`` frame (the backlog
        follows it)."""
        self._refs += 1
        ref = f"subscribe-{self._refs}"
        mark = len(self.frames)
        self.send({"type": "subscribe", "uri": uri, "after_seq": after_seq, "ref": ref})
        frame = await self.next(
            lambda f: (
                (f.get("type") == "subscribed" and f["uri"] == uri)
                or f.get("ref") == ref
                or f.get("type") == "reset"
            ),
            since=mark,
        )
        assert frame["type"] == "subscribed", frame
        if uri not in self.rooms:
            self.rooms.append(uri)
        return frame

    async def reopen(self, box):
        """Reconnect to ``box`` as the web app does: resume every room after the last
        number seen, then send again what was never acknowledged."""
        await self.open(box)
        for uri in self.rooms:
            await self.subscribe(uri, self.last_seq(uri))
        for client_id in self.unacked():
            uri, text = self.sent[client_id]
            self.send({"type": "send", "uri": uri, "client_id": client_id, "text": text})

    def say(self, uri, client_id, text=None):
        text = client_id if text is None else text
        self.sent[client_id] = (uri, text)
        self.send({"type": "send", "uri": uri, "client_id": client_id, "text": text})

    def unacked(self):
        return [c for c in self.sent if c not in self.acks]

    def seqs(self, uri):
        return [frame["seq"] for frame in self.events.get(uri, [])]

    def last_seq(self, uri):
        seqs = self.seqs(uri)
        return seqs[-1] if seqs else 0

    def messages(self, uri):
        """The room's messages as this tab received them: (seq, id, client_id, text)."""
        return [
            (f["seq"], f["id"], f["client_id"], f["message"])
            for f in self.events.get(uri, [])
            if f["type"] == "message"
        ]


class Cuttable:
    """What both buses share: cutting them for a while, not just once."""

    @contextlib.contextmanager
    def down(self, every=0.01, at_most=60):
        """Cut the listening connections again and again (every ``every`` seconds,
        from a thread) while the block runs: each reconnection is cut again at once, so
        notices published meanwhile are lost to the processes. Yields the list of how
        many each cut ended."""
        stop = threading.Event()
        cuts = []

        def cut_until_stopped():
            deadline = time.monotonic() + at_most
            while not stop.is_set() and time.monotonic() < deadline:
                cuts.append(self.cut())
                stop.wait(every)

        thread = threading.Thread(target=cut_until_stopped, daemon=True)
        thread.start()
        try:
            yield cuts
        finally:
            stop.set()
            thread.join()


class PostgresBus(Cuttable):
    """``--bus=postgres``: LISTEN/NOTIFY on the database itself."""

    option = "postgres"

    def __init__(self, database):
        self.database = database

    def cut(self):
        """End every process's listening connection (whose last statement is its
        LISTEN, or the ``SELECT 1`` that checks it after a quiet spell), as a network
        cut or a DBA would; returns how many were ended. The connections that send
        notices stay: what they send meanwhile reaches nobody."""
        with psycopg.connect(self.database, autocommit=True) as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state = 'idle' AND (query ILIKE 'listen%' OR query = 'SELECT 1')"
            ).fetchall()
        return len(ended)


class RedisBus(Cuttable):
    """``--bus=redis://…``: Redis pub/sub."""

    def __init__(self, server, url):
        self.server = server
        self.option = url

    def cut(self):
        """Drop every subscriber's connection (``CLIENT KILL TYPE pubsub``); returns
        how many were dropped."""
        return self.server.cut_clients("pubsub")
