"""The web app in a real Chromium against a real chatbox process.

Each module run starts ``python chatbox.py`` on a free loopback port over a fresh
SQLite file; the tests drive two browser contexts (two people) with Playwright's sync
API. Screenshots of the main screens are written to test-artifacts/.
"""
import os
import re
import json
import urllib.request
from urllib.parse import urlsplit

import pytest

from boxes import Box

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
# Reconnecting after a restart waits out the socket's backoff (a few seconds at most).
expect.set_options(timeout=20000)

pytestmark = pytest.mark.browser

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # One test sets up its history by posting 120 messages through the API in a second,
    # faster than the sending budget lets anyone; all else runs within the default
    # budgets, as people at a browser do.
    box = Box(
        tmp_path_factory.mktemp("ui"), "--logging=warning", "--limits=send=off,send-bytes=off"
    )
    box.start()
    yield box
    box.close()


def api_call(server, method, path, body=None, token=None):
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read() or b"null")


def token_for(server, username):
    data = api_call(
        server, "POST", "/auth/token/create/", {"username": username, "password": PASSWORD}
    )
    return data["auth_token"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visitor:
    """One person's browser context: its page, and every address it asked for."""

    def __init__(self, browser, server, viewport=DESKTOP, **options):
        self.server = server
        self.context = browser.new_context(viewport=viewport, **options)
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.requests = []
        self.dialogs = []
        self.errors = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)

    def _console(self, message):
        # API refusals (the 401 of /api/me before a login, a wrong password's 400, a
        # 429) are shown by the app, and a socket to a stopped server cannot connect:
        # those are expected; any other console error is not.
        expected = ("server responded with a status of 4", "ERR_CONNECTION_REFUSED")
        if message.type == "error" and not any(e in message.text for e in expected):
            self.errors.append(message.text)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def goto(self, path):
        self.page.goto(self.server.url + path)

    def sign_up(self, username, path="/signup"):
        self.goto(path)
        self.fill_auth(username, PASSWORD, "Sign up")

    def fill_auth(self, username, password, tab):
        page = self.page
        page.get_by_role("tab", name=tab).click()
        page.fill("#auth-username", username)
        page.fill("#auth-password", password)
        page.locator("form.card button[type=submit]").click()

    def start_chat(self):
        self.page.get_by_role("button", name="Start chatting").first.click()
        self.page.wait_for_url(re.compile(r"/chats/[0-9a-f]+/$"))
        return urlsplit(self.page.url).path

    def say(self, text):
        self.page.fill("#composer-text", text)
        self.page.keyboard.press("Enter")

    def bubbles(self, text):
        return self.page.locator("article.message", has_text=text)

    def shot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"))

    def close(self):
        self.context.close()

    def foreign_requests(self):
        own = urlsplit(self.server.url).netloc
        return [url for url in self.requests if urlsplit(url).netloc != own]


@pytest.fixture
def people(browser, server):
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


def test_two_people_chat_in_real_time_through_a_shared_link(people):
    alice, bob = people(), people()
    alice.sign_up("alice")
    path = alice.start_chat()
    expect(alice.page.get_by_text("Share the page URL to invite new friends")).to_be_visible()

    # Bob follows the link before he has an account: he is asked to sign up, then joined.
    bob.goto(path)
    expect(bob.page.get_by_text("You were invited to a chat")).to_be_visible()
    bob.fill_auth("bob", PASSWORD, "Sign up")
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    assert urlsplit(bob.page.url).path == path
    expect(bob.page.locator(".head .title")).to_have_text(re.compile("alice"))

    alice.say("hello bob")
    expect(bob.bubbles("hello bob")).to_have_count(1)
    expect(alice.bubbles("hello bob")).to_have_attribute("data-status", "sent")
    bob.say("hi alice")
    expect(alice.bubbles("hi alice")).to_have_count(1)

    # Own messages sit on the right, the other person's on the left.
    for visitor, own, other in ((alice, "hello bob", "hi alice"), (bob, "hi alice", "hello bob")):
        scroller = visitor.page.locator(".scroller").bounding_box()
        mine = visitor.bubbles(own).locator(".bubble").bounding_box()
        theirs = visitor.bubbles(other).locator(".bubble").bounding_box()
        assert visitor.bubbles(own).get_attribute("class").split().count("mine") == 1
        assert "mine" not in visitor.bubbles(other).get_attribute("class").split()
        middle = scroller["x"] + scroller["width"] / 2
        assert mine["x"] > middle
        assert theirs["x"] + theirs["width"] < middle

    # Typing shows up on the other side; both members are listed as online.
    bob.page.fill("#composer-text", "thinking")
    expect(alice.page.get_by_text("bob is typing…")).to_be_visible()
    alice.page.get_by_role("button", name="Show members").click()
    members = alice.page.locator("#members-panel li")
    expect(members).to_have_count(2)
    expect(members.filter(has_text="bob").locator(".dot.on")).to_have_count(1)

    # History survives a reload, in order, each message once.
    alice.page.reload()
    texts = alice.page.locator("article.message .text")
    expect(texts).to_have_text(["hello bob", "hi alice"])


def test_messages_sent_while_the_server_is_down_arrive_once(people, server):
    alice, bob = people(), people()
    alice.sign_up("carol")
    path = alice.start_chat()
    bob.sign_up("dave", path)
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    alice.say("before the outage")
    expect(bob.bubbles("before the outage")).to_have_count(1)

    server.terminate()
    expect(alice.page.get_by_text("Reconnecting")).to_be_visible()
    alice.say("during the outage 1")
    alice.say("during the outage 2")
    expect(alice.page.locator("[data-status=sending]")).to_have_count(2)
    bob.say("bob while down")
    # Unsent messages are kept in the browser, so a reload does not lose them.
    stored = alice.page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('chatbox:pending:'))"
        ".map(k => localStorage.getItem(k)).join('')"
    )
    assert "during the outage 1" in stored and "during the outage 2" in stored

    server.start()
    for visitor in (alice, bob):
        for text in ("during the outage 1", "during the outage 2", "bob while down"):
            expect(visitor.bubbles(text)).to_have_count(1)
        expect(visitor.page.locator("[data-status=sending]")).to_have_count(0)
        expect(visitor.page.get_by_text("Reconnecting")).to_have_count(0)

    # A message still waiting when the page reloads is sent after it, and only once.
    server.terminate()
    alice.say("across a reload")
    server.start()
    alice.page.reload()
    expect(alice.bubbles("across a reload")).to_have_count(1)
    expect(bob.bubbles("across a reload")).to_have_count(1)
    expect(alice.bubbles("across a reload")).to_have_attribute("data-status", "sent")
    # Both see the server's order (who reconnected first decides it), each message once.
    alice.page.reload()
    expect(alice.page.locator("article.message")).to_have_count(5)
    order = alice.page.locator("article.message .text").all_inner_texts()
    assert sorted(order) == sorted(
        [
            "before the outage",
            "during the outage 1",
            "during the outage 2",
            "bob while down",
            "across a reload",
        ]
    )
    assert order.index("during the outage 1") < order.index("during the outage 2")
    expect(bob.page.locator("article.message .text")).to_have_text(order)


def test_markup_in_a_message_is_shown_as_text(people):
    alice, bob = people(), people()
    alice.sign_up("erin")
    path = alice.start_chat()
    bob.sign_up("frank", path)
    attack = "<img src=x onerror=alert(1)>"
    alice.say(attack)
    alice.say("see https://example.invalid/page")
    for visitor in (alice, bob):
        expect(visitor.bubbles(attack)).to_have_count(1)
        expect(visitor.page.locator(".scroller img")).to_have_count(0)
        link = visitor.page.locator(".scroller a[href='https://example.invalid/page']")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        expect(link).to_have_attribute("target", "_blank")
        assert visitor.dialogs == []


def test_sign_up_and_log_in_explain_what_went_wrong(people):
    visitor = people()
    visitor.goto("/signup")
    visitor.fill_auth("grace", "short", "Sign up")
    expect(visitor.page.get_by_text("Use at least 8 characters.")).to_be_visible()
    visitor.fill_auth("grace", PASSWORD, "Sign up")
    expect(visitor.page.get_by_role("button", name="Start chatting").first).to_be_visible()
    visitor.page.get_by_role("button", name="Log out").click()
    expect(visitor.page.get_by_role("tab", name="Log in")).to_be_visible()

    visitor.fill_auth("grace", PASSWORD, "Sign up")
    expect(visitor.page.get_by_text("A user with that username already exists.")).to_be_visible()
    visitor.fill_auth("grace", "wrong password", "Log in")
    expect(visitor.page.get_by_text("Wrong username or password.")).to_be_visible()
    for _ in range(5):
        visitor.fill_auth("grace", "wrong password", "Log in")
    expect(visitor.page.get_by_text(re.compile("Too many failed attempts"))).to_be_visible()


def test_unread_messages_show_in_the_list_and_the_title(people):
    alice, bob = people(), people()
    alice.sign_up("heidi")
    path = alice.start_chat()
    bob.sign_up("ivan", path)
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    bob.page.locator("a.brand").click()
    alice.say("one")
    alice.say("two")
    expect(bob.page).to_have_title("(2) chatbox")
    expect(bob.page.locator(".room .badge")).to_contain_text("2")
    bob.page.locator(".room").first.click()
    expect(bob.page).to_have_title("chatbox")
    expect(bob.page.locator(".room .badge")).to_have_count(0)


def test_named_rooms_open_by_name_and_emoji_are_picked(people):
    visitor = people()
    visitor.sign_up("judy")
    visitor.page.fill("#room-name", "General")
    visitor.page.get_by_role("button", name="Open", exact=True).click()
    visitor.page.wait_for_url(re.compile(r"/chats/general/$"))
    expect(visitor.page.locator(".head .title")).to_have_text("#general")
    visitor.page.get_by_role("button", name="Insert emoji").click()
    visitor.page.get_by_role("button", name="😀").click()
    visitor.page.keyboard.press("Escape")
    expect(visitor.page.locator("#composer-text")).to_have_value("😀")
    visitor.page.locator("#composer-text").press("Shift+Enter")
    visitor.page.locator("#composer-text").type("two lines")
    visitor.page.get_by_role("button", name="Send").click()
    expect(visitor.page.locator("article.message .text")).to_have_text("😀\ntwo lines")


def test_screens_at_desktop_and_phone_widths(people):
    for label, viewport, scheme in (
        ("desktop", DESKTOP, "light"),
        ("phone", PHONE, "light"),
        ("dark", DESKTOP, "dark"),
    ):
        alice = people(viewport, color_scheme=scheme)
        bob = people(viewport, color_scheme=scheme)
        alice.goto("/login")
        alice.shot(f"{label}-login")
        alice.sign_up(f"kim-{label}")
        expect(alice.page.get_by_role("button", name="Start chatting").first).to_be_visible()
        path = alice.start_chat()
        bob.sign_up(f"lee-{label}", path)
        expect(bob.page.locator("#composer-text")).to_be_enabled()
        alice.say("Hi! Here is the plan for Saturday: https://example.invalid/plan")
        bob.say("Sounds good 👍")
        bob.say("I'll bring snacks.\nAnd a second line.")
        alice.say("Great, see you then")
        expect(alice.bubbles("Great, see you then")).to_have_attribute("data-status", "sent")
        expect(bob.bubbles("Great, see you then")).to_have_count(1)
        alice.page.locator("#composer-text").focus()
        alice.shot(f"{label}-chat")
        bob.shot(f"{label}-chat-other-side")
        alice.page.get_by_role("button", name="QR code").click()
        alice.shot(f"{label}-share-qr")
        alice.page.get_by_role("button", name="QR code").click()
        alice.page.get_by_role("button", name="Insert emoji").click()
        alice.shot(f"{label}-emoji")
        alice.page.keyboard.press("Escape")
        alice.page.get_by_role("button", name="Show members").click()
        alice.shot(f"{label}-members")
        alice.goto("/")
        expect(alice.page.locator(".room")).to_have_count(1)
        alice.shot(f"{label}-home")


def test_older_messages_load_at_the_top_without_moving_the_view(people, server):
    alice, bob = people(), people()
    alice.sign_up("mallory")
    path = alice.start_chat()
    uri = path.split("/")[2]
    bob.sign_up("niaj", path)
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    token = token_for(server, "mallory")
    for n in range(1, 121):
        api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": f"n{n}"}, token)
    # Once Bob has read everything, a reload shows one page of the newest messages.
    expect(bob.bubbles("n120")).to_have_count(1)
    bob.page.reload()
    messages = bob.page.locator("article.message")
    # The chat opens at its newest message, with one page of history.
    expect(messages).to_have_count(50)
    expect(bob.bubbles("n120")).to_be_in_viewport()

    anchor = bob.bubbles("n71").first
    bob.page.locator(".scroller").evaluate("el => el.scrollTop = 0")
    expect(messages).to_have_count(100)
    # The message that was at the top is still on screen where the reader left it.
    top = bob.page.locator(".scroller").bounding_box()["y"]
    assert abs(anchor.bounding_box()["y"] - top) < 200
    expect(bob.bubbles("n21").first).not_to_be_in_viewport()

    # Reading older messages: a new one does not pull the view down, a button offers it.
    api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": "fresh news"}, token)
    jump = bob.page.get_by_role("button", name="1 new message")
    expect(jump).to_be_visible()
    expect(bob.bubbles("fresh news")).not_to_be_in_viewport()
    jump.click()
    expect(bob.bubbles("fresh news")).to_be_in_viewport()
    # At the bottom, the next message scrolls into view by itself.
    api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": "more news"}, token)
    expect(bob.bubbles("more news")).to_be_in_viewport()
