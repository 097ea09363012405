"""Every send is checked again against the database, not against what the socket saw
when it opened: the room, the membership and the account's state."""
import pytest

from models import Message, User
from realtime import chat_between, read_type, send, ui_socket


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
        send(ws, {"type": "send", "uri": name, "client_id": "x-1", "text": "hi", "ref": "n"})
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
    send(ws, {"type": "send", "uri": other, "client_id": "same", "text": "there", "ref": "o"})
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
            send(ws, {"type": kind, "uri": uri, "client_id": "c-1", "text": "hi", "ref": ref})
            error = await read_type(ws, "error")
            assert (error["code"], error["ref"]) == ("invalid", None)
    assert Message.select().count() == 0
    # Still open, and still answering refs it can echo.
    for ref in ("r-1", 42, "é" * 64):
        send(ws, {"type": "ping", "ref": ref})
        assert (await read_type(ws, "pong"))["ref"] == ref
