"""Chats and their members: starting, opening by name, joining, leaving, the chat list."""

import json
import re

import pytest
from rest import snapshot

import models


@pytest.mark.gen_test
async def test_someone_who_is_not_a_member_can_neither_read_nor_post(api):
    alice = await api.signup("alice")
    mallory = await api.signup("mallory")
    uri = await alice.start_chat()
    await alice.say(uri, "secret plans")
    before = snapshot()
    for method, path, body in [
        ("GET", f"/api/chats/{uri}/", None),
        ("GET", f"/api/chats/{uri}/messages/", None),
        ("POST", f"/api/chats/{uri}/messages/", {"message": "let me in"}),
        ("DELETE", f"/api/chats/{uri}/members/alice/", None),
    ]:
        status, data = await mallory.call(method, path, body)
        assert status == 403, (method, path)
        assert "secret plans" not in json.dumps(data)
    assert snapshot() == before
    assert [m["message"] for m in await alice.history(uri)] == ["secret plans"]


@pytest.mark.gen_test
async def test_a_join_that_names_another_user_is_refused_and_adds_no_one(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    mallory = await api.signup("mallory")
    uri = await alice.start_chat()
    before = snapshot()
    for body in (
        {"username": "bob"},
        {"username": "BOB"},
        {"username": 7},
        {"username": ["bob"]},
    ):
        status, data = await mallory.call("PATCH", f"/api/chats/{uri}/", body)
        assert status == 403, body
        assert data == {"detail": "You can only add yourself to a chat."}
    assert snapshot() == before
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    assert [m["username"] for m in chat["members"]] == ["alice"]
    assert (await bob.call("GET", f"/api/chats/{uri}/messages/"))[0] == 403
    # Naming oneself, in any case, is what Chatire's client did: allowed.
    status, _ = await bob.call("PATCH", f"/api/chats/{uri}/", {"username": "Bob"})
    assert status == 200


@pytest.mark.gen_test
async def test_joining_twice_changes_nothing(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    first = await bob.join(uri)
    memberships = models.Membership.select().count()
    second = await bob.join(uri)
    assert models.Membership.select().count() == memberships == 2
    assert first["members"] == second["members"]
    assert [m["username"] for m in second["members"]] == ["alice", "bob"]
    # The owner joining their own chat is just as harmless.
    await alice.join(uri)
    assert models.Membership.select().count() == 2


@pytest.mark.gen_test
async def test_the_member_list_puts_the_owner_first_then_joiners_in_order(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    carol = await api.signup("carol")
    # Bob owns the room although alice has the lower id.
    await bob.start_chat("club")
    await carol.join("club")
    await alice.join("club")
    status, chat = await alice.call("GET", "/api/chats/club/")
    assert status == 200
    assert [m["username"] for m in chat["members"]] == ["bob", "carol", "alice"]
    assert chat["owner"]["username"] == "bob"
    assert chat["member_count"] == 3
    assert all(m["online"] is False for m in chat["members"])


@pytest.mark.gen_test
async def test_a_member_may_leave_and_only_the_owner_may_remove_others(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    carol = await api.signup("carol")
    uri = await alice.start_chat()
    await bob.join(uri)
    await carol.join(uri)
    status, _ = await bob.call("DELETE", f"/api/chats/{uri}/members/carol/")
    assert status == 403
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/alice/")
    assert status == 403  # the owner cannot leave
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/nobody/")
    assert status == 404
    assert models.Membership.select().count() == 3
    status, _ = await carol.call("DELETE", f"/api/chats/{uri}/members/carol/")
    assert status == 204
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    assert models.Membership.select().count() == 1
    for person in (bob, carol):
        status, _ = await person.call("GET", f"/api/chats/{uri}/messages/")
        assert status == 403


@pytest.mark.gen_test
async def test_an_unknown_chat_uri_is_404_on_every_chat_route(api):
    alice = await api.signup("alice")
    before = snapshot()
    for uri in ("nope", "0" * 32, "%00", "a%2Fb"):
        for method, path, body in [
            ("GET", f"/api/chats/{uri}/", None),
            ("PATCH", f"/api/chats/{uri}/", {}),
            ("GET", f"/api/chats/{uri}/messages/", None),
            ("POST", f"/api/chats/{uri}/messages/", {"message": "anyone?"}),
            ("DELETE", f"/api/chats/{uri}/members/alice/", None),
        ]:
            status, data = await alice.call(method, path, body)
            assert status == 404, (method, path)
            assert data == {"detail": "Not found."}
    assert snapshot() == before


@pytest.mark.gen_test
async def test_invalid_room_names_are_refused_and_create_nothing(api):
    alice = await api.signup("alice")
    before = snapshot()
    for name in (
        "has space",
        "-dash-first",
        "a" * 65,
        "ünïcode",
        "a/b",
        "../x",
        "x!",
        123,
        ["general"],
        {"n": 1},
        True,
    ):
        status, data = await alice.call("POST", "/api/chats/", {"name": name})
        assert status == 400, name
        assert "name" in data
    for raw in ("{bad", "[]", '"general"'):
        status, _ = await alice.call("POST", "/api/chats/", raw=raw)
        assert status == 400, raw
    assert snapshot() == before
    status, data = await alice.call("GET", "/api/chats/")
    assert data == {"chats": [], "next": None}


@pytest.mark.gen_test
async def test_a_room_name_is_case_insensitive(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    assert await alice.start_chat("General") == "general"
    status, data = await bob.call("POST", "/api/chats/", {"name": "GENERAL"})
    assert status == 200
    assert data["uri"] == "general"
    assert data["message"] == "Joined the chat general"
    assert models.Room.select().count() == 1


@pytest.mark.gen_test
async def test_a_malformed_join_is_refused_and_adds_no_one(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    for raw in ("{oops", "[]", "7"):
        status, _ = await bob.call("PATCH", f"/api/chats/{uri}/", raw=raw)
        assert status == 400
    assert models.Membership.select().count() == 1


@pytest.mark.gen_test
async def test_a_private_session_uri_is_random_and_a_named_rooms_uri_is_its_name(api):
    alice = await api.signup("alice")
    uris = [await alice.start_chat() for _ in range(8)]
    for uri in uris:
        # 32 hex digits: 128 bits, twice the 64 the design asks for.
        assert re.fullmatch(r"[0-9a-f]{32}", uri), uri
    assert len(set(uris)) == len(uris)
    # No shared prefix or suffix, as a counter or a timestamp would leave.
    assert len({u[:8] for u in uris}) == len(uris)
    assert len({u[-8:] for u in uris}) == len(uris)
    digits = "".join(uris)
    assert len(set(digits)) >= 12
    status, opened = await alice.call("POST", "/api/chats/", {"name": "book-club"})
    assert status == 201
    assert opened["uri"] == "book-club"
    assert opened["chat"]["name"] == "book-club" and opened["chat"]["is_private"] is False
    status, opened = await alice.call("POST", "/api/chats/", {"name": ""})
    assert status == 201 and opened["chat"]["is_private"] is True
    assert opened["chat"]["name"] is None


@pytest.mark.gen_test
async def test_the_chat_list_shows_only_the_callers_chats_with_last_message_and_count(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    carol = await api.signup("carol")
    shared = await alice.start_chat()
    await bob.join(shared)
    await alice.say(shared, "first")
    await bob.say(shared, "latest")
    quiet = await alice.start_chat("quiet")
    carols = await carol.start_chat()
    await carol.say(carols, "carol's own")

    status, data = await alice.call("GET", "/api/chats/")
    assert status == 200
    chats = {c["uri"]: c for c in data["chats"]}
    assert set(chats) == {shared, quiet}
    assert [c["uri"] for c in data["chats"]] == [quiet, shared]  # newest first
    assert chats[shared]["member_count"] == 2
    assert chats[shared]["last_message"]["message"] == "latest"
    assert chats[shared]["last_message"]["user"]["username"] == "bob"
    assert chats[quiet]["member_count"] == 1
    assert chats[quiet]["last_message"] is None
    status, data = await bob.call("GET", "/api/chats/")
    assert [c["uri"] for c in data["chats"]] == [shared]
