"""Messages over REST: posting, refusing bad ones, paging history, resends stored once."""

import asyncio

import pytest
from rest import snapshot

import models

BAD_MESSAGE_BODIES = [
    dict(raw="{not json", headers={"Content-Type": "application/json"}),
    dict(raw='["a", "list"]'),
    dict(raw="null"),
    dict(raw='"just a string"'),
    dict(raw="42"),
    dict(raw="[" * 50_000),
    dict(raw='{"message": "\\ud800"}'),
    # PostgreSQL cannot keep it; both engines refuse it alike.
    dict(body={"message": "null \u0000 inside"}),
    dict(raw=b"\xff\xfe{}"),
    dict(body={}),
    dict(body={"text": "wrong field"}),
    dict(body={"message": 123}),
    dict(body={"message": None}),
    dict(body={"message": ["hi"]}),
    dict(body={"message": {"text": "hi"}}),
    dict(body={"message": True}),
    dict(body={"message": ""}),
    dict(body={"message": " \n\t "}),
    dict(body={"message": "x" * 4001}),
    dict(body={"message": "ok", "client_id": 5}),
    dict(body={"message": "ok", "client_id": "has spaces"}),
    dict(body={"message": "ok", "client_id": "x" * 65}),
    dict(
        raw="message=a&&=b", headers={"Content-Type": "application/x-www-form-urlencoded"}
    ),
]


@pytest.mark.gen_test
async def test_a_malformed_message_is_refused_with_400_and_nothing_is_stored(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "before")
    before = snapshot()
    for case in BAD_MESSAGE_BODIES:
        status, data = await alice.call("POST", f"/api/chats/{uri}/messages/", **case)
        assert status == 400, case
        assert isinstance(data, dict) and data
    assert snapshot() == before
    assert [m["message"] for m in await alice.history(uri)] == ["before"]


@pytest.mark.gen_test
async def test_a_message_of_exactly_4000_characters_is_accepted(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    text = "é" * 4000
    posted = await alice.say(uri, text)
    assert posted["message"] == text
    assert (await alice.history(uri))[0]["message"] == text


@pytest.mark.gen_test
async def test_bad_paging_values_are_refused_with_400(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "one")
    for query in (
        "before=abc",
        "after=1.5",
        "limit=0",
        "limit=-1",
        "limit=1000",
        "limit=201",
        "limit=",
        "before=0",
        "after=-1",
        "before=3&after=1",
    ):
        status, data = await alice.call("GET", f"/api/chats/{uri}/messages/?{query}")
        assert status == 400, query
        assert data


@pytest.mark.gen_test
async def test_paging_ids_beyond_any_real_id_are_answered_not_crashed_on(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "one")
    huge = "9" * 30
    assert [m["message"] for m in await alice.history(uri, f"?before={huge}")] == ["one"]
    assert await alice.history(uri, f"?after={huge}") == []


@pytest.mark.gen_test
async def test_paging_returns_the_right_windows_oldest_first(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    other = await alice.start_chat()
    ids = []
    for i in range(10):
        ids.append((await alice.say(uri, f"m{i}"))["id"])
        await alice.say(other, f"elsewhere {i}")  # interleaved ids from another chat

    async def texts(query):
        return [m["message"] for m in await alice.history(uri, query)]

    assert await texts("") == [f"m{i}" for i in range(10)]
    assert await texts("?limit=3") == ["m7", "m8", "m9"]
    assert await texts(f"?before={ids[7]}&limit=3") == ["m4", "m5", "m6"]
    assert await texts(f"?before={ids[2]}") == ["m0", "m1"]
    assert await texts(f"?before={ids[0]}") == []
    assert await texts(f"?after={ids[3]}&limit=2") == ["m4", "m5"]
    assert await texts(f"?after={ids[8]}") == ["m9"]
    assert await texts(f"?after={ids[9]}") == []
    assert await texts("?after=0&limit=2") == ["m0", "m1"]
    assert await texts("?limit=200") == [f"m{i}" for i in range(10)]


@pytest.mark.gen_test
@pytest.mark.usefixtures("unlimited")
async def test_the_default_page_is_the_newest_fifty(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for i in range(55):
        await alice.say(uri, f"m{i}")
    page = await alice.history(uri)
    assert [m["message"] for m in page] == [f"m{i}" for i in range(5, 55)]


@pytest.mark.gen_test
async def test_a_resend_with_the_same_client_id_returns_the_original_and_stores_once(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    other = await alice.start_chat()
    await bob.join(uri)
    status, first = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "once", "client_id": "c-1"}
    )
    assert status == 201
    status, again = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "once", "client_id": "c-1"}
    )
    assert status == 200
    assert again["id"] == first["id"] and again["message"] == "once"
    # A resend that changed its text is still the same message.
    status, changed = await alice.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "twice?", "client_id": "c-1"}
    )
    assert status == 200 and changed["message"] == "once"
    # Another author's ids are their own.
    status, _ = await bob.call(
        "POST", f"/api/chats/{uri}/messages/", {"message": "mine", "client_id": "c-1"}
    )
    assert status == 201
    # The same id in another chat is a mistake, refused.
    status, data = await alice.call(
        "POST", f"/api/chats/{other}/messages/", {"message": "once", "client_id": "c-1"}
    )
    assert status == 400 and "client_id" in data
    assert [(m["user"]["username"], m["message"]) for m in await alice.history(uri)] == [
        ("alice", "once"),
        ("bob", "mine"),
    ]
    assert await alice.history(other) == []
    assert models.Message.select().count() == 2


@pytest.mark.gen_test
async def test_resends_racing_with_one_client_id_store_one_message(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    results = await asyncio.gather(
        *(
            alice.call(
                "POST", f"/api/chats/{uri}/messages/", {"message": "hi", "client_id": "r-1"}
            )
            for _ in range(5)
        )
    )
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 201]
    assert len({data["id"] for _, data in results}) == 1
    assert len(await alice.history(uri)) == 1
