"""Read markers kept on the server, and the chat list built from a few queries."""

import pytest
from playhouse.test_utils import count_queries
from realtime import chat_between, drain, read_type, send, ui_socket
from rest import PUBLIC_USER_FIELDS


async def chats_of(person):
    status, data = await person.call("GET", "/api/chats/")
    assert status == 200, data
    return {chat["uri"]: chat for chat in data["chats"]}


async def mark(person, uri, body):
    return await person.call("POST", f"/api/chats/{uri}/read/", body)


@pytest.mark.gen_test
async def test_unread_counts_messages_by_others_after_the_read_marker(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    first = await alice.say(uri, "one")
    await alice.say(uri, "two")
    await bob.say(uri, "bob's own words are never unread for bob")

    chat = (await chats_of(bob))[uri]
    assert (chat["unread"], chat["last_read_id"]) == (2, 0)
    assert (await chats_of(alice))[uri]["unread"] == 1

    status, data = await mark(bob, uri, {"id": first["id"]})
    assert status == 200
    assert data == {"uri": uri, "last_read_id": first["id"], "unread": 1}
    chat = (await chats_of(bob))[uri]
    assert (chat["unread"], chat["last_read_id"]) == (1, first["id"])


@pytest.mark.gen_test
async def test_a_newcomer_starts_with_the_history_read(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat("general")
    said = await alice.say(uri, "before bob came")
    await bob.join(uri)
    chat = (await chats_of(bob))[uri]
    assert (chat["unread"], chat["last_read_id"]) == (0, said["id"])
    await alice.say(uri, "after bob came")
    assert (await chats_of(bob))[uri]["unread"] == 1


@pytest.mark.gen_test
async def test_a_read_marker_only_moves_forward(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    old = await alice.say(uri, "old")
    new = await alice.say(uri, "new")
    status, data = await mark(bob, uri, {"id": new["id"]})
    assert (status, data["last_read_id"], data["unread"]) == (200, new["id"], 0)
    status, data = await mark(bob, uri, {"id": old["id"]})
    assert (status, data["last_read_id"], data["unread"]) == (200, new["id"], 0)
    assert (await chats_of(bob))[uri]["last_read_id"] == new["id"]


@pytest.mark.gen_test
async def test_bad_read_markers_are_refused_with_400_and_change_nothing(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    said = await alice.say(uri, "hello")
    elsewhere = await alice.start_chat()
    foreign = await alice.say(elsewhere, "in another chat")
    for body in (
        {},
        {"id": None},
        {"id": "1"},
        {"id": True},
        {"id": 1.5},
        {"id": 0},
        {"id": -1},
        {"id": 2**70},
        {"id": said["id"] + 1000},
        {"id": foreign["id"]},
    ):
        status, data = await mark(bob, uri, body)
        assert status == 400, body
        assert data == {"id": ["Give the id of a message in this chat."]}, body
    status, _ = await bob.call("POST", f"/api/chats/{uri}/read/", raw="[1]")
    assert status == 400
    chat = (await chats_of(bob))[uri]
    assert (chat["unread"], chat["last_read_id"]) == (1, 0)


@pytest.mark.gen_test
async def test_only_members_may_mark_a_chat_read(api):
    alice = await api.signup("alice")
    mallory = await api.signup("mallory")
    uri = await alice.start_chat()
    said = await alice.say(uri, "private")
    status, _ = await mark(mallory, uri, {"id": said["id"]})
    assert status == 403
    status, _ = await mark(mallory, "f" * 32, {"id": said["id"]})
    assert status == 404
    status, _ = await api.call("POST", f"/api/chats/{uri}/read/", {"id": said["id"]})
    assert status == 401


@pytest.mark.gen_test
async def test_marking_read_over_rest_tells_every_socket_of_that_user_only(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    other = await alice.start_chat()
    await bob.join(uri)
    said = await alice.say(uri, "hello")
    # One tab in the chat, one not subscribed to it at all: both clear the badge.
    tab_in, tab_out = await ui_socket(bob, uri), await ui_socket(bob)
    alices = await ui_socket(alice, uri, other)
    await mark(bob, uri, {"id": said["id"]})
    for ws in (tab_in, tab_out):
        frame = await read_type(ws, "read")
        assert frame == {"type": "read", "uri": uri, "id": said["id"]}
    assert [f for f in await drain(alices) if f["type"] == "read"] == []
    # Marking the same message again moves nothing and tells nobody.
    await mark(bob, uri, {"id": said["id"]})
    for ws in (tab_in, tab_out):
        assert [f for f in await drain(ws) if f["type"] == "read"] == []
    for ws in (tab_in, tab_out, alices):
        ws.close()


@pytest.mark.gen_test
async def test_a_read_frame_tells_the_users_other_sockets_but_not_the_sender(api):
    alice, bob, uri = await chat_between(api, "alice", "bob")
    said = await alice.say(uri, "hello")
    phone, laptop = await ui_socket(bob, uri), await ui_socket(bob, uri)
    send(phone, {"type": "read", "uri": uri, "id": said["id"], "ref": 7})
    frame = await read_type(laptop, "read")
    assert frame == {"type": "read", "uri": uri, "id": said["id"]}
    assert [f for f in await drain(phone) if f["type"] in ("read", "error")] == []
    assert (await chats_of(bob))[uri]["unread"] == 0

    send(phone, {"type": "read", "uri": uri, "id": "latest", "ref": 8})
    error = await read_type(phone, "error")
    assert (error["code"], error["ref"]) == ("invalid", 8)
    assert error["detail"] == {"id": ["Give the id of a message in this chat."]}
    send(phone, {"type": "read", "uri": "f" * 32, "id": said["id"], "ref": 9})
    error = await read_type(phone, "error")
    assert (error["code"], error["ref"]) == ("not_found", 9)
    assert [f for f in await drain(laptop) if f["type"] == "read"] == []
    phone.close()
    laptop.close()


@pytest.mark.gen_test
async def test_a_read_frame_for_a_chat_of_someone_else_is_forbidden(api):
    alice = await api.signup("alice")
    mallory = await api.signup("mallory")
    uri = await alice.start_chat()
    said = await alice.say(uri, "private")
    ws = await ui_socket(mallory)
    send(ws, {"type": "read", "uri": uri, "id": said["id"]})
    assert (await read_type(ws, "error"))["code"] == "forbidden"
    ws.close()


@pytest.mark.gen_test
async def test_the_chat_list_previews_members_owner_first_and_counts_them_all(api):
    people = [await api.signup(f"p{n}") for n in range(7)]
    owner = people[3]
    uri = await owner.start_chat()
    for person in people:
        if person is not owner:
            await person.join(uri)
    chat = (await chats_of(people[0]))[uri]
    assert chat["member_count"] == 7
    assert [m["username"] for m in chat["members"]] == ["p3", "p0", "p1", "p2", "p4"]
    assert set(chat["members"][0]) == PUBLIC_USER_FIELDS
    # Opening the chat lists every member, with who is online.
    status, data = await people[0].call("GET", f"/api/chats/{uri}/")
    assert len(data["members"]) == 7 and "online" in data["members"][0]
    assert data["unread"] == 0 and data["member_count"] == 7


@pytest.mark.gen_test
async def test_the_chat_list_is_ordered_by_last_activity(api):
    alice = await api.signup("alice")
    first = await alice.start_chat("first")
    second = await alice.start_chat("second")
    third = await alice.start_chat("third")
    assert list(await chats_of(alice)) == [third, second, first]
    await alice.say(first, "first is busy now")
    assert list(await chats_of(alice)) == [first, third, second]
    await alice.say(second, "and now second")
    assert list(await chats_of(alice)) == [second, first, third]


@pytest.mark.gen_test(timeout=60)
async def test_the_chat_list_takes_the_same_few_queries_for_one_chat_or_thirty(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    counts = {}
    made = 0
    for size in (1, 30):
        while made < size:
            uri = await alice.start_chat()
            await bob.join(uri)
            await bob.say(uri, f"message {made}")
            made += 1
        with count_queries() as seen:
            chats = await chats_of(alice)
        assert len(chats) == size and all(c["unread"] == 1 for c in chats.values())
        counts[size] = seen.count
    # One to authenticate, one to find the page, eight for its chats: memberships, the
    # newest messages, member previews, unread counts, mention counts, and the newest
    # messages' mentions, reactions and attachments (before the list was paged: three
    # more per chat, 92 for 30).
    assert counts[1] == counts[30] <= 10, counts
