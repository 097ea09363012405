"""Bots and webhooks: accounts people make for their scripts, a secret address that
posts as a bot, and every message of a chat posted, signed, to a bot's receiver.

The receivers are real HTTP servers on loopback, in threads of their own, so that one
that hangs really hangs while the chat server carries on.
"""

import asyncio
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import PASSWORD, Person
from realtime import closed, read, read_type, room_socket, send, ui_socket, until
from rest import snapshot

from handlers.base import redacted
from models import Message, Room, Token, User, Webhook


class Receiver:
    """An HTTP server on loopback that keeps every POST it gets.

    ``answers`` are the statuses of its next answers in turn (then 200 for ever);
    while ``hanging`` it holds each request without answering until ``release()``.
    """

    def __init__(self, answers=(), hang=False):
        self.requests = []  # (monotonic time, headers, body)
        self.answers = list(answers)
        self.gate = threading.Event()
        if not hang:
            self.gate.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((time.monotonic(), dict(self.headers), body))
                receiver.gate.wait(30)
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self):
        return [json.loads(body) for _, _, body in self.requests]

    def release(self):
        self.gate.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**options):
        made.append(Receiver(**options))
        return made[-1]

    yield make
    for one in made:
        one.close()


def a_port_nobody_listens_on():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def quick_retries(app):
    """Retries after 0.05, 0.1, 0.2 ... s and a 2 s timeout, so failures show fast."""
    hooks = app.messenger.webhooks
    hooks.backoff, hooks.timeout = 0.05, 2.0
    return hooks


async def make_bot(person, username="helper", display_name="Helper"):
    status, data = await person.call(
        "POST", "/api/bots/", {"username": username, "display_name": display_name}
    )
    assert status == 201, data
    return data


async def bot_in_chat(api, owner, uri, username="helper"):
    """A bot of ``owner``'s, added by them to the chat ``uri``: a Person with its token."""
    made = await make_bot(owner, username)
    status, data = await owner.call(
        "POST", f"/api/chats/{uri}/members/", {"username": username}
    )
    assert status == 201, data
    return Person(api, username, made["token"], made["bot"])


async def add_hook(owner, bot, uri, **fields):
    status, data = await owner.call(
        "POST", f"/api/bots/{bot}/webhooks/", dict(fields, chat=uri)
    )
    assert status == 201, data
    return data


async def my_bots(person):
    status, data = await person.call("GET", "/api/bots/")
    assert status == 200, data
    return data["bots"]


# --- Bot accounts ----------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_person_makes_a_bot_whose_token_is_shown_once_and_works(api):
    alice = await api.signup("alice")
    made = await make_bot(alice)
    bot = made["bot"]
    assert (bot["username"], bot["display_name"], bot["is_bot"]) == (
        "helper",
        "Helper",
        True,
    )
    assert bot["webhooks"] == []
    status, me = await api.call("GET", "/api/me/", token=made["token"])
    assert status == 200 and me["username"] == "helper" and me["is_bot"] is True
    # Listed for its owner, without any token; nobody else sees it as theirs.
    listed = await my_bots(alice)
    assert [b["username"] for b in listed] == ["helper"]
    assert made["token"] not in json.dumps(listed)
    bob = await api.signup("bob")
    assert await my_bots(bob) == []
    # People are marked as people wherever users are shown.
    status, people = await alice.call("GET", "/api/users/")
    assert {(u["username"], u["is_bot"]) for u in people["users"]} == {
        ("alice", False),
        ("bob", False),
        ("helper", True),
    }


@pytest.mark.gen_test(timeout=30)
async def test_a_bot_cannot_log_in_with_any_password(api):
    alice = await api.signup("alice")
    await make_bot(alice)
    for password in ("", PASSWORD, "x" * 10):
        status, data = await api.call(
            "POST", "/auth/token/login/", {"username": "helper", "password": password}
        )
        assert status == 400, data


@pytest.mark.gen_test(timeout=30)
async def test_bad_bot_names_and_too_many_bots_are_refused_and_change_nothing(api):
    alice = await api.signup("alice")
    await make_bot(alice, "helper")
    before = snapshot()
    for body, field in (
        ({}, "username"),
        ({"username": "no spaces"}, "username"),
        ({"username": "ALICE"}, "username"),
        ({"username": "Helper"}, "username"),
        ({"username": "ok", "display_name": 5}, "display_name"),
        ({"username": "ok", "display_name": "x" * 65}, "display_name"),
    ):
        status, data = await alice.call("POST", "/api/bots/", body)
        assert status == 400 and field in data, (body, data)
    assert snapshot() == before
    for n in range(2, User.MAX_BOTS + 1):
        await make_bot(alice, f"helper{n}")
    status, data = await alice.call("POST", "/api/bots/", {"username": "onemore"})
    assert status == 400 and "10 bots" in json.dumps(data)
    assert len(await my_bots(alice)) == User.MAX_BOTS


@pytest.mark.gen_test(timeout=30)
async def test_a_bot_cannot_make_bots_and_nobody_manages_someone_elses_bot(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    made = await make_bot(alice)
    status, _ = await api.call(
        "POST", "/api/bots/", {"username": "child"}, token=made["token"]
    )
    assert status == 403
    before = snapshot()
    for method, path in (
        ("POST", "/api/bots/helper/token/"),
        ("DELETE", "/api/bots/helper/"),
        ("POST", "/api/bots/helper/webhooks/"),
        ("DELETE", "/api/bots/helper/webhooks/1/"),
        ("DELETE", "/api/bots/alice/"),
    ):
        status, _ = await bob.call(method, path, {"chat": "x", "direction": "in"})
        assert status == 404, (method, path)
    assert snapshot() == before
    assert (await api.call("GET", "/api/bots/"))[0] == 401


@pytest.mark.gen_test(timeout=30)
async def test_a_new_token_ends_the_old_one_and_its_open_sockets(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    bot = await bot_in_chat(api, alice, uri)
    ws = await ui_socket(bot, uri)
    status, data = await alice.call("POST", "/api/bots/helper/token/")
    assert status == 200 and data["token"] != bot.token
    assert await closed(ws) == 4401
    assert (await bot.call("GET", "/api/me/"))[0] == 401
    status, me = await api.call("GET", "/api/me/", token=data["token"])
    assert status == 200 and me["username"] == "helper"
    assert Token.select().join(User).where(User.username == "helper").count() == 1


@pytest.mark.gen_test(timeout=30)
async def test_deactivating_a_bot_ends_its_token_sockets_and_webhooks(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    bot = await bot_in_chat(api, alice, uri)
    hook = await add_hook(alice, "helper", uri, direction="in")
    ws = await room_socket(bot, uri)
    status, _ = await alice.call("DELETE", "/api/bots/helper/")
    assert status == 204
    assert await closed(ws) == 4401
    assert (await bot.call("GET", "/api/me/"))[0] == 401
    assert await my_bots(alice) == []
    status, _ = await api.call("POST", hook["url"], {"text": "still here?"})
    assert status == 404
    assert Webhook.select().count() == 0
    # Its messages keep their author; the name stays taken.
    status, data = await alice.call("POST", "/api/bots/", {"username": "helper"})
    assert status == 400


@pytest.mark.gen_test(timeout=30)
async def test_deactivating_a_person_switches_their_bots_off_too(api):
    ada, alice = await api.signup("ada"), await api.signup("alice")
    made = await make_bot(alice)
    status, _ = await ada.call("POST", "/api/admin/users/alice/deactivate", {})
    assert status == 200
    assert (await api.call("GET", "/api/me/", token=made["token"]))[0] == 401
    assert User.get(User.username == "helper").is_active is False


# --- Bots talk like people ---------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_bot_added_to_a_chat_posts_over_rest_and_both_sockets(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    # Not a member yet: nothing to read or post.
    made = await make_bot(alice)
    status, _ = await api.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "hi"}, token=made["token"]
    )
    assert status == 403
    status, added = await alice.call(
        "POST", f"/api/chats/{uri}/members/", {"username": "helper"}
    )
    assert status == 201
    assert [(m["username"], m["is_bot"]) for m in added["members"]] == [
        ("alice", False),
        ("helper", True),
    ]
    bot = Person(api, "helper", made["token"], made["bot"])
    watcher = await ui_socket(alice, uri)
    posted = await bot.say(uri, "over REST")
    assert posted["user"]["is_bot"] is True
    frame = await read_type(watcher, "message")
    assert (frame["message"], frame["user"]["is_bot"]) == ("over REST", True)
    ui = await ui_socket(bot, uri)
    send(ui, {"type": "send", "uri": uri, "client_id": "b-1", "text": "over the UI socket"})
    frame = await read_type(watcher, "message")
    assert (frame["message"], frame["user"]["username"]) == ("over the UI socket", "helper")
    seed = await room_socket(bot, uri)
    send(seed, {"message": "over the room socket"})
    echo = await read(seed)
    assert echo["message"] == "over the room socket" and echo["user"]["is_bot"] is True
    history = await alice.history(uri)
    assert [m["message"] for m in history] == [
        "over REST",
        "over the UI socket",
        "over the room socket",
    ]


# --- Incoming webhooks -------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_an_incoming_webhook_posts_as_the_bot_in_either_shape(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    hook = await add_hook(alice, "helper", uri, direction="in")
    assert hook["url"].startswith("/hooks/") and len(hook["url"]) >= len("/hooks/") + 22
    assert hook["webhook"]["direction"] == "in" and hook["webhook"]["chat"]["uri"] == uri
    watcher = await ui_socket(alice, uri)
    status, data = await api.call("POST", hook["url"], {"text": "Slack style"})
    assert status == 201 and data["user"]["username"] == "helper"
    status, data = await api.call("POST", hook["url"], {"message": "Chatire style"})
    assert status == 201
    for text in ("Slack style", "Chatire style"):
        frame = await read_type(watcher, "message")
        assert (frame["message"], frame["user"]["is_bot"]) == (text, True)
    # The secret itself is kept only as a digest.
    secret = hook["url"].removeprefix("/hooks/")
    assert secret not in json.dumps(list(Webhook.select().dicts()), default=str)
    # A resend with the same client_id posts once.
    for _ in range(2):
        status, data = await api.call(
            "POST", hook["url"], {"text": "once", "client_id": "job-7"}
        )
    assert status == 200
    assert [m["message"] for m in await alice.history(uri)][-1:] == ["once"]
    assert len(await alice.history(uri)) == 3


@pytest.mark.gen_test(timeout=30)
async def test_a_wrong_secret_or_bad_body_changes_nothing(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    hook = await add_hook(alice, "helper", uri, direction="in")
    before = snapshot()
    secret = hook["url"].removeprefix("/hooks/")
    for path in (
        "/hooks/" + secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        "/hooks/nothing",
        "/hooks/" + "x" * 500,
    ):
        status, data = await api.call("POST", path, {"text": "let me in"})
        assert status == 404 and data == {"detail": "Not found."}, path
    for raw in ("{not json", "[1, 2]", '{"text": 5}', "{}", '{"message": null}'):
        status, data = await api.call(
            "POST", hook["url"], raw=raw, headers={"Content-Type": "application/json"}
        )
        assert status == 400, (raw, data)
    status, data = await api.call("POST", hook["url"], {"text": ""})
    assert status == 400
    status, _ = await api.call("GET", hook["url"])
    assert status == 405
    assert snapshot() == before
    assert await alice.history(uri) == []


@pytest.mark.gen_test(timeout=30)
async def test_an_incoming_webhook_works_for_a_cookie_carrying_browser_without_xsrf(api):
    # The address is the credential: a session cookie sent along grants nothing, so it
    # asks for no XSRF token either.
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    hook = await add_hook(alice, "helper", uri, direction="in")
    status, data = await api.call(
        "POST",
        hook["url"],
        {"text": "from a page"},
        headers={"Cookie": "chatbox_session=whatever"},
    )
    assert status == 201 and data["user"]["username"] == "helper"


@pytest.mark.gen_test(timeout=30)
async def test_webhooks_only_where_the_bot_is_a_member_and_only_while_it_is(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    other = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    before = snapshot()
    for body in (
        {"chat": other, "direction": "in"},
        {"chat": "no-such-chat", "direction": "in"},
        {"chat": uri, "direction": "sideways"},
        {"chat": uri, "direction": "out", "url": "ftp://10.0.0.2/hook"},
        {"chat": uri, "direction": "out", "url": "file:///etc/passwd"},
        {"chat": uri, "direction": "out", "url": "http://"},
        {"chat": uri, "direction": "out", "url": "http://host:99999/"},
        {"chat": uri, "direction": "out", "url": "http://ok/", "trigger": "sometimes"},
        {"chat": uri, "direction": "out"},
    ):
        status, data = await alice.call("POST", "/api/bots/helper/webhooks/", body)
        assert status == 400, (body, data)
    assert snapshot() == before
    # LAN addresses are what bots listen on: allowed.
    await add_hook(alice, "helper", uri, direction="out", url="http://192.168.1.20:8080/")
    hook = await add_hook(alice, "helper", uri, direction="in")
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/helper/")
    assert status in (200, 204)
    status, data = await api.call("POST", hook["url"], {"text": "after removal"})
    assert status == 403
    assert await alice.history(uri) == []


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_webhook_stops_working(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    hook = await add_hook(alice, "helper", uri, direction="in")
    status, _ = await alice.call("DELETE", f"/api/bots/helper/webhooks/{hook['id']}/")
    assert status == 204
    status, _ = await alice.call("DELETE", f"/api/bots/helper/webhooks/{hook['id']}/")
    assert status == 404
    status, _ = await api.call("POST", hook["url"], {"text": "gone?"})
    assert status == 404


def test_the_access_log_never_shows_an_incoming_webhooks_secret():
    assert redacted("/hooks/s3cr3t") == "/hooks/[redacted]"
    assert redacted("/hooks/s3cr3t?x=1") == "/hooks/[redacted]?x=1"
    assert redacted("/hooks/") == "/hooks/"


# --- Outgoing webhooks -------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_each_message_is_posted_signed_with_the_webhooks_secret(api, receiver):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    bot = await bot_in_chat(api, alice, uri)
    target = receiver()
    hook = await add_hook(alice, "helper", uri, direction="out", url=target.url)
    assert len(hook["secret"]) >= 32 and hook["webhook"]["trigger"] == "all"
    assert hook["secret"] not in json.dumps(await my_bots(alice))
    await bot.say(uri, "my own words are not sent to me")
    sent = await alice.say(uri, "hello bot")
    await until(lambda: len(target.requests) == 1)
    _, headers, body = target.requests[0]
    expected = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Chatbox-Signature"] == f"sha256={expected}"
    assert headers["Content-Type"].startswith("application/json")
    event = json.loads(body)
    assert event["type"] == "message" and event["chat"]["uri"] == uri
    assert event["message"]["id"] == sent["id"]
    assert event["message"]["message"] == "hello bot"
    assert event["message"]["user"]["username"] == "alice"
    await until(lambda: my_hook_state(alice_id=alice.id)["last_status"] == 200)
    state = (await my_bots(alice))[0]["webhooks"][0]
    assert (state["last_status"], state["failures"], state["last_error"]) == (200, 0, "")
    assert state["last_attempt_at"] is not None and state["url"] == target.url


def my_hook_state(alice_id):
    hook = (
        Webhook.select()
        .join(User)
        .where((User.bot_owner == alice_id) & (Webhook.direction == "out"))
        .first()
    )
    return {"last_status": hook.last_status, "failures": hook.failures}


@pytest.mark.gen_test(timeout=30)
async def test_a_mention_webhook_hears_only_messages_that_mention_the_bot(api, receiver):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    target = receiver()
    await add_hook(alice, "helper", uri, direction="out", url=target.url, trigger="mention")
    await alice.say(uri, "nothing for the bot")
    await alice.say(uri, "@helper what is the time?")
    await until(lambda: len(target.requests) == 1)
    # One queue per webhook, in order: had the first message been queued it would have
    # arrived first.
    assert [e["message"]["message"] for e in target.events()] == [
        "@helper what is the time?"
    ]
    assert target.events()[0]["message"]["mentions"][0]["user"] != alice.id


@pytest.mark.gen_test(timeout=30)
async def test_a_failed_delivery_is_retried_with_backoff_until_it_succeeds(
    api, receiver, quick_retries
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    target = receiver(answers=[500, 503])
    await add_hook(alice, "helper", uri, direction="out", url=target.url)
    await alice.say(uri, "third time lucky")
    await until(lambda: len(target.requests) == 3)
    times = [when for when, _, _ in target.requests]
    bodies = {body for _, _, body in target.requests}
    assert len(bodies) == 1  # the same event, byte for byte
    # Each wait at least as long as the backoff says, the second twice the first.
    assert times[1] - times[0] >= 0.05
    assert times[2] - times[1] >= 0.1
    await until(lambda: my_hook_state(alice.id)["last_status"] == 200)
    state = (await my_bots(alice))[0]["webhooks"][0]
    assert (state["failures"], state["last_error"]) == (0, "")


@pytest.mark.gen_test(timeout=30)
async def test_a_receiver_that_keeps_failing_is_given_up_on_and_the_owner_sees_why(
    api, receiver, quick_retries
):
    quick_retries.retries = 2
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    target = receiver(answers=[500] * 10)
    await add_hook(alice, "helper", uri, direction="out", url=target.url)
    await alice.say(uri, "anyone?")
    await until(lambda: my_hook_state(alice.id)["failures"] == 3)
    state = (await my_bots(alice))[0]["webhooks"][0]
    assert state["last_status"] == 500
    assert state["last_error"].startswith("Gave up after 3 attempts")
    assert len(target.requests) == 3


@pytest.mark.gen_test(timeout=30)
async def test_a_refused_connection_never_delays_the_chat_and_shows_as_a_failure(
    api, quick_retries
):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uri = await alice.start_chat()
    await bob.join(uri)
    await bot_in_chat(api, alice, uri)
    dead = f"http://127.0.0.1:{a_port_nobody_listens_on()}/hook"
    await add_hook(alice, "helper", uri, direction="out", url=dead)
    ws = await ui_socket(bob, uri)
    for n in range(5):
        await alice.say(uri, f"message {n}")
    got = [(await read_type(ws, "message"))["message"] for _ in range(5)]
    assert got == [f"message {n}" for n in range(5)]
    await until(lambda: my_hook_state(alice.id)["failures"] >= 1)
    state = (await my_bots(alice))[0]["webhooks"][0]
    assert state["last_status"] is None and state["last_error"]


@pytest.mark.gen_test(timeout=60)
async def test_a_receiver_that_hangs_never_delays_the_chat(api, app, receiver):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uri = await alice.start_chat()
    await bob.join(uri)
    await bot_in_chat(api, alice, uri)
    target = receiver(hang=True)
    hook = await add_hook(alice, "helper", uri, direction="out", url=target.url)
    ws = await ui_socket(bob, uri)
    await alice.say(uri, "first")
    assert (await read_type(ws, "message"))["message"] == "first"
    # The receiver holds the first delivery open ...
    await until(lambda: len(target.requests) == 1)
    # ... while every later message is stored and reaches the room all the same.
    for n in range(10):
        await alice.say(uri, f"later {n}")
        assert (await read_type(ws, "message"))["message"] == f"later {n}"
    assert Webhook.get_by_id(hook["id"]).last_attempt_at is None  # still waiting
    assert app.messenger.webhooks.queued(hook["id"]) == 11
    assert len(target.requests) == 1
    target.release()
    await until(lambda: len(target.requests) == 11, timeout=15)
    assert [e["message"]["message"] for e in target.events()] == ["first"] + [
        f"later {n}" for n in range(10)
    ]


@pytest.mark.gen_test(timeout=30)
async def test_a_webhook_falls_silent_when_its_bot_leaves_the_chat(api, receiver):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    target = receiver()
    await add_hook(alice, "helper", uri, direction="out", url=target.url)
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/helper/")
    assert status in (200, 204)
    await alice.say(uri, "not for the bot")
    await alice.call("POST", f"/api/chats/{uri}/members/", {"username": "helper"})
    await alice.say(uri, "for the bot again")
    await until(lambda: len(target.requests) == 1)
    assert [e["message"]["message"] for e in target.events()] == ["for the bot again"]


@pytest.mark.gen_test(timeout=30)
async def test_a_full_queue_drops_new_events_and_says_so(api, app, receiver):
    app.messenger.webhooks.queue_size = 2
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await bot_in_chat(api, alice, uri)
    target = receiver(hang=True)
    hook = await add_hook(alice, "helper", uri, direction="out", url=target.url)
    for n in range(4):
        await alice.say(uri, f"m{n}")
    await until(lambda: Webhook.get_by_id(hook["id"]).failures == 2)
    assert "fell behind" in Webhook.get_by_id(hook["id"]).last_error
    target.release()
    await until(lambda: len(target.requests) == 2)
    await asyncio.sleep(0)
    assert [e["message"]["message"] for e in target.events()] == ["m0", "m1"]


# --- The published description ----------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_real_answers_of_the_bot_routes_fit_their_schemas(api, receiver):
    from test_openapi import conforms, load_doc

    schemas = load_doc()["components"]["schemas"]
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    status, made = await alice.call("POST", "/api/bots/", {"username": "helper"})
    assert conforms(made, schemas["BotToken"], schemas) == []
    await alice.call("POST", f"/api/chats/{uri}/members/", {"username": "helper"})
    incoming = await add_hook(alice, "helper", uri, direction="in")
    target = receiver()
    outgoing = await add_hook(alice, "helper", uri, direction="out", url=target.url)
    for answer in (incoming, outgoing):
        assert conforms(answer, schemas["WebhookCreated"], schemas) == []
    status, posted = await api.call("POST", incoming["url"], {"text": "hi"})
    assert conforms(posted, schemas["PostedMessage"], schemas) == []
    await alice.say(uri, "hello")
    await until(lambda: my_hook_state(alice.id)["last_status"] == 200)
    status, listed = await alice.call("GET", "/api/bots/")
    assert conforms(listed, schemas["BotList"], schemas) == []
    status, renewed = await alice.call("POST", "/api/bots/helper/token/")
    assert conforms(renewed, schemas["BotToken"], schemas) == []


# --- The bot in docs/bots.md works ------------------------------------------------------

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")


def documented_bot():
    with open(os.path.join(DOCS, "bots.md"), encoding="utf-8") as f:
        text = f.read()
    found = re.search(r"<!-- echo_bot\.py:.*?-->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/bots.md lost its bot"
    return found.group(1)


@pytest.mark.gen_test(timeout=60)
async def test_the_bot_in_the_docs_answers_a_mention_and_refuses_a_forged_event(
    api, tmp_path
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    bot = await bot_in_chat(api, alice, uri)
    port = a_port_nobody_listens_on()
    hook = await add_hook(
        alice,
        "helper",
        uri,
        direction="out",
        url=f"http://127.0.0.1:{port}/",
        trigger="mention",
    )
    script = tmp_path / "echo_bot.py"
    script.write_text(documented_bot(), encoding="utf-8")
    env = dict(
        os.environ,
        CHATBOX_URL=api.base_url,
        BOT_TOKEN=bot.token,
        WEBHOOK_SECRET=hook["secret"],
        PORT=str(port),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        assert b"listening" in line
        # A body the box did not sign is refused, and answered nothing.
        forged = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=b'{"type": "message"}',
            headers={"X-Chatbox-Signature": "sha256=" + "0" * 64},
            method="POST",
        )
        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(None, forged_status, forged)
        assert status == 403
        asked = await alice.say(uri, "@helper are you there?")
        await until(lambda: len(texts_in(uri)) == 2, timeout=15)
        history = await alice.history(uri)
        answer = history[-1]
        assert answer["user"]["username"] == "helper" and answer["user"]["is_bot"]
        assert answer["message"] == "alice, you said: @helper are you there?"
        assert answer["reply_to"]["id"] == asked["id"]
    finally:
        process.terminate()
        await process.wait()


def forged_status(request):
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def texts_in(uri):
    return [m.text for m in Message.select().join(Room).where(Room.uri == uri)]
