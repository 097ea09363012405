"""The web app end to end: system notifications for mentions and direct messages, and
the installable app (manifest, service worker, the app shell and an honest offline
screen with the box down).

Runs over http://127.0.0.1, which browsers count as a secure context, so notifications
and service workers work there as they do over HTTPS. Screenshots go to test-artifacts/.
"""

import json
import re
import urllib.request

import pytest
from boxes import Box
from browser import api_call, expect, token_for, wait_until
from test_ui_admin import sign_up_by_api

pytestmark = pytest.mark.browser

# Records every notification the page makes, and still shows it.
RECORD_NOTIFICATIONS = """
window.__notes = [];
const Shown = window.Notification;
window.Notification = class extends Shown {
  constructor(title, options) {
    super(title, options);
    window.__notes.push({ title, body: options && options.body, tag: options && options.tag,
                          note: this });
  }
};
"""

NOTES = "window.__notes.map(({ title, body, tag }) => ({ title, body, tag }))"


@pytest.fixture
def server(tmp_path):
    """A box of the test's own, which a test may stop."""
    box = Box(tmp_path, "--logging=warning")
    box.start()
    yield box
    box.close()


def open_profile(visitor):
    visitor.page.get_by_role("link", name="Profile").click()
    visitor.page.wait_for_url(re.compile(r"/profile$"))
    return visitor.page.get_by_role("region", name="Notifications")


def test_a_mention_in_another_chat_notifies_and_a_click_opens_it_there(people, server):
    gil = people()
    gil.context.add_init_script(RECORD_NOTIFICATIONS)
    gil.context.grant_permissions(["notifications"], origin=server.url)
    gil.sign_up("gil")
    uri = gil.start_chat().split("/")[2]
    hal = sign_up_by_api(server, "hal")
    api_call(server, "PATCH", f"/api/chats/{uri}/", {}, hal)
    api_call(server, "PUT", f"/api/chats/{uri}/name/", {"name": "Keys"}, hal)
    expect(gil.page.locator(".head .title")).to_have_text("Keys")

    # Nothing is shown until gil turns notifications on.
    settings = open_profile(gil)
    expect(settings.get_by_test_id("notification-state")).to_have_text("Status: Off")
    api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": "before"}, hal)
    expect(gil.page.locator(".room", has_text="before")).to_have_count(1)
    settings.get_by_role("button", name="Enable notifications").click()
    expect(settings.get_by_test_id("notification-state")).to_have_text(
        "Status: On in this browser"
    )
    expect(settings.get_by_role("button", name="Turn off notifications")).to_be_visible()
    gil.shot("notify-settings")
    assert gil.page.evaluate(NOTES) == []

    # A mention in a chat gil is not looking at: a notification, titled by sender and
    # chat, tagged by chat.
    said = api_call(
        server,
        "POST",
        f"/api/chats/{uri}/messages/",
        {"message": "@gil the key is under the mat"},
        hal,
    )
    wait_until(gil.page, "window.__notes.length === 1")
    assert gil.page.evaluate(NOTES) == [
        {
            "title": "hal in Keys",
            "body": "@gil the key is under the mat",
            "tag": f"chat:{uri}",
        }
    ]

    # Its click opens the chat at that message.
    gil.page.evaluate("window.__notes[0].note.onclick()")
    gil.page.wait_for_url(re.compile(rf"/chats/{uri}/\?message={said['id']}$"))
    expect(gil.page.locator(".head .title")).to_have_text("Keys")
    expect(gil.bubbles("the key is under the mat")).to_be_in_viewport()
    gil.shot("notify-opened")

    # The chat on screen, in a visible and focused tab, notifies of nothing.
    api_call(
        server, "POST", f"/api/chats/{uri}/messages/", {"message": "@gil found it?"}, hal
    )
    expect(gil.bubbles("found it?")).to_have_count(1)

    # A muted chat notifies of nothing, mention or not.
    gil.page.get_by_label("Notifications").select_option(label="Muted")
    open_profile(gil)
    api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": "@gil hello?"}, hal)
    expect(gil.page.locator(".room", has_text="hello?")).to_have_count(1)

    # A direct message does, named after its sender alone.
    direct = api_call(server, "POST", "/api/direct/", {"username": "gil"}, hal)
    api_call(
        server, "POST", f"/api/chats/{direct['uri']}/messages/", {"message": "psst"}, hal
    )
    wait_until(gil.page, "window.__notes.length === 2")
    assert gil.page.evaluate(NOTES)[1] == {
        "title": "hal",
        "body": "psst",
        "tag": f"chat:{direct['uri']}",
    }

    # Turned off, nothing more.
    settings = gil.page.get_by_role("region", name="Notifications")
    settings.get_by_role("button", name="Turn off notifications").click()
    expect(settings.get_by_test_id("notification-state")).to_have_text("Status: Off")
    api_call(
        server, "POST", f"/api/chats/{direct['uri']}/messages/", {"message": "again"}, hal
    )
    expect(gil.page.locator(".room", has_text="again")).to_have_count(1)
    assert len(gil.page.evaluate(NOTES)) == 2


def test_notifications_blocked_by_the_browser_say_so(people, server):
    ida = people()
    ida.sign_up("ida")
    expect(ida.page.get_by_role("button", name="Start chatting").first).to_be_visible()
    # Playwright grants permissions but cannot refuse one: the page is shown the
    # answer a refusal leaves behind.
    ida.context.add_init_script(
        "Object.defineProperty(Notification, 'permission', { get: () => 'denied' })"
    )
    ida.page.reload()
    settings = open_profile(ida)
    expect(settings.get_by_test_id("notification-state")).to_have_text(
        "Status: Blocked by the browser"
    )
    expect(settings.get_by_role("button", name="Enable notifications")).to_have_count(0)
    expect(settings).to_contain_text("site settings")
    ida.shot("notify-blocked")


def fetch(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as reply:
        return reply.headers, reply.read()


def test_the_app_installs_and_opens_with_the_box_down(people, server):
    headers, body = fetch(server, "/sw.js")
    assert "javascript" in headers["Content-Type"]
    assert headers["Cache-Control"] == "no-cache"
    assert b"/static/offline.html" in body

    jo = people()
    jo.sign_up("jo")
    expect(jo.page.get_by_role("button", name="Start chatting").first).to_be_visible()
    manifest_path = jo.page.locator("link[rel=manifest]").get_attribute("href")
    headers, body = fetch(server, manifest_path)
    assert headers["Content-Type"] == "application/manifest+json"
    manifest = json.loads(body)
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        headers, body = fetch(server, icon["src"])
        assert headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")

    # The worker installs, keeps the shell and the built files, and controls the page.
    wait_until(
        jo.page,
        "navigator.serviceWorker.ready"
        ".then((r) => !!r.active && r.scope === location.origin + '/')",
    )
    jo.page.reload()
    wait_until(jo.page, "!!navigator.serviceWorker.controller")
    cached = jo.page.evaluate(
        """async () => {
          const names = (await caches.keys()).filter((n) => n.startsWith('chatbox-'))
          const cache = await caches.open(names[0])
          return { names, urls: (await cache.keys()).map((r) => new URL(r.url).pathname) }
        }"""
    )
    assert len(cached["names"]) == 1
    assert {"/", "/static/offline.html"} <= set(cached["urls"])
    assert any(re.fullmatch(r"/static/assets/index-[\w-]+\.js", u) for u in cached["urls"])
    assert not any(u.startswith("/api/") for u in cached["urls"])

    # The box goes down: the app still opens, and says what is wrong.
    server.close()
    jo.page.reload()
    offline = jo.page.get_by_role("heading", name="The chat box can't be reached")
    expect(offline).to_be_visible()
    expect(jo.page.get_by_role("button", name="Try again")).to_be_visible()
    jo.shot("notify-offline-app")

    # Another page of the box gets the stored offline page, not the browser's error.
    jo.goto("/trust")
    expect(offline).to_be_visible()
    jo.shot("notify-offline-page")
    jo.page.get_by_role("button", name="Try again").click()
    expect(offline).to_be_visible()

    # Back up: "Try again" on the app's offline screen finds it.
    jo.goto("/")
    expect(offline).to_be_visible()
    server.start()
    jo.page.get_by_role("button", name="Try again").click()
    expect(jo.page.get_by_role("button", name="Start chatting").first).to_be_visible()
    assert token_for(server, "jo")
