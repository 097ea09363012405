"""Shared files: uploads, who may download them, how they are served and cleaned,
profile pictures, what they take, and when they leave the disk (docs/files.md)."""

import io
import json
import os
import time

import pytest
import tornado.httpclient
from boxes import fill, small_disk
from PIL import ExifTags, Image
from rest import cookie_headers, cookie_login, snapshot

import models

MB = 1024 * 1024


def jpeg(size=(64, 32), orientation=None, gps=False, colour="red"):
    """A JPEG as a phone writes it: camera details, maybe a location and a rotation."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.Model] = "Pocket 12"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (51.0, 28.0, 38.0),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (0.0, 0.0, 1.0),
        }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


def png(size=(40, 30)):
    out = io.BytesIO()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Comment", "secret note")
    Image.new("RGBA", size, (0, 128, 0, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def stored_files(tmp_path):
    """Every file kept under uploads/, temporary ones included."""
    root = tmp_path / "uploads"
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, names in os.walk(root)
        for f in names
    )


def blob_path(tmp_path, sha):
    return tmp_path / "uploads" / sha[:2] / sha


async def upload(person, uri, data, name="file.bin", **kwargs):
    return await person.call(
        "POST",
        f"/api/chats/{uri}/uploads/?name={name}",
        raw=data,
        headers={"Content-Type": "application/octet-stream"},
        **kwargs,
    )


async def fetch(api, path, token=None, headers=None):
    """A download: (status, headers, body bytes)."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Token {token}"
    response = await api.client.fetch(
        api.base_url + path, headers=headers, raise_error=False, decompress_response=False
    )
    return response.code, response.headers, response.body


async def people_in_a_chat(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    carol = await api.signup("carol")
    uri = await alice.start_chat()
    await bob.join(uri)
    return alice, bob, carol, uri


async def send(person, uri, text="", files=()):
    status, data = await person.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": text, "attachments": list(files)}
    )
    assert status == 201, data
    return data


@pytest.mark.gen_test(timeout=30)
async def test_uploads_and_downloads_are_for_members_only_by_token_or_cookie(api):
    alice, bob, carol, uri = await people_in_a_chat(api)
    status, data = await upload(carol, uri, b"not yours", "x.txt")
    assert status == 403
    status, data = await api.call(
        "POST", f"/api/chats/{uri}/uploads/?name=x.txt", raw=b"anonymous"
    )
    assert status == 401
    status, data = await upload(alice, "nosuchchat", b"x", "x.txt")
    assert status == 404

    status, file = await upload(alice, uri, b"the minutes of the meeting", "minutes.txt")
    assert status == 201, file
    # Before it is sent, only its uploader may fetch it.
    assert (await fetch(api, file["url"], bob.token))[0] == 404
    assert (await fetch(api, file["url"], alice.token))[0] == 200
    message = await send(alice, uri, "minutes attached", [file["id"]])
    assert message["attachments"] == [file]

    status, _, body = await fetch(api, file["url"], bob.token)
    assert (status, body) == (200, b"the minutes of the meeting")
    _, _, session = await cookie_login(api, "bob")
    status, _, body = await fetch(api, file["url"], headers=cookie_headers(session))
    assert (status, body) == (200, b"the minutes of the meeting")

    assert (await fetch(api, file["url"], carol.token))[0] == 404
    assert (await fetch(api, file["url"]))[0] == 404
    assert (await fetch(api, file["url"], "0" * 40))[0] == 404
    assert (await fetch(api, f"/api/files/{file['id'] + 1000}/x", alice.token))[0] == 404

    # A removed member loses the file at once, by token and by cookie.
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status in (200, 204)
    assert (await fetch(api, file["url"], bob.token))[0] == 404
    status, _, _ = await fetch(api, file["url"], headers=cookie_headers(session))
    assert status == 404
    status, _ = await upload(bob, uri, b"let me back", "x.txt")
    assert status == 403

    # Logged out: the token stops opening it.
    status, _ = await alice.call("POST", "/auth/token/logout/")
    assert status == 204
    assert (await fetch(api, file["url"], alice.token))[0] == 404


@pytest.mark.gen_test(timeout=30)
async def test_html_named_png_and_svg_with_script_are_served_as_downloads(api):
    alice, bob, _, uri = await people_in_a_chat(api)
    html = b"<html><script>alert(document.cookie)</script></html>"
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
        b'<circle r="5"/></svg>'
    )
    ids = []
    for data, name in ((html, "cat.png"), (svg, "logo.svg")):
        status, file = await upload(alice, uri, data, name)
        assert status == 201
        assert file["type"] == "application/octet-stream"
        assert file["inline"] is False and file["thumbnail_url"] is None
        ids.append(file)
    await send(alice, uri, "", [f["id"] for f in ids])
    for file, data in zip(ids, (html, svg), strict=True):
        status, headers, body = await fetch(api, file["url"], bob.token)
        assert status == 200 and body == data
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "private, max-age=31536000, immutable"
    status, headers, _ = await fetch(api, f"/api/files/{ids[0]['id']}/thumbnail", bob.token)
    assert status == 404


@pytest.mark.gen_test(timeout=30)
async def test_a_phone_photo_loses_its_location_and_camera_and_is_turned_upright(
    api, tmp_path
):
    alice, bob, _, uri = await people_in_a_chat(api)
    original = jpeg(size=(64, 32), orientation=6, gps=True)
    assert b"PhoneCo" in original and b"taken at home" in original
    status, file = await upload(alice, uri, original, "IMG_0001.jpg")
    assert status == 201, file
    assert file["type"] == "image/jpeg" and file["inline"] is True
    assert (file["width"], file["height"]) == (32, 64)  # orientation 6: upright now
    await send(alice, uri, "the view", [file["id"]])

    sha = models.Blob.get().sha256
    on_disk = blob_path(tmp_path, sha).read_bytes()
    status, headers, served = await fetch(api, file["url"], bob.token)
    assert status == 200 and served == on_disk
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"].startswith("inline;")
    for data in (on_disk, served):
        assert b"Exif" not in data and b"PhoneCo" not in data
        assert b"taken at home" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif()
            assert image.size == (32, 64)
    status, headers, thumb = await fetch(api, file["thumbnail_url"], bob.token)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.size == (32, 64) and not image.getexif()


@pytest.mark.gen_test(timeout=30)
async def test_a_png_loses_its_text_chunks_and_gets_a_thumbnail_at_most_480_px(
    api, tmp_path
):
    alice, _, _, uri = await people_in_a_chat(api)
    status, file = await upload(alice, uri, png(size=(1200, 600)), "chart.png")
    assert status == 201 and (file["width"], file["height"]) == (1200, 600)
    sha = models.Blob.get().sha256
    data = blob_path(tmp_path, sha).read_bytes()
    assert b"secret note" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1200, 600)
    status, _, thumb = await fetch(api, file["thumbnail_url"], alice.token)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.size == (480, 240)


@pytest.mark.gen_test(timeout=30)
async def test_a_file_that_claims_to_be_a_photo_but_is_not_is_refused(api, tmp_path):
    alice, _, _, uri = await people_in_a_chat(api)
    before = snapshot()
    status, data = await upload(alice, uri, b"\xff\xd8\xff\xe0garbage" * 10, "x.jpg")
    assert status == 400 and "photo" in data["file"][0]
    assert snapshot() == before
    assert stored_files(tmp_path) == []


@pytest.mark.gen_test(timeout=30)
async def test_the_same_file_twice_is_stored_once(api, tmp_path):
    alice, bob, _, uri = await people_in_a_chat(api)
    photo = jpeg(gps=True)
    _, first = await upload(alice, uri, photo, "a.jpg")
    _, second = await upload(bob, uri, photo, "b.jpg")
    _, third = await upload(alice, uri, b"%PDF-1.4 same bytes", "c.pdf")
    _, fourth = await upload(bob, uri, b"%PDF-1.4 same bytes", "d.pdf")
    assert len({first["id"], second["id"], third["id"], fourth["id"]}) == 4
    assert models.Blob.select().count() == 2
    blobs = [b.sha256 for b in models.Blob.select()]
    files = stored_files(tmp_path)
    assert sorted(f for f in files if "." not in f) == sorted(
        f"{sha[:2]}/{sha}" for sha in blobs
    )
    assert fourth["type"] == "application/pdf" and fourth["inline"] is False


@pytest.mark.gen_test(timeout=60)
async def test_an_oversize_file_is_refused_with_413_and_nothing_is_kept(api, app, tmp_path):
    alice, _, _, uri = await people_in_a_chat(api)
    app.files.max_upload = 1 * MB
    before = snapshot()
    status, data = await upload(alice, uri, b"x" * (MB + 1), "big.bin")
    assert status == 413 and "1 MB" in data["detail"]

    # Without a length given, it is cut off as it streams past the limit.
    sent = 0

    async def producer(write):
        nonlocal sent
        while sent < 3 * MB:
            await write(b"y" * 65536)
            sent += 65536

    request = tornado.httpclient.HTTPRequest(
        f"{api.base_url}/api/chats/{uri}/uploads/?name=big.bin",
        method="POST",
        headers={"Authorization": f"Token {alice.token}"},
        body_producer=producer,
    )
    try:
        response = await api.client.fetch(request, raise_error=False)
        assert response.code == 413
    except (tornado.iostream.StreamClosedError, OSError):
        pass  # the server may close before the client reads its answer
    for _ in range(50):  # the temporary file goes off the event loop
        if not stored_files(tmp_path):
            break
        await __import__("asyncio").sleep(0.05)
    assert snapshot() == before
    assert stored_files(tmp_path) == []
    status, file = await upload(alice, uri, b"x" * MB, "just.bin")
    assert status == 201 and file["size"] == MB


@pytest.mark.gen_test(timeout=30)
async def test_bad_names_and_empty_bodies_are_refused(api, tmp_path):
    alice, _, _, uri = await people_in_a_chat(api)
    before = snapshot()
    for query in ("", "?name=", "?name=..", "?name=%00", "?name=" + "a" * 300):
        status, data = await alice.call(
            "POST", f"/api/chats/{uri}/uploads/{query}", raw=b"data"
        )
        assert status == 400, query
    status, data = await upload(alice, uri, b"", "empty.txt")
    assert status == 400 and "empty" in data["file"][0]
    assert snapshot() == before
    assert stored_files(tmp_path) == []
    # A path is cut to its last part, and control characters go.
    status, file = await upload(alice, uri, b"ok", "..%2F..%2Fetc%2Fpa%0Asswd")
    assert status == 201 and file["name"] == "passwd"


@pytest.mark.gen_test(timeout=30)
async def test_downloads_answer_ranges_and_etags(api):
    alice, bob, _, uri = await people_in_a_chat(api)
    data = bytes(range(256)) * 40
    _, file = await upload(alice, uri, b"OggS" + data, "song.ogg")
    assert file["type"] == "audio/ogg" and file["inline"] is True
    await send(alice, uri, "listen", [file["id"]])
    status, headers, body = await fetch(api, file["url"], bob.token)
    etag = headers["Etag"]
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    status, headers, part = await fetch(api, file["url"], bob.token, {"Range": "bytes=4-9"})
    assert status == 206 and part == body[4:10]
    assert headers["Content-Range"] == f"bytes 4-9/{len(body)}"
    status, headers, part = await fetch(api, file["url"], bob.token, {"Range": "bytes=-3"})
    assert status == 206 and part == body[-3:]
    status, headers, _ = await fetch(
        api, file["url"], bob.token, {"Range": f"bytes={len(body) + 5}-"}
    )
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(body)}"
    status, headers, body = await fetch(
        api, file["url"], bob.token, {"If-None-Match": etag}
    )
    assert status == 304 and body == b""
    # The check comes first: a stranger's If-None-Match learns nothing.
    carol = await api.signup("dave")
    status, _, _ = await fetch(api, file["url"], carol.token, {"If-None-Match": etag})
    assert status == 404


@pytest.mark.gen_test(timeout=30)
async def test_deleting_a_message_removes_its_file_once_nothing_refers_to_it(api, tmp_path):
    alice, bob, _, uri = await people_in_a_chat(api)
    shared = jpeg(colour="blue")
    _, one = await upload(alice, uri, shared, "one.jpg")
    _, two = await upload(bob, uri, shared, "two.jpg")
    _, alone = await upload(alice, uri, b"%PDF-1.4 only once", "once.pdf")
    first = await send(alice, uri, "", [one["id"], alone["id"]])
    second = await send(bob, uri, "same photo", [two["id"]])
    photo_sha = models.Blob.get(models.Blob.type == "image/jpeg").sha256
    pdf_sha = models.Blob.get(models.Blob.type == "application/pdf").sha256

    status, gone = await alice.call("DELETE", f"/api/chats/{uri}/messages/{first['id']}/")
    assert status == 200 and gone["attachments"] == []
    assert not blob_path(tmp_path, pdf_sha).exists()
    assert blob_path(tmp_path, photo_sha).exists()  # the other message still has it
    assert (await fetch(api, one["url"], bob.token))[0] == 404
    assert (await fetch(api, two["url"], alice.token))[0] == 200

    await bob.call("DELETE", f"/api/chats/{uri}/messages/{second['id']}/")
    assert stored_files(tmp_path) == []
    assert models.Blob.select().count() == 0
    history = await alice.history(uri)
    assert [m["attachments"] for m in history] == [[], []]


@pytest.mark.gen_test(timeout=30)
async def test_an_upload_is_claimed_by_one_message_of_its_uploader_in_its_chat(api):
    alice, bob, _, uri = await people_in_a_chat(api)
    other = await alice.start_chat()
    _, file = await upload(alice, uri, b"PK\x03\x04 an archive", "stuff.zip")
    before = snapshot()
    refusals = [
        (bob, uri, [file["id"]]),  # not his upload
        (alice, other, [file["id"]]),  # another chat
        (alice, uri, [file["id"], file["id"]]),
        (alice, uri, [file["id"] + 999]),
        (alice, uri, "17"),
        (alice, uri, [True]),
        (alice, uri, list(range(1, 12))),
    ]
    for person, where, ids in refusals:
        status, data = await person.call(
            "POST", f"/api/chats/{where}/messages/", {"message": "", "attachments": ids}
        )
        assert status == 400 and "attachments" in data, ids
    status, data = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "", "attachments": []}
    )
    assert status == 400 and "message" in data  # blank needs a file
    assert snapshot() == before

    posted = await send(alice, uri, "", [file["id"]])
    assert posted["message"] == "" and posted["attachments"][0]["id"] == file["id"]
    status, data = await alice.call(
        "POST",
        f"/api/chats/{uri}/messages/",
        {"message": "again", "attachments": [file["id"]]},
    )
    assert status == 400 and "attachments" in data
    history = await bob.history(uri)
    assert [m["attachments"] for m in history] == [[file]]


@pytest.mark.gen_test(timeout=30)
async def test_the_web_apps_socket_sends_files_with_a_caption(api):
    alice, bob, _, uri = await people_in_a_chat(api)
    _, first = await upload(alice, uri, png(), "a.png")
    _, second = await upload(alice, uri, b"%PDF-1.7", "b.pdf")
    listener = await bob.socket()
    await listener.read_message()  # hello
    listener.write_message(json.dumps({"type": "subscribe", "uri": uri, "ref": 1}))
    ws = await alice.socket()
    await ws.read_message()
    ws.write_message(
        json.dumps(
            {
                "type": "send",
                "uri": uri,
                "text": "",
                "client_id": "c1",
                "attachments": [second["id"], first["id"]],
                "ref": 2,
            }
        )
    )
    frame = json.loads(await ws.read_message())
    while frame["type"] != "ack":
        frame = json.loads(await ws.read_message())
    frame = json.loads(await listener.read_message())
    while frame.get("type") != "message":
        frame = json.loads(await listener.read_message())
    assert [a["id"] for a in frame["attachments"]] == [second["id"], first["id"]]
    ws.close()
    listener.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_quota_refuses_files_past_it_and_counts_shared_files_once(api, app):
    app.files.quota = 100
    alice, bob, _, uri = await people_in_a_chat(api)
    status, _ = await upload(alice, uri, b"%PDF-" + b"a" * 55, "one.pdf")
    assert status == 201
    status, data = await upload(alice, uri, b"%PDF-" + b"b" * 55, "two.pdf")
    assert status == 413 and "100 MB" not in data["detail"] and "your" in data["detail"]
    status, _ = await upload(bob, uri, b"%PDF-" + b"a" * 55, "same.pdf")
    assert status == 201  # bob has his own quota


@pytest.mark.gen_test(timeout=30)
async def test_a_profile_picture_is_cropped_square_in_two_sizes_and_can_be_removed(
    api, tmp_path
):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    status, me = await alice.call(
        "PUT", "/api/me/avatar/", raw=jpeg(size=(300, 200), gps=True, orientation=6)
    )
    assert status == 200, me
    assert me["avatar_url"].startswith(f"/api/avatars/{alice.id}/256.jpg?v=")
    for size in (256, 64):
        status, headers, data = await fetch(
            api, f"/api/avatars/{alice.id}/{size}.jpg", bob.token
        )
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        assert b"Exif" not in data and b"PhoneCo" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (size, size)
    assert (await fetch(api, f"/api/avatars/{alice.id}/256.jpg"))[0] == 401
    assert (await fetch(api, f"/api/avatars/{bob.id}/256.jpg", bob.token))[0] == 404
    status, _ = await alice.call("PUT", "/api/me/avatar/", raw=b"<svg/>")
    assert status == 400
    status, me = await alice.call("DELETE", "/api/me/avatar/")
    assert status == 200 and me["avatar_url"] is None
    assert stored_files(tmp_path) == []
    assert (await fetch(api, f"/api/avatars/{alice.id}/256.jpg", bob.token))[0] == 404


@pytest.mark.gen_test(timeout=30)
async def test_administrators_see_what_files_take_per_person(api):
    alice, bob, _, uri = await people_in_a_chat(api)
    shared = b"%PDF-" + b"s" * 95
    await upload(alice, uri, shared, "s.pdf")
    await upload(bob, uri, shared, "s.pdf")
    await upload(bob, uri, b"%PDF-" + b"b" * 195, "b.pdf")
    status, data = await bob.call("GET", "/api/admin/storage/")
    assert status == 403
    status, data = await alice.call("GET", "/api/admin/storage/")
    assert status == 200
    assert (data["total_bytes"], data["files"]) == (300, 2)
    assert [(p["user"]["username"], p["bytes"], p["files"]) for p in data["people"]] == [
        ("bob", 300, 2),
        ("alice", 100, 1),
    ]
    assert "email" not in data["people"][0]["user"]


@pytest.mark.gen_test(timeout=30)
async def test_uploads_no_message_claims_within_a_day_are_removed(api, app, tmp_path):
    alice, _, _, uri = await people_in_a_chat(api)
    _, kept = await upload(alice, uri, b"%PDF- sent", "sent.pdf")
    _, left = await upload(alice, uri, b"%PDF- forgotten", "left.pdf")
    await send(alice, uri, "here", [kept["id"]])
    writer = app.messenger.writer
    assert await app.files.sweep(writer, now=time.time() + 23 * 3600) == 0
    assert len(stored_files(tmp_path)) == 2
    assert await app.files.sweep(writer, now=time.time() + 25 * 3600) == 1
    assert len(stored_files(tmp_path)) == 1
    assert (await fetch(api, left["url"], alice.token))[0] == 404
    assert (await fetch(api, kept["url"], alice.token))[0] == 200


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk") as mountpoint:
        yield mountpoint


@pytest.fixture
def db_path(tmp_path, request):
    if "disk" in request.fixturenames:
        return str(request.getfixturevalue("disk") / "chatbox.db")
    return str(tmp_path / "chatbox.db")


@pytest.mark.gen_test(timeout=60)
async def test_a_full_disk_refuses_an_upload_clearly_and_keeps_no_part_of_it(api, disk):
    api.server_errors_expected.add(503)
    alice, _, _, uri = await people_in_a_chat(api)
    filler = fill(disk, leave=64 * 1024)
    before = snapshot()
    status, data = await upload(alice, uri, b"z" * 512 * 1024, "big.bin")
    assert status == 503 and "disk is full" in data["detail"]
    assert api.last_response.headers.get("Retry-After")
    assert snapshot() == before
    leftovers = [
        os.path.join(d, f) for d, _, names in os.walk(disk / "uploads") for f in names
    ]
    assert leftovers == []
    os.unlink(filler)
    status, _ = await upload(alice, uri, b"z" * 512 * 1024, "big.bin")
    assert status == 201


@pytest.mark.gen_test(timeout=30)
async def test_real_answers_of_the_file_routes_fit_their_schemas(api):
    from test_openapi import conforms, load_doc

    schemas = load_doc()["components"]["schemas"]
    alice, _, _, uri = await people_in_a_chat(api)
    _, photo = await upload(alice, uri, jpeg(), "a.jpg")
    _, other = await upload(alice, uri, b"%PDF-1.4", "b.pdf")
    message = await send(alice, uri, "", [photo["id"], other["id"]])
    _, me = await alice.call("PUT", "/api/me/avatar/", raw=png())
    _, figures = await alice.call("GET", "/api/admin/storage/")
    for value, name in (
        (photo, "File"),
        (other, "File"),
        (message, "Message"),
        (me, "OwnUser"),
        (figures, "StorageFigures"),
    ):
        assert conforms(value, schemas[name], schemas) == [], name


@pytest.mark.gen_test(timeout=60)
async def test_a_photo_worker_that_dies_costs_one_photo_not_the_server(api, app):
    alice, _, _, uri = await people_in_a_chat(api)
    status, first = await upload(alice, uri, jpeg(), "first.jpg")
    assert status == 201 and first["width"] == 64
    # As the kernel's OOM killer would: the process decoding photos is gone.
    worker = next(iter(app.files._images._processes.values()))
    worker.kill()
    worker.join(10)
    status, data = await upload(alice, uri, jpeg(colour="blue"), "second.jpg")
    assert status == 400 and data == {
        "file": ["This photo could not be processed; try a smaller one."]
    }
    assert models.Attachment.select().count() == 1
    # A new worker takes the next photo; the server never stopped.
    status, third = await upload(alice, uri, jpeg(colour="green"), "third.jpg")
    assert status == 201 and third["width"] == 64
