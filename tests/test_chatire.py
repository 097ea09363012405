"""Chatire's own Vue app against chatbox, call for call.

``ChatireTab`` sends exactly what Chatire's UserAuth.vue and Chat.vue send (jQuery,
form-encoded bodies, their addresses with their trailing slashes, the join and the
socket at the same moment), from its own origin through a browser's CORS rules. Two
versions: the end of the tutorial's Part 5 (DRF tokens) and Part 7 (JWT). The only
line changed in Chatire is its socket's address, as docs/chatire.md says.
"""

import asyncio

import pytest
from conftest import PASSWORD
from elsewhere import CHATIRE, Blocked, Page
from realtime import drain, read, read_type, ui_socket


@pytest.fixture
def allow_origin():
    return (CHATIRE,)


class ChatireTab:
    """One browser tab running Chatire; ``session`` is its sessionStorage."""

    def __init__(self, api, jwt=False):
        self.api = api
        self.page = Page(api, CHATIRE)
        self.jwt = jwt
        self.session = {}
        self.ajax_headers = {}  # $.ajaxSetup, which Chat.vue makes when it is created
        self.uri = None  # this.$route.params.uri
        self.socket = None

    def box(self, host, path):
        # Chatire calls most addresses as localhost:8000 and some as 127.0.0.1:8000;
        # here the box is on the test server's port.
        port = self.api.base_url.rsplit(":", 1)[1]
        return f"http://{host}:{port}{path}"

    async def post(self, host, path, data=None):
        """``$.post(url, data)``."""
        return await self.page.ajax("POST", self.box(host, path), data, self.ajax_headers)

    # UserAuth.vue

    async def sign_up(self, username, email):
        status, user = await self.post(
            "localhost",
            "/auth/users/create/",
            {"email": email, "username": username, "password": PASSWORD},
        )
        assert status == 201, user
        await self.sign_in(username)

    async def sign_in(self, username):
        path = "/auth/jwt/create/" if self.jwt else "/auth/token/create/"
        status, data = await self.post(
            "localhost", path, {"username": username, "password": PASSWORD}
        )
        assert status == 200, data
        self.session["authToken"] = data["token"] if self.jwt else data["auth_token"]
        self.session["username"] = username

    # Chat.vue

    async def open_chat_page(self, uri=None):
        """``created()``: the Authorization header for every call, then, on a chat's
        address, the join and the socket at once."""
        scheme = "JWT" if self.jwt else "Token"
        self.ajax_headers = {"Authorization": f"{scheme} {self.session['authToken']}"}
        self.uri = uri
        if uri:
            joined, _ = await asyncio.gather(self.join_chat_session(), self.connect())
            return joined

    async def start_chat_session(self):
        status, data = await self.post("localhost", "/api/chats/")
        assert status in (200, 201), data
        self.uri = data["uri"]  # this.$router.push(`/chats/${data.uri}/`)
        await self.connect()
        return data["uri"]

    async def join_chat_session(self):
        status, data = await self.page.ajax(
            "PATCH",
            self.box("localhost", f"/api/chats/{self.uri}/"),
            {"username": self.session["username"]},
            self.ajax_headers,
        )
        assert status == 200, data
        assert any(m["username"] == self.session["username"] for m in data["members"])
        return await self.fetch_history()

    async def fetch_history(self):
        status, data = await self.page.ajax(
            "GET",
            self.box("127.0.0.1", f"/api/chats/{self.uri}/messages/"),
            headers=self.ajax_headers,
        )
        assert status == 200, data
        return data["messages"]

    async def post_message(self, text):
        status, data = await self.post(
            "localhost", f"/api/chats/{self.uri}/messages/", {"message": text}
        )
        assert status in (200, 201), data
        return data

    async def connect(self):
        """``connectToWebSocket()``, its address changed to chatbox's socket."""
        self.socket = await self.page.websocket(
            self.page.ws_url(f"/ws/chat/{self.uri}?token={self.session['authToken']}")
        )

    async def on_message(self):
        """What ``onMessage`` pushes into the list: the parsed frame."""
        return await read(self.socket)

    async def refresh_token(self):
        """Part 7's ``refreshToken()``, every four minutes."""
        status, data = await self.post(
            "127.0.0.1", "/this/is/hard/to/find/", {"token": self.session["authToken"]}
        )
        self.session["authToken"] = data["token"]


async def two_people_chatting(api, jwt):
    alice, bob = ChatireTab(api, jwt), ChatireTab(api, jwt)
    await alice.sign_up("alice", "alice@example.com")
    await bob.sign_up("bob", "bob@example.com")
    await alice.open_chat_page()
    uri = await alice.start_chat_session()
    history = await bob.open_chat_page(uri)  # the share link
    return alice, bob, uri, history


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("jwt", [False, True], ids=["part5-token", "part7-jwt"])
async def test_chatire_signs_up_starts_a_chat_shares_it_and_talks_in_real_time(api, jwt):
    alice, bob, uri, history = await two_people_chatting(api, jwt)
    assert history == []
    await bob.post_message("hi alice")
    for tab in (alice, bob):
        frame = await tab.on_message()
        assert (frame["message"], frame["user"]["username"]) == ("hi alice", "bob")
        assert "email" not in frame["user"]
    await alice.post_message("hello bob")
    for tab in (alice, bob):
        assert (await tab.on_message())["message"] == "hello bob"
    # Reloading the page: the join again, the history, the socket again.
    reloaded = await bob.open_chat_page(uri)
    assert [(m["user"]["username"], m["message"]) for m in reloaded] == [
        ("bob", "hi alice"),
        ("alice", "hello bob"),
    ]


@pytest.mark.gen_test(timeout=30)
async def test_a_chatire_socket_that_arrives_before_its_join_is_joined_and_hears_everything(
    api,
):
    alice, bob = ChatireTab(api), ChatireTab(api)
    await alice.sign_up("alice", "alice@example.com")
    await bob.sign_up("bob", "bob@example.com")
    await alice.open_chat_page()
    uri = await alice.start_chat_session()
    # The worst order: the socket is open before the PATCH has even left.
    await bob.open_chat_page()
    bob.uri = uri
    await bob.connect()
    await alice.post_message("are you there?")
    assert (await bob.on_message())["message"] == "are you there?"
    history = await bob.join_chat_session()
    assert [m["message"] for m in history] == ["are you there?"]
    status, chat = await api.call(
        "GET", f"/api/chats/{uri}/", token=bob.session["authToken"]
    )
    assert [m["username"] for m in chat["members"]] == ["alice", "bob"]


@pytest.mark.gen_test(timeout=30)
async def test_the_join_and_the_socket_at_once_announce_the_newcomer_once(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    watcher = await ui_socket(alice, uri)
    bob = ChatireTab(api)
    await bob.sign_up("bob", "bob@example.com")
    await bob.open_chat_page(uri)
    joined = await read_type(watcher, "member")
    assert (joined["event"], joined["user"]["username"]) == ("joined", "bob")
    assert [f for f in await drain(watcher) if f["type"] == "member"] == []


@pytest.mark.gen_test(timeout=30)
async def test_chatire_part_7s_refresh_is_turned_away_and_its_token_keeps_working(api):
    alice, bob, uri, _ = await two_people_chatting(api, jwt=True)
    token = bob.session["authToken"]
    # Part 7 refreshes at an address of its own, which chatbox does not serve: the
    # browser gives up on the call, and Chat.vue ignores a failed refresh.
    with pytest.raises(Blocked):
        await bob.refresh_token()
    assert bob.session["authToken"] == token
    await bob.post_message("still here")
    assert (await alice.on_message())["message"] == "still here"


@pytest.mark.gen_test(timeout=30)
async def test_a_refused_chatire_login_is_readable_by_its_page(api):
    tab = ChatireTab(api, jwt=True)
    status, data = await tab.post(
        "localhost", "/auth/jwt/create/", {"username": "nobody", "password": "x"}
    )
    assert (status, data) == (
        400,
        {"non_field_errors": ["Unable to log in with provided credentials."]},
    )


# The JWT addresses, as djoser serves them.


@pytest.mark.gen_test(timeout=30)
async def test_a_jwt_login_gives_a_token_accepted_with_the_jwt_scheme(api):
    await api.signup("alice")
    status, data = await api.call(
        "POST", "/auth/jwt/create/", {"username": "alice", "password": PASSWORD}
    )
    assert status == 200 and set(data) == {"token"}
    jwt = {"Authorization": f"JWT {data['token']}"}
    status, me = await api.call("GET", "/api/me", headers=jwt)
    assert (status, me["username"]) == (200, "alice")
    status, _ = await api.call("POST", "/api/chats/", {}, headers=jwt)
    assert status == 201
    ws = await api.socket("/ws", **jwt)
    assert (await read(ws))["user"]["username"] == "alice"


@pytest.mark.gen_test(timeout=30)
async def test_refresh_and_verify_return_a_working_token_and_refuse_a_revoked_one(api):
    await api.signup("alice")
    _, data = await api.call(
        "POST", "/auth/jwt/create/", {"username": "alice", "password": PASSWORD}
    )
    token = data["token"]
    for path in ("/auth/jwt/refresh/", "/auth/jwt/verify/"):
        status, answer = await api.call(
            "POST",
            path,
            raw=f"token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert (status, answer) == (200, {"token": token})
        status, answer = await api.call("POST", path, {})
        assert (status, answer) == (400, {"token": ["This field is required."]})
    status, me = await api.call("GET", "/api/me", headers={"Authorization": f"JWT {token}"})
    assert status == 200
    status, _ = await api.call(
        "POST", "/auth/token/destroy/", headers={"Authorization": f"JWT {token}"}
    )
    assert status == 204
    status, _ = await api.call("GET", "/api/me", headers={"Authorization": f"JWT {token}"})
    assert status == 401
    for path in ("/auth/jwt/refresh/", "/auth/jwt/verify/"):
        status, answer = await api.call("POST", path, {"token": token})
        assert (status, answer) == (400, {"non_field_errors": ["The token is not valid."]})


@pytest.mark.gen_test(timeout=30)
async def test_jwt_logins_share_the_login_limit_with_every_other_login(api):
    await api.signup("alice")
    wrong = {"username": "alice", "password": "wrong password"}
    for path in ("/auth/token/create/", "/auth/jwt/create/") * 2 + ("/auth/jwt/create/",):
        status, _ = await api.call("POST", path, wrong)
        assert status == 400
    status, _ = await api.call(
        "POST", "/auth/jwt/create/", {"username": "alice", "password": PASSWORD}
    )
    assert status == 429
    assert api.last_response.headers["Retry-After"]
