"""Searching messages and exporting a chat, in a real Chromium against a real chatbox
process. Each person is a browser context; history is set up through the API, as
another person's phone would post it. Controls are found by role and accessible name.
Screenshots go to test-artifacts/search-*.png.
"""

import json
import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from browser import PHONE, api_call, chat_of, expect, token_for
from test_ui_admin import sign_up_by_api

pytestmark = pytest.mark.browser

FILLER = 130


def post(server, token, uri, text):
    return api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": text}, token)


def upload(server, token, uri, name, data):
    """A file shared to the chat, not yet in a message: its id."""
    request = urllib.request.Request(
        server.url + f"/api/chats/{uri}/uploads/?name={name}",
        method="POST",
        data=data,
        headers={"Authorization": f"Token {token}", "Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())["id"]


def search_box(visitor):
    return visitor.page.get_by_role("searchbox", name="Search messages")


def results(visitor):
    return visitor.page.get_by_role("list", name="Search results").get_by_role("listitem")


def messages_log(visitor):
    return visitor.page.get_by_role("log", name="Messages")


def bubble(visitor, text):
    return visitor.page.locator("article.message").filter(
        has=visitor.page.locator(".text", has_text=re.compile(f"^{re.escape(text)}$"))
    )


def scroll_to_end(visitor, text):
    """Scrolls the message list down, page after page, until ``text`` is in view."""
    newest = visitor.page.get_by_role("button", name="Jump to newest messages")
    for _ in range(20):
        messages_log(visitor).evaluate("el => { el.scrollTop = el.scrollHeight }")
        visitor.page.wait_for_timeout(200)
        if newest.count() == 0:
            break
    messages_log(visitor).evaluate("el => { el.scrollTop = el.scrollHeight }")
    expect(bubble(visitor, text)).to_be_in_viewport()


def test_search_finds_a_word_as_it_is_typed_and_opens_the_chat_at_it(people, server):
    (wren, yuri), uri = chat_of(people, "wren", "yuri")
    token = token_for(server, "yuri")
    target = post(server, token, uri, "the wifi password is under the fridge magnet")
    for n in range(1, FILLER + 1):
        post(server, token, uri, f"filler {n}")
    # Someone else's chat says the same word; wren is not in it.
    stranger = sign_up_by_api(server, "stranger")
    elsewhere = api_call(server, "POST", "/api/chats/", {}, stranger)["uri"]
    post(server, stranger, elsewhere, "wifi secrets of another chat")
    expect(bubble(wren, f"filler {FILLER}")).to_have_count(1)
    # A fresh page holds the newest page of the chat only.
    wren.page.reload()
    expect(bubble(wren, f"filler {FILLER}")).to_have_count(1)
    expect(bubble(wren, "the wifi password is under the fridge magnet")).to_have_count(0)

    # Results follow the typing: a prefix finds the word.
    search_box(wren).click()
    wren.page.keyboard.type("wif", delay=60)
    wren.page.wait_for_url(re.compile(r"/search\?q=wif$"))
    expect(results(wren)).to_have_count(1)
    found = results(wren).first
    expect(found).to_contain_text("the wifi password is under the fridge magnet")
    expect(found.locator("mark")).to_have_text(["wifi"])
    expect(found).to_contain_text("yuri")
    expect(wren.page.get_by_text("wifi secrets of another chat")).to_have_count(0)
    wren.shot("search-results")

    # More words narrow it; a word nobody wrote says so.
    search_box(wren).fill("wifi fridge")
    expect(results(wren)).to_have_count(1)
    expect(results(wren).first.locator("mark")).to_have_text(["wifi", "fridge"])
    search_box(wren).fill("secrets")
    expect(
        wren.page.get_by_text("No messages match “secrets” in your chats.")
    ).to_be_visible()
    expect(results(wren)).to_have_count(0)

    # Choosing the result opens the chat at the message, far back, and flashes it.
    search_box(wren).fill("wifi")
    expect(results(wren)).to_have_count(1)
    search_box(wren).press("ArrowDown")
    expect(results(wren).first.get_by_role("link")).to_be_focused()
    wren.page.keyboard.press("Enter")
    wren.page.wait_for_url(re.compile(rf"/chats/{uri}/\?message={target['id']}$"))
    found_bubble = bubble(wren, "the wifi password is under the fridge magnet")
    expect(found_bubble).to_be_in_viewport()
    expect(found_bubble).to_have_class(re.compile(r"\bhighlighted\b"))
    assert wren.page.locator("article.message").count() <= 60
    expect(bubble(wren, f"filler {FILLER}")).to_have_count(0)
    expect(wren.page.get_by_role("button", name="Jump to newest messages")).to_be_visible()
    wren.shot("search-jump")
    expect(found_bubble).not_to_have_class(re.compile(r"\bhighlighted\b"), timeout=5000)

    # Scrolling down brings the newer pages, without gaps, to the newest message.
    scroll_to_end(wren, f"filler {FILLER}")
    texts = wren.page.locator("article.message .text").all_inner_texts()
    fillers = [int(t.split()[1]) for t in texts if t.startswith("filler ")]
    assert fillers == list(range(1, FILLER + 1))
    expect(wren.page.get_by_role("button", name="Jump to newest messages")).to_have_count(0)

    # And the chat is live again: a new message arrives, and wren's own goes out.
    post(server, token, uri, "back on the live edge")
    expect(bubble(wren, "back on the live edge")).to_be_in_viewport()
    wren.say("seen it, thanks")
    expect(bubble(yuri, "seen it, thanks")).to_have_count(1)

    # Back leads to the results again.
    wren.page.go_back()
    wren.page.wait_for_url(re.compile(r"/search\?q=wifi$"))
    expect(search_box(wren)).to_have_value("wifi")
    expect(results(wren)).to_have_count(1)


def test_sending_from_a_stretch_far_back_returns_to_the_newest_messages(people, server):
    (ash, bea), uri = chat_of(people, "ash", "bea")
    token = token_for(server, "bea")
    target = post(server, token, uri, "the gate code is 4711")
    for n in range(1, 80):
        post(server, token, uri, f"chatter {n}")
    ash.goto(f"/chats/{uri}/?message={target['id']}")
    expect(bubble(ash, "the gate code is 4711")).to_be_in_viewport()
    expect(bubble(ash, "chatter 79")).to_have_count(0)
    ash.say("got it")
    expect(bubble(ash, "got it")).to_be_in_viewport()
    expect(bubble(ash, "chatter 79")).to_have_count(1)
    expect(bubble(bea, "got it")).to_have_count(1)


def test_filters_narrow_the_results(people, server):
    (zara, xavi), uri = chat_of(people, "zara", "xavi")
    zara_token, xavi_token = token_for(server, "zara"), token_for(server, "xavi")
    post(server, zara_token, uri, "budget draft from zara")
    post(server, xavi_token, uri, "budget draft from xavi")
    room = api_call(server, "POST", "/api/chats/", {"name": "planning"}, zara_token)
    post(server, zara_token, room["uri"], "budget for the planning room")
    receipt = upload(server, xavi_token, uri, "receipt.txt", b"2 x coffee\n")
    api_call(
        server,
        "POST",
        f"/api/chats/{uri}/messages/",
        {"message": "budget receipt", "attachments": [receipt]},
        xavi_token,
    )
    zara.page.reload()
    expect(zara.page.locator("#composer-text")).to_be_enabled()

    search_box(zara).fill("budget")
    expect(results(zara)).to_have_count(4)
    # Newest first.
    expect(results(zara).first).to_contain_text("budget receipt")
    expect(results(zara).first).to_contain_text("1 file")

    chat = zara.page.get_by_role("combobox", name="Chat", exact=True)
    expect(chat.get_by_role("option", name="All chats")).to_have_count(1)
    chat.select_option(value="planning")
    expect(results(zara)).to_have_count(1)
    expect(results(zara).first).to_contain_text("#planning")
    chat.select_option(value="")
    expect(results(zara)).to_have_count(4)

    person = zara.page.get_by_role("combobox", name="Person", exact=True)
    person.select_option(value="xavi")
    expect(results(zara)).to_have_count(2)
    expect(results(zara).last).to_contain_text("budget draft from xavi")
    query = parse_qs(urlsplit(zara.page.url).query)
    assert query == {"q": ["budget"], "from": ["xavi"]}
    zara.shot("search-filters")
    person.select_option(value="")
    expect(results(zara)).to_have_count(4)

    # Dates are whole days of the reader's calendar: today finds all, tomorrow none.
    today = zara.page.evaluate(
        "() => { const d = new Date(); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 10) }"
    )
    zara.page.get_by_label("From date", exact=True).fill(today)
    zara.page.get_by_label("To date", exact=True).fill(today)
    expect(results(zara)).to_have_count(4)
    tomorrow = zara.page.evaluate(
        "() => { const d = new Date(Date.now() + 86400000);"
        " d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 10) }"
    )
    zara.page.get_by_label("To date", exact=True).fill("")
    zara.page.get_by_label("From date", exact=True).fill(tomorrow)
    expect(results(zara)).to_have_count(0)
    expect(
        zara.page.get_by_text("No messages match “budget” with these filters.")
    ).to_be_visible()
    zara.page.get_by_role("button", name="Clear filters").click()
    expect(results(zara)).to_have_count(4)

    # Only the receipt carries a file.
    zara.page.get_by_role("checkbox", name="Has a file").check()
    expect(results(zara)).to_have_count(1)
    expect(results(zara).first).to_contain_text("budget receipt")
    zara.page.get_by_role("checkbox", name="Has a file").uncheck()
    expect(results(zara)).to_have_count(4)


def test_a_member_exports_the_chat_as_json_and_html(people, server):
    (kit, lee), uri = chat_of(people, "kit", "lee")
    kit.say("export me <b>safely</b>")
    expect(bubble(lee, "export me <b>safely</b>")).to_have_count(1)
    lee.page.get_by_role("button", name="Show members").click()
    panel = lee.page.locator("#members-panel")
    as_json = panel.get_by_role("link", name="Export as JSON")
    as_html = panel.get_by_role("link", name="Export as HTML")
    expect(as_json).to_have_attribute("href", f"/api/chats/{uri}/export.json")
    expect(as_html).to_have_attribute("href", f"/api/chats/{uri}/export.html")
    lee.shot("search-export")

    with lee.page.expect_download() as downloading:
        as_json.click()
    download = downloading.value
    with open(download.path(), encoding="utf-8") as saved:
        exported = json.load(saved)
    assert "export me <b>safely</b>" in [m["message"] for m in exported["messages"]]

    # The same request the link makes, with the page's own cookie.
    reply = lee.page.request.get(server.url + f"/api/chats/{uri}/export.html")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "attachment" in reply.headers.get("content-disposition", "")
    assert "export me &lt;b&gt;safely&lt;/b&gt;" in reply.text()

    # Someone who is not a member gets nothing.
    stranger = sign_up_by_api(server, "outsider")
    with pytest.raises(urllib.error.HTTPError) as refused:
        api_call(server, "GET", f"/api/chats/{uri}/export.json", token=stranger)
    assert refused.value.code in (403, 404)


def test_on_a_phone_the_results_fill_the_screen_and_lead_to_the_chat(people):
    mia = people(viewport=PHONE)
    mia.sign_up("mia")
    mia.start_chat()
    mia.say("the bike lock code is 1234")
    expect(bubble(mia, "the bike lock code is 1234")).to_have_count(1)
    search_box(mia).fill("bike lock")
    expect(results(mia)).to_have_count(1)
    expect(results(mia).first.locator("mark")).to_have_text(["bike", "lock"])
    expect(mia.page.get_by_role("combobox", name="Chat", exact=True)).to_be_visible()
    mia.shot("search-phone")
    results(mia).first.get_by_role("link").click()
    expect(bubble(mia, "the bike lock code is 1234")).to_be_in_viewport()
    expect(search_box(mia)).to_be_visible()
