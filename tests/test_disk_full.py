"""A full disk: writes are refused clearly, nothing acknowledged is lost, and it heals.

Needs a tiny filesystem to fill: the test mounts a 1 MiB tmpfs, which takes root (or
CAP_SYS_ADMIN). Where mounting is impossible the test is skipped and says why.
"""

import json
import os
import sqlite3

import pytest
from boxes import fill, small_disk

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only

DISK_FULL = {"detail": "The server's disk is full; the message was not stored."}


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk") as mountpoint:
        yield mountpoint


@pytest.fixture
def db_path(disk):
    return str(disk / "chatbox.db")


@pytest.mark.gen_test(timeout=120)
async def test_a_full_disk_refuses_writes_clearly_loses_nothing_and_recovers(
    api, disk, db_path
):
    api.server_errors_expected.add(503)
    alice = await api.signup("alice")
    uri = await alice.start_chat("general")
    acked = [(await alice.say(uri, "before the disk filled"))["id"]]
    filler = fill(disk)
    text = "x" * 3900
    refused = None
    for n in range(200):  # bounded: 8 KiB of room is gone within a few messages
        status, data = await alice.call(
            "POST", f"/api/chats/{uri}/messages/", {"message": f"{n} {text}"}
        )
        if status == 503:
            refused = data
            break
        assert status == 201, data
        acked.append(data["id"])
    assert refused == DISK_FULL
    assert api.last_response.headers.get("Retry-After")

    ws = await alice.socket()
    await ws.read_message()  # hello
    ws.write_message(
        json.dumps({"type": "send", "uri": uri, "text": text, "client_id": "c1", "ref": 7})
    )
    frame = json.loads(await ws.read_message())
    assert frame == {
        "type": "error",
        "code": "disk_full",
        "detail": DISK_FULL["detail"],
        "ref": 7,
    }

    # Reading still works, and holds every acknowledged message.
    assert [m["id"] for m in await alice.history(uri, "?limit=200")] == acked

    os.unlink(filler)
    ws.write_message(
        json.dumps(
            {"type": "send", "uri": uri, "text": "space again", "client_id": "c1", "ref": 8}
        )
    )
    frame = json.loads(await ws.read_message())
    while frame.get("type") != "ack":
        frame = json.loads(await ws.read_message())
    acked.append(frame["id"])
    acked.append((await alice.say(uri, "and over REST"))["id"])
    ws.close()

    history = [m["id"] for m in await alice.history(uri, "?limit=200")]
    assert history == acked
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
