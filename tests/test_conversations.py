"""Replies, edits, deletes, reactions and mentions, over REST and the web app's socket:
who may do what, what everyone sees live, and what a resume replays."""

import os
import sqlite3

import pytest
from realtime import CHATTER, chat_between, closed, drain, read, read_type, send, ui_socket
from test_events import numbered, subscribe_after_seq

from models import Event, Message, Room


def message_path(uri, message_id, tail=""):
    return f"/api/chats/{uri}/messages/{message_id}/{tail}"


async def news(ws):
    """What the socket was sent so far besides presence, membership and typing."""
    return [f for f in await drain(ws) if f.get("type") not in CHATTER]


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
    # Presence may arrive meanwhile (bob came online); the changes are what counts.
    frames = [f for f in await drain(watcher) if "seq" in f]
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


@pytest.mark.sqlite_only
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


# --- Chat names -------------------------------------------------------------------------


async def rename(person, uri, name):
    return await person.call("PUT", f"/api/chats/{uri}/name/", {"name": name})


@pytest.mark.gen_test(timeout=30)
async def test_any_member_names_a_group_and_every_socket_of_every_member_hears_it(api):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    dave = await api.signup("dave")
    following = await ui_socket(alice, uri)
    elsewhere = await ui_socket(bob)  # not subscribed to the chat
    both = [await ui_socket(carol, uri), await ui_socket(carol)]
    outsider = await ui_socket(dave)
    status, chat = await rename(bob, uri, "  Trip   planning ")
    assert status == 200
    assert (chat["kind"], chat["name"]) == ("group", "Trip planning")
    frames = [await read_type(ws, "renamed") for ws in [following, elsewhere, *both]]
    assert frames[0]["seq"] and all(f == frames[0] for f in frames)
    assert (frames[0]["uri"], frames[0]["name"], frames[0]["user"]["id"]) == (
        uri,
        "Trip planning",
        bob.id,
    )
    assert await news(outsider) == []
    # Clearing it is a change too; the list then shows no name.
    status, chat = await rename(carol, uri, "")
    assert status == 200 and chat["name"] is None
    cleared = await read_type(following, "renamed")
    assert cleared["name"] == "" and cleared["seq"] == frames[0]["seq"] + 1
    # The same name again changes nothing and tells nobody.
    await rename(carol, uri, "")
    assert await news(following) == []
    back = await ui_socket(alice)
    await subscribe_after_seq(back, uri, frames[0]["seq"] - 1)
    replay = await drain(back)
    assert numbered(replay) == [
        ("renamed", frames[0]["seq"]),
        ("renamed", cleared["seq"]),
    ]
    assert replay[0] == frames[0]


@pytest.mark.gen_test(timeout=30)
async def test_a_bad_name_or_a_name_for_a_room_is_refused_and_changes_nothing(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    mallory = await api.signup("mallory")
    room = await alice.start_chat("general")
    status, _ = await rename(alice, uri, "x" * 80)
    assert status == 200
    watcher = await ui_socket(bob, uri)
    cases = [
        (alice, uri, "x" * 81, 400),
        (alice, uri, "Trip\u200bplanning", 400),
        (alice, uri, "\u202egninnalp", 400),
        (alice, uri, 7, 400),
        (alice, uri, None, 400),
        (alice, room, "General chat", 400),
        (mallory, uri, "mine now", 403),
        (mallory, "nosuchchat", "x", 404),
    ]
    before = (Event.select().count(), Room.get(Room.uri == uri).name)
    for person, where, name, expected in cases:
        status, data = await rename(person, where, name)
        assert status == expected and data, (where, name, data)
    status, _ = await alice.call("PUT", f"/api/chats/{uri}/name/", {})
    assert status == 400
    assert (Event.select().count(), Room.get(Room.uri == uri).name) == before
    assert await news(watcher) == []


# --- Notification levels ----------------------------------------------------------------


async def notify(person, uri, level):
    return await person.call("PUT", f"/api/chats/{uri}/notifications/", {"level": level})


@pytest.mark.gen_test(timeout=30)
async def test_a_notification_level_shows_in_the_summary_and_is_the_callers_own(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    for level in ("mentions", "muted", "all", "muted"):
        status, chat = await notify(bob, uri, level)
        assert status == 200 and chat["notify"] == level and chat["uri"] == uri
    status, data = await bob.call("GET", "/api/chats/")
    assert [c["notify"] for c in data["chats"]] == ["muted"]
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    assert chat["notify"] == "all"
    for level in ("loud", "", "ALL", None, 1):
        status, data = await notify(bob, uri, level)
        assert status == 400 and "level" in data, level
    status, chat = await bob.call("GET", f"/api/chats/{uri}/")
    assert chat["notify"] == "muted"
    mallory = await api.signup("mallory")
    status, _ = await notify(mallory, uri, "muted")
    assert status == 403


# --- Who hears what ---------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_member_hears_nothing_more_of_the_chat(api):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    kept = await alice.say(uri, "keep this")
    dropped = await alice.say(uri, "drop this")
    following = await ui_socket(bob, uri)
    elsewhere = await ui_socket(bob)
    seed = await bob.socket(f"/ws/chat/{uri}/")
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    removed = await read_type(following, "removed")
    assert (removed["uri"], removed["reason"]) == (uri, "removed")
    assert await closed(seed) == 4403
    await alice.call("PATCH", message_path(uri, kept["id"]), {"message": "kept, edited"})
    await alice.call("DELETE", message_path(uri, dropped["id"]))
    await carol.call("POST", message_path(uri, kept["id"], "reactions/"), {"emoji": "👍"})
    await carol.call("PUT", f"/api/chats/{uri}/name/", {"name": "Without bob"})
    await alice.say(uri, "bob is gone")
    watcher = await ui_socket(carol, uri)
    await carol.say(uri, "last one")
    await read_type(watcher, "message")  # everything before it has gone out
    assert await drain(following) == []
    assert await drain(elsewhere) == []


@pytest.mark.gen_test(timeout=30)
async def test_socket_edits_and_deletes_of_messages_not_to_be_changed_say_why(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    elsewhere = await bob.start_chat()
    hers = await alice.say(uri, "alice's words")
    mine = await bob.say(uri, "bob's words")
    gone = await bob.say(uri, "bob takes this back")
    other = await bob.say(elsewhere, "in another chat")
    ws = await ui_socket(bob, uri)
    send(ws, {"type": "delete", "uri": uri, "id": gone["id"], "ref": "setup"})
    assert (await read_type(ws, "done", skip=("deleted",)))["ref"] == "setup"
    cases = [
        ({"type": "edit", "id": 999999, "text": "x"}, "not_found"),
        ({"type": "edit", "id": other["id"], "text": "x"}, "not_found"),
        ({"type": "delete", "id": 999999}, "not_found"),
        ({"type": "delete", "id": "1"}, "not_found"),
        ({"type": "edit", "id": hers["id"], "text": "bob's now"}, "forbidden"),
        ({"type": "delete", "id": hers["id"]}, "forbidden"),
        ({"type": "edit", "id": gone["id"], "text": "back again"}, "invalid"),
        ({"type": "edit", "id": mine["id"], "text": "  "}, "invalid"),
        ({"type": "edit", "id": mine["id"]}, "invalid"),
    ]
    before = (await alice.history(uri), Event.select().count())
    for ref, (frame, code) in enumerate(cases, start=1):
        send(ws, dict(frame, uri=uri, ref=ref))
        error = await read_type(ws, "error")
        assert (error["code"], error["ref"]) == (code, ref), (frame, error)
    assert await news(ws) == []
    assert (await alice.history(uri), Event.select().count()) == before
    # Deleting a tombstone again is no error: it is done, and changed nothing.
    send(ws, {"type": "delete", "uri": uri, "id": gone["id"], "ref": "again"})
    done = await read_type(ws, "done")
    assert (done["ref"], done["seq"]) == ("again", None)


SEED_FIELDS = {"message", "user", "id", "uri", "created_at"}


@pytest.mark.gen_test(timeout=30)
async def test_the_seed_socket_carries_only_messages_each_with_its_old_fields(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    seed = await bob.socket(f"/ws/chat/{uri}/")
    first = await alice.say(uri, "@bob first")
    second = await alice.say(uri, "second", reply_to=first["id"])
    await alice.call("PATCH", message_path(uri, first["id"]), {"message": "first, edited"})
    await bob.call("POST", message_path(uri, first["id"], "reactions/"), {"emoji": "🎉"})
    await alice.call("DELETE", message_path(uri, second["id"]))
    await bob.call("PUT", f"/api/chats/{uri}/name/", {"name": "Seeds"})
    await alice.call("PUT", f"/api/chats/{uri}/notifications/", {"level": "muted"})
    await alice.say(uri, "last")
    frames = [await read(seed) for _ in range(3)]
    assert [f["message"] for f in frames] == ["@bob first", "second", "last"]
    for frame in frames:
        assert frame["type"] == "message" and set(frame) >= SEED_FIELDS
        assert frame["uri"] == uri and isinstance(frame["id"], int)
        assert {"id", "username", "first_name", "last_name"} <= set(frame["user"])
        assert "email" not in frame["user"]
    assert frames[1]["reply_to"]["id"] == first["id"]
    # Nothing else was on its way: a message of its own comes next.
    send(seed, {"message": "over"})
    assert (await read(seed))["message"] == "over"
