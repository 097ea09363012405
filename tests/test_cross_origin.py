"""Pages served elsewhere (--allow-origin): what they may call, and what stays the web app's."""

import json
import urllib.request

import pytest
from boxes import Box, run
from elsewhere import CHATIRE, Blocked, Page
from realtime import handshake_status, read, session_cookie

from handlers.cors import CrossOrigin, parse_origin
from models import Room, User

EVIL = "http://evil.example"


@pytest.fixture
def allow_origin():
    return (CHATIRE,)


def preflight_headers(origin, method="POST", headers="authorization"):
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def assert_no_cors(response):
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.gen_test(timeout=30)
async def test_a_preflight_from_an_allowed_origin_allows_the_token_call_without_credentials(
    api,
):
    page = Page(api)
    response = await page.raw("OPTIONS", "/api/chats/", headers=preflight_headers(CHATIRE))
    assert response.code == 204
    assert response.headers["Access-Control-Allow-Origin"] == CHATIRE
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]
    response = await page.raw(
        "OPTIONS", "/api/chats/abc/", headers=preflight_headers(CHATIRE, "PATCH")
    )
    assert response.headers["Access-Control-Allow-Methods"] == "GET, PATCH"


@pytest.mark.gen_test(timeout=30)
async def test_a_preflight_from_any_other_origin_is_refused(api):
    for origin in (EVIL, "http://localhost:8081", "https://localhost:8080", "null"):
        response = await Page(api).raw(
            "OPTIONS", "/api/chats/", headers=preflight_headers(origin)
        )
        assert response.code == 403, origin
        assert json.loads(response.body) == {
            "detail": "Calls from pages at this origin are not allowed."
        }
        assert_no_cors(response)


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("allow_origin", [()])
async def test_without_allow_origin_no_page_elsewhere_may_read_any_answer(
    api, allow_origin
):
    alice = await api.signup("alice")
    page = Page(api)
    response = await page.raw("OPTIONS", "/api/chats/", headers=preflight_headers(CHATIRE))
    assert response.code == 403
    assert_no_cors(response)
    with pytest.raises(Blocked):
        await page.ajax(
            "POST", "/auth/token/create/", {"username": "alice", "password": "x"}
        )
    with pytest.raises(Blocked):
        await page.ajax(
            "GET", "/api/chats/", headers={"Authorization": f"Token {alice.token}"}
        )


@pytest.mark.gen_test(timeout=30)
async def test_an_allowed_origin_reads_token_calls_and_their_errors(api):
    alice = await api.signup("alice")
    page = Page(api)
    status, data = await page.ajax(
        "GET", "/api/chats/", headers={"Authorization": f"Token {alice.token}"}
    )
    assert (status, data) == (200, {"chats": [], "next": None})
    status, data = await page.ajax(
        "GET", "/api/chats/", headers={"Authorization": "Token nope"}
    )
    assert status == 401
    status, data = await page.ajax("POST", "/auth/token/create/", {"username": "alice"})
    assert (status, data) == (400, {"password": ["This field is required."]})
    response = await page.raw(
        "GET", "/api/chats/", headers={"Origin": CHATIRE, "Authorization": "Token nope"}
    )
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"


@pytest.mark.gen_test(timeout=30)
async def test_a_cross_origin_cookie_request_is_still_refused(api):
    await api.signup("alice")
    cookie = await session_cookie(api, "alice")
    page = Page(api)
    # The browser sends the cookie only if the page asks for credentials; the box never
    # allows those, and does not even name the origin for a call carrying it.
    response = await page.raw(
        "GET", "/api/me", headers={"Origin": CHATIRE, "Cookie": cookie}
    )
    assert_no_cors(response)
    response = await page.raw(
        "POST", "/api/chats/", body="", headers={"Origin": CHATIRE, "Cookie": cookie}
    )
    assert response.code == 403  # no XSRF token: refused as before
    assert_no_cors(response)
    assert Room.select().count() == 0


@pytest.mark.gen_test(timeout=30)
async def test_the_web_apps_login_and_page_are_never_shared_with_other_origins(api):
    await api.signup("alice")
    page = Page(api)
    response = await page.raw(
        "OPTIONS",
        "/auth/session/",
        headers=preflight_headers(CHATIRE, "POST", "content-type"),
    )
    assert response.code == 403
    assert_no_cors(response)
    response = await page.raw(
        "POST",
        "/auth/session/",
        body="username=alice&password=x",
        headers={"Origin": CHATIRE, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_no_cors(response)
    for path in ("/", "/chats/abc", "/static/favicon.svg"):
        response = await page.raw("GET", path, headers={"Origin": CHATIRE})
        assert_no_cors(response)


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("allow_origin", [("*",)])
async def test_a_star_lets_any_page_call_with_a_token_but_never_with_the_cookie(
    api, allow_origin
):
    alice = await api.signup("alice")
    cookie = await session_cookie(api, "alice")
    page = Page(api, EVIL)
    status, _ = await page.ajax(
        "GET", "/api/me", headers={"Authorization": f"Token {alice.token}"}
    )
    assert status == 200
    response = await page.raw("OPTIONS", "/api/me", headers=preflight_headers(EVIL, "GET"))
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    response = await page.raw("GET", "/api/me", headers={"Origin": EVIL, "Cookie": cookie})
    assert_no_cors(response)
    assert await handshake_status(api, "/ws", Cookie=cookie, Origin=EVIL) == 403


@pytest.mark.gen_test(timeout=30)
async def test_an_options_request_that_is_no_preflight_is_still_not_allowed(api):
    response = await Page(api).raw("OPTIONS", "/api/chats/")
    assert response.code == 405
    response = await Page(api).raw("OPTIONS", "/api/chats/", headers={"Origin": CHATIRE})
    assert response.code == 405


# Websockets: browsers do not ask first, so the box checks the Origin itself.


@pytest.mark.gen_test(timeout=30)
async def test_an_allowed_origin_may_open_sockets_with_a_token_but_never_with_the_cookie(
    api,
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    cookie = await session_cookie(api, "alice")
    for path in ("/ws", f"/ws/chat/{uri}/", f"/ws/chat/{uri}"):
        query = f"{path}?token={alice.token}"
        assert await handshake_status(api, query, Origin=CHATIRE) == 101
        assert await handshake_status(api, path, token=alice.token, Origin=CHATIRE) == 101
        assert await handshake_status(api, path, Cookie=cookie, Origin=CHATIRE) == 403
        assert (
            await handshake_status(
                api, path, Cookie=cookie, Origin=CHATIRE, **{"Sec-Fetch-Site": "same-site"}
            )
            == 403
        )
        assert await handshake_status(api, query, Origin=EVIL) == 403


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("allow_origin", [()])
async def test_without_allow_origin_a_token_socket_from_another_origin_is_refused(
    api, allow_origin
):
    alice = await api.signup("alice")
    assert await handshake_status(api, f"/ws?token={alice.token}", Origin=CHATIRE) == 403


@pytest.mark.gen_test(timeout=30)
async def test_a_refused_socket_on_a_private_address_joins_nobody(api):
    alice = await api.signup("alice")
    await api.signup("mallory")
    uri = await alice.start_chat()
    cookie = await session_cookie(api, "mallory")
    assert (
        await handshake_status(api, f"/ws/chat/{uri}", Cookie=cookie, Origin=CHATIRE) == 403
    )
    assert await handshake_status(api, f"/ws/chat/{uri}?token=wrong", Origin=CHATIRE) == 401
    assert not User.by_username("mallory").is_member(Room.by_uri(uri))


@pytest.mark.gen_test(timeout=30)
async def test_a_page_elsewhere_sees_its_socket_accepted_and_hears_the_room(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    page = Page(api)
    ws = await page.websocket(page.ws_url(f"/ws/chat/{uri}?token={alice.token}"))
    await alice.say(uri, "hello")
    assert (await read(ws))["message"] == "hello"


# The option itself.


def test_an_origin_is_compared_as_browsers_write_it():
    assert parse_origin("HTTP://Box.LAN:80/") == "http://box.lan"
    assert parse_origin("https://box.lan:8443") == "https://box.lan:8443"
    assert parse_origin("http://[FE80::1]:8080") == "http://[fe80::1]:8080"
    for bad in (
        "box.lan",
        "ftp://box.lan",
        "http://box.lan/app",
        "http://box.lan:99999",
        "http://u@box.lan",
        "http://box.lan?x=1",
        "null",
        "",
    ):
        with pytest.raises(ValueError):
            parse_origin(bad)
    policy = CrossOrigin(["http://localhost:8080/", " http://box.lan "])
    assert policy.allows("http://localhost:8080") and policy.allows("http://box.lan")
    assert not policy.allows("http://localhost:8081")
    assert not policy.allows("null") and not policy.allows(None)
    assert CrossOrigin(["*"]).allows("null")
    assert not CrossOrigin([])


def test_a_malformed_allow_origin_is_refused_at_start():
    result = run("status", "--allow-origin", "localhost:8080")
    assert result.returncode == 2
    assert "--allow-origin: 'localhost:8080' is not an origin" in result.stderr


@pytest.mark.sqlite_only
def test_a_box_started_with_allow_origin_answers_that_origins_preflights(tmp_path):
    box = Box(tmp_path, "--allow-origin", f"{EVIL},{CHATIRE}")
    with box:
        for origin, expected in ((CHATIRE, 204), (EVIL, 204), ("http://other", 403)):
            request = urllib.request.Request(
                box.url + "/api/chats/", method="OPTIONS", headers=preflight_headers(origin)
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, headers = response.status, response.headers
            except urllib.error.HTTPError as error:
                status, headers = error.code, error.headers
            assert status == expected, origin
            assert headers.get("Access-Control-Allow-Origin") == (
                origin if expected == 204 else None
            )
        assert box.terminate() == 0
