"""With reads on threads (as on PostgreSQL), no request handler touches the database
from the event loop: the rule raises if one does, and every surface still answers."""

import pytest

from appliance.service import Chores
from database import OnLoop, serving
from handlers.revocation import CLOSE_SIGNED_OUT, close_ended
from models import User


@pytest.fixture(autouse=True)
def read_threads(monkeypatch):
    """Before ``app``: its readers are threads, and the rule is on."""
    monkeypatch.setenv("CHATBOX_TEST_READ_THREADS", "2")


def test_a_statement_on_the_event_loop_while_serving_raises(app):
    token = serving.set(True)
    try:
        with pytest.raises(OnLoop):
            User.select().count()
    finally:
        serving.reset(token)
    # Outside serving (start-up, these tests' own set-up) the loop's thread may read.
    assert User.select().count() == 0


@pytest.mark.gen_test
async def test_a_read_through_the_read_pool_while_serving_runs_on_a_reader(app):
    token = serving.set(True)
    try:
        assert await app.messenger.reads.run(User.select().count) == 0
    finally:
        serving.reset(token)


@pytest.mark.gen_test
async def test_every_surface_answers_with_the_rule_on(api, app):
    """Any statement on the loop would answer 500, which fails ``api.call``. (Edits,
    reactions, read markers and renames read in ``hub.Messenger`` itself, which
    follows the rule separately.)"""
    alice = await api.signup("alice")  # the first account: the box's administrator
    bob = await api.signup("bob")
    status, _ = await api.call(
        "POST", "/auth/jwt/verify/", {"token": alice.token}, token=alice.token
    )
    assert status == 200
    uri = await alice.start_chat()
    assert (await alice.call("POST", "/api/chats/", {"name": "general"}))[0] == 201
    await bob.join(uri)
    await alice.say(uri, "hello @bob")
    assert [m["message"] for m in await bob.history(uri)] == ["hello @bob"]
    for method, path, body in [
        ("GET", "/api/me/", None),
        ("PATCH", "/api/me/", {"display_name": "Alice"}),
        ("GET", "/api/chats/", None),
        ("GET", f"/api/chats/{uri}/", None),
        ("PUT", f"/api/chats/{uri}/notifications/", {"level": "mentions"}),
        ("GET", f"/api/chats/{uri}/export.json", None),
        ("GET", "/api/users/?q=bo", None),
        ("POST", "/api/direct/", {"username": "bob"}),
        ("GET", "/api/search/?q=hi", None),
        ("GET", "/api/admin/users", None),
        ("GET", "/api/admin/settings", None),
        ("GET", "/api/admin/storage/", None),
        ("GET", "/api/bots/", None),
        ("GET", "/healthz", None),
    ]:
        status, data = await alice.call(method, path, body)
        assert status in (200, 201), (path, data)
    status, file = await alice.call(
        "POST", f"/api/chats/{uri}/uploads/?name=notes.txt", raw=b"some bytes"
    )
    assert status == 201, file
    await alice.say(uri, "", attachments=[file["id"]])
    response = await api.client.fetch(
        api.base_url + file["url"], headers={"Authorization": f"Token {bob.token}"}
    )
    assert response.body == b"some bytes"
    status, hook = await alice.call(
        "POST", "/api/bots/", {"username": "helper", "display_name": "Helper"}
    )
    assert status == 201, hook
    await alice.call("POST", f"/api/chats/{uri}/members/", {"username": "helper"})
    status, hook = await alice.call(
        "POST", "/api/bots/helper/webhooks/", {"chat": uri, "direction": "in"}
    )
    assert status == 201, hook
    assert (await api.call("POST", hook["url"], {"text": "from a script"}))[0] == 201
    assert (await alice.call("DELETE", f"/api/chats/{uri}/members/bob/"))[0] == 204
    assert (await bob.call("GET", f"/api/chats/{uri}/messages/"))[0] == 403


class EndedLogin:
    """An open socket as the sweep sees it, whose login no longer exists."""

    credential = "digest of a token since revoked"
    user_id = 1
    closed_with = None

    def close(self, code, reason):
        self.closed_with = code


class OneSocketHub:
    def __init__(self, socket):
        self.socket = socket

    def connections(self, user_id=None):
        return [self.socket]


@pytest.mark.gen_test
async def test_the_periodic_chores_read_off_the_event_loop(app, caplog):
    chores = Chores(app, paths=None)
    token = serving.set(True)
    try:
        await chores.index_upkeep()
        socket = EndedLogin()
        assert await close_ended(OneSocketHub(socket), app.messenger.reads) == 1
        assert socket.closed_with == CLOSE_SIGNED_OUT
        assert await app.files.sweep(app.messenger.writer) == 0
    finally:
        serving.reset(token)
        chores.stop()
    assert "merging the search index failed" not in caplog.text
