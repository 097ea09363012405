"""The REST API, through a real server on a port and a real SQLite file.

Every call in this file goes through ``api``, which fails the test on any 5xx: bad input
must always be the client's error, never the server's.
"""
import asyncio
import http.cookies
import json
import os
import random
import re
import stat
import urllib.parse

import pytest
import tornado.httpclient

import models
import schema
from appliance.paths import Paths
from chatbox import load_secret
from handlers.auth import LoginThrottle
from conftest import API, PASSWORD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Any hex string works as the _xsrf cookie: what matters is that the header repeats it,
# which a page on another site cannot do.
XSRF = "5ca1ab1e" * 4


def loopback(base_url):
    """The server's URL by IPv4 address, so a caller can pick its own 127.x source."""
    return base_url.replace("//localhost:", "//127.0.0.1:")


class StrictAPI(API):
    async def call(self, method, path, body=None, token=None, headers=None, raw=None):
        status, data = await super().call(method, path, body, token, headers, raw)
        assert status < 500, (method, path, status, data)
        return status, data


@pytest.fixture
def api(http_server, base_url):
    return StrictAPI(base_url)


def snapshot():
    """How many rows each table holds: a refused request must leave it unchanged."""
    return {model.__name__: model.select().count() for model in models.MODELS}


def find_key(data, key):
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(data, dict):
        found = [data[key]] if key in data else []
        return found + [v for value in data.values() for v in find_key(value, key)]
    if isinstance(data, list):
        return [v for item in data for v in find_key(item, key)]
    return []


def form(**fields):
    return dict(
        raw=urllib.parse.urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


# --- The Chatire flow ----------------------------------------------------------------


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

    for token, text in [(alice_token, "hello bob"), (bob_token, "hi alice"), (alice_token, "bye")]:
        status, posted = await api.call(
            "POST", f"/api/chats/{uri}/messages/", {"message": text}, token=token
        )
        assert status == 201
        assert posted["status"] == "SUCCESS" and posted["message"] == text
        assert posted["uri"] == uri

    for token in (alice_token, bob_token):
        status, history = await api.call(
            "GET", f"/api/chats/{uri}/messages/", token=token
        )
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
async def test_logging_out_revokes_only_that_token(api):
    alice = await api.signup("alice")
    status, data = await api.call(
        "POST", "/auth/token/create/", {"username": "alice", "password": PASSWORD}
    )
    second = data["auth_token"]
    status, _ = await api.call("POST", "/auth/token/destroy/", token=second)
    assert status == 204
    assert (await api.call("GET", "/api/me", token=second))[0] == 401
    assert (await alice.call("GET", "/api/me"))[0] == 200


@pytest.mark.gen_test
async def test_every_protected_call_without_valid_credentials_is_401(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    calls = [
        ("GET", "/api/me/"),
        ("GET", "/api/chats/"),
        ("POST", "/api/chats/"),
        ("GET", f"/api/chats/{uri}/"),
        ("PATCH", f"/api/chats/{uri}/"),
        ("GET", f"/api/chats/{uri}/messages/"),
        ("POST", f"/api/chats/{uri}/messages/"),
        ("DELETE", f"/api/chats/{uri}/members/alice/"),
        ("POST", "/auth/token/destroy/"),
    ]
    before = snapshot()
    for method, path in calls:
        for headers in ({}, {"Authorization": "Token nope"}, {"Authorization": "Bearer x"}):
            status, data = await api.call(method, path, headers=headers)
            assert status == 401, (method, path, headers)
            assert "detail" in data
    assert snapshot() == before


# --- Membership -----------------------------------------------------------------------


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
    for body in ({"username": "bob"}, {"username": "BOB"}, {"username": 7}, {"username": ["bob"]}):
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


# --- Privacy of e-mail addresses ------------------------------------------------------


@pytest.mark.gen_test
async def test_an_email_address_is_shown_only_to_its_owner(api):
    alice = await api.signup("alice", email="alice@example.org")
    bob = await api.signup("bob", email="bob@example.org")
    uri = await alice.start_chat()
    seen_by_bob = [(await bob.call("PATCH", f"/api/chats/{uri}/", {}))[1]]
    await alice.say(uri, "hi")
    seen_by_bob.append(await bob.say(uri, "hello"))
    await bob.start_chat("lobby")
    await alice.join("lobby")
    for path in (
        f"/api/chats/{uri}/",
        f"/api/chats/{uri}/messages/",
        "/api/chats/",
        "/api/chats/lobby/",
    ):
        seen_by_bob.append((await bob.call("GET", path))[1])
    status, opened = await bob.call("POST", "/api/chats/", {"name": "lobby"})
    seen_by_bob.append(opened)
    text = json.dumps(seen_by_bob)
    assert "@example.org" not in text
    assert find_key(seen_by_bob, "email") == []
    # The user objects are exactly the public fields.
    users = find_key(seen_by_bob, "owner") + find_key(seen_by_bob, "user")
    assert users and all(
        set(u) == {"id", "username", "first_name", "last_name"} for u in users
    )
    status, me = await bob.call("GET", "/api/me/")
    assert status == 200
    assert me["email"] == "bob@example.org"
    assert me["is_admin"] is False
    status, me = await alice.call("GET", "/api/me")
    assert me["email"] == "alice@example.org" and me["is_admin"] is True


# --- Browser sessions and XSRF --------------------------------------------------------


async def cookie_login(api, username, with_header=True, with_cookie=True):
    headers = {"Content-Type": "application/json"}
    if with_cookie:
        headers["Cookie"] = f"_xsrf={XSRF}"
    if with_header:
        headers["X-XSRFToken"] = XSRF
    status, data = await api.call(
        "POST",
        "/auth/session/",
        headers=headers,
        raw=json.dumps({"username": username, "password": PASSWORD}),
    )
    session = None
    for header in api.last_response.headers.get_list("Set-Cookie"):
        cookie = http.cookies.SimpleCookie(header)
        if "chatbox_session" in cookie:
            session = cookie["chatbox_session"].value
            assert "httponly" in header.lower() and "samesite=lax" in header.lower()
    return status, data, session


def cookie_headers(session, xsrf=True):
    headers = {"Cookie": f"_xsrf={XSRF}; chatbox_session={session}"}
    if xsrf:
        headers["X-XSRFToken"] = XSRF
    return headers


@pytest.mark.gen_test
async def test_logging_in_with_a_cookie_needs_the_xsrf_header(api):
    await api.signup("alice", email="alice@example.org")
    for with_header, with_cookie in ((False, False), (False, True), (True, False)):
        status, _, session = await cookie_login(api, "alice", with_header, with_cookie)
        assert status == 403
        assert session is None
    status, me, session = await cookie_login(api, "alice")
    assert status == 200
    assert me["username"] == "alice" and me["email"] == "alice@example.org"
    assert session
    status, me = await api.call("GET", "/api/me/", headers=cookie_headers(session, xsrf=False))
    assert status == 200 and me["username"] == "alice"


@pytest.mark.gen_test
async def test_a_cookie_session_write_without_the_xsrf_header_is_refused_and_changes_nothing(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    await alice.say(uri, "first")
    status, _, session = await cookie_login(api, "bob")
    assert status == 200
    before = snapshot()
    no_header = cookie_headers(session, xsrf=False)
    wrong_header = dict(no_header, **{"X-XSRFToken": "0" * 32})
    for headers in (no_header, wrong_header):
        for method, path, body in [
            ("POST", "/api/chats/", {"name": "forged"}),
            ("PATCH", f"/api/chats/{uri}/", {}),
            ("POST", f"/api/chats/{uri}/messages/", {"message": "forged"}),
            ("DELETE", f"/api/chats/{uri}/members/bob/", None),
            ("DELETE", "/auth/session/", None),
        ]:
            status, _ = await api.call(method, path, body, headers=headers)
            assert status == 403, (method, path)
    assert snapshot() == before
    assert (await api.call("GET", "/api/me", headers=no_header))[0] == 200

    with_header = cookie_headers(session)
    status, _ = await api.call("PATCH", f"/api/chats/{uri}/", {}, headers=with_header)
    assert status == 200
    status, posted = await api.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "real"}, headers=with_header
    )
    assert status == 201 and posted["user"]["username"] == "bob"
    assert [m["message"] for m in await alice.history(uri)] == ["first", "real"]

    status, _ = await api.call("DELETE", "/auth/session/", headers=with_header)
    assert status == 204
    assert (await api.call("GET", "/api/me", headers=no_header))[0] == 401


@pytest.mark.gen_test
async def test_a_browser_session_is_not_an_api_token(api):
    await api.signup("alice")
    _, _, session = await cookie_login(api, "alice")
    status, _ = await api.call("GET", "/api/me", token=session)
    assert status == 401
    status, _ = await api.call("POST", "/auth/token/destroy/", headers=cookie_headers(session))
    assert status == 401


# --- Login throttling -----------------------------------------------------------------


@pytest.mark.gen_test
async def test_five_failed_logins_at_a_name_lock_that_address_out_of_it_with_retry_after(api):
    await api.signup("alice")
    await api.signup("bob")
    for attempt in range(5):
        status, data = await api.call(
            "POST", "/auth/token/create/", {"username": "alice", "password": f"wrong{attempt}xx"}
        )
        assert status == 400
        assert data == {"non_field_errors": ["Unable to log in with provided credentials."]}
    for username in ("alice", "ALICE"):
        for path in ("/auth/token/create/", "/auth/token/login/"):
            status, data = await api.call(
                "POST", path, {"username": username, "password": PASSWORD}
            )
            assert status == 429
            assert "detail" in data
            retry_after = int(api.last_response.headers["Retry-After"])
            assert 0 < retry_after <= 300
    # Someone else's account is not affected.
    status, _ = await api.call(
        "POST", "/auth/token/create/", {"username": "bob", "password": PASSWORD}
    )
    assert status == 200


@pytest.mark.gen_test
async def test_twenty_failed_logins_from_one_address_lock_the_address(api):
    await api.signup("alice")
    # Four guesses at each of five names: no single name reaches its own limit.
    for i in range(20):
        status, _ = await api.call(
            "POST", "/auth/token/create/", {"username": f"guess{i % 5}", "password": "whatever1"}
        )
        assert status == 400
    status, _ = await api.call(
        "POST", "/auth/token/create/", {"username": "alice", "password": PASSWORD}
    )
    assert status == 429
    assert int(api.last_response.headers["Retry-After"]) > 0
    status, _, _ = await cookie_login(api, "alice")
    assert status == 429


@pytest.mark.gen_test(timeout=60)
async def test_a_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit(
    api, base_url, monkeypatch
):
    await api.signup("alice")
    checked = []
    check_password = models.User.check_password

    def counting_check(user, password):
        checked.append(password)
        return check_password(user, password)

    monkeypatch.setattr(models.User, "check_password", counting_check)
    burst = 60
    paths = ("/auth/token/create/", "/auth/token/login/", "/auth/session/")
    headers = {
        "Content-Type": "application/json",
        "Cookie": f"_xsrf={XSRF}",
        "X-XSRFToken": XSRF,
    }
    # A client of its own, so all sixty requests are in flight at once instead of
    # queueing behind the shared client's ten connections.
    client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=burst)
    try:
        responses = await asyncio.gather(
            *(
                client.fetch(
                    base_url + paths[i % len(paths)],
                    method="POST",
                    headers=headers,
                    body=json.dumps({"username": "alice", "password": f"wrong{i}xx"}),
                    raise_error=False,
                )
                for i in range(burst)
            )
        )
    finally:
        client.close()
    assert len(checked) <= LoginThrottle.PER_PAIR
    codes = sorted(response.code for response in responses)
    assert codes == [400] * len(checked) + [429] * (burst - len(checked))
    for response in responses:
        if response.code == 429:
            assert "detail" in json.loads(response.body)
            assert 0 < int(response.headers["Retry-After"]) <= LoginThrottle.PAIR_WINDOW


@pytest.mark.gen_test(timeout=30)
async def test_a_guesser_at_one_address_cannot_lock_the_owner_out_at_another(api, base_url):
    await api.signup("admin")
    guesser = StrictAPI(loopback(base_url), source="127.0.0.1")
    owner = StrictAPI(loopback(base_url), source="127.0.0.2")
    for guess in range(LoginThrottle.PER_PAIR):
        status, _ = await guesser.call(
            "POST", "/auth/token/create/", {"username": "admin", "password": f"guess{guess}x"}
        )
        assert status == 400
    status, _ = await guesser.call(
        "POST", "/auth/token/create/", {"username": "admin", "password": PASSWORD}
    )
    assert status == 429
    assert int(guesser.last_response.headers["Retry-After"]) > 0

    status, data = await owner.call(
        "POST", "/auth/token/login/", {"username": "admin", "password": PASSWORD}
    )
    assert status == 200 and data["auth_token"]
    status, me, session = await cookie_login(owner, "admin")
    assert status == 200 and me["username"] == "admin" and session
    # The owner getting in from elsewhere does not let the guesser go on.
    status, _ = await guesser.call(
        "POST", "/auth/token/create/", {"username": "admin", "password": "guess9x"}
    )
    assert status == 429


@pytest.mark.gen_test(timeout=60)
async def test_guesses_from_many_addresses_lock_the_name_everywhere_for_a_while(
    api, base_url
):
    await api.signup("admin")
    await api.signup("bob")
    per_address = LoginThrottle.PER_PAIR
    addresses = [
        f"127.0.0.{10 + i}" for i in range(LoginThrottle.PER_USERNAME // per_address)
    ]

    async def guess_from(address):
        guesser = StrictAPI(loopback(base_url), source=address)
        for guess in range(per_address):
            status, _ = await guesser.call(
                "POST", "/auth/token/create/", {"username": "admin", "password": f"{address}x{guess}"}
            )
            assert status == 400

    await asyncio.gather(*(guess_from(address) for address in addresses))
    newcomer = StrictAPI(loopback(base_url), source="127.0.0.200")
    status, _ = await newcomer.call(
        "POST", "/auth/token/create/", {"username": "admin", "password": PASSWORD}
    )
    assert status == 429
    retry_after = int(newcomer.last_response.headers["Retry-After"])
    assert LoginThrottle.PAIR_WINDOW < retry_after <= LoginThrottle.USERNAME_WINDOW
    status, _ = await newcomer.call(
        "POST", "/auth/token/create/", {"username": "bob", "password": PASSWORD}
    )
    assert status == 200


# --- Unknown things -------------------------------------------------------------------


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
async def test_an_unknown_api_path_answers_json_404(api):
    alice = await api.signup("alice")
    for method, path in [
        ("GET", "/api/nothing"),
        ("GET", "/api/chats/x/y/z/"),
        ("POST", "/api/users/"),
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


# --- Malformed input ------------------------------------------------------------------

BAD_MESSAGE_BODIES = [
    dict(raw="{not json", headers={"Content-Type": "application/json"}),
    dict(raw='["a", "list"]'),
    dict(raw="null"),
    dict(raw='"just a string"'),
    dict(raw="42"),
    dict(raw="[" * 50_000),
    dict(raw='{"message": "\\ud800"}'),
    dict(raw=b"\xff\xfe{}"),
    dict(body={}),
    dict(body={"text": "wrong field"}),
    dict(body={"message": 123}),
    dict(body={"message": None}),
    dict(body={"message": ["hi"]}),
    dict(body={"message": {"text": "hi"}}),
    dict(body={"message": True}),
    dict(body={"message": ""}),
    dict(body={"message": " \n\t "}),
    dict(body={"message": "x" * 4001}),
    dict(body={"message": "ok", "client_id": 5}),
    dict(body={"message": "ok", "client_id": "has spaces"}),
    dict(body={"message": "ok", "client_id": "x" * 65}),
    dict(raw="message=a&&=b", headers={"Content-Type": "application/x-www-form-urlencoded"}),
]


@pytest.mark.gen_test
async def test_a_malformed_message_is_refused_with_400_and_nothing_is_stored(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "before")
    before = snapshot()
    for case in BAD_MESSAGE_BODIES:
        status, data = await alice.call("POST", f"/api/chats/{uri}/messages/", **case)
        assert status == 400, case
        assert isinstance(data, dict) and data
    assert snapshot() == before
    assert [m["message"] for m in await alice.history(uri)] == ["before"]


@pytest.mark.gen_test
async def test_a_message_of_exactly_4000_characters_is_accepted(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    text = "é" * 4000
    posted = await alice.say(uri, text)
    assert posted["message"] == text
    assert (await alice.history(uri))[0]["message"] == text


@pytest.mark.gen_test
async def test_bad_paging_values_are_refused_with_400(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "one")
    for query in (
        "before=abc",
        "after=1.5",
        "limit=0",
        "limit=-1",
        "limit=1000",
        "limit=201",
        "limit=",
        "before=0",
        "after=-1",
        "before=3&after=1",
    ):
        status, data = await alice.call("GET", f"/api/chats/{uri}/messages/?{query}")
        assert status == 400, query
        assert data


@pytest.mark.gen_test
async def test_paging_ids_beyond_any_real_id_are_answered_not_crashed_on(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "one")
    huge = "9" * 30
    assert [m["message"] for m in await alice.history(uri, f"?before={huge}")] == ["one"]
    assert await alice.history(uri, f"?after={huge}") == []


@pytest.mark.gen_test
async def test_invalid_room_names_are_refused_and_create_nothing(api):
    alice = await api.signup("alice")
    before = snapshot()
    for name in ("has space", "-dash-first", "a" * 65, "ünïcode", "a/b", "../x", "x!", 123,
                 ["general"], {"n": 1}, True):
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
async def test_bad_signups_are_refused_and_create_no_account(api):
    await api.signup("Alice")
    before = snapshot()
    cases = [
        ({"username": "bad name", "password": PASSWORD}, "username"),
        ({"username": "a" * 33, "password": PASSWORD}, "username"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "tab\t", "password": PASSWORD}, "username"),
        ({"username": "émile", "password": PASSWORD}, "username"),
        ({"username": "a/b", "password": PASSWORD}, "username"),
        ({"username": None, "password": PASSWORD}, "username"),
        ({"username": 123, "password": PASSWORD}, "username"),
        ({"password": PASSWORD}, "username"),
        ({"username": "bob", "password": "short"}, "password"),
        ({"username": "bob", "password": "1234567"}, "password"),
        ({"username": "bob", "password": 123456789}, "password"),
        ({"username": "bob"}, "password"),
        ({"username": "bob", "password": "é" * 37}, "password"),  # 74 bytes
        ({"username": "bob", "password": PASSWORD, "email": "not-an-address"}, "email"),
        ({"username": "bob", "password": PASSWORD, "email": 5}, "email"),
        ({"username": "alice", "password": PASSWORD}, "username"),
        ({"username": "ALICE", "password": PASSWORD}, "username"),
    ]
    for path in ("/auth/users/create/", "/auth/users/"):
        for body, field in cases:
            status, data = await api.call("POST", path, body)
            assert status == 400, body
            assert field in data, (body, data)
            assert all(isinstance(m, str) for m in data[field])
        for raw in ("{oops", "[1]", "null"):
            status, data = await api.call("POST", path, raw=raw)
            assert status == 400 and "detail" in data
    assert snapshot() == before
    status, data = await api.call("POST", "/auth/users/", {"username": "alice", "password": PASSWORD})
    assert data == {"username": ["A user with that username already exists."]}


@pytest.mark.gen_test
async def test_two_signups_racing_for_one_name_make_one_account(api):
    results = await asyncio.gather(
        *(
            api.call("POST", "/auth/users/", {"username": name, "password": PASSWORD})
            for name in ("Zoe", "zoe", "ZOE")
        )
    )
    assert sorted(status for status, _ in results) == [201, 400, 400]
    assert models.User.select().count() == 1


@pytest.mark.gen_test
async def test_a_32_character_username_and_72_byte_password_are_accepted(api):
    name = "a" * 32
    person = await api.signup(name, password="p" * 72)
    status, me = await person.call("GET", "/api/me")
    assert me["username"] == name


@pytest.mark.gen_test
async def test_malformed_logins_are_refused_with_400(api):
    await api.signup("alice")
    for body in ({}, {"username": "alice"}, {"password": PASSWORD}, {"username": 1, "password": 2},
                 {"username": ["alice"], "password": PASSWORD}):
        status, data = await api.call("POST", "/auth/token/create/", body)
        assert status == 400, body
        assert set(data) <= {"username", "password"} and data
    for raw in ("{oops", "[]", '{"username": "alice", "password": "\\udfff\\ud800xxxxxxx"}'):
        status, data = await api.call("POST", "/auth/token/create/", raw=raw)
        assert status == 400
    # A password longer than bcrypt reads is wrong, not truncated to a match.
    status, _ = await api.call(
        "POST", "/auth/token/create/", {"username": "alice", "password": PASSWORD + "x" * 80}
    )
    assert status == 400
    assert models.Token.select().count() == 1


@pytest.mark.gen_test
async def test_a_malformed_join_is_refused_and_adds_no_one(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    for raw in ("{oops", "[]", "7"):
        status, _ = await bob.call("PATCH", f"/api/chats/{uri}/", raw=raw)
        assert status == 400
    assert models.Membership.select().count() == 1


# --- Form bodies ----------------------------------------------------------------------


@pytest.mark.gen_test
async def test_form_encoded_bodies_work_for_signup_login_chats_and_posting(api):
    status, user = await api.call(
        "POST", "/auth/users/create/", **form(username="alice", password=PASSWORD, email="a@b.c")
    )
    assert status == 201 and user["username"] == "alice" and user["email"] == "a@b.c"
    status, data = await api.call(
        "POST", "/auth/token/create/", **form(username="alice", password=PASSWORD)
    )
    assert status == 200
    token = data["auth_token"]
    status, opened = await api.call("POST", "/api/chats/", token=token, **form(name="lobby"))
    assert status == 201 and opened["uri"] == "lobby"
    status, posted = await api.call(
        "POST", "/api/chats/lobby/messages/", token=token,
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


# --- Chats ----------------------------------------------------------------------------


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


# --- History --------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_paging_returns_the_right_windows_oldest_first(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    other = await alice.start_chat()
    ids = []
    for i in range(10):
        ids.append((await alice.say(uri, f"m{i}"))["id"])
        await alice.say(other, f"elsewhere {i}")  # interleaved ids from another chat

    async def texts(query):
        return [m["message"] for m in await alice.history(uri, query)]

    assert await texts("") == [f"m{i}" for i in range(10)]
    assert await texts("?limit=3") == ["m7", "m8", "m9"]
    assert await texts(f"?before={ids[7]}&limit=3") == ["m4", "m5", "m6"]
    assert await texts(f"?before={ids[2]}") == ["m0", "m1"]
    assert await texts(f"?before={ids[0]}") == []
    assert await texts(f"?after={ids[3]}&limit=2") == ["m4", "m5"]
    assert await texts(f"?after={ids[8]}") == ["m9"]
    assert await texts(f"?after={ids[9]}") == []
    assert await texts("?after=0&limit=2") == ["m0", "m1"]
    assert await texts("?limit=200") == [f"m{i}" for i in range(10)]


@pytest.mark.gen_test
@pytest.mark.usefixtures("unlimited")
async def test_the_default_page_is_the_newest_fifty(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for i in range(55):
        await alice.say(uri, f"m{i}")
    page = await alice.history(uri)
    assert [m["message"] for m in page] == [f"m{i}" for i in range(5, 55)]


@pytest.mark.gen_test
async def test_a_resend_with_the_same_client_id_returns_the_original_and_stores_once(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    other = await alice.start_chat()
    await bob.join(uri)
    status, first = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "once", "client_id": "c-1"}
    )
    assert status == 201
    status, again = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "once", "client_id": "c-1"}
    )
    assert status == 200
    assert again["id"] == first["id"] and again["message"] == "once"
    # A resend that changed its text is still the same message.
    status, changed = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "twice?", "client_id": "c-1"}
    )
    assert status == 200 and changed["message"] == "once"
    # Another author's ids are their own.
    status, _ = await bob.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "mine", "client_id": "c-1"}
    )
    assert status == 201
    # The same id in another chat is a mistake, refused.
    status, data = await alice.call(
        "POST", f"/api/chats/{other}/messages/", {"message": "once", "client_id": "c-1"}
    )
    assert status == 400 and "client_id" in data
    assert [(m["user"]["username"], m["message"]) for m in await alice.history(uri)] == [
        ("alice", "once"),
        ("bob", "mine"),
    ]
    assert await alice.history(other) == []
    assert models.Message.select().count() == 2


@pytest.mark.gen_test
async def test_resends_racing_with_one_client_id_store_one_message(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    results = await asyncio.gather(
        *(
            alice.call("POST", f"/api/chats/{uri}/messages/", {"message": "hi", "client_id": "r-1"})
            for _ in range(5)
        )
    )
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 201]
    assert len({data["id"] for _, data in results}) == 1
    assert len(await alice.history(uri)) == 1


# --- Plumbing -------------------------------------------------------------------------


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


# --- Fuzzing --------------------------------------------------------------------------

FIELDS = ["message", "name", "username", "password", "email", "client_id", "text", ""]


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
        return {rng.choice(FIELDS): junk_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if choice == 8:
        return rng.choice(["alice", "bob", "general", "ALICE", "../..", "a b", "<script>"])
    return "".join(rng.choice("abc-_.:/%{}[]\"\\ 0123") for _ in range(rng.randrange(1, 20)))


def junk_body(rng):
    """Bytes and a Content-Type: mostly near-valid JSON, some garbage and forms."""
    choice = rng.randrange(10)
    if choice < 5:
        data = {rng.choice(FIELDS): junk_value(rng) for _ in range(rng.randrange(4))}
        text = json.dumps(data)
        return text.encode(), "application/json"
    if choice == 5:
        return json.dumps(junk_value(rng)).encode(), rng.choice(["application/json", "text/plain"])
    if choice == 6:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))), "application/json"
    if choice == 7:
        fields = {rng.choice(FIELDS): str(junk_value(rng))[:100] for _ in range(rng.randrange(4))}
        encoded = urllib.parse.urlencode(fields, errors="replace")
        return encoded.encode(), "application/x-www-form-urlencoded"
    if choice == 8:
        return rng.choice([b"[" * 20_000, b'{"message": "\\udc00"}', b"{" * 5000, b"\x00"]), \
            "application/json"
    junk = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 80)))
    return junk, "application/x-www-form-urlencoded"


def junk_path(rng, uri):
    # Segments stay well under Tornado's 64 KiB header limit, past which it drops the
    # connection without a status: that is its HTTP layer, not chatbox.
    segment = rng.choice([uri, "general", "nope", "%00", "%ff", "..", "x" * 300,
                          urllib.parse.quote(str(junk_value(rng))[:2000], safe="", errors="replace")])
    template = rng.choice([
        "/api/chats/", "/api/chats/{s}/", "/api/chats/{s}/messages/",
        "/api/chats/{s}/members/{s}/", "/api/chats/{s}/messages/?before={q}&limit={q}",
        "/api/chats/{s}/messages/?after={q}", "/auth/users/", "/auth/users/create/",
        "/auth/token/create/", "/auth/token/login/", "/auth/token/destroy/",
        "/auth/session/", "/api/me", "/api/{s}", "/auth/{s}/", "/healthz",
        "/api/openapi.json", "/ws", "/ws/chat/{s}/",
    ])
    query = urllib.parse.quote(str(junk_value(rng))[:50], safe="", errors="replace")
    return template.replace("{s}", segment).replace("{q}", query)


@pytest.mark.gen_test(timeout=240)
async def test_three_hundred_junk_requests_never_get_a_5xx_and_the_box_stays_up(api):
    rng = random.Random(20261121)
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "still here")
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
        path = junk_path(rng, uri)
        headers = dict(rng.choice(credentials))
        body = None
        if method in ("POST", "PATCH", "PUT") or rng.random() < 0.2:
            body, content_type = junk_body(rng)
            headers["Content-Type"] = content_type
        response = await api.client.fetch(
            api.base_url + path,
            method=method,
            body=body if body is not None else (b"" if method in ("POST", "PATCH", "PUT") else None),
            headers=headers,
            raise_error=False,
            allow_nonstandard_methods=True,
            follow_redirects=False,
        )
        assert 200 <= response.code < 500, (i, method, path, body and body[:200], response.code,
                                            response.body[:200])
        seen[response.code] = seen.get(response.code, 0) + 1
    # The loop did reach past the parsers, not just bounce off one error.
    assert len(seen) >= 4, seen
    status, health = await api.call("GET", "/healthz")
    assert status == 200 and health["status"] == "ok"
    # Read from the database: the junk may well have logged alice out.
    assert models.Message.select().where(models.Message.text == "still here").count() == 1
