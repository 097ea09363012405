"""The web app's Bots section end to end: make a bot, copy its token, post as it, and
see its messages marked as a bot's; give it an incoming webhook and post through it.

Drives Debian's Chromium with Playwright against a real chatbox process (helpers in
tests/browser.py). Screenshots go to test-artifacts/.
"""

import json
import re
import urllib.request

import pytest
from browser import api_call, expect, token_for

pytestmark = pytest.mark.browser


def test_a_bot_made_in_the_profile_posts_with_its_copied_token_and_shows_as_a_bot(people):
    # 127.0.0.1 is a secure context, so the page may use the clipboard once allowed.
    ursula = people(permissions=["clipboard-read", "clipboard-write"])
    ursula.sign_up("ursula")
    chat = ursula.start_chat()
    uri = chat.split("/")[2]
    page = ursula.page

    page.get_by_role("link", name="Profile").click()
    page.wait_for_url(re.compile(r"/profile$"))
    create = page.get_by_role("form", name="Create a bot")
    create.get_by_label("Bot name").fill("doorbell")
    create.get_by_label("Shown name").fill("Door bell")
    page.get_by_role("button", name="Create bot").click()
    token_field = page.get_by_label("The API token of doorbell")
    expect(token_field).to_be_visible()
    page.get_by_role("button", name="Copy token").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    token = page.evaluate("navigator.clipboard.readText()")
    assert token and token == token_field.input_value()
    bots = page.get_by_role("list", name="Your bots")
    expect(bots.get_by_role("listitem").first).to_contain_text("Door bell")
    expect(bots.get_by_text("bot", exact=True)).to_be_visible()

    # A member adds the bot to the chat; the bot posts with the token the page gave.
    api_call(
        ursula.server,
        "POST",
        f"/api/chats/{uri}/members/",
        {"username": "doorbell"},
        token=token_for(ursula.server, "ursula"),
    )
    api_call(
        ursula.server,
        "POST",
        f"/api/chats/{uri}/messages/",
        {"message": "Someone is at the door"},
        token=token,
    )

    # An incoming webhook for that chat, made and copied in the page.
    page.get_by_label("Chat", exact=True).select_option(uri)
    page.get_by_role("button", name="Add incoming webhook").click()
    url_field = page.get_by_label("The incoming webhook URL of doorbell")
    expect(url_field).to_have_value(re.compile(r"^http://.+/hooks/[A-Za-z0-9_-]{32}$"))
    page.get_by_role("button", name="Copy URL").click()
    hook_url = page.evaluate("navigator.clipboard.readText()")
    assert hook_url == url_field.input_value()
    request = urllib.request.Request(
        hook_url,
        data=json.dumps({"text": "Parcel left by the door"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 201
    page.get_by_role("button", name="Done").click()
    ursula.shot("bots-profile")

    ursula.goto(chat)
    for text in ("Someone is at the door", "Parcel left by the door"):
        bubble = ursula.bubbles(text)
        expect(bubble).to_be_visible()
    first = ursula.bubbles("Someone is at the door")
    expect(first).to_contain_text("Door bell")
    expect(first.get_by_text("bot", exact=True)).to_be_visible()
    ursula.shot("bots-chat")
