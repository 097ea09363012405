"""What the others see when a socket goes away."""
import json

import pytest


async def frames_until(ws, predicate, limit=20):
    for _ in range(limit):
        raw = await ws.read_message()
        assert raw is not None, "socket closed"
        frame = json.loads(raw)
        if predicate(frame):
            return frame
    raise AssertionError("frame not seen")


@pytest.mark.gen_test
async def test_a_closed_socket_takes_its_user_offline_for_the_others(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    uri = await ada.start_chat("lobby")
    await bob.join(uri)
    ada_ws, bob_ws = await ada.socket(), await bob.socket()
    for ws in (ada_ws, bob_ws):
        await ws.read_message()  # hello
        ws.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    await frames_until(
        ada_ws, lambda f: f.get("type") == "presence" and bob.id in f["came_online"]
    )
    bob_ws.close()
    frame = await frames_until(
        ada_ws, lambda f: f.get("type") == "presence" and f["went_offline"] == [bob.id]
    )
    assert (frame["uri"], frame["came_online"]) == (uri, [])
