"""The real-time layer through real sockets on a real server: delivery, resume, presence."""

import json

import pytest
from realtime import (
    apply_presence,
    chat_between,
    closed,
    drain,
    handshake_status,
    presence_settled,
    read,
    read_type,
    room_socket,
    send,
    session_cookie,
    subscribe,
    ui_socket,
    until,
)

from models import Message, Room, User


def messages_of(frames):
    return [f for f in frames if f.get("type") == "message"]


async def read_messages(ws, count):
    """The next ``count`` message frames, passing over presence and membership news."""
    return [await read_type(ws, "message") for _ in range(count)]


@pytest.mark.gen_test(timeout=30)
async def test_two_seed_sockets_each_receive_every_message_once_in_order_with_the_echo(
    api,
):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    sockets = {
        "alice": await room_socket(alice, "general"),
        "bob": await room_socket(bob, "general"),
    }
    received = {"alice": [], "bob": []}
    sent = []
    for n in range(4):
        for who, ws in sockets.items():
            text = f"{who} {n}"
            send(ws, {"message": text})
            # The echo is the sender's acknowledgement: wait for it before going on.
            while not received[who] or received[who][-1]["message"] != text:
                received[who].append(await read(ws))
            assert received[who][-1]["user"]["username"] == who
            sent.append((received[who][-1]["id"], text))
    for who, ws in sockets.items():
        while len(received[who]) < len(sent):
            received[who].append(await read(ws))
        assert [(f["id"], f["message"]) for f in received[who]] == sent
    assert [i for i, _ in sent] == sorted(i for i, _ in sent)
    assert [(m["id"], m["message"]) for m in await alice.history("general")] == sent


@pytest.mark.gen_test(timeout=30)
async def test_seed_sockets_see_all_messages_in_id_order_exactly_once(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    a = await room_socket(alice, "general")
    b = await room_socket(bob, "general")
    c = await room_socket(bob, "general")  # an observer that only reads
    for n in range(5):
        send(a, {"message": f"a{n}"})
        send(b, {"message": f"b{n}"})
    for ws in (a, b, c):
        frames = [await read(ws) for _ in range(10)]
        ids = [f["id"] for f in frames]
        assert ids == sorted(set(ids)), "out of order or duplicated"
        assert sorted(f["message"] for f in frames) == sorted(
            [f"a{n}" for n in range(5)] + [f"b{n}" for n in range(5)]
        )
        # Each sender's own messages arrive in the order it sent them.
        assert [f["message"] for f in frames if f["message"][0] == "a"] == [
            f"a{n}" for n in range(5)
        ]
    # Nothing more is pending: the next frame on each socket is a new message.
    send(c, {"message": "last"})
    for ws in (a, b, c):
        assert (await read(ws))["message"] == "last"


@pytest.mark.gen_test(timeout=30)
async def test_two_ui_sockets_receive_each_message_once_and_the_sender_gets_message_then_ack(
    api,
):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    for n in range(3):
        send(a, {"type": "send", "uri": uri, "client_id": f"a-{n}", "text": f"hi {n}"})
    frames = []
    while len([f for f in frames if f.get("type") == "ack"]) < 3:
        frames.append(await read(a))
    frames += await drain(a)
    kinds = [(f["type"], f.get("client_id")) for f in frames if f["type"] != "presence"]
    assert kinds == [
        ("message", "a-0"),
        ("ack", "a-0"),
        ("message", "a-1"),
        ("ack", "a-1"),
        ("message", "a-2"),
        ("ack", "a-2"),
    ]
    acks = [f for f in frames if f["type"] == "ack"]
    assert all(f["duplicate"] is False and f["uri"] == uri for f in acks)
    bob_frames = messages_of(await read_messages(b, 3) + await drain(b))
    assert [f["message"] for f in bob_frames] == ["hi 0", "hi 1", "hi 2"]
    assert [f["id"] for f in bob_frames] == [f["id"] for f in acks]
    assert all("email" not in f["user"] for f in bob_frames)


@pytest.mark.gen_test(timeout=30)
async def test_a_client_that_reconnects_with_after_receives_exactly_what_it_missed(api):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    a = await ui_socket(alice, uri)
    c = await ui_socket(carol, uri)
    first = await alice.say(uri, "before the gap")
    seen = await read_type(c, "message")
    assert seen["id"] == first["id"]
    c.close()
    missed = []
    for n in range(4):
        missed.append((await alice.say(uri, f"rest {n}"))["id"])
    for n in range(3):
        send(a, {"type": "send", "uri": uri, "client_id": f"s-{n}", "text": f"sock {n}"})
        missed.append((await read_type(a, "ack", skip=("message",)))["id"])
    bob_seed = await room_socket(bob, uri)
    send(bob_seed, {"message": "seed"})
    missed.append((await read(bob_seed))["id"])

    c = await ui_socket(carol)
    subscribed = await subscribe(c, uri, after=seen["id"])
    assert subscribed["latest_id"] == missed[-1]
    replay = messages_of(await read_messages(c, len(missed)) + await drain(c))
    assert [m["id"] for m in replay] == missed
    # Live messages continue after the replay, once each.
    live = await alice.say(uri, "after resume")
    assert [m["id"] for m in messages_of([await read_type(c, "message")])] == [live["id"]]
    assert messages_of(await drain(c)) == []


@pytest.mark.gen_test(timeout=30)
async def test_resuming_from_the_newest_id_replays_nothing(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    last = await alice.say(uri, "one")
    ws = await ui_socket(alice)
    subscribed = await subscribe(ws, uri, after=last["id"])
    assert subscribed["latest_id"] == last["id"]
    assert messages_of(await drain(ws)) == []


@pytest.mark.gen_test(timeout=60)
async def test_a_resume_gap_of_more_than_500_gets_a_reset_and_no_replay(api, app):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    first = await alice.say(uri, "start")
    room = Room.by_uri(uri)
    author = User.get_by_id(alice.id)
    # Bulk history is set up through the writer, as any write is; 501 REST calls would
    # only make the test slow.
    await app.messenger.writer.run(
        lambda: Message.insert_many(
            [{"room": room, "author": author, "text": f"m{n}"} for n in range(501)]
        ).execute()
    )
    ws = await ui_socket(alice)
    send(ws, {"type": "subscribe", "uri": uri, "after": first["id"]})
    assert (await read(ws))["type"] == "subscribed"
    frames = await drain(ws)
    assert [f["type"] for f in frames if f["type"] != "presence"] == ["reset"]
    assert (
        frames[-1] == {"type": "reset", "uri": uri}
        or {"type": "reset", "uri": uri} in frames
    )
    # Exactly 500 behind is still replayed.
    ws2 = await ui_socket(alice)
    send(ws2, {"type": "subscribe", "uri": uri, "after": first["id"] + 1})
    assert (await read(ws2))["type"] == "subscribed"
    assert len(messages_of(await drain(ws2))) == 500


@pytest.mark.gen_test(timeout=30)
async def test_a_resend_with_the_same_client_id_is_acked_again_and_stored_once(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    frame = {"type": "send", "uri": uri, "client_id": "c-7f3a", "text": "once"}
    send(a, frame)
    first = await read_type(a, "ack", skip=("message",))
    send(a, frame)
    again = await read_type(a, "ack")
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["id"] == first["id"] and again["created_at"] == first["created_at"]
    assert len(messages_of(await read_messages(b, 1) + await drain(b))) == 1
    assert [m["message"] for m in await alice.history(uri)] == ["once"]


@pytest.mark.gen_test(timeout=30)
async def test_a_seed_resend_with_the_same_client_id_is_echoed_to_the_sender_only(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    a = await room_socket(alice, "general")
    b = await room_socket(bob, "general")
    send(a, {"message": "once", "client_id": "seed-1"})
    first = await read(a)
    assert (await read(b))["id"] == first["id"]
    send(a, {"message": "once", "client_id": "seed-1"})
    again = await read(a)
    assert again["id"] == first["id"]
    send(a, {"message": "next"})
    assert (await read(b))["message"] == "next"  # bob never saw the resend
    assert [m["message"] for m in await alice.history("general")] == ["once", "next"]


@pytest.mark.gen_test(timeout=30)
async def test_messages_posted_over_rest_reach_both_kinds_of_socket(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ui = await ui_socket(bob, uri)
    seed = await room_socket(bob, uri)
    posted = await alice.say(uri, "over rest")
    for frame in (await read_type(ui, "message"), await read(seed)):
        assert frame["id"] == posted["id"] and frame["message"] == "over rest"
        assert frame["user"] == {
            "id": alice.id,
            "username": "alice",
            "display_name": "",
            "avatar_url": None,
            "is_bot": False,
            "first_name": "",
            "last_name": "",
        }


@pytest.mark.gen_test(timeout=30)
async def test_typing_reaches_others_but_not_the_sender_nor_seed_sockets(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    seed = await room_socket(bob, uri)
    await drain(a)
    send(a, {"type": "typing", "uri": uri})
    typing = await read_type(b, "typing")
    assert typing == {
        "type": "typing",
        "uri": uri,
        "user": {
            "id": alice.id,
            "username": "alice",
            "display_name": "",
            "avatar_url": None,
            "is_bot": False,
            "first_name": "",
            "last_name": "",
        },
    }
    assert [f for f in await drain(a) if f["type"] == "typing"] == []
    await alice.say(uri, "marker")
    assert (await read(seed))["message"] == "marker"  # no typing frame came before it


@pytest.mark.gen_test(timeout=30)
async def test_typing_in_a_room_not_subscribed_is_refused(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    ws = await ui_socket(alice)
    send(ws, {"type": "typing", "uri": uri, "ref": 3})
    assert await read(ws) == {
        "type": "error",
        "code": "not_subscribed",
        "detail": "Subscribe to the room first.",
        "ref": 3,
    }


@pytest.mark.gen_test(timeout=30)
async def test_presence_counts_a_user_once_across_two_tabs(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    hub = app.messenger.hub
    b = await ui_socket(bob)
    assert (await subscribe(b, uri))["online"] == [bob.id]
    await drain(b)
    await presence_settled(app)
    await drain(b)
    tab1 = await ui_socket(alice, uri)
    presence = await read_type(b, "presence")
    assert (presence["came_online"], presence["went_offline"]) == ([alice.id], [])
    tab2 = await ui_socket(alice)
    assert (await subscribe(tab2, uri))["online"] == sorted([alice.id, bob.id])
    await presence_settled(app)
    assert [f for f in await drain(b) if f["type"] == "presence"] == []
    tab1.close()
    await until(lambda: len(hub.connections(alice.id)) == 1)
    await presence_settled(app)
    assert [f for f in await drain(b) if f["type"] == "presence"] == []
    tab2.close()
    presence = await read_type(b, "presence")
    assert presence == {
        "type": "presence",
        "uri": uri,
        "came_online": [],
        "went_offline": [alice.id],
    }
    status, chat = await bob.call("GET", f"/api/chats/{uri}/")
    assert {m["username"]: m["online"] for m in chat["members"]} == {
        "alice": False,
        "bob": True,
    }


@pytest.mark.gen_test(timeout=30)
async def test_unsubscribing_stops_delivery_and_reports_presence(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    a = await ui_socket(alice, uri)
    b = await ui_socket(bob, uri)
    await presence_settled(app)
    await drain(b)
    send(a, {"type": "unsubscribe", "uri": uri})
    assert await read_type(a, "unsubscribed") == {"type": "unsubscribed", "uri": uri}
    presence = await read_type(b, "presence")
    assert (presence["came_online"], presence["went_offline"]) == ([], [alice.id])
    await bob.say(uri, "not for alice")
    assert messages_of(await drain(a)) == []


@pytest.mark.gen_test(timeout=30)
async def test_a_new_member_appears_to_others_at_once(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    uri = await alice.start_chat()
    a = await ui_socket(alice, uri)
    await bob.join(uri)
    member = await read_type(a, "member")
    assert member == {
        "type": "member",
        "uri": uri,
        "event": "joined",
        "user": {
            "id": bob.id,
            "username": "bob",
            "display_name": "",
            "avatar_url": None,
            "is_bot": False,
            "first_name": "",
            "last_name": "",
        },
        "seq": 2,  # the room's second event, after alice started it
    }
    await bob.join(uri)  # joining again is no news
    assert [f for f in await drain(a) if f["type"] == "member"] == []


@pytest.mark.gen_test(timeout=30)
async def test_a_removed_member_stops_receiving_at_once_and_cannot_come_back(api, app):
    alice, bob, carol, uri = await chat_between(api, "alice", "bob", "carol")
    ui = await ui_socket(bob, uri)
    seed = await room_socket(bob, uri)
    watcher = await ui_socket(carol, uri)
    await presence_settled(app)
    online = set((await subscribe(await ui_socket(carol), uri))["online"])
    assert online == {bob.id, carol.id}
    await drain(watcher)
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    assert await read_type(ui, "removed") == {
        "type": "removed",
        "uri": uri,
        "reason": "removed",
    }
    assert await closed(seed) == 4403
    await presence_settled(app)
    news = await drain(watcher)
    assert {
        "type": "member",
        "uri": uri,
        "event": "left",
        "user": {
            "id": bob.id,
            "username": "bob",
            "display_name": "",
            "avatar_url": None,
            "is_bot": False,
            "first_name": "",
            "last_name": "",
        },
        "seq": 4,  # alice started the chat, bob and carol joined
    } in news
    for frame in news:
        if frame["type"] == "presence":
            online = apply_presence(online, frame)
    assert online == {carol.id}
    await alice.say(uri, "bob is gone")
    assert messages_of(await drain(ui)) == []
    send(ui, {"type": "subscribe", "uri": uri, "ref": "s"})
    assert (await read(ui))["code"] == "forbidden"
    send(
        ui, {"type": "send", "uri": uri, "client_id": "x1", "text": "let me in", "ref": "t"}
    )
    error = await read(ui)
    assert (error["type"], error["code"], error["ref"]) == ("error", "forbidden", "t")
    assert [m["message"] for m in await alice.history(uri)] == ["bob is gone"]


@pytest.mark.gen_test(timeout=30)
async def test_a_member_who_leaves_by_themselves_gets_removed_on_every_tab(api, app):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    tab1 = await ui_socket(bob, uri)
    tab2 = await ui_socket(bob, uri)
    status, _ = await bob.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    for tab in (tab1, tab2):
        assert await read_type(tab, "removed") == {
            "type": "removed",
            "uri": uri,
            "reason": "left",
        }
    assert app.messenger.hub.online(Room.by_uri(uri).id) == []


# Security rules, one regression test each.


@pytest.mark.gen_test(timeout=30)
async def test_no_socket_opens_without_authentication(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for path in ("/ws", f"/ws/chat/{uri}/", "/ws/chat/general/"):
        assert await handshake_status(api, path) == 401
        assert await handshake_status(api, path, token="0" * 40) == 401
        assert (
            await handshake_status(api, path, Authorization="Bearer " + alice.token) == 401
        )
        assert await handshake_status(api, path, Cookie="chatbox_session=forged") == 401
    status, _ = await alice.call("GET", "/api/chats/general/")
    assert status == 404  # the refused seed handshake created no room


@pytest.mark.gen_test(timeout=30)
async def test_a_foreign_origin_is_refused_even_with_valid_credentials(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    cookie = await session_cookie(api, "alice")
    evil = "http://evil.example"
    for path in ("/ws", f"/ws/chat/{uri}/", "/ws/chat/lobby/"):
        assert await handshake_status(api, path, token=alice.token, Origin=evil) == 403
        assert await handshake_status(api, path, Cookie=cookie, Origin=evil) == 403
        assert (
            await handshake_status(
                api, path, Cookie=cookie, Origin=evil, **{"Sec-Fetch-Site": "cross-site"}
            )
            == 403
        )
    # A refused handshake changes nothing: the named room was not opened.
    status, _ = await alice.call("GET", "/api/chats/lobby/")
    assert status == 404
    # The box's own pages may open sockets with the cookie.
    own = api.base_url
    assert await handshake_status(api, "/ws", Cookie=cookie, Origin=own) == 101
    assert await handshake_status(api, f"/ws/chat/{uri}/", Cookie=cookie, Origin=own) == 101


@pytest.mark.gen_test(timeout=30)
async def test_a_cookie_authenticated_socket_works_like_a_token_one(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    cookie = await session_cookie(api, "alice")
    ws = await api.socket("/ws", Cookie=cookie, Origin=api.base_url)
    assert (await read(ws))["user"]["username"] == "alice"
    await subscribe(ws, uri)
    await alice.say(uri, "hi")
    assert (await read_type(ws, "message"))["message"] == "hi"


@pytest.mark.gen_test(timeout=30)
async def test_a_non_member_cannot_subscribe_send_or_type_in_a_private_session(api):
    alice, mallory = await api.signup("alice"), await api.signup("mallory")
    uri = await alice.start_chat()
    ws = await ui_socket(mallory)
    for frame in (
        {"type": "subscribe", "uri": uri, "ref": 1},
        {"type": "subscribe", "uri": uri, "after": 0, "ref": 2},
        {"type": "send", "uri": uri, "client_id": "m-1", "text": "let me in", "ref": 3},
        {"type": "typing", "uri": uri, "ref": 4},
        {"type": "unsubscribe", "uri": uri, "ref": 5},
    ):
        send(ws, frame)
        error = await read(ws)
        assert (error["type"], error["code"], error["ref"]) == (
            "error",
            "forbidden",
            frame["ref"],
        )
    assert await alice.history(uri) == []
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    assert [m["username"] for m in chat["members"]] == ["alice"]


@pytest.mark.gen_test(timeout=30)
async def test_membership_is_checked_again_on_every_send(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ws = await ui_socket(bob)  # sends without subscribing: no eviction to rely on
    send(ws, {"type": "send", "uri": uri, "client_id": "b-1", "text": "still here"})
    assert (await read_type(ws, "ack"))["duplicate"] is False
    status, _ = await alice.call("DELETE", f"/api/chats/{uri}/members/bob/")
    assert status == 204
    send(ws, {"type": "send", "uri": uri, "client_id": "b-2", "text": "gone?", "ref": 9})
    error = await read(ws)
    assert (error["code"], error["ref"]) == ("forbidden", 9)
    assert [m["message"] for m in await alice.history(uri)] == ["still here"]


@pytest.mark.gen_test(timeout=30)
async def test_a_deactivated_account_can_no_longer_send_on_its_open_sockets(api, app):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    await bob.join(await alice.start_chat("general"))
    ui = await ui_socket(bob, "general")
    seed = await room_socket(bob, "general")
    await app.messenger.writer.run(
        lambda: User.update(is_active=False).where(User.id == bob.id).execute()
    )
    send(ui, {"type": "send", "uri": "general", "client_id": "b-1", "text": "x", "ref": 1})
    assert (await read_type(ui, "error"))["code"] == "forbidden"
    send(seed, {"message": "x"})
    assert (await read(seed))["error"] == "forbidden"
    assert await alice.history("general") == []
    assert await handshake_status(api, "/ws", token=bob.token) == 401


# Bad frames: each gets an error (or the right close code) and changes nothing.

BAD_UI_FRAMES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('"just a string"', "bad_frame"),
    ("[" * 5000 + "]" * 5000, "bad_json"),
    ({"type": "subscribe", "uri": 5}, "not_found"),
    ({"type": "subscribe", "uri": "no-such-room"}, "not_found"),
    ({"type": "subscribe", "uri": "general", "after": "x"}, "invalid"),
    ({"type": "subscribe", "uri": "general", "after": True}, "invalid"),
    ({"type": "subscribe", "uri": "general", "after": -1}, "invalid"),
    ({"type": "subscribe", "uri": "general", "after": 1.5}, "invalid"),
    ({"type": "subscribe", "uri": "general", "after": 10**30}, "invalid"),
    ({"type": "send", "uri": "general", "client_id": "c 1", "text": "x"}, "invalid"),
    ({"type": "send", "uri": "general", "client_id": 7, "text": "x"}, "invalid"),
    ({"type": "send", "uri": "general", "client_id": "c-1", "text": 123}, "invalid"),
    ({"type": "send", "uri": "general", "client_id": "c-1", "text": "   "}, "invalid"),
    ({"type": "send", "uri": "general", "client_id": "c-1", "text": "x" * 4001}, "invalid"),
    ({"type": "send", "uri": "general", "text": "no client id"}, "invalid"),
    ({"type": "shout", "uri": "general"}, "unknown_type"),
    ({"type": ["subscribe"]}, "unknown_type"),
    ({"uri": "general"}, "unknown_type"),
]


@pytest.mark.gen_test(timeout=30)
async def test_bad_ui_frames_get_error_frames_and_the_sockets_other_rooms_keep_working(api):
    alice = await api.signup("alice")
    await api.signup("bob")
    await alice.start_chat("general")
    other = await alice.start_chat()
    ws = await ui_socket(alice, other)
    for n, (frame, code) in enumerate(BAD_UI_FRAMES):
        if isinstance(frame, dict):
            frame = dict(frame, ref=n)
        send(ws, frame)
        error = await read_type(ws, "error")
        assert error["code"] == code, (frame, error)
        if isinstance(frame, dict):
            assert error["ref"] == n
    ws.write_message(b'{"type": "ping"}', binary=True)
    assert (await read(ws))["code"] == "bad_frame"
    assert await alice.history("general") == []
    # The same socket still carries its room both ways.
    send(ws, {"type": "send", "uri": other, "client_id": "ok-1", "text": "still fine"})
    assert (await read_type(ws, "message"))["message"] == "still fine"
    assert (await read_type(ws, "ack"))["client_id"] == "ok-1"
    await alice.say(other, "over rest")
    assert (await read_type(ws, "message"))["message"] == "over rest"


@pytest.mark.gen_test(timeout=30)
async def test_bad_seed_frames_get_error_frames_and_the_socket_keeps_working(api):
    alice = await api.signup("alice")
    ws = await room_socket(alice, "general")
    for frame, code in [
        ("not json", "bad_json"),
        ("[1]", "bad_frame"),
        ({"message": 123}, "invalid"),
        ({"message": ""}, "invalid"),
        ({"text": "wrong field"}, "invalid"),
        ({"message": "x", "client_id": "has spaces"}, "invalid"),
    ]:
        send(ws, frame)
        assert (await read(ws))["error"] == code, frame
    ws.write_message(b"\x00\x01", binary=True)
    assert (await read(ws))["error"] == "bad_frame"
    send(ws, {"message": "fine"})
    assert (await read(ws))["message"] == "fine"
    assert [m["message"] for m in await alice.history("general")] == ["fine"]


@pytest.mark.gen_test(timeout=30)
async def test_an_oversized_frame_closes_that_socket_with_1009_and_others_carry_on(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    big_ui = await ui_socket(alice, uri)
    big_seed = await room_socket(alice, uri)
    b = await ui_socket(bob, uri)
    huge = "x" * (64 * 1024 + 1)
    send(big_ui, {"type": "send", "uri": uri, "client_id": "big", "text": huge})
    assert await closed(big_ui) == 1009
    send(big_seed, {"message": huge})
    assert await closed(big_seed) == 1009
    await alice.say(uri, "after the big ones")
    assert (await read_type(b, "message"))["message"] == "after the big ones"
    assert [m["message"] for m in await bob.history(uri)] == ["after the big ones"]


def test_the_ping_timeout_is_one_tornado_honours(app):
    # Tornado ignores (and warns about) a timeout longer than the ping interval.
    assert (
        0
        < app.settings["websocket_ping_timeout"]
        <= app.settings["websocket_ping_interval"]
    )


@pytest.mark.gen_test(timeout=30)
async def test_resuming_from_an_id_the_room_never_reached_gets_a_reset_then_live_messages(
    api,
):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "one")
    ws = await ui_socket(alice)
    send(ws, {"type": "subscribe", "uri": uri, "after": 10_000})
    assert (await read(ws))["type"] == "subscribed"
    assert [f for f in await drain(ws) if f["type"] != "presence"] == [
        {"type": "reset", "uri": uri}
    ]
    live = await alice.say(uri, "two")
    assert (await read_type(ws, "message"))["id"] == live["id"]


@pytest.mark.gen_test(timeout=30)
async def test_long_and_non_ascii_messages_arrive_intact_on_both_sockets(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    ui = await ui_socket(bob, uri)
    seed = await room_socket(bob, uri)
    for text in ("é" * 4000, "👋 " * 1333, "x" * 100, "日本語"):
        await alice.say(uri, text)
        assert (await read_type(ui, "message"))["message"] == text
        assert (await read(seed))["message"] == text


@pytest.mark.gen_test(timeout=30)
async def test_a_plain_link_to_a_room_socket_changes_nothing(api):
    alice = await api.signup("alice")
    await api.signup("bob")
    await alice.start_chat("general")
    cookie = await session_cookie(api, "bob")
    # A page can send bob's browser to these addresses; without an upgrade they are
    # refused, and neither the new room nor bob's membership of the old one exists.
    for room in ("general", "brand-new"):
        response = await api.client.fetch(
            f"{api.base_url}/ws/chat/{room}/", headers={"Cookie": cookie}, raise_error=False
        )
        assert response.code == 400
        assert json.loads(response.body) == {"detail": "Expected a websocket upgrade"}
    assert Room.by_uri("brand-new") is None
    assert not User.by_username("bob").is_member(Room.by_uri("general"))


@pytest.mark.gen_test(timeout=30)
async def test_a_private_chat_address_in_capitals_is_not_a_room_name(api):
    alice, mallory = await api.signup("alice"), await api.signup("mallory")
    uri = await alice.start_chat()
    assert (
        await handshake_status(api, f"/ws/chat/{uri.upper()}/", token=mallory.token) == 404
    )
    status, _ = await mallory.call("POST", "/api/chats/", {"name": uri})
    assert status == 400
    status, _ = await mallory.call("POST", "/api/chats/", {"name": uri.upper()})
    assert status == 400
    assert not User.by_username("mallory").is_member(Room.by_uri(uri))


@pytest.mark.gen_test(timeout=30)
async def test_a_seed_socket_receives_what_is_said_while_it_is_still_joining(api):
    alice, bob = await api.signup("alice"), await api.signup("bob")
    await alice.start_chat("general")
    listener = await room_socket(alice, "general")
    joining = await room_socket(bob, "general")
    await alice.say("general", "hello bob")
    assert (await read(joining))["message"] == "hello bob"
    assert (await read(listener))["message"] == "hello bob"
