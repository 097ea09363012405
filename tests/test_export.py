"""Taking a chat's history away: JSON and self-contained HTML downloads for members, and
every chat at once from the command line."""

import base64
import hashlib
import json
import os
import re

import pytest
import tornado.httpclient
from boxes import Box, run
from realtime import chat_between

import models

# A 1x1 PNG: enough for a browser to draw, and for the test to find again.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def download(api, person, path):
    """The raw answer: an export is a file, not an API object."""
    response = await tornado.httpclient.AsyncHTTPClient().fetch(
        api.base_url + path,
        headers={"Authorization": f"Token {person.token}"} if person else {},
        raise_error=False,
    )
    assert response.code < 500
    return response


def attach_photo(uploads, room_uri, uploader_id, message_id, name="beach.png"):
    """A photo as an upload leaves it: the blob's bytes on disk, claimed by a message."""
    sha = hashlib.sha256(PIXEL).hexdigest()
    folder = os.path.join(uploads, sha[:2])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, sha), "wb") as f:
        f.write(PIXEL)
    blob, _ = models.Blob.get_or_create(
        sha256=sha,
        defaults={"size": len(PIXEL), "type": "image/png", "width": 1, "height": 1},
    )
    return models.Attachment.create(
        blob=blob,
        room=models.Room.by_uri(room_uri),
        uploader=uploader_id,
        message=message_id,
        name=name,
    )


@pytest.mark.gen_test(timeout=30)
async def test_members_download_the_chat_as_json(api, unlimited):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await alice.say(uri, "hello bob")
    said = await bob.say(uri, "hi alice")
    await alice.call(
        "POST", f"/api/chats/{uri}/messages/{said['id']}/reactions/", {"emoji": "👍"}
    )
    response = await download(api, bob, f"/api/chats/{uri}/export.json")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        rf'attachment; filename="chatbox-private-chat-{uri[:8]}-\d{{4}}-\d\d-\d\d\.json"',
        disposition,
    )
    data = json.loads(response.body)
    assert data["chat"]["uri"] == uri
    assert [m["username"] for m in data["members"]] == ["alice", "bob"]
    assert "email" not in data["members"][0]
    assert [m["message"] for m in data["messages"]] == ["hello bob", "hi alice"]
    assert data["messages"][1]["reactions"] == [{"emoji": "👍", "users": [alice.id]}]
    assert data["messages"][0]["attachments"] == []


@pytest.mark.gen_test(timeout=30)
async def test_only_members_may_export_a_chat(api, unlimited):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await alice.say(uri, "between us")
    mallory = await api.signup("mallory")
    for extension in ("json", "html"):
        path = f"/api/chats/{uri}/export.{extension}"
        assert (await download(api, mallory, path)).code == 403
        assert (await download(api, None, path)).code == 401
        assert (
            await download(api, alice, f"/api/chats/nosuch/export.{extension}")
        ).code == 404
    await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert (await download(api, bob, f"/api/chats/{uri}/export.json")).code == 403
    assert (await download(api, alice, f"/api/chats/{uri}/export.xml")).code == 404


@pytest.mark.gen_test(timeout=30)
async def test_the_html_export_shows_every_text_as_text_and_runs_nothing(api, unlimited):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await alice.call("PUT", f"/api/chats/{uri}/name/", {"name": "<i>Trip</i>"})
    await alice.say(uri, "<script>alert('x')</script>")
    await bob.say(uri, 'a "quote" & <img src=x onerror=alert(1)>')
    gone = await bob.say(uri, "delete me please")
    await bob.call("DELETE", f"/api/chats/{uri}/messages/{gone['id']}/")
    response = await download(api, alice, f"/api/chats/{uri}/export.html")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    page = response.body.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &quot;quote&quot; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert "<title>&lt;i&gt;Trip&lt;/i&gt;</title>" in page
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert "delete me" not in page and "This message was deleted." in page
    # Self-contained: its style is inline, and it may load nothing.
    assert "<style>" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//|/)""", page)


@pytest.mark.gen_test(timeout=30)
async def test_photos_are_inlined_in_the_html_and_other_files_listed(
    api, app, tmp_path, unlimited
):
    uploads = str(tmp_path / "uploads")
    app.settings["uploads"] = uploads
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    said = await alice.say(uri, "the beach")
    attach_photo(uploads, uri, alice.id, said["id"])
    doc = models.Blob.create(sha256="cd" * 32, size=1234, type="application/pdf")
    models.Attachment.create(
        blob=doc,
        room=models.Room.by_uri(uri),
        uploader=alice.id,
        message=said["id"],
        name="<plan>.pdf",
        position=1,
    )
    page = (await download(api, alice, f"/api/chats/{uri}/export.html")).body.decode()
    inlined = "data:image/png;base64," + base64.b64encode(PIXEL).decode()
    assert f'<img src="{inlined}" alt="beach.png">' in page
    assert "&lt;plan&gt;.pdf (1,234 bytes)" in page
    data = json.loads((await download(api, alice, f"/api/chats/{uri}/export.json")).body)
    assert [f["name"] for f in data["messages"][0]["attachments"]] == [
        "beach.png",
        "<plan>.pdf",
    ]


@pytest.mark.sqlite_only
def test_the_administrator_exports_every_chat_from_the_command_line(tmp_path):
    data = tmp_path / "box"
    with Box(data) as box:
        alice = box.signup("alice")
        box.call("POST", "/api/chats/", {"name": "general"}, token=alice)
        box.call(
            "POST", "/api/chats/general/messages/", {"message": "<b>hi</b>"}, token=alice
        )
        _, private, _ = box.call("POST", "/api/chats/", {}, token=alice)
        box.call(
            "POST",
            f"/api/chats/{private['uri']}/messages/",
            {"message": "psst"},
            token=alice,
        )
        sha = hashlib.sha256(PIXEL).hexdigest()
        os.makedirs(data / "uploads" / sha[:2], exist_ok=True)
        (data / "uploads" / sha[:2] / sha).write_bytes(PIXEL)
        result = run("export", str(tmp_path / "out"), f"--data-dir={data}")
        assert result.returncode == 0, result.stderr
        assert "Exported 2 chats" in result.stdout
        assert box.terminate() == 0
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == [
        "00001-general.html",
        "00001-general.json",
        f"00002-private-chat-{private['uri'][:8]}.html",
        f"00002-private-chat-{private['uri'][:8]}.json",
    ]
    general = json.loads((tmp_path / "out" / "00001-general.json").read_text())
    assert [m["message"] for m in general["messages"]] == ["<b>hi</b>"]
    assert "&lt;b&gt;hi&lt;/b&gt;" in (tmp_path / "out" / "00001-general.html").read_text()
    assert oct(os.stat(tmp_path / "out" / "00001-general.json").st_mode & 0o777) == "0o600"
    # A folder it cannot write to is a clear error.
    (tmp_path / "file").write_text("")
    result = run("export", str(tmp_path / "file"), f"--data-dir={data}")
    assert result.returncode == 1 and "could not write" in result.stderr
