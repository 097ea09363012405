"""A private chat's room socket is its join call: the address is the invitation.

A client may open the socket while its ``PATCH`` is still on the way; the socket joins
it through the same path the ``PATCH`` takes, so whatever rules decide who may join
(or come back) hold for both.
"""
import pytest

from models import Room, User
from realtime import closed, drain, read, read_type, ui_socket


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
async def test_opening_the_socket_after_a_removal_does_what_the_join_call_does(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uri = await alice.start_chat()
    room = Room.by_uri(uri)

    async def remove_bob():
        await bob.join(uri)
        status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
        assert status == 204

    await remove_bob()
    status, _ = await bob.call("PATCH", f"/api/chats/{uri}/", {})
    by_patch = User.by_username("bob").is_member(room)
    assert by_patch == (status == 200)

    await remove_bob()
    # Accepted either way: whether bob may come back is decided after the upgrade.
    ws = await bob.socket(f"/ws/chat/{uri}")
    if by_patch:
        await alice.say(uri, "who is here?")
        assert (await read(ws))["message"] == "who is here?"
    else:
        await closed(ws)
    assert User.by_username("bob").is_member(room) == by_patch
