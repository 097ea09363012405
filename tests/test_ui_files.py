"""Files, photos and profile pictures in a real Chromium against a real chatbox
process: two people in one chat, each a browser context. Controls are found by their
role and accessible name. Screenshots go to test-artifacts/files-*.png.

The box here takes files of at most 1 MB (--max-upload-mb=1), so a refused upload
needs only a small file.
"""

import io
import re

import pytest
from boxes import Box
from browser import PHONE, api_call, chat_of, expect, token_for, wait_until
from conftest import PASSWORD
from PIL import Image

pytestmark = pytest.mark.browser

ADMIN = "boss"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """This module's own box: small uploads, and an administrator made first."""
    box = Box(
        tmp_path_factory.mktemp("ui-files"),
        "--logging=warning",
        "--limits=send=off,send-bytes=off",
        "--max-upload-mb=1",
    )
    box.start()
    # The first account on a box is its administrator.
    api_call(box, "POST", "/auth/users/create/", {"username": ADMIN, "password": PASSWORD})
    yield box
    box.close()


def png(width, height, colour):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def jpeg(width, height, colour):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def attach(visitor, *files):
    """Picks files through the "Attach files" button, as a person would."""
    with visitor.page.expect_file_chooser() as chooser:
        visitor.page.get_by_role("button", name="Attach files").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(
        [{"name": name, "mimeType": kind, "buffer": data} for name, kind, data in files]
    )


# Pastes a file into the composer the way the clipboard hands over a screenshot.
PASTE = """([name, type, bytes]) => {
  const file = new File([new Uint8Array(bytes)], name, { type })
  const data = new DataTransfer()
  data.items.add(file)
  const box = document.querySelector('#composer-text')
  box.focus()
  box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true,
                                                  cancelable: true }))
}"""


# Drops a file on the message list, as one dragged from the desktop.
DROP = """([name, type, bytes]) => {
  const data = new DataTransfer()
  data.items.add(new File([new Uint8Array(bytes)], name, { type }))
  const list = document.querySelector('[role="log"]')
  for (const kind of ['dragenter', 'dragover', 'drop']) {
    list.dispatchEvent(new DragEvent(kind, { dataTransfer: data, bubbles: true,
                                             cancelable: true }))
  }
}"""


def drop(visitor, name, kind, data):
    visitor.page.evaluate(DROP, [name, kind, list(data)])


def paste(visitor, name, kind, data):
    visitor.page.evaluate(PASTE, [name, kind, list(data)])


# The message list's scroll position and height, and the height of each message in it.
MEASURE = """() => {
  const list = document.querySelector('[role="log"]')
  return {
    top: list.scrollTop,
    height: list.scrollHeight,
    client: list.clientHeight,
    rows: [...list.querySelectorAll('article.message')].map(
      (m) => m.getBoundingClientRect().height),
  }
}"""


def test_a_pasted_photo_reaches_the_other_browser_without_the_list_jumping(people, server):
    (vera, walt), uri = chat_of(people, "vera", "walt")
    # A history long enough to scroll, so a jump would show.
    token = token_for(server, "vera")
    for n in range(1, 31):
        api_call(server, "POST", f"/api/chats/{uri}/messages/", {"message": f"m{n}"}, token)
    expect(walt.bubbles("m30")).to_have_count(1)

    # The first photo by the paperclip, with no caption.
    attach(vera, ("first.png", "image/png", png(600, 900, "#3a7")))
    upload = vera.page.get_by_role("progressbar", name="Upload of first.png")
    expect(upload).to_have_attribute("value", "100")
    vera.page.get_by_role("button", name="Send").click()
    expect(walt.page.get_by_role("button", name="Open photo first.png")).to_be_visible()

    # Walt's browser holds the next thumbnail back, to measure before and after it loads.
    held = []
    walt.page.route(
        re.compile(r"/api/files/\d+/thumbnail$"), lambda route: held.append(route)
    )

    paste(vera, "view.png", "image/png", png(1600, 1200, "#47c"))
    expect(vera.page.get_by_role("progressbar", name="Upload of view.png")).to_be_visible()
    vera.page.locator("#composer-text").fill("the view from here")
    vera.page.keyboard.press("Enter")
    expect(vera.page.get_by_role("list", name="Files to send")).to_have_count(0)

    photo = walt.page.get_by_role("button", name="Open photo view.png")
    expect(photo).to_be_visible()
    expect(walt.bubbles("the view from here")).to_have_count(1)
    wait_until(walt.page, "() => document.querySelector('[role=log]').scrollTop > 0")
    assert held, "the thumbnail was asked for"
    before = walt.page.evaluate(MEASURE)
    box_before = photo.bounding_box()
    # At the newest message, with the photo's box already the photo's shape.
    assert before["height"] - before["top"] - before["client"] < 2
    assert (box_before["width"], box_before["height"]) == (320, 240)
    assert not photo.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")

    for route in held:
        route.continue_()
    photo.locator("img").evaluate(
        "img => img.complete && img.naturalWidth ? true"
        " : new Promise((done) => img.addEventListener('load', () => done(true)))"
    )
    after = walt.page.evaluate(MEASURE)
    assert after == before
    assert photo.bounding_box() == box_before
    walt.shot("files-photo")

    # The lightbox, over every photo of the chat.
    photo.click()
    dialog = walt.page.get_by_role("dialog", name="view.png")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog).to_contain_text("Photo 2 of 2")
    expect(dialog.get_by_role("img", name="view.png")).to_be_visible()
    expect(dialog.get_by_role("button", name="Next photo")).to_be_disabled()
    walt.shot("files-lightbox")
    walt.page.keyboard.press("ArrowLeft")
    expect(walt.page.get_by_role("dialog", name="first.png")).to_contain_text(
        "Photo 1 of 2"
    )
    walt.page.keyboard.press("ArrowRight")
    expect(walt.page.get_by_role("dialog", name="view.png")).to_be_visible()
    walt.page.get_by_role("button", name="Previous photo").click()
    expect(walt.page.get_by_role("dialog", name="first.png")).to_be_visible()
    walt.page.keyboard.press("Escape")
    expect(walt.page.get_by_role("dialog")).to_have_count(0)
    # Focus goes back to the photo that opened the lightbox.
    expect(photo).to_be_focused()

    walt.page.get_by_role("button", name="Open photo view.png").click()
    walt.page.get_by_role("button", name="Close").click()
    expect(walt.page.get_by_role("dialog")).to_have_count(0)

    # What the server holds: one message per send, the photo with its caption.
    history = api_call(server, "GET", f"/api/chats/{uri}/messages/?limit=3", None, token)
    sent = [
        (m["message"], [f["name"] for f in m["attachments"]]) for m in history["messages"]
    ]
    assert sent[-2:] == [("", ["first.png"]), ("the view from here", ["view.png"])]


def test_other_files_are_downloads_and_a_refused_upload_sends_nothing(people, server):
    (xena, yuri), uri = chat_of(people, "xena", "yuri")

    attach(xena, ("notes.txt", "text/plain", b"milk, eggs, bread\n" * 100))
    xena.say("the list")
    link = yuri.page.get_by_role("link", name=re.compile(r"^notes\.txt"))
    expect(link).to_contain_text("1.8 KB")
    href = link.get_attribute("href")
    assert re.fullmatch(r"/api/files/\d+/notes\.txt", href)
    answer = yuri.page.request.get(server.url + href)
    assert answer.status == 200
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.text().startswith("milk, eggs, bread")
    expect(yuri.bubbles("the list")).to_have_count(1)

    # Over the box's 1 MB: the server's reason, a retry, and no message.
    attach(xena, ("film.bin", "application/octet-stream", b"\0" * (1536 * 1024)))
    files = xena.page.get_by_role("list", name="Files to send")
    expect(files.get_by_role("alert")).to_contain_text("1 MB")
    expect(xena.page.get_by_role("button", name="Retry upload of film.bin")).to_be_visible()
    xena.page.locator("#composer-text").fill("did the film arrive?")
    xena.page.keyboard.press("Enter")
    expect(xena.page.get_by_text("Not sent: a file did not upload.")).to_be_visible()
    xena.shot("files-upload-failed")
    xena.page.get_by_role("button", name="Retry upload of film.bin").click()
    expect(files.get_by_role("alert")).to_contain_text("1 MB")
    token = token_for(server, "yuri")
    history = api_call(server, "GET", f"/api/chats/{uri}/messages/", None, token)
    assert [m["message"] for m in history["messages"]] == ["the list"]
    expect(xena.bubbles("did the film arrive?")).to_have_count(0)

    # Taking the file off lets the words go alone.
    xena.page.get_by_role("button", name="Remove film.bin").click()
    expect(files).to_have_count(0)
    xena.page.get_by_role("button", name="Send").click()
    expect(yuri.bubbles("did the film arrive?")).to_have_count(1)

    # An upload on its way shows its progress and can be cancelled.
    xena.page.route(re.compile(r"/uploads/\?name="), lambda route: None)
    attach(xena, ("slow.txt", "text/plain", b"zzz"))
    expect(xena.page.get_by_role("progressbar", name="Upload of slow.txt")).to_be_visible()
    xena.page.get_by_role("button", name="Cancel upload of slow.txt").click()
    expect(xena.page.get_by_role("list", name="Files to send")).to_have_count(0)
    xena.page.unroute(re.compile(r"/uploads/\?name="))

    # A file dropped on the conversation goes the same way.
    drop(xena, "dropped.txt", "text/plain", b"from the desktop")
    expect(
        xena.page.get_by_role("progressbar", name="Upload of dropped.txt")
    ).to_have_attribute("value", "100")
    xena.page.get_by_role("button", name="Send").click()
    expect(yuri.page.get_by_role("link", name=re.compile(r"^dropped\.txt"))).to_be_visible()


def test_a_profile_picture_shows_in_the_other_persons_member_list(people, server):
    (zoe, abe), _ = chat_of(people, "zoe", "abe")
    zoe.page.get_by_role("link", name="Profile").click()
    with zoe.page.expect_file_chooser() as chooser:
        zoe.page.get_by_role("button", name="Change picture").click()
    chooser.value.set_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": png(300, 200, "#c53")}
    )
    expect(zoe.page.get_by_role("status")).to_contain_text("new picture")
    expect(zoe.page.get_by_role("button", name="Remove picture")).to_be_visible()
    picture = zoe.page.get_by_role("region", name="Profile").locator("img.picture")
    expect(picture).to_have_attribute("src", re.compile(r"^/api/avatars/\d+/256\.jpg"))
    # The top bar's small avatar too.
    expect(zoe.page.get_by_role("link", name="Profile").locator("img")).to_have_attribute(
        "src", re.compile(r"^/api/avatars/\d+/64\.jpg")
    )
    zoe.shot("files-profile")

    abe.page.reload()
    abe.page.get_by_role("button", name="Show members").click()
    member = abe.page.get_by_role("complementary", name="Members").locator(
        "li", has_text="zoe"
    )
    face = member.locator("img.picture")
    expect(face).to_have_attribute("src", re.compile(r"^/api/avatars/\d+/64\.jpg"))
    face.evaluate(
        "img => img.complete && img.naturalWidth ? true"
        " : new Promise((done) => img.addEventListener('load', () => done(true)))"
    )
    assert face.evaluate("img => img.naturalWidth") == 64
    abe.shot("files-avatar")

    # Back to initials.
    zoe.page.get_by_role("button", name="Remove picture").click()
    expect(zoe.page.get_by_role("status")).to_contain_text("initials")
    expect(picture).to_have_count(0)


def test_the_admin_page_shows_what_files_take_per_person(people, server):
    (ada, bea), uri = chat_of(people, "ada", "bea")
    attach(ada, ("a.txt", "text/plain", b"a" * 3000))
    ada.say("one")
    expect(bea.bubbles("one")).to_have_count(1)

    boss = people()
    boss.goto("/login")
    boss.fill_auth(ADMIN, PASSWORD, "Log in")
    boss.page.get_by_role("link", name="Admin").click()
    storage = boss.page.get_by_role("region", name="Storage")
    row = storage.get_by_role("row", name=re.compile(r"^ada"))
    expect(row).to_contain_text("2.9 KB")
    expect(storage).to_contain_text("in all")
    boss.shot("files-storage")


def test_on_a_phone_the_camera_is_one_tap_away_and_photos_fit_the_screen(people):
    (cleo, dan), _ = chat_of(people, "cleo", "dan")
    phone = people(PHONE, has_touch=True, is_mobile=True)
    phone.goto("/login")
    phone.fill_auth("cleo", PASSWORD, "Log in")
    phone.page.get_by_role("link", name="dan").click()

    take = phone.page.get_by_role("button", name="Take photo")
    expect(take).to_be_visible()
    with phone.page.expect_file_chooser() as chooser:
        take.click()
    camera = chooser.value.element
    assert camera.get_attribute("capture") == "environment"
    assert camera.get_attribute("accept") == "image/*"
    chooser.value.set_files(
        {"name": "shot.jpg", "mimeType": "image/jpeg", "buffer": jpeg(1200, 1600, "#e94")}
    )
    expect(
        phone.page.get_by_role("progressbar", name="Upload of shot.jpg")
    ).to_have_attribute("value", "100")
    phone.page.get_by_role("button", name="Send").click()

    photo = dan.page.get_by_role("button", name="Open photo shot.jpg")
    expect(photo).to_be_visible()
    mine = phone.page.get_by_role("button", name="Open photo shot.jpg")
    expect(mine).to_be_visible()
    # A portrait photo keeps its shape, inside the phone's width.
    box = mine.bounding_box()
    assert box["width"] <= PHONE["width"]
    assert abs(box["width"] / box["height"] - 3 / 4) < 0.02
    phone.shot("files-phone")
    mine.click()
    expect(phone.page.get_by_role("dialog", name="shot.jpg")).to_be_visible()
    phone.shot("files-phone-lightbox")
    phone.page.get_by_role("button", name="Close").click()
    expect(phone.page.get_by_role("dialog")).to_have_count(0)
