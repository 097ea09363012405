import json

import pytest


async def next_of_type(socket, kind):
    # Bounded: a handful of frames (hello, subscribed, presence) precede the one wanted.
    for _ in range(20):
        frame = json.loads(await socket.read_message())
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


async def presence_becomes(socket, online):
    for _ in range(20):
        frame = await next_of_type(socket, "presence")
        if sorted(frame["online"]) == sorted(online):
            return
    raise AssertionError(f"presence never became {online}")


@pytest.mark.gen_test(timeout=10)
async def test_closing_a_socket_tells_the_room_its_user_went_offline(api):
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    uri = await alice.start_chat()
    await bob.join(uri)
    alice_socket = await alice.socket()
    alice_socket.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    assert (await next_of_type(alice_socket, "subscribed"))["online"] == [alice.id]
    bob_socket = await bob.socket()
    bob_socket.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    await presence_becomes(alice_socket, [alice.id, bob.id])
    bob_socket.close()
    await presence_becomes(alice_socket, [alice.id])
    alice_socket.close()
