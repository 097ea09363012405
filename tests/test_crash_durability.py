"""An acknowledged message survives ``kill -9``: a real chatbox process, killed for real."""

import pytest
from boxes import Box
from conftest import API
from realtime import read, read_type, send

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def server(tmp_path):
    # Bursts of fifty sends, faster than the per-person budget lets anyone send.
    box = Box(tmp_path, "--limits=off")
    yield box
    box.close()


@pytest.mark.gen_test(timeout=90)
async def test_every_message_acked_before_a_kill_9_is_there_after_restart(server):
    api = API(server.start().url)
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    acked = {}
    for round_ in range(3):
        ws = await alice.socket("/ws")
        assert (await read(ws))["type"] == "hello"
        # Many sends in flight at once, so the kill lands right after a group commit.
        for n in range(50):
            client_id = f"r{round_}-{n}"
            send(
                ws, {"type": "send", "uri": uri, "client_id": client_id, "text": client_id}
            )
        for _ in range(50):
            ack = await read_type(ws, "ack", skip=("message",))
            acked[ack["client_id"]] = ack["id"]
        server.kill()  # no shutdown, no flush: the process simply vanishes
        alice.api = API(server.start().url)
        stored = await alice.history(uri, "?limit=200")
        assert {m["client_id"]: m["id"] for m in stored} == acked
        assert [m["message"] for m in stored] == [m["client_id"] for m in stored]
    assert len(acked) == 150
