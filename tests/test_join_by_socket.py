"""A private chat's room socket is its join call: the address is the invitation.

A client may open the socket while its ``PATCH`` is still on the way; the socket joins
it through the same path the ``PATCH`` takes, so whatever rules decide who may join
(or come back) hold for both.
"""
import pytest

from models import Room, User
from realtime import closed, drain, handshake_status, read, read_type, ui_socket


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
