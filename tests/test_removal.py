"""Removal sticks, members add people back, and a private chat's address can change.

The owner's removal keeps someone out whichever way they try the link (the REST join,
the room socket, the web app opening the chat, opening a named room by its name) until
a member adds them back; leaving by oneself is not a removal. When a link leaks, the
owner gives the chat a new address: the old one leads nowhere, and every member's open
sockets follow to the new one.
"""

import pytest
from conftest import XSRF
from realtime import (
    chat_between,
    drain,
    handshake_status,
    presence_settled,
    read,
    read_type,
    room_socket,
    send,
    session_cookie,
    subscribe,
    ui_socket,
)

from models import Room, User

REMOVED = "You were removed from this chat; ask a member to add you back."
# Anyone may join a named room, so only its owner can let a removed person back in.
REMOVED_FROM_ROOM = "You were removed from this chat; ask its owner to add you back."


def browser_headers(cookie, api):
    """What the web app sends: its session cookie, the XSRF pair, its own Origin."""
    return {
        "Cookie": f"{cookie}; _xsrf={XSRF}",
        "X-XSRFToken": XSRF,
        "Origin": api.base_url,
    }


async def removed_by_owner(owner, person, uri):
    status, _ = await owner.call("DELETE", f"/api/chats/{uri}/members/{person.username}/")
    assert status == 204


async def member_names(person, uri):
    status, chat = await person.call("GET", f"/api/chats/{uri}/")
    assert status == 200, chat
    return [m["username"] for m in chat["members"]]


async def chat_uris(person):
    status, data = await person.call("GET", "/api/chats/")
    assert status == 200
    return [c["uri"] for c in data["chats"]]


# --- The owner's removal sticks --------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_member_cannot_join_again_by_the_link(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await removed_by_owner(alice, bob, uri)
    for body in ({}, {"username": "bob"}):
        status, data = await bob.call("PATCH", f"/api/chats/{uri}/", body)
        assert (status, data) == (403, {"detail": REMOVED})
    assert await member_names(alice, uri) == ["alice"]
    # Whatever a client tries next, the refusal says why.
    for method, path in (
        ("GET", f"/api/chats/{uri}/"),
        ("GET", f"/api/chats/{uri}/messages/"),
        ("POST", f"/api/chats/{uri}/messages/"),
    ):
        body = {"message": "let me in"} if method == "POST" else None
        assert await bob.call(method, path, body) == (403, {"detail": REMOVED})


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_member_cannot_come_back_through_the_room_socket(api, app):
    alice, bob, carol = [await api.signup(n) for n in ("alice", "bob", "carol")]
    await alice.start_chat("general")
    await bob.join("general")
    private = await alice.start_chat()
    await bob.join(private)
    for uri in ("general", private):
        await removed_by_owner(alice, bob, uri)
        assert await handshake_status(api, f"/ws/chat/{uri}/", token=bob.token) == 403
        assert await member_names(alice, uri) == ["alice"]
    # The named room still opens for everyone else on connect.
    ws = await room_socket(carol, "general")
    send(ws, {"message": "hello"})
    assert (await read(ws))["message"] == "hello"
    assert await member_names(alice, "general") == ["alice", "carol"]


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_member_cannot_reopen_a_named_room_by_its_name(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    await alice.start_chat("general")
    await bob.join("general")
    await removed_by_owner(alice, bob, "general")
    status, data = await bob.call("POST", "/api/chats/", {"name": "General"})
    assert (status, data) == (403, {"detail": REMOVED_FROM_ROOM})
    status, data = await bob.call("PATCH", "/api/chats/general/", {})
    assert (status, data) == (403, {"detail": REMOVED_FROM_ROOM})
    assert await member_names(alice, "general") == ["alice"]


@pytest.mark.gen_test(timeout=30)
async def test_the_web_app_opening_the_chat_again_finds_it_refused_not_rejoined(api):
    # The web app, on opening /chats/<uri>/ (a reload, the link again): reads the chat
    # list, joins if the chat is not in it, then reads the chat.
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await removed_by_owner(alice, bob, uri)
    headers = browser_headers(await session_cookie(api, "bob"), api)
    for _ in range(2):
        status, data = await api.call("GET", "/api/chats/", headers=headers)
        assert status == 200 and uri not in [c["uri"] for c in data["chats"]]
        status, data = await api.call("PATCH", f"/api/chats/{uri}/", {}, headers=headers)
        assert (status, data) == (403, {"detail": REMOVED})
        status, data = await api.call("GET", f"/api/chats/{uri}/", headers=headers)
        assert (status, data) == (403, {"detail": REMOVED})
    assert await member_names(alice, uri) == ["alice"]


@pytest.mark.gen_test(timeout=30)
async def test_the_removed_frame_tells_a_removal_from_leaving(api):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    b = await ui_socket(bob, uri)
    c = await ui_socket(carol, uri)
    await removed_by_owner(alice, bob, uri)
    assert await read_type(b, "removed") == {
        "type": "removed",
        "uri": uri,
        "reason": "removed",
    }
    status, _ = await carol.call("DELETE", f"/api/chats/{uri}/members/carol/")
    assert status == 204
    assert await read_type(c, "removed") == {
        "type": "removed",
        "uri": uri,
        "reason": "left",
    }


# --- Adding people, and adding them back ----------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_any_member_may_add_a_removed_person_back_and_then_the_link_works_again(
    api, app
):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    await alice.say(uri, "before")
    await removed_by_owner(alice, bob, uri)
    watcher = await ui_socket(alice, uri)
    await presence_settled(app)
    await drain(watcher)
    status, data = await carol.call(
        "POST", f"/api/chats/{uri}/members/", {"username": "Bob"}
    )
    assert status == 201
    assert data["message"] == "carol added bob to the chat"
    assert data["user"]["username"] == "bob"
    assert [m["username"] for m in data["members"]] == ["alice", "carol", "bob"]
    joined = await read_type(watcher, "member")
    assert (joined["event"], joined["user"]["username"]) == ("joined", "bob")
    assert uri in await chat_uris(bob)
    assert [m["message"] for m in await bob.history(uri)] == ["before"]
    # The removal is lifted, not just skipped once: leaving and coming back by the link
    # works like for anyone.
    status, _ = await bob.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    await bob.join(uri)
    ws = await ui_socket(bob, uri)
    send(ws, {"type": "send", "uri": uri, "client_id": "b-1", "text": "back"})
    assert (await read_type(ws, "ack", skip=("message",)))["duplicate"] is False


@pytest.mark.gen_test(timeout=30)
async def test_only_the_owner_of_a_named_room_may_add_back_someone_they_removed(api):
    # Anyone may join a named room: were any member allowed to, a removed person's
    # friend could join and let them in again.
    alice, bob, carol = [await api.signup(n) for n in ("alice", "bob", "carol")]
    await alice.start_chat("general")
    await bob.join("general")
    await carol.join("general")
    await removed_by_owner(alice, bob, "general")
    status, data = await carol.call(
        "POST", "/api/chats/general/members/", {"username": "bob"}
    )
    assert (status, data) == (
        403,
        {"detail": "Only the owner can add back someone they removed."},
    )
    assert await member_names(alice, "general") == ["alice", "carol"]
    # Anyone else a member may add, as they could join by themselves.
    dave = await api.signup("dave")
    status, _ = await carol.call(
        "POST", "/api/chats/general/members/", {"username": "dave"}
    )
    assert status == 201
    status, _ = await alice.call("POST", "/api/chats/general/members/", {"username": "bob"})
    assert status == 201
    assert await member_names(dave, "general") == ["alice", "carol", "dave", "bob"]
    # The owner's adding lifted the removal: the room socket lets bob in.
    ws = await room_socket(bob, "general")
    send(ws, {"message": "thanks"})
    assert (await read(ws))["message"] == "thanks"


@pytest.mark.gen_test(timeout=30)
async def test_adding_someone_already_in_the_chat_changes_nothing(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    watcher = await ui_socket(alice, uri)
    await presence_settled(app)
    await drain(watcher)
    status, data = await alice.call(
        "POST", f"/api/chats/{uri}/members/", {"username": "bob"}
    )
    assert status == 200 and data["message"] == "bob is already in the chat"
    assert [f for f in await drain(watcher) if f["type"] == "member"] == []


@pytest.mark.gen_test(timeout=30)
async def test_only_a_member_may_add_people_and_only_people_with_an_account(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    mallory = await api.signup("mallory")
    status, _ = await mallory.call(
        "POST", f"/api/chats/{uri}/members/", {"username": "mallory"}
    )
    assert status == 403
    status, _ = await api.call("POST", f"/api/chats/{uri}/members/", {"username": "bob"})
    assert status == 401
    status, _ = await alice.call("POST", "/api/chats/nowhere/members/", {"username": "bob"})
    assert status == 404
    for body, errors in (
        ({}, {"username": ["This field is required."]}),
        ({"username": "nobody"}, {"username": ["There is no account with that username."]}),
        ({"username": 7}, {"username": ["There is no account with that username."]}),
    ):
        assert await alice.call("POST", f"/api/chats/{uri}/members/", body) == (400, errors)
    status, _ = await alice.call(
        "POST",
        f"/api/chats/{uri}/members/",
        raw="{",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    # A switched-off account cannot be added either.
    await app.messenger.writer.run(
        lambda: User.update(is_active=False).where(User.id == mallory.id).execute()
    )
    status, data = await alice.call(
        "POST", f"/api/chats/{uri}/members/", {"username": "mallory"}
    )
    assert (status, data) == (
        400,
        {"username": ["There is no account with that username."]},
    )
    assert await member_names(alice, uri) == ["alice", "bob"]


@pytest.mark.gen_test(timeout=30)
async def test_leaving_by_oneself_is_not_a_removal(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await alice.start_chat("general")
    await bob.join("general")
    for room in (uri, "general"):
        status, _ = await bob.call("DELETE", f"/api/chats/{room}/members/bob/")
        assert status == 204
    await bob.join(uri)
    ws = await room_socket(bob, "general")
    send(ws, {"message": "back"})
    assert (await read(ws))["message"] == "back"
    assert await member_names(alice, uri) == ["alice", "bob"]
    assert await member_names(alice, "general") == ["alice", "bob"]


# --- A new address for a private chat -------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_new_address_retires_the_old_one_everywhere(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    mallory = await api.signup("mallory")
    await alice.say(uri, "kept")
    status, data = await alice.call("POST", f"/api/chats/{uri}/address/")
    assert status == 200
    new = data["uri"]
    assert data["old_uri"] == uri and data["chat"]["uri"] == new
    assert new != uri and len(new) == 32 and int(new, 16) >= 0
    for person in (alice, bob, mallory):
        for method, path in (
            ("GET", f"/api/chats/{uri}/"),
            ("PATCH", f"/api/chats/{uri}/"),
            ("GET", f"/api/chats/{uri}/messages/"),
            ("POST", f"/api/chats/{uri}/members/"),
        ):
            status, _ = await person.call(method, path, {} if method != "GET" else None)
            assert status == 404, (person.username, method, path)
        assert await handshake_status(api, f"/ws/chat/{uri}/", token=person.token) == 404
        assert (
            await handshake_status(api, f"/ws/chat/{uri.upper()}/", token=person.token)
            == 404
        )
        ws = await ui_socket(person)
        send(ws, {"type": "subscribe", "uri": uri, "ref": 1})
        assert (await read(ws))["code"] == "not_found"
        # Nor can anyone take the old address as a room name.
        status, data = await person.call("POST", "/api/chats/", {"name": uri})
        assert status == 400 and "name" in data
    assert Room.by_uri(uri) is None
    assert [m["message"] for m in await bob.history(new)] == ["kept"]
    assert await member_names(bob, new) == ["alice", "bob"]
    status, _ = await mallory.call("PATCH", f"/api/chats/{new}/", {})
    assert status == 200  # the new link works like any link


@pytest.mark.gen_test(timeout=30)
async def test_members_open_sockets_follow_the_chat_to_its_new_address(api, app):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    await alice.start_chat("general")
    await carol.join("general")
    first = await alice.say(uri, "one")
    subscribed = await ui_socket(bob, uri)
    elsewhere = await ui_socket(bob)  # a tab that has not subscribed to the chat
    seed = await room_socket(bob, uri)
    mallory = await api.signup("mallory")
    await mallory.join("general")
    outsider = await ui_socket(mallory, "general")
    await presence_settled(app)
    for ws in (subscribed, elsewhere, outsider):
        await drain(ws)

    status, data = await alice.call("POST", f"/api/chats/{uri}/address/")
    assert status == 200
    new = data["uri"]
    # The chat's fifth event: alice started it, bob and carol joined, alice said "one".
    moved = {"type": "moved", "uri": uri, "new_uri": new, "seq": 5}
    assert await read_type(subscribed, "moved") == moved
    assert await read_type(elsewhere, "moved") == moved
    assert [f for f in await drain(outsider) if f["type"] == "moved"] == []

    # Still subscribed, by room: new messages arrive with the new address.
    await carol.say(new, "two")
    message = await read_type(subscribed, "message")
    assert (message["uri"], message["message"]) == (new, "two")
    echo = await read(seed)
    assert (echo["uri"], echo["message"]) == (new, "two")
    send(subscribed, {"type": "send", "uri": new, "client_id": "b-1", "text": "three"})
    ack = await read_type(subscribed, "ack", skip=("message",))
    assert ack["uri"] == new and ack["duplicate"] is False
    send(seed, {"message": "four"})
    # The seed socket's echo is its acknowledgement; "three" comes before it.
    assert [(await read(seed))["message"] for _ in range(2)] == ["three", "four"]
    assert [m["message"] for m in await alice.history(new)] == [
        "one",
        "two",
        "three",
        "four",
    ]
    # Resuming on the new address replays from the id the client kept.
    await subscribe(elsewhere, new, after=first["id"])
    replay = [(await read_type(elsewhere, "message"))["message"] for _ in range(3)]
    assert replay == ["two", "three", "four"]

    # Presence about the chat carries the new address too.
    seed.close()
    subscribed.close()
    elsewhere.close()
    watcher = await ui_socket(carol, new)
    await presence_settled(app)
    await drain(watcher)
    listener = await ui_socket(alice, new)
    presence = await read_type(watcher, "presence")
    assert presence["uri"] == new and alice.id in presence["came_online"]
    listener.close()


@pytest.mark.gen_test(timeout=30)
async def test_members_keep_their_unread_counts_across_a_new_address(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    seen = await alice.say(uri, "read this")
    status, _ = await bob.call("POST", f"/api/chats/{uri}/read/", {"id": seen["id"]})
    assert status == 200
    await alice.say(uri, "not yet read")
    status, data = await alice.call("POST", f"/api/chats/{uri}/address/")
    new = data["uri"]
    status, data = await bob.call("GET", "/api/chats/")
    [chat] = data["chats"]
    assert (chat["uri"], chat["last_read_id"], chat["unread"]) == (new, seen["id"], 1)


@pytest.mark.gen_test(timeout=30)
async def test_only_the_owner_may_change_the_address_and_only_of_a_private_chat(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    mallory = await api.signup("mallory")
    status, data = await bob.call("POST", f"/api/chats/{uri}/address/")
    assert (status, data) == (403, {"detail": "Only the owner can change the address."})
    status, _ = await mallory.call("POST", f"/api/chats/{uri}/address/")
    assert status == 403
    status, _ = await api.call("POST", f"/api/chats/{uri}/address/")
    assert status == 401
    status, _ = await alice.call("POST", "/api/chats/nowhere/address/")
    assert status == 404
    await alice.start_chat("general")
    status, data = await alice.call("POST", "/api/chats/general/address/")
    assert (status, data) == (400, {"detail": "Only a private chat's address can change."})
    assert await chat_uris(bob) == [uri]
    status, _ = await alice.call("GET", "/api/chats/general/")
    assert status == 200


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_member_does_not_hear_of_the_new_address(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ws = await ui_socket(bob, uri)
    await removed_by_owner(alice, bob, uri)
    await read_type(ws, "removed")
    status, _ = await alice.call("POST", f"/api/chats/{uri}/address/")
    assert status == 200
    assert [f for f in await drain(ws) if f["type"] == "moved"] == []
