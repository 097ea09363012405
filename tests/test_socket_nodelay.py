"""Small frames leave at once: sockets turn off Nagle's algorithm."""
import json
import socket

import pytest


def server_side_sockets(app):
    return [c.ws_connection.stream.socket for c in app.messenger.hub.connections()]


@pytest.mark.gen_test
async def test_both_websockets_send_small_frames_without_waiting_for_the_clients_ack(app, api):
    ada = await api.signup("ada")
    uri = await ada.start_chat("lobby")
    ui = await ada.socket()
    await ui.read_message()  # hello
    seed = await ada.socket(f"/ws/chat/{uri}/")
    ui.write_message(json.dumps({"type": "ping", "ref": 1}))
    assert json.loads(await ui.read_message())["type"] in ("pong", "presence")
    sockets = server_side_sockets(app)
    assert len(sockets) == 2
    for sock in sockets:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    ui.close()
    seed.close()
