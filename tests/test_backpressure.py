"""A client that stops reading is cut off; everyone else keeps receiving everything."""

import asyncio
import base64
import os
import socket
import urllib.parse

import pytest
from realtime import drain, read_type, send, ui_socket, until

from handlers import sockets, wsio

# How much the kernel buffers for a connection before the server's own buffer grows
# depends on the machine (send buffers autotune up to megabytes on loopback), so
# messages go in rounds until the stuck client is cut off, with a bound on the rounds.
ROUND = 1000
MAX_ROUNDS = 8
TEXT = "x" * 2048
# Several senders, each waiting for nothing: the server stores their messages in few
# transactions, so 3000 messages take seconds, not one fsync each.
SENDERS = 6


async def stuck_seed_socket(base_url, room, token):
    """A websocket that completes its handshake and then never reads again.

    Its receive buffer is as small as the kernel allows, so the server's side of the
    connection fills quickly and further frames pile up in the server's own buffer.
    """
    loop = asyncio.get_running_loop()
    address = urllib.parse.urlsplit(base_url)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await loop.sock_connect(raw, (address.hostname, address.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/chat/{room}/ HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Token {token}\r\n\r\n"
    )
    await loop.sock_sendall(raw, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await asyncio.wait_for(loop.sock_recv(raw, 4096), 5)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


async def read_until_closed(raw, limit=64 << 20):
    """Read what the kernel still holds for the stuck socket, to its end."""
    loop = asyncio.get_running_loop()
    total = 0
    while total < limit:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(raw, 1 << 16), 5)
        except ConnectionResetError:
            return total
        if not chunk:
            return total
        total += len(chunk)
    raise AssertionError("the stuck socket was never closed")


@pytest.mark.gen_test(timeout=120)
@pytest.mark.usefixtures("unlimited")
async def test_a_client_that_stops_reading_is_closed_and_others_still_get_everything(
    api, app, monkeypatch
):
    alice, bob, stuck = [await api.signup(n) for n in ("alice", "bob", "stuck")]
    uri = await alice.start_chat()
    for person in (bob, stuck):
        await person.join(uri)
    hub = app.messenger.hub

    # Watch what the server holds in memory for the stuck client at every send.
    largest = {"pending": 0, "frame": 0}
    send_text = sockets.Socket.send_text

    def watched(self, text):
        if self.current_user.id == stuck.id:
            largest["pending"] = max(largest["pending"], wsio.unsent_bytes(self))
            largest["frame"] = max(largest["frame"], len(text.encode()))
        return send_text(self, text)

    monkeypatch.setattr(sockets.Socket, "send_text", watched)

    raw = await stuck_seed_socket(api.base_url, uri, stuck.token)
    await until(lambda: len(hub.connections(stuck.id)) == 1)
    reader = await ui_socket(bob, uri)
    senders = [await ui_socket(alice) for _ in range(SENDERS)]
    sent = 0
    for _ in range(MAX_ROUNDS):
        for n in range(sent, sent + ROUND):
            ws = senders[n % SENDERS]
            send(ws, {"type": "send", "uri": uri, "client_id": f"m-{n}", "text": TEXT})
        got = [await read_type(reader, "message") for _ in range(ROUND)]
        # Every one once, in the room's order. (Frames of different sockets may reach
        # the writer in another order than they were sent when reads run on threads.)
        assert sorted(int(m["client_id"][2:]) for m in got) == list(
            range(sent, sent + ROUND)
        )
        assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
        sent += ROUND
        if not hub.connections(stuck.id):
            break
    assert hub.connections(stuck.id) == frozenset(), "the stuck client was never closed"
    for i, ws in enumerate(senders):  # every send was acknowledged too
        for _ in range(i, sent, SENDERS):
            await read_type(ws, "ack", skip=("message",))
        assert [f for f in await drain(ws) if f["type"] != "message"] == []
    history = await alice.history(uri, "?limit=200")
    assert history[-1]["client_id"] == got[-1]["client_id"]  # the last in the room's order

    assert largest["pending"] > sockets.MAX_PENDING_BYTES  # it really did fall behind
    # ... and the server never held more than the limit plus the frame that crossed it.
    assert largest["pending"] <= sockets.MAX_PENDING_BYTES + largest["frame"] + 16
    received = await read_until_closed(raw)
    assert received < sent * len(TEXT)
    raw.close()
    print(
        f"\nstuck client: closed after {sent} messages; {received} bytes had reached "
        f"its socket; largest backlog held for it {largest['pending']} bytes"
    )
