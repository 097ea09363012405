"""Fixtures: a real chatbox on a port, over a fresh SQLite file, and a tiny API client."""

import json
import os
import sys

import pytest
import tornado.httpclient
import tornado.websocket

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from boxes import PASSWORD, Box  # noqa: E402
from servers import postgres, redis_server, redis_url  # noqa: E402, F401

import models  # noqa: E402
from chatbox import make_app  # noqa: E402
from handlers.budget import Limits  # noqa: E402
from schema import init_db  # noqa: E402

# Any value works as the _xsrf cookie: what matters is that the X-XSRFToken header
# repeats it, which a page on another site cannot do.
XSRF = "2|00000000|" + "ab" * 16 + "|1"

# bcrypt's lowest cost for the accounts tests make in this process: the rules under test
# do not depend on the cost, and the production cost would spend most of the suite's
# time hashing. Servers started as real processes (tests/boxes.py) keep the real cost,
# which test_operations checks.
models.BCRYPT_ROUNDS = 4


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "chatbox.db")


@pytest.fixture
def allow_origin():
    """What the server is started with as --allow-origin; tests override it."""
    return ()


@pytest.fixture
def app(db_path, allow_origin):
    init_db(db_path)
    application = make_app("test-secret-" + os.urandom(8).hex(), allow_origin=allow_origin)
    # Presence batches go out sooner than in production, so tests waiting for them are
    # quick; tests that count batches stop the clock themselves.
    application.messenger.presence.delay = 0.02
    yield application
    application.messenger.presence.close()
    application.messenger.webhooks.close()
    application.files.close()
    application.messenger.writer.close()
    models.db.close()


class Clock:
    """A clock that stands still until a test moves it, for limits that count time."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def unlimited(app):
    """No per-person budgets, for tests that flood the box on purpose to watch
    something else (test_budgets.py tests the budgets themselves)."""
    app.messenger.limits = Limits("off")


class Person:
    """A signed-up user as an API client sees them: a name and a token."""

    def __init__(self, api, username, token, user):
        self.api = api
        self.username = username
        self.token = token
        self.id = user["id"]

    def call(self, method, path, body=None, **kwargs):
        return self.api.call(method, path, body, token=self.token, **kwargs)

    async def start_chat(self, name=None):
        status, data = await self.call(
            "POST", "/api/chats/", {"name": name} if name else {}
        )
        assert status in (200, 201), data
        return data["uri"]

    async def join(self, uri):
        status, data = await self.call("PATCH", f"/api/chats/{uri}/", {})
        assert status == 200, data
        return data

    async def say(self, uri, text, **extra):
        status, data = await self.call(
            "POST", f"/api/chats/{uri}/messages/", dict(extra, message=text)
        )
        assert status in (200, 201), data
        return data

    async def history(self, uri, query=""):
        status, data = await self.call("GET", f"/api/chats/{uri}/messages/{query}")
        assert status == 200, data
        return data["messages"]

    async def socket(self, path="/ws", **headers):
        return await self.api.socket(path, token=self.token, **headers)


class API:
    """Calls the server the way an outside client would: HTTP on a real port."""

    def __init__(self, base_url, source=None):
        self.base_url = base_url
        # Bad input must always be the client's error: any 5xx fails the test, but for
        # the statuses a test provokes on purpose and lists here (a full disk's 503).
        self.server_errors_expected = set()
        # The address to call from: any of 127.0.0.0/8 reaches the server over
        # loopback, so one test can play people on several machines.
        self.source = source
        self.client = tornado.httpclient.AsyncHTTPClient()

    async def call(self, method, path, body=None, token=None, headers=None, raw=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Token {token}"
        if raw is not None:
            payload = raw
        elif body is not None:
            payload = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        else:
            payload = "" if method in ("POST", "PATCH", "PUT") else None
        response = await self.client.fetch(
            self.base_url + path,
            method=method,
            body=payload,
            headers=headers,
            raise_error=False,
            follow_redirects=False,
            allow_nonstandard_methods=True,
            network_interface=self.source,
        )
        data = json.loads(response.body) if response.body else None
        self.last_response = response
        assert response.code < 500 or response.code in self.server_errors_expected, (
            method,
            path,
            response.code,
            data,
        )
        return response.code, data

    async def signup(self, username, password=PASSWORD, email=None):
        body = {"username": username, "password": password}
        if email:
            body["email"] = email
        status, user = await self.call("POST", "/auth/users/create/", body)
        assert status == 201, user
        status, data = await self.call(
            "POST", "/auth/token/create/", {"username": username, "password": password}
        )
        assert status == 200, data
        return Person(self, username, data["auth_token"], user)

    async def socket(self, path="/ws", token=None, **headers):
        url = self.base_url.replace("http", "ws", 1) + path
        if token:
            headers["Authorization"] = f"Token {token}"
        request = tornado.httpclient.HTTPRequest(url, headers=headers)
        return await tornado.websocket.websocket_connect(request)


@pytest.fixture
def api(http_server, base_url):
    return API(base_url)


# --- The browser tests' fixtures (helpers in browser.py) --------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python chatbox.py`` on a free loopback port over a fresh SQLite file."""
    # One test sets up its history by posting 120 messages through the API in a second,
    # faster than the sending budget lets anyone; all else runs within the default
    # budgets, as people at a browser do.
    box = Box(
        tmp_path_factory.mktemp("ui"),
        "--logging=warning",
        "--limits=send=off,send-bytes=off",
    )
    box.start()
    yield box
    box.close()


@pytest.fixture(scope="module")
def browser():
    from browser import CHROMIUM, chromium

    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with chromium() as launched:
        yield launched


@pytest.fixture
def people(browser, server):
    """Makes people (browser contexts); checks each asked no other host and logged no error."""
    from browser import DESKTOP, Visitor

    made = []

    def make(viewport=DESKTOP, **options):
        visitor = Visitor(browser, server, viewport, **options)
        made.append(visitor)
        return visitor

    yield make
    for visitor in made:
        foreign = visitor.foreign_requests()
        errors = visitor.errors
        visitor.close()
        assert foreign == [], "the page asked another host for something"
        assert errors == [], "the page logged errors"
