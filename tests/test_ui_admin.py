"""The web app end to end: administration, unread counts across tabs, the hidden tab.

Each test gets its own chatbox process (the first account on a box is its
administrator) and drives Debian's Chromium with Playwright, like tests/test_ui.py,
whose helpers it shares. Screenshots go to test-artifacts/.
"""

import os
import re
import sqlite3
import time
from urllib.parse import urlsplit

import bcrypt
import pytest
from boxes import Box
from browser import api_call, expect, token_for, wait_until
from conftest import PASSWORD

pytestmark = pytest.mark.browser

# Records how each websocket of the page closed, before the app's scripts run.
RECORD_SOCKET_CLOSES = """
window.__socketCloses = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('close', (event) => window.__socketCloses.push(event.code));
  }
};
"""

# Counts the chime instead of playing it.
SPY_ON_SOUND = """
window.__plays = 0;
HTMLMediaElement.prototype.play = function () {
  window.__plays += 1;
  return Promise.resolve();
};
"""

# A browser tab in the background: what the page sees when the user switches away.
SET_VISIBILITY = """
(hidden) => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(document, 'visibilityState', {
    configurable: true, get: () => (hidden ? 'hidden' : 'visible'),
  });
  document.dispatchEvent(new Event('visibilitychange'));
}
"""


@pytest.fixture
def server(tmp_path):
    box = Box(tmp_path, "--logging=warning")
    box.start()
    yield box
    box.close()


def sign_up_by_api(server, username):
    api_call(
        server, "POST", "/auth/users/create/", {"username": username, "password": PASSWORD}
    )
    return token_for(server, username)


def log_in(visitor, username):
    visitor.goto("/login")
    visitor.fill_auth(username, PASSWORD, "Log in")
    expect(visitor.page.get_by_role("button", name="Start chatting").first).to_be_visible()


def unread_on_server(server, token, uri):
    chats = api_call(server, "GET", "/api/chats/", token=token)["chats"]
    return next(c["unread"] for c in chats if c["uri"] == uri)


def wait_for_unread(server, token, uri, count, timeout=10):
    """The server's count reaches ``count``; the page sends its read marker after a
    short rest, so give it a bounded moment."""
    deadline = time.monotonic() + timeout
    while unread_on_server(server, token, uri) != count:
        assert time.monotonic() < deadline, f"unread never became {count}"
        time.sleep(0.1)


def test_an_administrator_makes_sign_up_invite_only_and_deactivates_a_user(people, server):
    admin = people()
    admin.sign_up("root")
    admin.page.get_by_role("link", name="Admin").click()
    admin.page.wait_for_url(re.compile(r"/admin$"))
    expect(admin.page.get_by_role("heading", name="Administration")).to_be_visible()
    admin.page.get_by_label("Only people with the invite link").check()
    link = admin.page.locator("#invite-link")
    expect(link).to_have_value(re.compile(r"/signup\?invite=.+"))
    invite = link.input_value()
    admin.shot("admin-invite-only")

    guest = people()
    guest.context.add_init_script(RECORD_SOCKET_CLOSES)
    guest.sign_up("guest")
    expect(
        guest.page.get_by_text("Sign-up needs an invitation link from an administrator.")
    ).to_be_visible()
    guest.shot("signup-refused-without-invite")
    parts = urlsplit(invite)
    guest.sign_up("guest", f"{parts.path}?{parts.query}")
    expect(guest.page.get_by_role("button", name="Start chatting").first).to_be_visible()
    guest.start_chat()
    expect(guest.page.locator("#composer-text")).to_be_enabled()

    # The list is read when the page opens: reload it to see the new account.
    admin.page.reload()
    row = admin.page.locator("li", has_text="guest")
    row.get_by_role("button", name="Deactivate").click()
    expect(row.get_by_text("deactivated")).to_be_visible()
    admin.shot("admin-deactivated")

    # The guest's open page loses its socket (4401) and goes back to the login screen.
    expect(guest.page.get_by_role("tab", name="Log in")).to_be_visible()
    assert 4401 in guest.page.evaluate("window.__socketCloses")
    guest.shot("deactivated-user-logged-out")
    guest.page.reload()
    expect(guest.page.get_by_role("tab", name="Log in")).to_be_visible()
    guest.fill_auth("guest", PASSWORD, "Log in")
    expect(guest.page.get_by_role("alert")).to_be_visible()
    expect(guest.page.get_by_role("button", name="Start chatting")).to_have_count(0)


def test_an_administrator_renames_an_account_whose_name_hides_a_newline(people, server):
    admin = people()
    admin.sign_up("rosa")
    expect(admin.page.get_by_role("link", name="Admin")).to_be_visible()
    # An account as a box made it before today's rules: a name ending in a newline,
    # which a chat shows as plain "gus".
    connection = sqlite3.connect(os.path.join(server.data_dir, "chatbox.db"))
    with connection:
        connection.execute(
            'INSERT INTO "user" ("username", "username_key", "password_hash", "email",'
            ' "first_name", "last_name", "created_at", "is_admin", "is_active",'
            ' "display_name", "is_bot")'
            " VALUES ('gus\n', 'gus\n', ?, '', '', '', '2025-01-02 03:04:05', 0, 1, '', 0)",
            (bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(),),
        )
    connection.close()
    gus = token_for(server, "gus\n")
    api_call(server, "POST", "/api/chats/", {"name": "porch"}, gus)
    api_call(server, "POST", "/api/chats/porch/messages/", {"message": "hi from gus"}, gus)

    admin.page.get_by_role("link", name="Admin").click()
    row = admin.page.locator("li", has_text="gus<U+000A>")
    expect(row.get_by_text("to rename")).to_be_visible()
    row.get_by_role("button", name="Rename").click()
    field = admin.page.get_by_role("textbox", name="New name for gus<U+000A>")
    expect(field).to_be_focused()
    admin.shot("admin-rename-an-old-name")
    field.fill("rosa")
    admin.page.get_by_role("button", name="Save").click()
    expect(admin.page.get_by_role("alert")).to_have_text(
        "A user with that username already exists."
    )
    field.fill("gustav")
    admin.page.get_by_role("button", name="Save").click()
    row = admin.page.locator("li", has_text="gustav")
    expect(row.get_by_role("button", name="Rename")).to_be_visible()
    expect(row.get_by_text("to rename")).to_have_count(0)
    expect(admin.page.locator("li", has_text="<U+000A>")).to_have_count(0)
    admin.shot("admin-renamed")

    # The chat shows the new name.
    admin.page.get_by_role("link", name="Back to chats").click()
    admin.page.fill("#room-name", "porch")
    admin.page.get_by_role("button", name="Open", exact=True).click()
    expect(admin.bubbles("hi from gus").locator(".author")).to_have_text("gustav")


def test_unread_counts_follow_one_user_across_two_browsers(people, server):
    laptop, phone = people(), people()
    laptop.sign_up("uma")
    path = laptop.start_chat()
    uri = path.split("/")[2]
    vic = sign_up_by_api(server, "vic")
    api_call(server, "PATCH", f"/api/chats/{uri}/", {}, vic)
    log_in(phone, "uma")
    laptop.page.locator("a.brand").click()
    expect(laptop.page.locator(".room")).to_have_count(1)

    api_call(
        server, "POST", f"/api/chats/{uri}/messages/", {"message": "are you there?"}, vic
    )
    for visitor in (laptop, phone):
        expect(visitor.page.locator(".room .badge")).to_have_text(re.compile(r"^\s*1"))
        expect(visitor.page).to_have_title("(1) chatbox")
    phone.shot("unread-on-the-second-browser")

    # Reading it on the laptop clears the phone's badge, and the server's count.
    laptop.page.locator(".room").first.click()
    expect(laptop.bubbles("are you there?")).to_be_visible()
    for visitor in (laptop, phone):
        expect(visitor.page.locator(".room .badge")).to_have_count(0)
        expect(visitor.page).to_have_title("chatbox")
    uma = token_for(server, "uma")
    wait_for_unread(server, uma, uri, 0)
    phone.shot("read-elsewhere-clears-the-badge")

    # A page opened afterwards starts from the server's count: nothing unread.
    late = people()
    log_in(late, "uma")
    expect(late.page.locator(".room")).to_have_count(1)
    expect(late.page.locator(".room .badge")).to_have_count(0)
    # The private chat is named after the other member, from the list alone.
    expect(late.page.locator(".room .title")).to_have_text("vic")


def test_a_hidden_tab_counts_in_its_title_and_chimes(people, server):
    wes = people()
    wes.context.add_init_script(SPY_ON_SOUND)
    wes.sign_up("wes")
    path = wes.start_chat()
    uri = path.split("/")[2]
    xan = sign_up_by_api(server, "xan")
    api_call(server, "PATCH", f"/api/chats/{uri}/", {}, xan)
    expect(wes.page.locator("#composer-text")).to_be_enabled()

    wes.page.evaluate(SET_VISIBILITY, True)
    api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": "knock knock"}, xan)
    expect(wes.bubbles("knock knock")).to_have_count(1)
    # The chat is open but nobody is looking: unread, counted in the title, chimed.
    expect(wes.page).to_have_title("(1) chatbox")
    wait_until(wes.page, "window.__plays === 1")
    wes.shot("hidden-tab-unread")
    assert unread_on_server(server, token_for(server, "wes"), uri) == 1

    # Coming back to the tab reads it.
    wes.page.evaluate(SET_VISIBILITY, False)
    expect(wes.page).to_have_title("chatbox")
    wait_for_unread(server, token_for(server, "wes"), uri, 0)
    # A message that arrives while the tab is in view does not chime.
    api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": "who's there"}, xan)
    expect(wes.bubbles("who's there")).to_have_count(1)
    expect(wes.page).to_have_title("chatbox")
    assert wes.page.evaluate("window.__plays") == 1
