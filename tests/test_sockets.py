"""Socket rules: every send checked again, refused frames that cost nothing, what others
see when a socket goes away, small frames sent at once, a private chat's socket joining
like its join call, and tokens a browser can present."""

import json
import logging
import socket

import pytest
import tornado.httpclient
import tornado.websocket
import websockets.sync.client
from boxes import Box
from realtime import (
    chat_between,
    drain,
    handshake_status,
    read,
    read_type,
    send,
    session_cookie,
    ui_socket,
)
from rest import cookie_headers, cookie_login

from models import Message, Room, User


@pytest.mark.gen_test(timeout=30)
async def test_a_send_from_an_account_switched_off_under_an_open_socket_is_refused(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ws = await ui_socket(alice, uri)
    send(ws, {"type": "send", "uri": uri, "client_id": "a-1", "text": "first"})
    assert (await read_type(ws, "ack", skip=("message",)))["duplicate"] is False
    # Straight in the database, so that nothing closes the socket first.
    User.update(is_active=False).where(User.id == alice.id).execute()
    send(ws, {"type": "send", "uri": uri, "client_id": "a-2", "text": "second", "ref": "r"})
    error = await read_type(ws, "error")
    assert (error["type"], error["code"], error["ref"]) == ("error", "forbidden", "r")
    assert [m.text for m in Message.select()] == ["first"]


@pytest.mark.gen_test(timeout=30)
async def test_a_send_to_a_room_that_does_not_exist_is_not_found_and_stores_nothing(api):
    alice, _, uri = await chat_between(api, "alice", "bob")
    ws = await ui_socket(alice, uri)
    # "\ud800" travels as a JSON escape of a lone surrogate, which no UTF-8 text holds.
    for name in ("no-such-room", 7, None, "\ud800"):
        send(
            ws, {"type": "send", "uri": name, "client_id": "x-1", "text": "hi", "ref": "n"}
        )
        error = await read_type(ws, "error")
        assert (error["type"], error["code"], error["ref"]) == ("error", "not_found", "n")
    assert Message.select().count() == 0


@pytest.mark.gen_test(timeout=30)
async def test_a_client_id_reused_in_another_room_over_the_socket_is_refused(api):
    alice, _, uri = await chat_between(api, "alice", "bob")
    other = await alice.start_chat("elsewhere")
    ws = await ui_socket(alice, uri, other)
    send(ws, {"type": "send", "uri": uri, "client_id": "same", "text": "here"})
    ack = await read_type(ws, "ack", skip=("message",))
    send(
        ws, {"type": "send", "uri": other, "client_id": "same", "text": "there", "ref": "o"}
    )
    error = await read_type(ws, "error")
    assert (error["type"], error["code"], error["ref"]) == ("error", "invalid", "o")
    assert "client_id" in error["detail"]
    assert [(m.id, m.text) for m in Message.select()] == [(ack["id"], "here")]


@pytest.mark.gen_test(timeout=30)
async def test_a_ref_that_cannot_be_echoed_is_refused_and_the_socket_stays_open(api):
    alice, _, uri = await chat_between(api, "alice", "bob")
    ws = await ui_socket(alice, uri)
    bad_refs = ("\ud800", "x" * 65, 2**60, 1.5, [1], {"a": 1}, True)
    for ref in bad_refs:
        for kind in ("ping", "no-such-type", "send"):
            send(
                ws, {"type": kind, "uri": uri, "client_id": "c-1", "text": "hi", "ref": ref}
            )
            error = await read_type(ws, "error")
            assert (error["code"], error["ref"]) == ("invalid", None)
    assert Message.select().count() == 0
    # Still open, and still answering refs it can echo.
    for ref in ("r-1", 42, "é" * 64):
        send(ws, {"type": "ping", "ref": ref})
        assert (await read_type(ws, "pong"))["ref"] == ref


async def frames_until(ws, predicate, limit=20):
    for _ in range(limit):
        raw = await ws.read_message()
        assert raw is not None, "socket closed"
        frame = json.loads(raw)
        if predicate(frame):
            return frame
    raise AssertionError("frame not seen")


@pytest.mark.gen_test
async def test_a_closed_socket_takes_its_user_offline_for_the_others(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    uri = await ada.start_chat("lobby")
    await bob.join(uri)
    ada_ws, bob_ws = await ada.socket(), await bob.socket()
    for ws in (ada_ws, bob_ws):
        await ws.read_message()  # hello
        ws.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    await frames_until(
        ada_ws, lambda f: f.get("type") == "presence" and bob.id in f["came_online"]
    )
    bob_ws.close()
    frame = await frames_until(
        ada_ws, lambda f: f.get("type") == "presence" and f["went_offline"] == [bob.id]
    )
    assert (frame["uri"], frame["came_online"]) == (uri, [])


def server_side_sockets(app):
    return [c.ws_connection.stream.socket for c in app.messenger.hub.connections()]


@pytest.mark.gen_test
async def test_both_websockets_send_small_frames_without_waiting_for_the_clients_ack(
    app, api
):
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


@pytest.mark.gen_test(timeout=30)
async def test_a_socket_opened_before_the_join_call_joins_and_hears_everything(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uri = await alice.start_chat()
    watcher = await ui_socket(alice, uri)
    ws = await bob.socket(f"/ws/chat/{uri}")
    await alice.say(uri, "are you there?")
    assert (await read(ws))["message"] == "are you there?"
    joined = await read_type(watcher, "member")
    assert (joined["event"], joined["user"]["username"]) == ("joined", "bob")
    await bob.join(uri)  # the PATCH arriving late changes nothing more
    assert [f for f in await drain(watcher) if f["type"] == "member"] == []
    assert [m["message"] for m in await bob.history(uri)] == ["are you there?"]


@pytest.mark.gen_test(timeout=30)
async def test_opening_the_socket_after_a_removal_is_refused_as_the_join_call_is(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uri = await alice.start_chat()
    await bob.join(uri)
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    status, _ = await bob.call("PATCH", f"/api/chats/{uri}/", {})
    assert status == 403
    assert await handshake_status(api, f"/ws/chat/{uri}", token=bob.token) == 403
    assert not User.by_username("bob").is_member(Room.by_uri(uri))


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
    assert (
        await handshake_status(
            api,
            "/ws",
            Cookie=cookie,
            Origin=api.base_url,
            **{"Sec-WebSocket-Protocol": "chatbox, token.wrong"},
        )
        == 401
    )
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


@pytest.mark.sqlite_only
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


@pytest.mark.gen_test(timeout=30)
async def test_other_http_methods_on_the_web_apps_socket_are_refused_not_run(api):
    # The socket's frame actions ("delete", ...) are methods of its handler; none may
    # be taken for the answer to an HTTP method of the same name.
    await api.signup("alice")
    status, _, session = await cookie_login(api, "alice")
    headers = dict(cookie_headers(session), Upgrade="websocket", Connection="Upgrade")
    for method in ("DELETE", "PATCH", "PUT", "POST"):
        status, data = await api.call(method, "/ws", headers=headers)
        assert status == 405, (method, data)
