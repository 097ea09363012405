"""Fixtures: a real chatbox on a port, over a fresh database, and a tiny API client.

The database is a fresh SQLite file per test, or, with ``CHATBOX_TEST_DATABASE=postgres``,
a PostgreSQL database emptied for each test (a cluster of the suite's own, see
servers.py). ``CHATBOX_TEST_READ_THREADS`` sets the threads the app reads on (0: inline,
the default on SQLite; 4 on PostgreSQL); with threads, any statement the app issues on
the event loop while serving fails the test (database.forbid_loop). Tests that need the
SQLite engine itself (its file, pragmas, upgrades, backups) are marked ``sqlite_only``
and skipped on PostgreSQL.
"""

import json
import os
import sys

import pytest
import tornado.httpclient
import tornado.websocket

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from boxes import PASSWORD, Box  # noqa: E402
from servers import postgres, redis_server, redis_url  # noqa: E402, F401

import database as database_module  # noqa: E402
import models  # noqa: E402
from chatbox import make_app  # noqa: E402
from handlers.budget import Limits  # noqa: E402
from schema import open_database  # noqa: E402

ON_POSTGRES = os.environ.get("CHATBOX_TEST_DATABASE", "sqlite") == "postgres"


def read_threads():
    """Read when each app is made, so that a test may set it for its own app."""
    return int(os.environ.get("CHATBOX_TEST_READ_THREADS", "4" if ON_POSTGRES else "0"))


# The one database of the PostgreSQL cluster the tests use, emptied before each test.
TEST_DATABASE = "chatbox_test"

# Any value works as the _xsrf cookie: what matters is that the X-XSRFToken header
# repeats it, which a page on another site cannot do.
XSRF = "2|00000000|" + "ab" * 16 + "|1"

# bcrypt's lowest cost for the accounts tests make in this process: the rules under test
# do not depend on the cost, and the production cost would spend most of the suite's
# time hashing. Servers started as real processes (tests/boxes.py) keep the real cost,
# which test_operations checks.
models.BCRYPT_ROUNDS = 4


def pytest_collection_modifyitems(config, items):
    if not ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs SQLite itself; the suite runs on PostgreSQL")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture
def db_path(tmp_path):
    """The SQLite file of a test (on PostgreSQL, only the folder beside it is used,
    for the box's uploads)."""
    return str(tmp_path / "chatbox.db")


@pytest.fixture(scope="session")
def postgres_schema(request):
    """On PostgreSQL: the test database, with today's schema made once for the run."""
    cluster = request.getfixturevalue("postgres")
    url = cluster.create_database(TEST_DATABASE)
    open_database(url)
    models.db.close()
    tables = [model._meta.table_name for model in models.MODELS]
    return cluster, url, tables


@pytest.fixture
def database(db_path, request):
    """What the app is opened on: the SQLite file, or the PostgreSQL database's URL
    with every table emptied (and every connection of an earlier test cut)."""
    if not ON_POSTGRES:
        return db_path
    cluster, url, tables = request.getfixturevalue("postgres_schema")
    cluster.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (TEST_DATABASE,),
        dbname=TEST_DATABASE,
    )
    cluster.execute(
        "TRUNCATE " + ", ".join(f'"{table}"' for table in tables) + " RESTART IDENTITY",
        dbname=TEST_DATABASE,
    )
    return url


@pytest.fixture
def allow_origin():
    """What the server is started with as --allow-origin; tests override it."""
    return ()


@pytest.fixture
def app(database, db_path, allow_origin):
    open_database(database)
    threads = read_threads()
    application = make_app(
        "test-secret-" + os.urandom(8).hex(),
        allow_origin=allow_origin,
        uploads=os.path.join(os.path.dirname(db_path), "uploads"),
        read_threads=threads,
    )
    if threads:
        # In the suite the rule is strict: a statement on the event loop fails the test.
        database_module.forbid_loop(strict=True)
    # Presence batches go out sooner than in production, so tests waiting for them are
    # quick; tests that count batches stop the clock themselves.
    application.messenger.presence.delay = 0.02
    yield application
    application.messenger.presence.close()
    application.messenger.webhooks.close()
    application.files.close()
    application.messenger.writer.close()
    application.messenger.reads.close()
    database_module.forbid_loop(False)
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
