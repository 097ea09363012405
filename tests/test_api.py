"""The REST API as a whole, through a real server on a port and a real SQLite file.

The Chatire flow end to end, answers for unknown paths and methods, form-encoded bodies,
the box's plumbing, and a fuzz of junk requests. Every call goes through ``api``, which
fails the test on any 5xx: bad input must always be the client's error, never the
server's."""

import json
import os
import random
import re
import stat
import urllib.parse

import pytest
from conftest import PASSWORD
from rest import cookie_headers, cookie_login, form

import models
import schema
from appliance.paths import Paths
from chatbox import load_secret

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.gen_test
async def test_a_chatire_client_signs_up_logs_in_chats_and_logs_out(api):
    status, alice = await api.call(
        "POST",
        "/auth/users/create/",
        {"username": "alice", "password": PASSWORD, "email": "alice@example.org"},
    )
    assert status == 201
    assert alice == {"id": alice["id"], "username": "alice", "email": "alice@example.org"}
    status, bob = await api.call(
        "POST", "/auth/users/", {"username": "bob", "password": PASSWORD}
    )
    assert status == 201 and bob["username"] == "bob"

    status, data = await api.call(
        "POST", "/auth/token/create/", {"username": "alice", "password": PASSWORD}
    )
    assert status == 200
    alice_token = data["auth_token"]
    status, data = await api.call(
        "POST", "/auth/token/login/", {"username": "bob", "password": PASSWORD}
    )
    assert status == 200
    bob_token = data["auth_token"]

    status, chat = await api.call("POST", "/api/chats/", {}, token=alice_token)
    assert status == 201
    assert chat["status"] == "SUCCESS"
    assert chat["message"] == "New chat session created"
    uri = chat["uri"]

    # Chatire's client named the joining user in the body.
    status, joined = await api.call(
        "PATCH", f"/api/chats/{uri}/", {"username": "bob"}, token=bob_token
    )
    assert status == 200
    assert joined["status"] == "SUCCESS"
    assert joined["message"] == "bob joined the chat"
    assert joined["user"]["username"] == "bob"
    assert [m["username"] for m in joined["members"]] == ["alice", "bob"]

    for token, text in [
        (alice_token, "hello bob"),
        (bob_token, "hi alice"),
        (alice_token, "bye"),
    ]:
        status, posted = await api.call(
            "POST", f"/api/chats/{uri}/messages/", {"message": text}, token=token
        )
        assert status == 201
        assert posted["status"] == "SUCCESS" and posted["message"] == text
        assert posted["uri"] == uri

    for token in (alice_token, bob_token):
        status, history = await api.call("GET", f"/api/chats/{uri}/messages/", token=token)
        assert status == 200
        assert history["uri"] == uri
        assert [(m["user"]["username"], m["message"]) for m in history["messages"]] == [
            ("alice", "hello bob"),
            ("bob", "hi alice"),
            ("alice", "bye"),
        ]
        ids = [m["id"] for m in history["messages"]]
        assert ids == sorted(ids)

    status, _ = await api.call("POST", "/auth/token/destroy/", token=alice_token)
    assert status == 204
    status, _ = await api.call("GET", "/api/me/", token=alice_token)
    assert status == 401
    status, _ = await api.call("POST", "/auth/token/logout/", token=bob_token)
    assert status == 204
    status, _ = await api.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "still here?"}, token=bob_token
    )
    assert status == 401
    assert models.Message.select().count() == 3


@pytest.mark.gen_test
async def test_an_unknown_api_path_answers_json_404(api):
    alice = await api.signup("alice")
    for method, path in [
        ("GET", "/api/nothing"),
        ("GET", "/api/chats/x/y/z/"),
        ("POST", "/api/people/"),
        ("GET", "/auth/nope/"),
        ("DELETE", "/api"),
        ("GET", "/ws/elsewhere"),
    ]:
        status, data = await alice.call(method, path)
        assert status == 404, path
        assert data == {"detail": "Not found."}
        assert api.last_response.headers["Content-Type"].startswith("application/json")


@pytest.mark.gen_test
async def test_a_method_a_route_does_not_have_is_405_in_json(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for method, path in [
        ("PUT", f"/api/chats/{uri}/"),
        ("DELETE", "/api/chats/"),
        ("GET", "/auth/token/create/"),
        ("POST", "/healthz"),
    ]:
        status, data = await alice.call(method, path)
        assert status == 405, (method, path)
        assert "detail" in data


@pytest.mark.gen_test
async def test_form_encoded_bodies_work_for_signup_login_chats_and_posting(api):
    status, user = await api.call(
        "POST",
        "/auth/users/create/",
        **form(username="alice", password=PASSWORD, email="a@b.c"),
    )
    assert status == 201 and user["username"] == "alice" and user["email"] == "a@b.c"
    status, data = await api.call(
        "POST", "/auth/token/create/", **form(username="alice", password=PASSWORD)
    )
    assert status == 200
    token = data["auth_token"]
    status, opened = await api.call(
        "POST", "/api/chats/", token=token, **form(name="lobby")
    )
    assert status == 201 and opened["uri"] == "lobby"
    status, posted = await api.call(
        "POST",
        "/api/chats/lobby/messages/",
        token=token,
        **form(message="sent like jQuery's $.post & co", client_id="f-1"),
    )
    assert status == 201
    assert posted["message"] == "sent like jQuery's $.post & co"
    assert posted["client_id"] == "f-1"
    status, data = await api.call(
        "POST", "/auth/token/create/", **form(username="alice", password="wrong-password")
    )
    assert status == 400
    status, data = await api.call(
        "POST", "/api/chats/lobby/messages/", token=token, **form(message="")
    )
    assert status == 400
    assert models.Message.select().count() == 1


def test_the_cookie_secret_is_created_private_and_then_reused(tmp_path):
    path = Paths(str(tmp_path)).secret
    assert path == str(tmp_path / "chatbox.secret")
    secret = load_secret(path)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(path) == secret
    assert load_secret(path) == secret
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(str(tmp_path / "other.secret")) != secret


def test_a_database_named_on_its_own_keeps_its_secret_and_backups_beside_it(tmp_path):
    paths = Paths(db=str(tmp_path / "scratch.db"))
    assert paths.secret == str(tmp_path / "chatbox.secret")
    assert paths.backups == str(tmp_path / "backups")
    assert Paths().db == os.path.join(ROOT, "chatbox.db")


@pytest.mark.gen_test
async def test_healthz_answers_without_credentials(api):
    status, data = await api.call("GET", "/healthz")
    assert status == 200
    assert data["status"] == "ok"
    assert data["schema_version"] == schema.SCHEMA_VERSION


FIELDS = [
    "message",
    "name",
    "username",
    "password",
    "email",
    "client_id",
    "text",
    "",
    "reply_to",
    "emoji",
    "level",
    "display_name",
    "current_password",
    "new_password",
    "log_out_others",
]


def junk_value(rng, depth=0):
    choice = rng.randrange(12)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 2**63, -(2**70), 10**30, 3.5, float("1e308")])
    if choice == 3:
        return ""
    if choice == 4:
        return "x" * rng.choice([1, 31, 33, 4000, 4001, 70_000])
    if choice == 5:
        return "".join(chr(rng.randrange(1, 0x10FFFF)) for _ in range(rng.randrange(1, 40)))
    if choice == 6 and depth < 3:
        return [junk_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 7 and depth < 3:
        return {
            rng.choice(FIELDS): junk_value(rng, depth + 1) for _ in range(rng.randrange(4))
        }
    if choice == 8:
        return rng.choice(["alice", "bob", "general", "ALICE", "../..", "a b", "<script>"])
    return "".join(rng.choice('abc-_.:/%{}[]"\\ 0123') for _ in range(rng.randrange(1, 20)))


def junk_body(rng):
    """Bytes and a Content-Type: mostly near-valid JSON, some garbage and forms."""
    choice = rng.randrange(10)
    if choice < 5:
        data = {rng.choice(FIELDS): junk_value(rng) for _ in range(rng.randrange(4))}
        text = json.dumps(data)
        return text.encode(), "application/json"
    if choice == 5:
        return json.dumps(junk_value(rng)).encode(), rng.choice(
            ["application/json", "text/plain"]
        )
    if choice == 6:
        return bytes(
            rng.randrange(256) for _ in range(rng.randrange(1, 200))
        ), "application/json"
    if choice == 7:
        fields = {
            rng.choice(FIELDS): str(junk_value(rng))[:100] for _ in range(rng.randrange(4))
        }
        encoded = urllib.parse.urlencode(fields, errors="replace")
        return encoded.encode(), "application/x-www-form-urlencoded"
    if choice == 8:
        return rng.choice(
            [b"[" * 20_000, b'{"message": "\\udc00"}', b"{" * 5000, b"\x00"]
        ), "application/json"
    junk = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 80)))
    return junk, "application/x-www-form-urlencoded"


def junk_path(rng, uri, message_id):
    # Segments stay well under Tornado's 64 KiB header limit, past which it drops the
    # connection without a status: that is its HTTP layer, not chatbox.
    segment = rng.choice(
        [
            uri,
            "general",
            "nope",
            "%00",
            "%ff",
            "..",
            "x" * 300,
            urllib.parse.quote(str(junk_value(rng))[:2000], safe="", errors="replace"),
        ]
    )
    template = rng.choice(
        [
            "/api/chats/",
            "/api/chats/{s}/",
            "/api/chats/{s}/messages/",
            "/api/chats/{s}/members/{s}/",
            "/api/chats/{s}/messages/?before={q}&limit={q}",
            "/api/chats/{s}/messages/?after={q}",
            "/auth/users/",
            "/auth/users/create/",
            "/auth/token/create/",
            "/auth/token/login/",
            "/auth/token/destroy/",
            "/auth/session/",
            "/api/me",
            "/api/{s}",
            "/auth/{s}/",
            "/healthz",
            "/api/openapi.json",
            "/ws",
            "/ws/chat/{s}/",
            "/ws/chat/{s}?token={q}",
            "/api/chats/?limit={q}&cursor={q}",
            "/api/chats/{s}/members/",
            "/api/chats/{s}/address/",
            "/api/chats/{s}/read/",
            "/api/admin/users/{s}/rename",
            "/auth/jwt/create/",
            "/auth/jwt/refresh/",
            "/auth/jwt/verify/",
            "/api/chats/{s}/messages/{m}/",
            "/api/chats/{s}/messages/{m}/reactions/",
            "/api/chats/{s}/messages/{m}/reactions/{s}/",
            "/api/chats/{s}/messages/{m}/reactions/%F0%9F%91%8D/",
            "/api/chats/{s}/name/",
            "/api/chats/{s}/notifications/",
            "/api/users/?q={q}&limit={q}",
            "/api/direct/",
            "/api/me/",
            "/api/me/password/",
        ]
    )
    query = urllib.parse.quote(str(junk_value(rng))[:50], safe="", errors="replace")
    # A message id that the route takes: a real one, or one nothing has.
    message = rng.choice([str(message_id), "0", "1", "9" * 19, "18446744073709551616"])
    return template.replace("{s}", segment).replace("{q}", query).replace("{m}", message)


@pytest.mark.gen_test(timeout=240)
async def test_three_hundred_junk_requests_never_get_a_5xx_and_the_box_stays_up(api):
    rng = random.Random(20261121)
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "still here")
    # What the junk may edit, react to or delete (the message above must stay).
    target = await alice.say(uri, "change me")
    _, _, session = await cookie_login(api, "alice")
    credentials = [
        {"Authorization": f"Token {alice.token}"},
        {"Authorization": "Token not-a-token"},
        {"Authorization": "Basic YWxpY2U6eA=="},
        cookie_headers(session),
        cookie_headers("forged|cookie"),
        {},
    ]
    seen = {}
    for i in range(300):
        method = rng.choice(["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"])
        path = junk_path(rng, uri, target["id"])
        headers = dict(rng.choice(credentials))
        body = None
        if method in ("POST", "PATCH", "PUT") or rng.random() < 0.2:
            body, content_type = junk_body(rng)
            headers["Content-Type"] = content_type
        response = await api.client.fetch(
            api.base_url + path,
            method=method,
            body=body
            if body is not None
            else (b"" if method in ("POST", "PATCH", "PUT") else None),
            headers=headers,
            raise_error=False,
            allow_nonstandard_methods=True,
            follow_redirects=False,
        )
        assert 200 <= response.code < 500, (
            i,
            method,
            path,
            body and body[:200],
            response.code,
            response.body[:200],
        )
        seen[response.code] = seen.get(response.code, 0) + 1
    # The loop did reach past the parsers, not just bounce off one error.
    assert len(seen) >= 4, seen
    status, health = await api.call("GET", "/healthz")
    assert status == 200 and health["status"] == "ok"
    # Read from the database: the junk may well have logged alice out.
    assert models.Message.select().where(models.Message.text == "still here").count() == 1


@pytest.mark.gen_test(timeout=240)
async def test_junk_bodies_sent_by_a_member_to_each_conversation_route_get_no_5xx(
    api, unlimited
):
    # The fuzz above mostly bounces off methods and logins; this one gets past both,
    # so every body reaches a conversation route's own checks.
    rng = random.Random(20261122)
    alice = await api.signup("alice")
    await api.signup("bob")
    uri = await alice.start_chat()
    target = await alice.say(uri, "change me")
    message = f"/api/chats/{uri}/messages/{target['id']}/"
    routes = [
        ("POST", f"/api/chats/{uri}/messages/"),
        ("PATCH", message),
        ("DELETE", message),
        ("POST", message + "reactions/"),
        ("DELETE", message + "reactions/{q}/"),
        ("PUT", f"/api/chats/{uri}/name/"),
        ("PUT", f"/api/chats/{uri}/notifications/"),
        ("GET", "/api/users/?q={q}&limit={q}"),
        ("POST", "/api/direct/"),
        ("PATCH", "/api/me/"),
        ("POST", "/api/me/password/"),
    ]
    seen = {}
    for method, template in routes:
        for _ in range(20):
            query = urllib.parse.quote(str(junk_value(rng))[:80], safe="", errors="replace")
            body, content_type = junk_body(rng)
            response = await api.client.fetch(
                api.base_url + template.replace("{q}", query),
                method=method,
                body=body if method != "GET" else None,
                headers={
                    "Authorization": f"Token {alice.token}",
                    "Content-Type": content_type,
                },
                raise_error=False,
                allow_nonstandard_methods=True,
            )
            assert 200 <= response.code < 500, (method, template, body[:200], response.body)
            seen.setdefault((method, template), set()).add(response.code)
    # Each reached its own checks (a DELETE of the message has no body to refuse).
    del seen["DELETE", message]
    assert all(400 in codes for codes in seen.values()), seen
    status, _ = await alice.call("GET", "/api/me/")
    assert status == 200


@pytest.mark.gen_test
async def test_a_message_posted_is_in_history(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "hello")
    assert [m["message"] for m in await alice.history(uri)] == ["hello"]


@pytest.mark.gen_test
async def test_the_app_shell_answers_head_as_well_as_get(api):
    status, _ = await api.call("HEAD", "/chats/abc/")
    assert status == 200
    assert api.last_response.body == b""
    assert "Content-Security-Policy" in api.last_response.headers
