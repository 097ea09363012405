"""Driving the web app in Debian's Chromium: people as browser contexts, and the calls
the browser tests make beside them. The fixtures built on these are in conftest.py."""

import contextlib
import json
import os
import re
import time
import urllib.request
from urllib.parse import urlsplit

from conftest import PASSWORD
from playwright.sync_api import expect, sync_playwright

# Reconnecting after a restart waits out the socket's backoff (a few seconds at most).
expect.set_options(timeout=20000)

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
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


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


def chat_of(people, *names):
    """The first person (a browser context made by ``people``) starts a chat; the
    others join it by its link. Returns the visitors and the chat's URI."""
    visitors = [people() for _ in names]
    visitors[0].sign_up(names[0])
    path = visitors[0].start_chat()
    for visitor, name in zip(visitors[1:], names[1:], strict=True):
        visitor.sign_up(name, path)
        expect(visitor.page.locator("#composer-text")).to_be_enabled()
    return visitors, path.split("/")[2]


def wait_until(page, expression, timeout=20):
    """Wait until ``expression`` (JavaScript, awaited if a promise) is true in ``page``.

    Playwright's own ``wait_for_function`` polls with ``eval`` inside the page, which
    the app's Content-Security-Policy (no 'unsafe-eval') refuses whenever the first
    check is false; each ``evaluate`` here runs through the browser's protocol instead.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(50)


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, with nothing that would call the internet."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
