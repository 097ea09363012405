"""Sockets a browser holding an API token can open: the token in the address or as a
subprotocol, where a browser can put it, and never in a log line."""
import logging

import pytest
import tornado.httpclient
import tornado.websocket
import websockets.sync.client

from boxes import Box
from models import Room
from realtime import handshake_status, read, read_type, session_cookie


async def connect(api, path, subprotocols=None):
    url = api.base_url.replace("http", "ws", 1) + path
    return await tornado.websocket.websocket_connect(
        tornado.httpclient.HTTPRequest(url), subprotocols=subprotocols
    )


@pytest.mark.gen_test(timeout=30)
async def test_a_socket_opens_with_the_token_in_the_query_string(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    ui = await connect(api, f"/ws?token={alice.token}")
    assert (await read(ui))["user"]["username"] == "alice"
    room = await connect(api, f"/ws/chat/{uri}/?token={alice.token}")
    await alice.say(uri, "hi")
    assert (await read(room))["message"] == "hi"


@pytest.mark.gen_test(timeout=30)
async def test_a_socket_opens_with_the_token_as_a_subprotocol(api):
    alice = await api.signup("alice")
    ws = await connect(api, "/ws", subprotocols=["chatbox", f"token.{alice.token}"])
    assert ws.selected_subprotocol == "chatbox"
    assert (await read(ws))["user"]["username"] == "alice"


@pytest.mark.gen_test(timeout=30)
async def test_a_token_subprotocol_without_chatbox_is_refused_before_the_upgrade(api):
    alice = await api.signup("alice")
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await connect(api, "/ws/chat/lobby", subprotocols=[f"token.{alice.token}"])
    assert refused.value.code == 400
    assert Room.by_uri("lobby") is None


@pytest.mark.gen_test(timeout=30)
async def test_a_wrong_token_on_the_handshake_is_not_rescued_by_the_cookie(api):
    await api.signup("alice")
    cookie = await session_cookie(api, "alice")
    assert await handshake_status(api, "/ws", Cookie=cookie, Origin=api.base_url) == 101
    for path in ("/ws?token=wrong", "/ws?token=", "/ws/chat/lobby?token=wrong"):
        assert await handshake_status(api, path, Cookie=cookie, Origin=api.base_url) == 401
    assert await handshake_status(
        api, "/ws", Cookie=cookie, Origin=api.base_url,
        **{"Sec-WebSocket-Protocol": "chatbox, token.wrong"},
    ) == 401
    assert Room.by_uri("lobby") is None


@pytest.mark.gen_test(timeout=30)
async def test_the_room_socket_answers_with_and_without_its_trailing_slash(api):
    alice = await api.signup("alice")
    await alice.start_chat("general")
    with_slash = await alice.socket("/ws/chat/general/")
    without = await alice.socket("/ws/chat/general")
    await alice.say("general", "both")
    assert (await read(with_slash))["message"] == "both"
    assert (await read(without))["message"] == "both"


@pytest.mark.gen_test(timeout=30)
async def test_no_log_line_carries_a_token_from_the_address(api, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    secret = alice.token
    ws = await connect(api, f"/ws/chat/{uri}?token={secret}")
    await alice.say(uri, "logged?")
    await read_type(ws, "message")
    ws.close()
    evil = "http://evil.example"
    assert await handshake_status(api, f"/ws?x=1&token={secret}", Origin=evil) == 403
    assert await handshake_status(api, f"/ws?%74oken={secret}z") == 401
    status, _ = await api.call("GET", f"/api/chats/?token={secret}")
    assert status == 401

    def broken(*_):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Room, "by_uri", broken)
    assert await handshake_status(api, f"/ws/chat/{uri}?token={secret}") == 500
    text = caplog.text
    assert "Uncaught exception GET /ws/chat/" in text
    assert text.count("token=[redacted]") >= 4
    assert secret not in text


def test_a_running_box_keeps_the_socket_token_out_of_its_log(tmp_path):
    with Box(tmp_path) as box:
        token = box.signup("alice")
        url = box.url.replace("http", "ws", 1) + f"/ws?token={token}"
        with websockets.sync.client.connect(url, proxy=None, open_timeout=20) as ws:
            assert '"hello"' in ws.recv(timeout=20)
        assert box.terminate() == 0
    log = box.output()
    assert "GET /ws?token=[redacted]" in log
    assert token not in log
