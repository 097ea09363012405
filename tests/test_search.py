"""Search across one's chats, and opening a chat around a message: through the real
server, as a client calls it."""

import os
import sqlite3
import urllib.parse

import pytest
from realtime import chat_between

import models


def message_path(uri, message_id):
    return f"/api/chats/{uri}/messages/{message_id}/"


async def find(person, q="", expect=200, **filters):
    query = urllib.parse.urlencode({"q": q, **filters})
    status, data = await person.call("GET", f"/api/search/?{query}")
    assert status == expect, data
    return data


async def found(person, q, **filters):
    """The texts of the messages a search finds, newest first."""
    return [r["message"]["message"] for r in (await find(person, q, **filters))["results"]]


@pytest.mark.gen_test(timeout=30)
async def test_search_never_returns_another_chats_message(api, unlimited):
    alice, bob, ours = await chat_between(api, "alice", "bob")
    carol = await api.signup("carol")
    theirs = await carol.start_chat()
    await alice.say(ours, "the wifi password is on the fridge")
    await carol.say(theirs, "the wifi password is hunter2")
    assert await found(alice, "wifi") == ["the wifi password is on the fridge"]
    assert await found(carol, "wifi") == ["the wifi password is hunter2"]
    # Naming the other chat does not reach into it.
    assert await found(alice, "wifi", chat=theirs) == []
    assert await found(alice, "hunter2") == []


@pytest.mark.gen_test(timeout=30)
async def test_a_person_removed_from_a_chat_no_longer_finds_its_messages(api, unlimited):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    await alice.say(uri, "meeting moved to thursday")
    assert await found(bob, "thursday") == ["meeting moved to thursday"]
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status in (200, 204)
    assert await found(bob, "thursday") == []
    assert await found(alice, "thursday") == ["meeting moved to thursday"]


@pytest.mark.gen_test(timeout=30)
async def test_every_word_is_a_prefix_in_any_case_and_with_or_without_accents(
    api, unlimited
):
    alice, uri = (await api.signup("alice")), None
    uri = await alice.start_chat()
    await alice.say(uri, "Meet at the Café Crème at noon")
    await alice.say(uri, "The PASSWORD changed")
    await alice.say(uri, "nothing to see")
    assert await found(alice, "cafe") == ["Meet at the Café Crème at noon"]
    assert await found(alice, "CAFÉ creme") == ["Meet at the Café Crème at noon"]
    assert await found(alice, "pass") == ["The PASSWORD changed"]
    assert await found(alice, "pa ch") == ["The PASSWORD changed"]
    # Every word must match.
    assert await found(alice, "password noon") == []


@pytest.mark.gen_test(timeout=30)
async def test_the_snippet_is_plain_text_pieces_with_the_matches_marked(api, unlimited):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "the wifi password is on the <b>fridge</b> & door")
    result = (await find(alice, "wif fridge"))["results"][0]
    pieces = result["snippet"]
    assert "".join(p["text"] for p in pieces) == (
        "the wifi password is on the <b>fridge</b> & door"
    )
    assert [p["text"] for p in pieces if p["match"]] == ["wifi", "fridge"]
    assert result["chat"] == {"uri": uri, "kind": "group", "name": None}
    assert result["message"]["user"]["username"] == "alice"


@pytest.mark.gen_test(timeout=30)
async def test_a_deleted_message_is_never_found_and_an_edited_one_by_its_new_words_only(
    api, unlimited
):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    gone = await alice.say(uri, "secret plans for saturday")
    changed = await alice.say(uri, "lunch on monday")
    await alice.call("DELETE", message_path(uri, gone["id"]))
    await alice.call(
        "PATCH", message_path(uri, changed["id"]), {"message": "lunch on friday"}
    )
    assert await found(bob, "secret") == []
    assert await found(bob, "saturday") == []
    assert await found(bob, "monday") == []
    assert await found(bob, "friday") == ["lunch on friday"]


@pytest.mark.gen_test(timeout=30)
async def test_filters_by_chat_person_date_and_file(api, unlimited):
    alice, bob, first = await chat_between(api, "alice", "bob")
    second = await alice.start_chat()
    await bob.join(second)
    await alice.say(first, "report draft one")
    await bob.say(first, "report draft two")
    with_file = await bob.say(second, "report final")
    assert await found(alice, "report", chat=second) == ["report final"]
    assert await found(alice, "report", **{"from": "bob"}) == [
        "report final",
        "report draft two",
    ]
    assert await found(alice, "report", **{"from": "nobody"}) == []
    assert await found(alice, "report", after="2000-01-01") == [
        "report final",
        "report draft two",
        "report draft one",
    ]
    assert await found(alice, "report", before="2000-01-01") == []
    assert await found(alice, "report", after="2999-01-01T00:00:00Z") == []
    # A file claimed by a message, as an upload makes it.
    blob = models.Blob.create(sha256="ab" * 32, size=3, type="text/plain")
    models.Attachment.create(
        blob=blob,
        room=models.Room.by_uri(second),
        uploader=bob.id,
        message=with_file["id"],
        name="notes.txt",
    )
    assert await found(alice, "report", has="file") == ["report final"]


@pytest.mark.gen_test(timeout=30)
async def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(api, unlimited):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for n in range(7):
        await alice.say(uri, f"ping number {n}")
    await alice.say(uri, "something else")
    seen, cursor = [], None
    while True:
        page = await find(alice, "ping", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [r["message"]["message"] for r in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"ping number {n}" for n in reversed(range(7))]
    # A message sent meanwhile does not shift a page already asked for.
    first = await find(alice, "ping", limit=3)
    await alice.say(uri, "ping number 7")
    again = await find(alice, "ping", limit=3, cursor=first["next"])
    assert again["results"][0]["message"]["message"] == "ping number 3"


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"unbalanced',
        "*",
        "-",
        "-ping",
        "ping*",
        "NEAR(ping number)",
        "ping OR number",
        "ping AND",
        "NOT ping",
        "text:ping",
        "^ping",
        "(ping",
        "ping)",
        "{text}: ping",
        "!!! ??? ...",
        "'; DROP TABLE message; --",
        "\u0000",
        "ping\u0000",
    ],
)
async def test_fts_syntax_in_a_query_is_only_text_never_an_error(api, unlimited, q):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "ping number one")
    data = await find(alice, q)
    texts = [r["message"]["message"] for r in data["results"]]
    assert texts in ([], ["ping number one"])


@pytest.mark.gen_test(timeout=30)
async def test_a_query_of_punctuation_only_finds_nothing(api, unlimited):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "!!! ??? ...")
    assert await find(alice, "!!! ???") == {"results": [], "next": None}
    assert await find(alice, "") == {"results": [], "next": None}


@pytest.mark.gen_test(timeout=30)
async def test_bad_search_input_is_a_clear_400_and_changes_nothing(api, unlimited):
    alice = await api.signup("alice")
    assert "q" in await find(alice, "x" * 201, expect=400)
    assert "q" in await find(alice, " ".join(["word"] * 13), expect=400)
    assert "limit" in await find(alice, "x", expect=400, limit=0)
    assert "limit" in await find(alice, "x", expect=400, limit=51)
    assert "limit" in await find(alice, "x", expect=400, limit="many")
    assert "cursor" in await find(alice, "x", expect=400, cursor="abc")
    assert "cursor" in await find(alice, "x", expect=400, cursor="9" * 30)
    assert "after" in await find(alice, "x", expect=400, after="yesterday")
    assert "before" in await find(alice, "x", expect=400, before="2025-13-45")
    assert "has" in await find(alice, "x", expect=400, has="photo")
    status, _ = await api.call("GET", "/api/search/?q=x")
    assert status == 401


@pytest.mark.gen_test(timeout=30)
async def test_around_an_id_gives_about_half_before_and_half_after_oldest_first(
    api, unlimited
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    ids = [(await alice.say(uri, f"m{n}"))["id"] for n in range(20)]

    async def window(around, limit):
        messages = await alice.history(uri, f"?around={around}&limit={limit}")
        return [m["id"] for m in messages]

    assert await window(ids[10], 6) == ids[8:14]
    assert await window(ids[10], 5) == ids[8:13]
    # At the start and the end of the history the window is filled from the other side.
    assert await window(ids[0], 6) == ids[0:6]
    assert await window(ids[1], 6) == ids[0:6]
    assert await window(ids[19], 6) == ids[14:20]
    assert await window(ids[18], 6) == ids[14:20]
    assert await window(ids[5], 50) == ids
    # An id between messages (or past the end) is a place in the history too.
    assert await window(ids[-1] + 1000, 3) == ids[17:20]


@pytest.mark.gen_test(timeout=30)
async def test_around_cannot_be_combined_with_before_or_after(api, unlimited):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    said = await alice.say(uri, "hello")
    for extra in ("before", "after"):
        status, data = await alice.call(
            "GET", f"/api/chats/{uri}/messages/?around={said['id']}&{extra}={said['id']}"
        )
        assert status == 400 and "around" in data["detail"]
    status, _ = await alice.call("GET", f"/api/chats/{uri}/messages/?around=0")
    assert status == 400
    status, _ = await alice.call("GET", f"/api/chats/{uri}/messages/?around=x")
    assert status == 400


@pytest.mark.gen_test(timeout=30)
async def test_outsiders_may_not_open_a_chat_around_a_message(api, unlimited):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    said = await alice.say(uri, "private")
    mallory = await api.signup("mallory")
    status, _ = await mallory.call("GET", f"/api/chats/{uri}/messages/?around={said['id']}")
    assert status == 403


@pytest.mark.gen_test(timeout=30)
async def test_a_search_answer_fits_its_documented_schema(api, unlimited):
    from test_openapi import conforms, load_doc

    schemas = load_doc()["components"]["schemas"]
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "the wifi password")
    await alice.say(uri, "wifi again")
    data = await find(alice, "wifi", limit=1)
    assert data["next"] is not None
    assert conforms(data, schemas["SearchResults"], schemas) == []


@pytest.mark.sqlite_only
@pytest.mark.gen_test(timeout=60)
async def test_a_large_index_loses_a_deleted_messages_words_in_later_steps(
    api, app, db_path, unlimited, monkeypatch
):
    # As on a box whose index is too large to merge within the delete itself: the
    # delete leaves all the merging for later, which goes a page at a time.
    monkeypatch.setattr(
        models.MessageIndex,
        "after_change",
        classmethod(lambda cls: models.Setting.write(cls.PENDING, "1")),
    )
    monkeypatch.setattr(models.MessageIndex, "STEP_PAGES", 1)
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for n in range(30):
        await alice.say(uri, f"filler words number {n} to make segments")
    said = await alice.say(uri, "the code is zebra-quokka-unique")
    await alice.call("DELETE", message_path(uri, said["id"]))
    assert models.MessageIndex.pending()
    steps = 0
    while not await app.messenger.writer.run(models.MessageIndex.continue_):
        steps += 1
        assert steps < 1000
    assert not models.MessageIndex.pending()
    assert await found(alice, "zebra") == []
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for path in (db_path, db_path + "-wal"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                assert b"quokka" not in f.read(), path
