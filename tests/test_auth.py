"""Accounts and logins: sign-up, tokens, browser sessions with XSRF, the login limits."""

import asyncio
import json

import pytest
import tornado.httpclient
from conftest import API, PASSWORD, XSRF
from rest import (
    PUBLIC_USER_FIELDS,
    cookie_headers,
    cookie_login,
    find_key,
    loopback,
    snapshot,
)

import models
from handlers.auth import LoginThrottle


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
    assert users and all(set(u) == PUBLIC_USER_FIELDS for u in users)
    status, me = await bob.call("GET", "/api/me/")
    assert status == 200
    assert me["email"] == "bob@example.org"
    assert me["is_admin"] is False
    status, me = await alice.call("GET", "/api/me")
    assert me["email"] == "alice@example.org" and me["is_admin"] is True


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
    status, me = await api.call(
        "GET", "/api/me/", headers=cookie_headers(session, xsrf=False)
    )
    assert status == 200 and me["username"] == "alice"


@pytest.mark.gen_test
async def test_a_cookie_session_write_without_the_xsrf_header_is_refused_and_changes_nothing(
    api,
):
    alice = await api.signup("alice")
    await api.signup("bob")
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
    status, _ = await api.call(
        "POST", "/auth/token/destroy/", headers=cookie_headers(session)
    )
    assert status == 401


@pytest.mark.gen_test
async def test_five_failed_logins_at_a_name_lock_that_address_out_of_it_with_retry_after(
    api,
):
    await api.signup("alice")
    await api.signup("bob")
    for attempt in range(5):
        status, data = await api.call(
            "POST",
            "/auth/token/create/",
            {"username": "alice", "password": f"wrong{attempt}xx"},
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
            "POST",
            "/auth/token/create/",
            {"username": f"guess{i % 5}", "password": "whatever1"},
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
    guesser = API(loopback(base_url), source="127.0.0.1")
    owner = API(loopback(base_url), source="127.0.0.2")
    for guess in range(LoginThrottle.PER_PAIR):
        status, _ = await guesser.call(
            "POST",
            "/auth/token/create/",
            {"username": "admin", "password": f"guess{guess}x"},
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
        guesser = API(loopback(base_url), source=address)
        for guess in range(per_address):
            status, _ = await guesser.call(
                "POST",
                "/auth/token/create/",
                {"username": "admin", "password": f"{address}x{guess}"},
            )
            assert status == 400

    await asyncio.gather(*(guess_from(address) for address in addresses))
    newcomer = API(loopback(base_url), source="127.0.0.200")
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
    status, data = await api.call(
        "POST", "/auth/users/", {"username": "alice", "password": PASSWORD}
    )
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
    for body in (
        {},
        {"username": "alice"},
        {"password": PASSWORD},
        {"username": 1, "password": 2},
        {"username": ["alice"], "password": PASSWORD},
    ):
        status, data = await api.call("POST", "/auth/token/create/", body)
        assert status == 400, body
        assert set(data) <= {"username", "password"} and data
    for raw in (
        "{oops",
        "[]",
        '{"username": "alice", "password": "\\udfff\\ud800xxxxxxx"}',
    ):
        status, data = await api.call("POST", "/auth/token/create/", raw=raw)
        assert status == 400
    # A password longer than bcrypt reads is wrong, not truncated to a match.
    status, _ = await api.call(
        "POST",
        "/auth/token/create/",
        {"username": "alice", "password": PASSWORD + "x" * 80},
    )
    assert status == 400
    assert models.Token.select().count() == 1
