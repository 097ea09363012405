"""Helpers for talking to chatbox's websockets in tests: every read has a deadline."""

import asyncio
import json

import tornado.httpclient
from conftest import PASSWORD, XSRF

# Long enough for a loaded two-core machine, short enough that a missing frame fails fast.
READ_TIMEOUT = 5


async def read_raw(ws, timeout=READ_TIMEOUT):
    return await asyncio.wait_for(ws.read_message(), timeout)


async def read(ws, timeout=READ_TIMEOUT):
    """The next frame as JSON; fails if the socket closes instead."""
    raw = await read_raw(ws, timeout)
    assert raw is not None, f"socket closed (code {ws.close_code}, {ws.close_reason!r})"
    return json.loads(raw)


CHATTER = ("presence", "member", "typing")


async def read_type(ws, kind, skip=()):
    """The next frame of type ``kind``, passing over presence, membership, typing news
    and the frame types in ``skip``."""
    while True:
        frame = await read(ws)
        if frame.get("type") == kind:
            return frame
        assert frame.get("type") in CHATTER + tuple(skip), f"expected {kind}, got {frame}"


def send(ws, frame):
    ws.write_message(frame if isinstance(frame, str) else json.dumps(frame))


_refs = iter(range(1, 1 << 30))


async def drain(ws):
    """Every frame the server queued for this UI socket so far, up to a ping's pong.

    The server answers frames in order on one event loop, so anything it meant for us
    before handling the ping arrives before the pong: no sleeping, no guessing.
    """
    ref = next(_refs)
    send(ws, {"type": "ping", "ref": ref})
    frames = []
    while True:
        frame = await read(ws)
        if frame == {"type": "pong", "ref": ref}:
            return frames
        frames.append(frame)


async def closed(ws):
    """Wait for the server to close the socket; returns its close code."""
    while True:
        raw = await read_raw(ws)
        if raw is None:
            return ws.close_code


async def ui_socket(person, *uris, after=None):
    """A web-UI socket past its hello, subscribed to ``uris``."""
    ws = await person.socket("/ws")
    hello = await read(ws)
    assert hello["type"] == "hello" and hello["user"]["id"] == person.id
    for uri in uris:
        await subscribe(ws, uri, after)
    return ws


async def subscribe(ws, uri, after=None):
    frame = {"type": "subscribe", "uri": uri}
    if after is not None:
        frame["after"] = after
    send(ws, frame)
    subscribed = await read_type(ws, "subscribed")
    assert subscribed["uri"] == uri
    return subscribed


async def room_socket(person, room):
    return await person.socket(f"/ws/chat/{room}/")


async def handshake_status(api, path, **headers):
    """The HTTP status a websocket handshake is refused with (101 if accepted)."""
    try:
        ws = await api.socket(path, **headers)
    except tornado.httpclient.HTTPClientError as error:
        return error.code
    ws.close()
    return 101


async def session_cookie(api, username):
    """Log in as the browser does and return the ``Cookie`` header it would send."""
    xsrf = XSRF
    status, _ = await api.call(
        "POST",
        "/auth/session/",
        {"username": username, "password": PASSWORD},
        headers={"X-XSRFToken": xsrf, "Cookie": f"_xsrf={xsrf}"},
    )
    assert status == 200
    cookies = api.last_response.headers.get_list("Set-Cookie")
    session = [c.split(";")[0] for c in cookies if c.startswith("chatbox_session=")]
    assert session
    return session[0]


async def until(predicate, timeout=READ_TIMEOUT):
    """Wait, with a deadline, for the server's in-process state to reach a condition."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def presence_settled(app):
    """Wait until every presence change so far has gone out in a batch; a ``drain``
    after this sees them all."""
    await until(lambda: not app.messenger.presence.pending)


def apply_presence(online, frame):
    """``online`` (a set of user ids) after one presence batch."""
    return (set(online) | set(frame["came_online"])) - set(frame["went_offline"])


async def chat_between(api, *names):
    """Signs the named people up; the first starts a private chat and the rest join it.

    Returns the people, then the chat's URI: ``alice, bob, uri = await chat_between(...)``.
    """
    people = [await api.signup(name) for name in names]
    uri = await people[0].start_chat()
    for person in people[1:]:
        await person.join(uri)
    return (*people, uri)
