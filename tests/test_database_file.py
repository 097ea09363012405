"""The database file as an owner handles it: copied after a stop, damaged, linked to."""
import os
import shutil
import sqlite3

from boxes import Box


def post_messages(box, token, room, count, size=20):
    """Post ``count`` messages of about ``size`` characters; returns their ids in order."""
    status, data, _ = box.call("POST", "/api/chats/", {"name": room}, token=token)
    assert status in (200, 201), data
    ids = []
    for n in range(count):
        text = f"message {n} " + "x" * size
        status, data, _ = box.call(
            "POST", f"/api/chats/{room}/messages/", {"message": text}, token=token
        )
        assert status == 201, data
        ids.append(data["id"])
    return ids


def test_after_a_clean_stop_the_database_file_alone_holds_every_message(tmp_path):
    box = Box(tmp_path / "box")
    with box:
        token = box.signup("alice")
        ids = post_messages(box, token, "general", 30)
        assert box.terminate() == 0
    db = os.path.join(box.data_dir, "chatbox.db")
    # Nothing is left waiting in the write-ahead log.
    assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    shutil.copy(db, elsewhere / "chatbox.db")
    con = sqlite3.connect(elsewhere / "chatbox.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert [row[0] for row in con.execute("SELECT id FROM message ORDER BY id")] == ids
    finally:
        con.close()
