"""Replies, edits, deletes, reactions and mentions, over REST and the web app's socket:
who may do what, what everyone sees live, and what a resume replays."""

import os
import sqlite3

import pytest
from realtime import chat_between, drain, read, read_type, send, ui_socket
from test_events import numbered, subscribe_after_seq

from models import Message


def message_path(uri, message_id, tail=""):
    return f"/api/chats/{uri}/messages/{message_id}/{tail}"


@pytest.mark.gen_test(timeout=30)
async def test_an_offline_member_gets_an_edit_a_delete_and_a_reaction_once_in_order(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    first = await alice.say(uri, "first words")
    second = await alice.say(uri, "second words")
    ws = await ui_socket(bob)
    seen = (await subscribe_after_seq(ws, uri, 0))["latest_seq"]
    await drain(ws)
    ws.close()

    status, edited = await alice.call(
        "PATCH", message_path(uri, first["id"]), {"message": "first, better"}
    )
    assert status == 200 and edited["message"] == "first, better" and edited["edited_at"]
    status, _ = await alice.call("DELETE", message_path(uri, second["id"]))
    assert status == 200
    status, reacted = await alice.call(
        "POST", message_path(uri, first["id"], "reactions/"), {"emoji": "👍"}
    )
    assert status == 201 and reacted["reactions"] == [{"emoji": "👍", "users": [alice.id]}]

    back = await ui_socket(bob)
    await subscribe_after_seq(back, uri, seen)
    replay = await drain(back)
    assert numbered(replay) == [
        ("edited", seen + 1),
        ("deleted", seen + 2),
        ("reacted", seen + 3),
    ]
    edit, delete, reaction = [f for f in replay if "seq" in f]
    # Each shows the message as it is now: the edit already carries the reaction.
    assert edit["target"]["message"] == "first, better"
    assert delete["target"] == dict(
        delete["target"], deleted=True, message="", id=second["id"]
    )
    assert delete["by"]["username"] == "alice"
    assert (reaction["emoji"], reaction["on"], reaction["user"]["id"]) == (
        "👍",
        True,
        alice.id,
    )


@pytest.mark.gen_test(timeout=30)
async def test_only_the_author_edits_and_the_author_owner_or_admin_delete(api):
    admin = await api.signup("admin")  # the box's first account
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    said = await bob.say(uri, "bob's words")
    status, error = await carol.call(
        "PATCH", message_path(uri, said["id"]), {"message": "carol's now"}
    )
    assert status == 403 and "your own" in error["detail"]
    status, _ = await alice.call("PATCH", message_path(uri, said["id"]), {"message": "x"})
    assert status == 403
    status, _ = await carol.call("DELETE", message_path(uri, said["id"]))
    assert status == 403
    assert Message.get_by_id(said["id"]).text == "bob's words"
    # alice owns the chat: she may delete bob's message (but not edit it).
    status, tombstone = await alice.call("DELETE", message_path(uri, said["id"]))
    assert status == 200 and tombstone["deleted"] and tombstone["message"] == ""
    other = await carol.say(uri, "carol's words")
    # The administrator is no member: the chat is not theirs to see at all.
    status, _ = await admin.call("DELETE", message_path(uri, other["id"]))
    assert status == 403
    await admin.join(uri)
    status, _ = await admin.call("DELETE", message_path(uri, other["id"]))
    assert status == 200


@pytest.mark.gen_test(timeout=30)
async def test_bad_changes_get_a_clear_error_and_change_nothing(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    elsewhere = await alice.start_chat()
    said = await alice.say(uri, "keep me")
    gone = await alice.say(uri, "delete me")
    await alice.call("DELETE", message_path(uri, gone["id"]))
    cases = [
        ("PATCH", message_path(uri, 999999), {"message": "x"}, 404),
        ("PATCH", message_path(elsewhere, said["id"]), {"message": "x"}, 404),
        ("PATCH", message_path(uri, said["id"]), {"message": "   "}, 400),
        ("PATCH", message_path(uri, said["id"]), {"message": "x" * 4001}, 400),
        ("PATCH", message_path(uri, said["id"]), {}, 400),
        ("PATCH", message_path(uri, gone["id"]), {"message": "back"}, 400),
        ("POST", message_path(uri, said["id"], "reactions/"), {"emoji": "a"}, 400),
        ("POST", message_path(uri, said["id"], "reactions/"), {"emoji": "👍👍"}, 400),
        ("POST", message_path(uri, said["id"], "reactions/"), {"emoji": "👍" * 5000}, 400),
        ("POST", message_path(uri, said["id"], "reactions/"), {"emoji": 7}, 400),
        ("POST", message_path(uri, gone["id"], "reactions/"), {"emoji": "👍"}, 400),
        ("POST", message_path(uri, 2**70, "reactions/"), {"emoji": "👍"}, 404),
        ("POST", f"/api/chats/{uri}/messages/", {"message": "re", "reply_to": 999999}, 400),
        ("POST", f"/api/chats/{uri}/messages/", {"message": "re", "reply_to": "1"}, 400),
    ]
    before = (await bob.history(uri), Message.select().count())
    for method, path, body, expected in cases:
        status, data = await alice.call(method, path, body)
        assert status == expected, (method, path, body, data)
        assert data
    assert (await bob.history(uri), Message.select().count()) == before


@pytest.mark.gen_test(timeout=30)
async def test_nobody_reacts_to_or_answers_a_message_of_a_chat_they_are_not_in(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    mallory = await api.signup("mallory")
    theirs = await mallory.start_chat()
    said = await alice.say(uri, "members only")
    status, _ = await mallory.call(
        "POST", message_path(uri, said["id"], "reactions/"), {"emoji": "👍"}
    )
    assert status == 403
    # A reply in one's own chat to a message of another chat is refused too.
    status, data = await mallory.call(
        "POST", f"/api/chats/{theirs}/messages/", {"message": "re", "reply_to": said["id"]}
    )
    assert status == 400 and "reply_to" in data
    ws = await ui_socket(mallory, theirs)
    send(
        ws,
        {
            "type": "react",
            "uri": uri,
            "id": said["id"],
            "emoji": "👍",
            "on": True,
            "ref": 1,
        },
    )
    error = await read_type(ws, "error")
    assert (error["code"], error["ref"]) == ("forbidden", 1)
    send(
        ws,
        {
            "type": "send",
            "uri": theirs,
            "client_id": "m-1",
            "text": "x",
            "reply_to": said["id"],
        },
    )
    error = await read_type(ws, "error")
    assert error["code"] == "invalid"
    status, _ = await mallory.call(
        "PATCH", message_path(uri, said["id"]), {"message": "mine now"}
    )
    assert status == 403
    assert (await alice.history(uri))[-1]["reactions"] == []


@pytest.mark.gen_test(timeout=30)
async def test_reactions_over_the_socket_toggle_and_reach_everyone(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    said = await alice.say(uri, "react to me")
    watcher = await ui_socket(alice, uri)
    ws = await ui_socket(bob, uri)
    await drain(watcher)
    for on, ref in ((True, "a"), (True, "b"), (False, "c"), (False, "d")):
        send(
            ws,
            {
                "type": "react",
                "uri": uri,
                "id": said["id"],
                "emoji": "🎉",
                "on": on,
                "ref": ref,
            },
        )
        done = await read_type(ws, "done", skip=("reacted",))
        assert done["ref"] == ref
        # A second add, or taking back what is not there, changes nothing.
        assert (done["seq"] is None) == (ref in ("b", "d"))
    frames = await drain(watcher)
    assert [(f["type"], f["on"]) for f in frames] == [("reacted", True), ("reacted", False)]
    assert frames[0]["target"]["reactions"] == [{"emoji": "🎉", "users": [bob.id]}]
    assert frames[1]["target"]["reactions"] == []


@pytest.mark.gen_test(timeout=30)
async def test_a_reply_quotes_its_original_and_a_deleted_original_quotes_nothing(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    original = await alice.say(uri, "where is the key? " + "x" * 200)
    ws = await ui_socket(alice, uri)
    bob_ws = await ui_socket(bob, uri)
    send(
        bob_ws,
        {
            "type": "send",
            "uri": uri,
            "client_id": "b-1",
            "text": "under the mat",
            "reply_to": original["id"],
        },
    )
    live = await read_type(ws, "message")
    quote = live["reply_to"]
    assert quote["id"] == original["id"] and quote["user"]["username"] == "alice"
    assert quote["excerpt"] == original["message"][:140] and not quote["deleted"]
    await alice.call("DELETE", message_path(uri, original["id"]))
    reply = (await bob.history(uri))[-1]
    assert reply["reply_to"] == dict(quote, excerpt="", deleted=True)
    # The seed socket may answer too.
    seed = await bob.socket(f"/ws/chat/{uri}/")
    send(seed, {"message": "me too", "client_id": "b-2", "reply_to": reply["id"]})
    echo = await read(seed)
    assert echo["message"] == "me too" and echo["reply_to"]["id"] == reply["id"]


@pytest.mark.gen_test(timeout=30)
async def test_mentions_are_found_by_user_id_survive_renames_and_count_apart(api):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    outsider = await api.signup("dave")
    said = await alice.say(uri, "@Bob and @carol. not @dave, mail@bob, @bobby 👍 @bob")
    assert said["mentions"] == [
        {"user": bob.id, "start": 0, "length": 4},
        {"user": carol.id, "start": 9, "length": 6},
        {"user": bob.id, "start": 48, "length": 4},
    ]
    assert outsider.id not in {m["user"] for m in said["mentions"]}
    status, chats = await bob.call("GET", "/api/chats/")
    chat = (
        next(c for c in chats["results"] if c["uri"] == uri) if "results" in chats else None
    )
    del chat
    status, data = await bob.call("GET", f"/api/chats/{uri}/")
    assert status == 200 and data["mentions"] == 1 and data["unread"] == 1
    # An edit that drops the mention drops its count.
    await alice.call("PATCH", message_path(uri, said["id"]), {"message": "@carol only"})
    status, data = await bob.call("GET", f"/api/chats/{uri}/")
    assert data["mentions"] == 0
    status, data = await carol.call("GET", f"/api/chats/{uri}/")
    assert data["mentions"] == 1


@pytest.mark.gen_test(timeout=30)
async def test_a_deleted_messages_text_is_gone_from_the_database_file(api, db_path):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    secret = "the wifi password is hunter2-unique-phrase"
    said = await alice.say(uri, secret)
    await alice.say(uri, "@bob " + secret.upper())
    await alice.call("DELETE", message_path(uri, said["id"]))
    last = (await alice.history(uri))[-1]
    await alice.call("PATCH", message_path(uri, last["id"]), {"message": "never mind"})
    for message in await bob.history(uri):
        assert "hunter2" not in message["message"].lower()
    connection = sqlite3.connect(db_path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for path in (db_path, db_path + "-wal"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                assert b"hunter2" not in f.read().lower(), path
