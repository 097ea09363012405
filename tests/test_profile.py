"""One's own account: a display name shown everywhere one is, a password one can change
(and with it end one's other logins), and the directory of people on the box."""

import pytest
import tornado.httpclient
from conftest import PASSWORD
from realtime import chat_between, closed, drain, read, ui_socket
from rest import PUBLIC_USER_FIELDS

from models import User

NEW_PASSWORD = "a new and better password"


async def set_display_name(person, name, path="/api/me/"):
    return await person.call("PATCH", path, {"display_name": name})


async def log_in(api, username, password):
    status, data = await api.call(
        "POST", "/auth/token/login/", {"username": username, "password": password}
    )
    return status, data and data.get("auth_token")


async def change_password(person, current, new, **extra):
    return await person.call(
        "POST",
        "/api/me/password/",
        dict(extra, current_password=current, new_password=new),
    )


# --- Display names ----------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_display_name_is_tidied_and_shows_on_messages_and_member_lists(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    status, me = await set_display_name(alice, "  Alice \t  L.  ")
    assert status == 200 and me["display_name"] == "Alice L." and me["email"] == ""
    await alice.say(uri, "hello")
    [said] = await bob.history(uri)
    assert said["user"]["display_name"] == "Alice L."
    status, chat = await bob.call("GET", f"/api/chats/{uri}/")
    assert {m["username"]: m["display_name"] for m in chat["members"]} == {
        "alice": "Alice L.",
        "bob": "",
    }
    # Without the trailing slash too, and "" goes back to the username.
    status, me = await set_display_name(alice, "", path="/api/me")
    assert status == 200 and me["display_name"] == ""
    assert (await bob.history(uri))[0]["user"]["display_name"] == ""


@pytest.mark.gen_test(timeout=30)
async def test_a_display_name_too_long_or_with_hidden_characters_changes_nothing(api):
    alice = await api.signup("alice")
    status, _ = await set_display_name(alice, "Z" * 64)
    assert status == 200
    for name in ("Z" * 65, "Ali\u200bce", "\u202eecila", "Alice\x00", 7, None, ["Al"]):
        status, data = await set_display_name(alice, name)
        assert status == 400 and "display_name" in data, name
    assert User.get_by_id(alice.id).display_name == "Z" * 64
    # A body without the field changes nothing, and says so by returning the account.
    status, me = await alice.call("PATCH", "/api/me/", {})
    assert status == 200 and me["display_name"] == "Z" * 64


# --- The directory ----------------------------------------------------------------------


async def find(person, query=""):
    status, data = await person.call("GET", f"/api/users/{query}")
    assert status == 200, data
    return [user["username"] for user in data["users"]]


@pytest.mark.gen_test(timeout=30)
async def test_the_directory_finds_people_by_username_or_display_name_in_any_case(api):
    admin = await api.signup("admin")
    alice, bob = await api.signup("alice"), await api.signup("bob")
    await api.signup("Bobby")
    await set_display_name(alice, "Zoë Ålund")
    assert await find(bob, "?q=zo%C3%8B") == ["alice"]  # "zoË"
    assert await find(bob, "?q=%C3%A5LUND") == ["alice"]  # "åLUND"
    assert await find(bob, "?q=BOB") == ["bob", "Bobby"]
    assert await find(bob, "?q=nobody") == []
    assert await find(bob) == ["admin", "alice", "bob", "Bobby"]
    status, data = await bob.call("GET", "/api/users/?q=ali")
    assert [set(user) for user in data["users"]] == [PUBLIC_USER_FIELDS]
    status, _ = await admin.call("POST", "/api/admin/users/alice/deactivate", {})
    assert status == 200
    assert await find(bob, "?q=zo%C3%AB") == []
    assert "alice" not in await find(bob)


@pytest.mark.gen_test(timeout=30)
async def test_the_directory_pages_by_limit_refuses_long_queries_and_needs_a_login(api):
    alice = await api.signup("alice")
    for name in ("bob", "carol", "dave"):
        await api.signup(name)
    assert await find(alice, "?limit=2") == ["alice", "bob"]
    assert await find(alice, "?q=a&limit=1") == ["alice"]
    assert await find(alice, "?q=" + "a" * 64) == []
    for query in ("?q=" + "a" * 65, "?limit=0", "?limit=201", "?limit=two"):
        status, data = await alice.call("GET", f"/api/users/{query}")
        assert status == 400 and data, query
    status, _ = await api.call("GET", "/api/users/")
    assert status == 401


# --- Passwords --------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_wrong_current_password_or_a_short_new_one_changes_nothing(api):
    alice = await api.signup("alice")
    before = User.get_by_id(alice.id).password_hash
    status, data = await change_password(alice, "not my password", NEW_PASSWORD)
    assert status == 400 and "current_password" in data
    status, data = await change_password(alice, PASSWORD, "short")
    assert status == 400 and "new_password" in data
    status, data = await change_password(alice, PASSWORD, NEW_PASSWORD, log_out_others=1)
    assert status == 400 and "log_out_others" in data
    status, data = await alice.call("POST", "/api/me/password/", {})
    assert status == 400
    assert User.get_by_id(alice.id).password_hash == before
    assert (await log_in(api, "alice", PASSWORD))[0] == 200
    assert (await log_in(api, "alice", NEW_PASSWORD))[0] == 400


@pytest.mark.gen_test(timeout=30)
async def test_a_new_password_keeps_every_login_unless_asked_to_end_the_others(api):
    alice = await api.signup("alice")
    _, other_token = await log_in(api, "alice", PASSWORD)
    status, data = await change_password(alice, PASSWORD, NEW_PASSWORD)
    assert status == 200 and data == {"detail": "Password changed."}
    for token in (alice.token, other_token):
        assert (await api.call("GET", "/api/me/", token=token))[0] == 200
    assert (await log_in(api, "alice", PASSWORD))[0] == 400
    assert (await log_in(api, "alice", NEW_PASSWORD))[0] == 200
    status, _ = await api.call("GET", "/api/me/password/", token=alice.token)
    assert status == 405


@pytest.mark.gen_test(timeout=30)
async def test_ending_the_other_logins_closes_their_sockets_and_keeps_this_one(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    _, other_token = await log_in(api, "alice", PASSWORD)
    other = await api.socket("/ws", token=other_token)
    assert (await read(other))["type"] == "hello"
    other_room = await api.socket(f"/ws/chat/{uri}/", token=other_token)
    mine = await ui_socket(alice, uri)
    status, _ = await change_password(alice, PASSWORD, NEW_PASSWORD, log_out_others=True)
    assert status == 200
    assert await closed(other) == 4401
    assert await closed(other_room) == 4401
    assert (await api.call("GET", "/api/me/", token=other_token))[0] == 401
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await api.socket("/ws", token=other_token)
    assert refused.value.code == 401
    # The login that asked carries on, its open socket too.
    assert (await alice.call("GET", "/api/me/"))[0] == 200
    await bob.say(uri, "still with you")
    assert [f["message"] for f in await drain(mine) if f["type"] == "message"] == [
        "still with you"
    ]
    # Other people's logins are none of this.
    assert (await bob.call("GET", "/api/me/"))[0] == 200


@pytest.mark.gen_test(timeout=30)
async def test_guessing_the_current_password_is_throttled_like_a_login(api):
    alice = await api.signup("alice")
    statuses = [
        (await change_password(alice, f"guess number {i}", NEW_PASSWORD))[0]
        for i in range(6)
    ]
    assert statuses == [400] * 5 + [429]
    assert int(api.last_response.headers["Retry-After"]) > 0
    # Even the right password waits now: that is what stops the guessing.
    status, _ = await change_password(alice, PASSWORD, NEW_PASSWORD)
    assert status == 429
    assert User.get_by_id(alice.id).check_password(PASSWORD)
