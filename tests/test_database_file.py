"""The database file as an owner handles it: copied after a stop, damaged, linked to."""
import os
import shutil
import sqlite3

import pytest

from boxes import Box, free_port, run


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


def serve(*args, timeout=30):
    """Run a server that should refuse to start; returns the finished process."""
    return run(f"--port={free_port()}", "--address=127.0.0.1", *args, timeout=timeout)


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_a_second_server_reaching_the_database_through_a_link_refuses_to_start(
    tmp_path, link
):
    with Box(tmp_path / "box") as box:
        token = box.signup("alice")
        db = os.path.join(box.data_dir, "chatbox.db")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        alias = str(elsewhere / "chatbox.db")
        (os.symlink if link == "symlink" else os.link)(db, alias)
        second = serve(f"--db={alias}")
        assert second.returncode == 1, second.stderr
        assert "another chatbox (or a restore) is using" in second.stderr
        # Nor may a restore through the link pull the file from under the server.
        assert run("backup", str(tmp_path / "copy.db"), f"--data-dir={box.data_dir}"
                   ).returncode == 0
        restore = run("restore", str(tmp_path / "copy.db"), f"--db={alias}")
        assert restore.returncode == 1 and "is running" in restore.stderr
        assert "server: running" in run("status", f"--db={alias}").stdout
        assert box.call("GET", "/api/me/", token=token)[0] == 200
        assert box.terminate() == 0
