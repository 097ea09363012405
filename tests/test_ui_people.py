"""The web app end to end: the people directory and direct chats, naming a group,
notification levels and mentions, display names, and changing one's password.

Drives Debian's Chromium with Playwright against a real chatbox process, with the
helpers of tests/browser.py. Screenshots go to test-artifacts/.
"""

import re
from urllib.parse import urlsplit

import pytest
from browser import api_call, expect, token_for
from conftest import PASSWORD
from test_ui_admin import (
    SET_VISIBILITY,
    SPY_ON_SOUND,
    log_in,
    sign_up_by_api,
    wait_for_unread,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a longer secret 2"


def path_of(visitor):
    return urlsplit(visitor.page.url).path


def uri_of(visitor):
    return path_of(visitor).split("/")[2]


def open_people(visitor):
    visitor.page.get_by_role("link", name="People").click()
    visitor.page.wait_for_url(re.compile(r"/people$"))
    return visitor.page.get_by_role("list", name="People on this box")


def message_from_directory(visitor, search, username):
    people = open_people(visitor)
    visitor.page.get_by_label("Search people").fill(search)
    expect(people.get_by_role("listitem")).to_have_count(1)
    people.get_by_role("button", name=f"Message {username}").click()
    visitor.page.wait_for_url(re.compile(r"/chats/[^/]+/$"))
    expect(visitor.page.locator("#composer-text")).to_be_enabled()
    return path_of(visitor)


def chat_in_list(visitor, title):
    return visitor.page.locator(".room").filter(
        has=visitor.page.locator(".title", has_text=re.compile(f"^{re.escape(title)}$"))
    )


def header(visitor):
    return visitor.page.locator(".head .title")


def go_home(visitor):
    visitor.page.locator("a.brand").click()
    visitor.page.wait_for_url(re.compile(r"/$"))


def members_panel(visitor):
    visitor.page.get_by_role("button", name="Show members").click()
    return visitor.page.locator("#members-panel")


def test_a_direct_chat_from_the_directory_is_the_same_chat_from_either_side(people):
    amber, basil = people(), people()
    basil.sign_up("basil")
    expect(basil.page.get_by_role("button", name="Start chatting").first).to_be_visible()
    amber.sign_up("amber")
    sign_up_by_api(amber.server, "bastian")

    # The directory lists everyone; a search narrows it down by any part of a name.
    directory = open_people(amber)
    expect(directory.get_by_role("button", name="Message basil")).to_be_visible()
    expect(directory.get_by_role("button", name="Message bastian")).to_be_visible()
    expect(directory.get_by_role("button", name="Message amber")).to_have_count(0)
    amber.page.get_by_label("Search people").fill("BAS")
    expect(directory.get_by_role("listitem")).to_have_count(2)
    amber.page.get_by_label("Search people").fill("basil")
    expect(directory.get_by_role("listitem")).to_have_count(1)
    expect(directory).to_contain_text("@basil")
    amber.shot("people-directory")
    amber.page.get_by_label("Search people").fill("nobody-like-this")
    expect(amber.page.get_by_role("status")).to_have_text(
        "Nobody matches “nobody-like-this”."
    )

    path = message_from_directory(amber, "basil", "basil")
    expect(header(amber)).to_have_text("basil")
    expect(chat_in_list(amber, "basil")).to_have_count(1)
    amber.say("hello basil")
    expect(amber.bubbles("hello basil")).to_have_attribute("data-status", "sent")

    # A direct chat has no link to share, nobody to add and no name to give.
    expect(amber.page.get_by_label("Link to this chat")).to_have_count(0)
    panel = members_panel(amber)
    expect(panel.locator("li")).to_have_count(2)
    expect(panel.get_by_role("button", name="Add people")).to_have_count(0)
    expect(panel.get_by_role("button", name="Remove basil")).to_have_count(0)
    expect(panel.get_by_role("button", name="Rename chat")).to_have_count(0)
    expect(amber.page.locator(".room .avatar").first).to_have_text("B")
    amber.shot("people-dm")

    # Basil finds it in his list at once, under amber's name and face, with her
    # message.
    dm = chat_in_list(basil, "amber")
    expect(dm).to_have_count(1)
    expect(dm.locator(".avatar")).to_have_text("A")
    dm.click()
    expect(basil.bubbles("hello basil")).to_have_count(1)
    assert path_of(basil) == path
    expect(header(basil)).to_have_text("amber")

    # Asking again, from either side, opens the same chat.
    assert message_from_directory(basil, "amb", "amber") == path
    assert message_from_directory(amber, "basil", "basil") == path
    expect(chat_in_list(amber, "basil")).to_have_count(1)
    basil.say("hi amber")
    expect(amber.bubbles("hi amber")).to_have_count(1)


def test_a_member_names_a_group_and_the_others_see_it_at_once(people):
    dora, eli = people(), people()
    dora.sign_up("dora")
    path = dora.start_chat()
    eli.sign_up("eli", path)
    expect(eli.page.locator("#composer-text")).to_be_enabled()
    expect(header(eli)).to_have_text("dora")

    # Eli, not the owner, names it: any member may.
    panel = members_panel(eli)
    panel.get_by_role("button", name="Rename chat").click()
    panel.get_by_label("Chat name").fill("Trip planning")
    panel.get_by_role("button", name="Save", exact=True).click()
    for visitor in (dora, eli):
        expect(header(visitor)).to_have_text("Trip planning")
        expect(chat_in_list(visitor, "Trip planning")).to_have_count(1)
    dora.shot("people-rename")

    # A second rename by the other member, while eli looks at another page.
    go_home(eli)
    panel = members_panel(dora)
    panel.get_by_role("button", name="Rename chat").click()
    expect(panel.get_by_label("Chat name")).to_have_value("Trip planning")
    panel.get_by_label("Chat name").fill("Trip to the lake")
    panel.get_by_label("Chat name").press("Enter")
    expect(chat_in_list(eli, "Trip to the lake")).to_have_count(1)
    eli.page.reload()
    expect(chat_in_list(eli, "Trip to the lake")).to_have_count(1)

    # Clearing the name names the chat after its members again.
    panel.get_by_role("button", name="Rename chat").click()
    panel.get_by_label("Chat name").fill("")
    panel.get_by_role("button", name="Save", exact=True).click()
    expect(header(dora)).to_have_text("eli")
    expect(chat_in_list(eli, "dora")).to_have_count(1)

    # A member list offers a direct message with each other member.
    panel.get_by_role("button", name="Message eli").click()
    dora.page.wait_for_url(lambda url: urlsplit(url).path != path)
    assert re.fullmatch(r"/chats/[^/]+/", path_of(dora))
    expect(header(dora)).to_have_text("eli")


def test_muted_and_mentions_only_chats_count_and_chime_as_their_level_says(people):
    fay = people()
    fay.context.add_init_script(SPY_ON_SOUND)
    fay.sign_up("fay")
    path = fay.start_chat()
    uri = path.split("/")[2]
    gus = sign_up_by_api(fay.server, "gus")
    api_call(fay.server, "PATCH", f"/api/chats/{uri}/", {}, gus)
    expect(fay.page.locator("#composer-text")).to_be_enabled()
    notifications = fay.page.get_by_label("Notifications")
    expect(notifications).to_have_value("all")

    def post(text):
        api_call(fay.server, "POST", f"/api/chats/{uri}/messages/", {"message": text}, gus)

    def badge():
        return fay.page.locator(".room .badge:not(.mention)")

    def mention_badge():
        return fay.page.locator(".room .badge.mention")

    # Muted: the message is counted, quietly, and neither the title nor the chime hear
    # of it.
    notifications.select_option(label="Muted")
    go_home(fay)
    fay.page.evaluate(SET_VISIBILITY, True)
    post("muted one")
    expect(badge()).to_have_text(re.compile(r"^\s*1"))
    expect(badge()).to_have_class(re.compile(r"\bquiet\b"))
    expect(fay.page).to_have_title("chatbox")
    post("@fay muted mention")
    expect(badge()).to_have_text(re.compile(r"^\s*2"))
    expect(fay.page).to_have_title("chatbox")
    assert fay.page.evaluate("window.__plays") == 0

    # The level is kept on the server: a reload shows it.
    fay.page.evaluate(SET_VISIBILITY, False)
    fay.page.reload()
    fay.page.locator(".room").first.click()
    expect(fay.page.get_by_label("Notifications")).to_have_value("muted")
    fay.page.get_by_label("Notifications").select_option(label="Mentions only")
    expect(badge()).to_have_count(0)
    # Opening the chat read it; the server hears so after a short rest.
    wait_for_unread(fay.server, token_for(fay.server, "fay"), uri, 0)
    go_home(fay)
    fay.page.evaluate(SET_VISIBILITY, True)

    # Mentions only: an ordinary message is counted quietly and stays out of the title;
    # a mention of fay counts apart, in the list and the title, and chimes.
    post("nothing for fay")
    expect(badge()).to_have_text(re.compile(r"^\s*1"))
    expect(fay.page).to_have_title("chatbox")
    assert fay.page.evaluate("window.__plays") == 0
    post("@fay look at this")
    expect(badge()).to_have_text(re.compile(r"^\s*2"))
    expect(mention_badge()).to_have_text(re.compile(r"@1\s*1 mention"))
    expect(fay.page.get_by_text("1 mention", exact=True)).to_have_count(1)
    expect(fay.page).to_have_title("(@1) chatbox")
    fay.page.wait_for_function("window.__plays === 1")
    fay.shot("people-notifications")
    # The server counts the same after a reload.
    fay.page.reload()
    expect(mention_badge()).to_have_text(re.compile(r"@1\s*1 mention"))
    expect(badge()).to_have_text(re.compile(r"^\s*2"))
    expect(fay.page).to_have_title("(@1) chatbox")

    # All messages: every message counts, the mention still apart.
    fay.page.evaluate(SET_VISIBILITY, False)
    fay.page.locator(".room").first.click()
    fay.page.get_by_label("Notifications").select_option(label="All messages")
    expect(fay.page).to_have_title("chatbox")
    go_home(fay)
    post("for everyone")
    post("@fay and you")
    expect(badge()).to_have_text(re.compile(r"^\s*2"))
    expect(fay.page).to_have_title("(2 · @1) chatbox")
    expect(mention_badge()).not_to_have_class(re.compile(r"\bquiet\b"))


def test_a_display_name_shows_in_the_views_of_others(people):
    hal, ida = people(), people()
    hal.sign_up("hal")
    path = hal.start_chat()
    ida.sign_up("ida", path)
    expect(ida.page.locator("#composer-text")).to_be_enabled()

    hal.page.get_by_role("link", name="Profile").click()
    hal.page.wait_for_url(re.compile(r"/profile$"))
    hal.page.get_by_label("Display name").fill("Hal Horn")
    hal.page.get_by_role("button", name="Save display name").click()
    expect(hal.page.get_by_role("status")).to_have_text(
        "Saved. People now see you as Hal Horn."
    )
    expect(hal.page.get_by_role("link", name="Profile")).to_contain_text("Hal Horn")
    hal.shot("people-profile")

    hal.goto(path)
    hal.say("signed with my name")
    message = ida.bubbles("signed with my name")
    expect(message.locator(".author")).to_have_text("Hal Horn")
    ida.page.reload()
    expect(header(ida)).to_have_text("Hal Horn")
    expect(chat_in_list(ida, "Hal Horn")).to_have_count(1)
    panel = members_panel(ida)
    expect(panel.locator("li", has_text="Hal Horn")).to_contain_text("@hal")

    # The directory finds him by his display name, and still shows his handle.
    directory = open_people(ida)
    ida.page.get_by_label("Search people").fill("horn")
    expect(directory.get_by_role("listitem")).to_have_count(1)
    expect(directory).to_contain_text("Hal Horn")
    expect(directory).to_contain_text("@hal")
    expect(directory.get_by_role("button", name="Message hal")).to_be_visible()
    ida.shot("people-directory-display-name")

    # Clearing it goes back to the username.
    hal.page.get_by_role("link", name="Profile").click()
    hal.page.get_by_label("Display name").fill("")
    hal.page.get_by_role("button", name="Save display name").click()
    expect(hal.page.get_by_role("status")).to_have_text("Saved. People now see you as hal.")


def test_changing_the_password_can_log_out_every_other_browser(people):
    laptop, phone = people(), people()
    laptop.sign_up("jo")
    expect(laptop.page.get_by_role("link", name="Profile")).to_be_visible()
    log_in(phone, "jo")
    token = token_for(laptop.server, "jo")

    laptop.page.get_by_role("link", name="Profile").click()
    form = laptop.page
    # A wrong current password changes nothing and says so.
    form.get_by_label("Current password").fill("not my password")
    form.get_by_label("New password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("alert")).to_be_visible()
    expect(phone.page.get_by_role("link", name="Profile")).to_be_visible()

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password").fill(NEW_PASSWORD)
    form.get_by_label("Log out everywhere else").check()
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("status")).to_have_text(
        "Password changed. You were logged out everywhere else."
    )
    expect(form.get_by_label("Current password")).to_have_value("")
    laptop.shot("people-password")

    # The other browser is back at the login screen; the API token has stopped working.
    expect(phone.page.get_by_role("tab", name="Log in")).to_be_visible()
    phone.shot("people-logged-out-elsewhere")
    with pytest.raises(Exception, match="401"):
        api_call(laptop.server, "GET", "/api/chats/", token=token)

    # This browser is still logged in, after a reload too.
    laptop.page.reload()
    expect(laptop.page.get_by_role("link", name="Profile")).to_be_visible()
    laptop.start_chat()

    # The old password no longer works; the new one does.
    phone.fill_auth("jo", PASSWORD, "Log in")
    expect(phone.page.get_by_role("alert")).to_be_visible()
    phone.fill_auth("jo", NEW_PASSWORD, "Log in")
    expect(phone.page.get_by_role("link", name="Profile")).to_be_visible()
