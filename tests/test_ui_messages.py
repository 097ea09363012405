"""Replies, reactions, edits, deletes and mentions in a real Chromium against a real
chatbox process: two or three people in one chat, each a browser context. Controls are
found by their role and accessible name, as a screen reader would find them.
Screenshots of each feature are written to test-artifacts/conversations-*.png.
"""

import re

import pytest
from browser import PHONE, api_call, chat_of, expect, token_for

pytestmark = pytest.mark.browser


def action(visitor, text, name):
    """A message action (Reply, React, Edit, Delete): shown once the message is hovered."""
    bubble = visitor.bubbles(text)
    bubble.hover()
    return bubble.get_by_role("button", name=name, exact=True)


def message_texts(visitor):
    return visitor.page.locator("article.message .text").all_inner_texts()


def test_a_reply_quotes_its_original_and_the_quote_leads_back_however_far_it_is(
    people, server
):
    (alice, bob), uri = chat_of(people, "rita", "sam")
    alice.say("where is the key?")
    expect(bob.bubbles("where is the key?")).to_have_count(1)

    # Reply mode shows what is being answered, and can be left.
    action(bob, "where is the key?", "Reply").click()
    expect(bob.page.get_by_text("Replying to rita")).to_be_visible()
    bob.page.get_by_role("button", name="Cancel reply").click()
    expect(bob.page.get_by_text("Replying to rita")).to_have_count(0)
    action(bob, "where is the key?", "Reply").click()
    expect(bob.page.locator("#composer-text")).to_be_focused()
    bob.page.keyboard.type("under the mat")
    bob.page.keyboard.press("Enter")
    expect(bob.page.get_by_text("Replying to rita")).to_have_count(0)

    for visitor in (alice, bob):
        reply = visitor.bubbles("under the mat")
        quote = reply.get_by_role("button", name="Go to the message from rita")
        expect(quote).to_contain_text("where is the key?")
    expect(bob.bubbles("under the mat")).to_have_attribute("data-status", "sent")

    # Much later, the original is far back: following the quote loads the messages
    # around it, and the newest are a button away.
    token = token_for(server, "sam")
    history = api_call(server, "GET", f"/api/chats/{uri}/messages/", None, token)
    first_id = next(
        m["id"] for m in history["messages"] if m["message"] == "where is the key?"
    )
    for n in range(1, 121):
        api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": f"k{n}"}, token)
    api_call(
        server,
        "POST",
        f"/api/chats/{uri}/messages/",
        {"message": "as I said way back", "reply_to": first_id},
        token,
    )
    expect(alice.bubbles("as I said way back")).to_have_count(1)
    alice.page.reload()
    messages = alice.page.locator("article.message")
    expect(messages).to_have_count(50)
    target = alice.page.locator("article.message").filter(
        has=alice.page.locator(".text", has_text=re.compile(r"^where is the key\?$"))
    )
    expect(target).to_have_count(0)
    alice.bubbles("as I said way back").get_by_role(
        "button", name="Go to the message from rita"
    ).click()
    expect(target).to_have_count(1)
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(alice.page.get_by_role("button", name="Jump to newest messages")).to_be_visible()
    alice.shot("conversations-reply")
    # The highlight is brief.
    expect(target).not_to_have_class(re.compile(r"\bhighlighted\b"), timeout=5000)


def test_reactions_from_the_quick_row_and_the_picker_toggle_and_say_who(people):
    (alice, bob), _ = chat_of(people, "tina", "uma")
    alice.say("pizza tonight?")
    expect(bob.bubbles("pizza tonight?")).to_have_count(1)

    action(bob, "pizza tonight?", "React").click()
    bob.page.get_by_role("dialog", name="Reactions").get_by_role(
        "button", name="React with 👍"
    ).click()
    chip = "👍 1 reaction, by uma"
    for visitor in (alice, bob):
        expect(
            visitor.bubbles("pizza tonight?").get_by_role("button", name=chip)
        ).to_be_visible()
    expect(bob.page.get_by_role("button", name=chip)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(alice.page.get_by_role("button", name=chip)).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(alice.page.get_by_role("button", name=chip)).to_have_attribute(
        "title", "uma reacted with 👍"
    )

    # Another's chip adds mine to it.
    alice.page.get_by_role("button", name=chip).click()
    both = "👍 2 reactions, by uma and tina"
    for visitor in (alice, bob):
        expect(visitor.page.get_by_role("button", name=both)).to_be_visible()
    expect(alice.page.get_by_role("button", name=both)).to_have_attribute(
        "aria-pressed", "true"
    )

    # The full picker, from the same panel, by keyboard-reachable buttons.
    action(bob, "pizza tonight?", "React").click()
    bob.page.get_by_role("button", name="More reactions").click()
    bob.page.get_by_role("tab", name="Hearts").click()
    bob.page.get_by_role("button", name="🎉", exact=True).click()
    party = "🎉 1 reaction, by uma"
    expect(alice.page.get_by_role("button", name=party)).to_be_visible()
    alice.bubbles("pizza tonight?").hover()
    alice.shot("conversations-reactions")

    # My own chip takes my reaction back, for everyone.
    bob.page.get_by_role("button", name=both).click()
    mine_gone = "👍 1 reaction, by tina"
    for visitor in (alice, bob):
        expect(visitor.page.get_by_role("button", name=mine_gone)).to_be_visible()
        expect(visitor.page.get_by_role("button", name=both)).to_have_count(0)
    bob.page.get_by_role("button", name=party).click()
    expect(alice.page.get_by_role("button", name=party)).to_have_count(0)
    chips = alice.bubbles("pizza tonight?").locator(".reactions button[aria-pressed]")
    expect(chips).to_have_count(1)


def test_edits_and_deletes_reach_the_others_live(people):
    (alice, bob), _ = chat_of(people, "vera", "walt")
    alice.say("meet at 5")
    alice.say("bring cake")
    bob.say("a message of walt")
    expect(bob.bubbles("bring cake")).to_have_count(1)
    expect(alice.bubbles("a message of walt")).to_have_count(1)

    # Only one's own messages can be edited; the owner of the chat may delete any.
    expect(action(alice, "a message of walt", "Edit")).to_have_count(0)
    expect(action(alice, "a message of walt", "Delete")).to_have_count(1)
    expect(action(bob, "meet at 5", "Delete")).to_have_count(0)
    expect(action(bob, "meet at 5", "Edit")).to_have_count(0)

    # Escape leaves the text as it was; Enter saves.
    action(alice, "meet at 5", "Edit").click()
    editor = alice.page.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.fill("meet at 9")
    editor.press("Escape")
    expect(alice.bubbles("meet at 5")).to_have_count(1)
    action(alice, "meet at 5", "Edit").click()
    editor.fill("meet at 6")
    alice.shot("conversations-edit")
    editor.press("Enter")
    for visitor in (alice, bob):
        edited = visitor.bubbles("meet at 6")
        expect(edited).to_have_count(1)
        expect(edited.get_by_text("edited")).to_have_attribute(
            "title", re.compile("^Edited ")
        )
    expect(bob.bubbles("meet at 5")).to_have_count(0)

    # The Save button works as Enter does.
    action(alice, "meet at 6", "Edit").click()
    editor.fill("meet at 6:30")
    alice.page.get_by_role("button", name="Save").click()
    expect(bob.bubbles("meet at 6:30")).to_have_count(1)
    # The editor closes once the server has the edit; until then the page may still
    # move, and a message hovered now may slide from under the pointer.
    expect(editor).to_have_count(0)

    # Delete asks first; the tombstone keeps the message's place.
    count = bob.page.locator("article.message").count()
    action(alice, "bring cake", "Delete").click()
    alice.page.get_by_role("button", name="Delete message").click()
    for visitor in (alice, bob):
        expect(visitor.bubbles("bring cake")).to_have_count(0)
        expect(visitor.page.get_by_text("This message was deleted")).to_have_count(1)
    assert bob.page.locator("article.message").count() == count
    assert message_texts(bob) == [
        "meet at 6:30",
        "This message was deleted",
        "a message of walt",
    ]
    bob.shot("conversations-delete")

    # The owner deletes someone else's message.
    action(alice, "a message of walt", "Delete").click()
    alice.page.get_by_role("button", name="Delete message").click()
    expect(bob.page.get_by_text("This message was deleted")).to_have_count(2)


def test_mentions_are_offered_in_a_listbox_and_highlighted(people):
    (alice, bob, carol), _ = chat_of(people, "xena", "yuri", "yann")
    box = alice.page.locator("#composer-text")
    box.click()
    alice.page.keyboard.type("hey @y")
    listbox = alice.page.get_by_role("listbox", name="People to mention")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options).to_have_text(["yann", "yuri"])
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute(
        "aria-activedescendant", options.nth(0).get_attribute("id")
    )
    alice.page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute(
        "aria-activedescendant", options.nth(1).get_attribute("id")
    )
    alice.page.keyboard.type("u")
    expect(options).to_have_text(["yuri"])
    alice.shot("conversations-mentions")
    alice.page.keyboard.press("Enter")
    expect(listbox).to_have_count(0)
    expect(box).to_have_value("hey @yuri ")

    # Escape closes the list; Tab picks, as Enter does.
    alice.page.keyboard.type("and @ya")
    expect(listbox).to_be_visible()
    alice.page.keyboard.press("Escape")
    expect(listbox).to_have_count(0)
    alice.page.keyboard.press("Backspace")
    alice.page.keyboard.type("a")
    alice.page.keyboard.press("Tab")
    expect(box).to_have_value("hey @yuri and @yann ")
    alice.page.keyboard.press("Enter")

    sent = "hey @yuri and @yann"
    expect(bob.bubbles(sent)).to_have_count(1)
    mention_of_bob = bob.bubbles(sent).locator(".mention", has_text="@yuri")
    expect(mention_of_bob).to_have_class(re.compile(r"\bme\b"))
    expect(bob.bubbles(sent).locator(".mention", has_text="@yann")).not_to_have_class(
        re.compile(r"\bme\b")
    )
    expect(carol.bubbles(sent).locator(".mention.me")).to_have_text("@yann")
    bob.shot("conversations-mentioned")


def test_an_offline_reader_gets_edits_deletes_and_reactions_once_and_in_order(people):
    (alice, bob, carol), _ = chat_of(people, "zack", "zoe", "zeno")
    alice.say("first draft")
    alice.say("to be removed")
    bob.say("react to me")
    for visitor in (bob, carol):
        expect(visitor.bubbles("react to me")).to_have_count(1)
    expect(alice.bubbles("react to me")).to_have_count(1)
    before = message_texts(carol)

    carol.context.set_offline(True)
    # A socket may outlive the network's loss a while: it goes when the page can tell.
    expect(carol.page.get_by_text(re.compile("offline|Reconnecting"))).to_be_visible()

    action(alice, "first draft", "Edit").click()
    editor = alice.page.get_by_role("textbox", name="Edit message")
    editor.fill("second draft")
    editor.press("Enter")
    expect(bob.bubbles("second draft")).to_have_count(1)
    action(alice, "second draft", "Edit").click()
    editor.fill("final draft")
    editor.press("Enter")
    expect(bob.bubbles("final draft")).to_have_count(1)
    action(alice, "to be removed", "Delete").click()
    alice.page.get_by_role("button", name="Delete message").click()
    expect(bob.page.get_by_text("This message was deleted")).to_have_count(1)
    action(alice, "react to me", "React").click()
    alice.page.get_by_role("button", name="React with 😂").click()
    action(bob, "react to me", "React").click()
    bob.page.get_by_role("button", name="React with 😂").click()
    expect(
        bob.page.get_by_role("button", name="😂 2 reactions, by zack and zoe")
    ).to_be_visible()
    # Carol saw none of it.
    assert message_texts(carol) == before

    carol.context.set_offline(False)
    reaction = carol.page.get_by_role("button", name="😂 2 reactions, by zack and zoe")
    expect(reaction).to_be_visible()
    expect(carol.page.locator("article.message")).to_have_count(3)
    expect(carol.page.locator("article.message .text")).to_have_text(
        ["final draft", "This message was deleted", "react to me"]
    )
    expect(carol.bubbles("final draft").get_by_text("edited")).to_have_count(1)
    expect(carol.page.locator(".reactions button")).to_have_count(1)
    carol.shot("conversations-offline-caught-up")
    # Chromium logs each try to connect while offline; those failures were the point.
    carol.errors[:] = [e for e in carol.errors if "ERR_INTERNET_DISCONNECTED" not in e]
    # Nothing more arrives a moment later (no second copy of any change).
    carol.page.wait_for_timeout(1000)
    assert message_texts(carol) == [
        "final draft",
        "This message was deleted",
        "react to me",
    ]
    expect(carol.page.locator(".reactions button")).to_have_count(1)


def long_press(locator):
    """A finger held on an element: pointer events as a touch screen sends them."""
    box = locator.bounding_box()
    at = {
        "pointerType": "touch",
        "isPrimary": True,
        "bubbles": True,
        "clientX": box["x"] + box["width"] / 2,
        "clientY": box["y"] + box["height"] / 2,
    }
    locator.dispatch_event("pointerdown", at)
    locator.page.wait_for_timeout(700)
    locator.dispatch_event("pointerup", at)


def test_on_a_phone_a_long_press_opens_the_actions_and_says_who_reacted(people):
    alice = people(PHONE, has_touch=True, is_mobile=True)
    bob = people(PHONE, has_touch=True, is_mobile=True)
    alice.sign_up("abel")
    path = alice.start_chat()
    bob.sign_up("bea", path)
    expect(bob.page.locator("#composer-text")).to_be_enabled()
    alice.say("long press me")
    bubble = bob.bubbles("long press me")
    actions = bubble.get_by_role("group", name="Message actions")
    expect(actions).to_have_css("opacity", "0")
    long_press(bubble.locator(".bubble"))
    expect(actions).to_have_css("opacity", "1")
    bob.shot("conversations-phone-actions")
    actions.get_by_role("button", name="React").tap()
    bob.page.get_by_role("button", name="React with ❤️").tap()
    chip = alice.page.get_by_role("button", name="❤️ 1 reaction, by bea")
    expect(chip).to_be_visible()
    long_press(chip)
    expect(
        alice.page.get_by_role("status").filter(has_text="bea reacted with ❤️")
    ).to_be_visible()
    # The long press only told who: it did not add a reaction.
    expect(chip).to_have_attribute("aria-pressed", "false")
    alice.shot("conversations-phone-who-reacted")
