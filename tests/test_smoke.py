import pytest


@pytest.mark.gen_test
async def test_a_message_posted_is_in_history(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    await alice.say(uri, "hello")
    assert [m["message"] for m in await alice.history(uri)] == ["hello"]


@pytest.mark.gen_test
async def test_the_app_shell_answers_head_as_well_as_get(api):
    status, _ = await api.call("HEAD", "/chats/abc/")
    assert status == 200
    assert api.last_response.body == b""
    assert "Content-Security-Policy" in api.last_response.headers
