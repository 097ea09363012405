"""The web app end to end: the owner removes someone, people are added back, a private
chat gets a new address.

Drives Debian's Chromium with Playwright against a real chatbox process, with the
helpers of tests/test_ui.py. Screenshots go to test-artifacts/.
"""

import re
from urllib.parse import urlsplit

import pytest
from browser import expect

pytestmark = pytest.mark.browser

REMOVED = "You were removed from this chat; ask a member to add you back."


def members_panel(visitor):
    visitor.page.get_by_role("button", name="Show members").click()
    return visitor.page.locator("#members-panel")


def members_panel_button(visitor):
    return visitor.page.get_by_role("button", name="Show members")


def test_a_removed_member_is_told_so_and_a_reload_does_not_let_them_back_in(people):
    alice, bob = people(), people()
    alice.sign_up("olivia")
    path = alice.start_chat()
    bob.sign_up("peggy", path)
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    alice.say("before")
    expect(bob.bubbles("before")).to_have_count(1)

    panel = members_panel(alice)
    expect(panel.locator("li")).to_have_count(2)
    # Only the owner has the control, and only for others.
    expect(panel.get_by_role("button", name="Remove olivia")).to_have_count(0)
    panel.get_by_role("button", name="Remove peggy").click()
    alice.shot("remove-confirm")
    panel.get_by_role("button", name="Yes, remove peggy").click()
    expect(panel.locator("li")).to_have_count(1)

    expect(bob.page.get_by_role("alert")).to_contain_text(REMOVED)
    bob.shot("removed")
    expect(members_panel_button(bob)).to_have_count(0)
    # A reload (the link again) shows the same, and joins nothing.
    for _ in range(2):
        bob.page.reload()
        expect(bob.page.get_by_role("alert")).to_contain_text(REMOVED)
        expect(bob.page.locator(".room")).to_have_count(0)
    bob.page.get_by_role("button", name="Try again").click()
    expect(bob.page.get_by_role("alert")).to_contain_text(REMOVED)
    alice.page.reload()
    panel = members_panel(alice)
    expect(panel.locator("li")).to_have_count(1)

    # A member adds them back; the link works for them again.
    panel.get_by_role("button", name="Add people").click()
    panel.get_by_label("Username").fill("peggy")
    panel.get_by_role("button", name="Add", exact=True).click()
    expect(panel.get_by_role("status")).to_have_text("olivia added peggy to the chat")
    expect(panel.locator("li")).to_have_count(2)
    bob.page.get_by_role("button", name="Try again").click()
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    expect(bob.bubbles("before")).to_have_count(1)
    bob.say("thanks")
    expect(alice.bubbles("thanks")).to_have_count(1)

    # Someone who does not exist cannot be added, and the form says why.
    panel.get_by_label("Username").fill("nobody-here")
    panel.get_by_role("button", name="Add", exact=True).click()
    expect(panel.get_by_role("alert")).to_have_text(
        "There is no account with that username."
    )


def test_a_new_address_moves_every_open_page_and_retires_the_old_link(people):
    alice, bob, mallory = people(), people(), people()
    alice.sign_up("quentin")
    old = alice.start_chat()
    bob.sign_up("ruth", old)
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    alice.say("said before the move")
    expect(bob.bubbles("said before the move")).to_have_count(1)
    mallory.sign_up("sybil")

    # Only the owner of a private chat has the action.
    expect(bob.page.get_by_role("button", name="Change address")).to_have_count(0)
    alice.page.get_by_role("button", name="Change address").click()
    alice.page.get_by_role("button", name="Cancel").click()
    assert urlsplit(alice.page.url).path == old
    alice.page.get_by_role("button", name="Change address").click()
    alice.page.get_by_role("button", name="Yes, change address").click()

    for visitor in (alice, bob):
        expect(visitor.page).not_to_have_url(re.compile(re.escape(old) + "$"))
        expect(visitor.page).to_have_url(re.compile(r"/chats/[0-9a-f]{32}/$"))
    new = urlsplit(alice.page.url).path
    assert urlsplit(bob.page.url).path == new
    expect(alice.page.get_by_role("status").filter(has_text="new address")).to_have_count(1)
    expect(alice.page.get_by_label("Link to this chat")).to_have_value(
        alice.server.url + new
    )
    alice.shot("address-changed")

    # Both pages keep the history and go on talking at the new address.
    for visitor in (alice, bob):
        expect(visitor.bubbles("said before the move")).to_have_count(1)
    bob.say("said after the move")
    expect(alice.bubbles("said after the move")).to_have_count(1)
    expect(bob.bubbles("said after the move")).to_have_attribute("data-status", "sent")
    bob.page.reload()
    expect(bob.page.locator("article.message .text")).to_have_text(
        ["said before the move", "said after the move"]
    )

    # The old link leads nowhere, and joins nothing.
    mallory.goto(old)
    expect(mallory.page.get_by_role("alert")).to_contain_text(
        "There is no chat at this address"
    )
    expect(mallory.page.locator(".room")).to_have_count(0)
