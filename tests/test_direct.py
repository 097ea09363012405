"""Direct chats: one chat per pair of people, opened from either side, that nobody else
can get into, name, or be removed from, and that either person may leave and reopen."""

import pytest
from realtime import drain, handshake_status, read_type, send, ui_socket
from rest import snapshot

from models import Room


async def open_direct(person, username):
    return await person.call("POST", "/api/direct/", {"username": username})


async def direct_between(api, one, other):
    first, second = await api.signup(one), await api.signup(other)
    status, chat = await open_direct(first, other)
    assert status == 201, chat
    return first, second, chat["uri"]


@pytest.mark.gen_test(timeout=30)
async def test_both_people_open_the_same_direct_chat_created_once(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    status, mine = await open_direct(alice, "bob")
    assert status == 201
    assert (mine["kind"], mine["name"], mine["is_private"]) == ("direct", None, True)
    assert mine["direct_with"]["id"] == bob.id
    assert "email" not in mine["direct_with"]
    status, theirs = await open_direct(bob, "ALICE")
    assert status == 200 and theirs["uri"] == mine["uri"]
    assert theirs["kind"] == "direct" and theirs["direct_with"]["id"] == alice.id
    status, again = await open_direct(alice, " bob ")
    assert status == 200 and again["uri"] == mine["uri"]
    assert Room.select().where(Room.direct_key.is_null(False)).count() == 1
    for person in (alice, bob):
        status, data = await person.call("GET", "/api/chats/")
        assert [c["uri"] for c in data["chats"]] == [mine["uri"]]


@pytest.mark.gen_test(timeout=30)
async def test_a_third_person_cannot_join_be_added_to_or_listen_to_a_direct_chat(api):
    alice, bob, uri = await direct_between(api, "alice", "bob")
    await alice.say(uri, "just us")
    carol = await api.signup("carol")
    before = snapshot()
    status, _ = await carol.call("PATCH", f"/api/chats/{uri}/", {})
    assert status == 403
    assert await handshake_status(api, f"/ws/chat/{uri}/", token=carol.token) == 403
    for member in (alice, bob):
        status, _ = await member.call(
            "POST", f"/api/chats/{uri}/members/", {"username": "carol"}
        )
        assert status == 403
    ws = await ui_socket(carol)
    send(ws, {"type": "subscribe", "uri": uri, "after": 0})
    error = await read_type(ws, "error")
    assert error["code"] == "forbidden"
    status, _ = await carol.call("GET", f"/api/chats/{uri}/messages/")
    assert status == 403
    assert snapshot() == before
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    assert [m["username"] for m in chat["members"]] == ["alice", "bob"]


@pytest.mark.gen_test(timeout=30)
async def test_a_direct_chat_has_no_name_to_give(api):
    alice, bob, uri = await direct_between(api, "alice", "bob")
    for person in (alice, bob):
        status, data = await person.call("PUT", f"/api/chats/{uri}/name/", {"name": "Us"})
        assert status == 400 and "name" in data
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    assert chat["name"] is None


@pytest.mark.gen_test(timeout=30)
async def test_nobody_is_removed_from_a_direct_chat_but_either_may_leave(api):
    alice, bob, uri = await direct_between(api, "alice", "bob")
    # alice opened it, so she is its owner: still she may not put bob out.
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 403
    await alice.say(uri, "before I go")
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/alice/")
    assert status == 204
    status, _ = await alice.call("GET", f"/api/chats/{uri}/messages/")
    assert status == 403
    await bob.say(uri, "still there?")
    status, _ = await bob.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    status, data = await bob.call("GET", "/api/chats/")
    assert data["chats"] == []

    status, back = await open_direct(alice, "bob")
    assert status == 200 and back["uri"] == uri
    for person in (alice, bob):
        assert [m["message"] for m in await person.history(uri)] == [
            "before I go",
            "still there?",
        ]
    status, chat = await bob.call("GET", f"/api/chats/{uri}/")
    assert [m["username"] for m in chat["members"]] == ["alice", "bob"]


@pytest.mark.gen_test(timeout=30)
async def test_a_direct_chat_with_oneself_or_with_no_active_account_is_refused(api):
    admin = await api.signup("admin")  # the box's first account
    alice = await api.signup("alice")
    await api.signup("gone")
    status, _ = await admin.call("POST", "/api/admin/users/gone/deactivate", {})
    assert status == 200
    before = snapshot()
    for username, expected in (
        ("alice", 400),
        ("Alice", 400),
        ("nobody", 404),
        ("gone", 404),
        ("", 400),
        (7, 400),
    ):
        status, data = await open_direct(alice, username)
        assert status == expected, (username, data)
    status, _ = await alice.call("POST", "/api/direct/", {})
    assert status == 400
    status, _ = await api.call("POST", "/api/direct/", {"username": "admin"})
    assert status == 401
    assert snapshot() == before


@pytest.mark.gen_test(timeout=30)
async def test_the_other_persons_open_socket_hears_of_the_new_direct_chat(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    ws = await ui_socket(bob)
    status, chat = await open_direct(alice, "bob")
    assert status == 201
    frame = await read_type(ws, "chat")
    assert frame["uri"] == chat["uri"]
    assert frame["chat"]["kind"] == "direct"
    assert frame["chat"]["direct_with"]["id"] == alice.id
    # Back after leaving: told again, since the chat is back in bob's list.
    await bob.call("DELETE", f"/api/chats/{chat['uri']}/members/bob/")
    await drain(ws)
    status, _ = await open_direct(alice, "bob")
    assert status == 200
    assert (await read_type(ws, "chat"))["uri"] == chat["uri"]
    # Opening it while both are in it tells nobody anything.
    await open_direct(alice, "bob")
    assert [f for f in await drain(ws) if f["type"] == "chat"] == []
