"""The one place chatbox reaches beneath Tornado's public websocket API.

If a Tornado upgrade renames what handlers/wsio.py relies on, the first test here fails
and names it: ``WebSocketProtocol.stream`` (the connection's stream, used to share one
pre-built frame among every recipient of a broadcast) and ``IOStream._write_buffer``
(its unsent bytes, used to close clients that stop reading).
"""

import socket

import pytest
import tornado.iostream
import tornado.websocket
from realtime import drain, read, read_type, room_socket, ui_socket

from handlers import wsio


@pytest.mark.gen_test(timeout=30)
async def test_tornado_still_has_the_attributes_wsio_relies_on(api, app):
    alice = await api.signup("alice")
    await ui_socket(alice)
    (handler,) = app.messenger.hub.connections(alice.id)
    assert isinstance(handler, tornado.websocket.WebSocketHandler)
    stream = handler.ws_connection.stream
    assert isinstance(stream, tornado.iostream.IOStream)
    assert hasattr(stream, "_write_buffer"), "IOStream._write_buffer is gone"
    before = len(stream._write_buffer)
    assert wsio.unsent_bytes(handler) == before


def test_unsent_bytes_counts_what_a_stream_has_not_yet_handed_to_the_kernel():
    left, right = socket.socketpair()
    try:
        stream = tornado.iostream.IOStream(left)
        # Writes that the kernel cannot take at once stay in the stream's buffer.
        left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        stream.write(b"x" * (1 << 20))
        assert 0 < len(stream._write_buffer) <= 1 << 20
        stream.close()
    finally:
        right.close()


def test_a_shared_wire_frame_is_a_plain_websocket_text_frame_of_any_length():
    assert wsio.wire_frame("hi") == b"\x81\x02hi"
    assert wsio.wire_frame("a" * 125)[:2] == b"\x81\x7d"
    assert wsio.wire_frame("a" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert wsio.wire_frame("é" * 40000)[:10] == b"\x81\x7f" + (80000).to_bytes(8, "big")
    assert wsio.wire_frame("é" * 40000)[10:] == ("é" * 40000).encode()


@pytest.mark.gen_test(timeout=30)
async def test_a_broadcast_is_encoded_and_framed_once_however_many_sockets_receive_it(
    api, monkeypatch
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    listeners = [await ui_socket(alice, uri) for _ in range(5)]
    listeners += [await room_socket(alice, uri) for _ in range(3)]
    for ws in listeners[:5]:
        await drain(ws)
    framed = []
    wire_frame = wsio.wire_frame

    def counted(text):
        framed.append(text)
        return wire_frame(text)

    monkeypatch.setattr(wsio, "wire_frame", counted)
    posted = await alice.say(uri, "to everyone")
    for ws in listeners[:5]:
        assert (await read_type(ws, "message"))["id"] == posted["id"]
    for ws in listeners[5:]:
        assert (await read(ws))["id"] == posted["id"]
    assert len([t for t in framed if '"type":"message"' in t]) == 1
