"""The database file as an owner handles it: copied after a stop, damaged, linked to."""

import os
import random
import shutil
import sqlite3

import pytest
from boxes import PASSWORD, Box, free_port, run, wait_until

from appliance import backup

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only


def post_messages(box, token, room, count, size=20):
    """Post ``count`` messages of about ``size`` characters; returns their ids in order.

    More than 30 at once, or much text, needs a box started with ``--limits=off``.
    """
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
    """Run a server that should refuse to start; returns the finished process.

    A server that starts instead runs until ``timeout`` (seconds) and fails the test.
    """
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
        assert (
            run(
                "backup", str(tmp_path / "copy.db"), f"--data-dir={box.data_dir}"
            ).returncode
            == 0
        )
        restore = run("restore", str(tmp_path / "copy.db"), f"--db={alias}")
        assert restore.returncode == 1 and "is running" in restore.stderr
        assert "server: running" in run("status", f"--db={alias}").stdout
        assert box.call("GET", "/api/me/", token=token)[0] == 200
        assert box.terminate() == 0


def message_pages(db):
    """Page numbers of the leaves of the message table, in file order."""
    con = sqlite3.connect(db)
    try:
        # Everything into the file itself, so damage written there is what SQLite reads.
        assert con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        size = con.execute("PRAGMA page_size").fetchone()[0]
        try:
            pages = [
                row[0]
                for row in con.execute(
                    "SELECT pageno FROM dbstat WHERE name = 'message' AND pagetype = 'leaf' "
                    "ORDER BY pageno"
                )
            ]
        except sqlite3.OperationalError as exc:
            pytest.skip(f"this SQLite cannot list pages (dbstat): {exc}")
    finally:
        con.close()
    return size, pages


def damage(db, pages, size):
    """Overwrite whole pages with noise, as a failing SD card might."""
    noise = random.Random(1)
    with open(db, "r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(bytes(noise.getrandbits(8) for _ in range(size)))


@pytest.fixture
def full_box(tmp_path):
    """A data dir holding a stopped box with a few hundred kilobytes of messages.

    120 messages of 1,000 characters fill about 40 leaf pages of the message table:
    enough for damage in the middle of the file to miss the pages around it.
    """
    box = Box(tmp_path / "box", "--durability=normal", "--limits=off")
    with box:
        token = box.signup("alice")
        post_messages(box, token, "general", 120, size=1000)
        assert box.terminate() == 0
    return box


def error_lines(output):
    return [line for line in output.splitlines() if line.startswith(("[E", "[C"))]


def test_a_database_with_damaged_pages_is_refused_at_start_and_a_backup_cures_it(
    full_box, tmp_path
):
    data = full_box.data_dir
    good = str(tmp_path / "good.db")
    assert run("backup", good, f"--data-dir={data}").returncode == 0
    db = os.path.join(data, "chatbox.db")
    size, pages = message_pages(db)
    middle = len(pages) // 2
    damage(db, pages[middle : middle + 3], size)
    result = serve(f"--data-dir={data}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert "not starting" in line and "is damaged" in line and "restore a backup" in line
    for command in ("status", "users"):
        result = run(command, f"--data-dir={data}")
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "is damaged" in result.stderr
    result = run("restore", good, f"--data-dir={data}")
    assert result.returncode == 0, result.stderr
    with Box(data) as box:
        status, data, _ = box.call(
            "POST", "/auth/token/login/", {"username": "alice", "password": PASSWORD}
        )
        token = data["auth_token"]
        status, data, _ = box.call(
            "GET", "/api/chats/general/messages/?limit=200", token=token
        )
        assert status == 200 and len(data["messages"]) == 120
        assert box.terminate() == 0


NOT_CHATBOX = {
    "an empty file": b"",
    "a file of noise": bytes(random.Random(2).getrandbits(8) for _ in range(65536)),
}


@pytest.mark.parametrize("kind", [*NOT_CHATBOX, "another program's database"])
def test_a_file_that_is_not_a_chatbox_database_is_refused_not_made_a_new_box(
    tmp_path, kind
):
    db = tmp_path / "chatbox.db"
    if kind in NOT_CHATBOX:
        db.write_bytes(NOT_CHATBOX[kind])
    else:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
        con.commit()
        con.close()
    before = db.read_bytes()
    result = serve(f"--data-dir={tmp_path}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert "not starting" in line and str(db) in line
    # The commands that open the database refuse it too, in one line each.
    for command in (
        ["status"],
        ["users"],
        ["backup", str(tmp_path / "copy.db")],
        ["deactivate", "alice"],
    ):
        result = run(*command, f"--data-dir={tmp_path}")
        assert result.returncode == 1, (command, result.stdout)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert str(db) in result.stderr
    assert db.read_bytes() == before
    assert not (tmp_path / "copy.db").exists()
    # A backup goes back over it, and the file it replaced is kept.
    with Box(tmp_path / "donor") as donor:
        donor.signup("alice")
        good = str(tmp_path / "good.db")
        assert run("backup", good, f"--data-dir={donor.data_dir}").returncode == 0
    result = run("restore", good, f"--data-dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    kept = (tmp_path / "chatbox.db.before-restore").read_bytes()
    assert kept == before or kind == "an empty file"
    assert "alice" in run("users", f"--data-dir={tmp_path}").stdout


def test_healthz_reports_a_database_whose_pages_are_damaged_while_it_runs(tmp_path):
    with Box(tmp_path / "box", "--durability=normal", "--limits=off") as box:
        token = box.signup("alice")
        post_messages(box, token, "general", 120, size=1000)
        assert box.call("GET", "/healthz")[0] == 200
        db = os.path.join(box.data_dir, "chatbox.db")
        size, pages = message_pages(db)
        damage(db, pages, size)
        status, _, _ = box.call("GET", "/api/chats/general/messages/", token=token)
        assert status == 500
        status, data, _ = box.call("GET", "/healthz")
        assert status == 503
        assert data["status"] == "failing"
        assert "malformed" in data["reason"]
        assert "FAILING" in run("status", f"--data-dir={box.data_dir}").stdout


def test_the_periodic_backup_finds_damage_no_request_has_met_and_keeps_the_good_copies(
    tmp_path,
):
    # A backup every 1.8 s (the option is in hours), so a few run within the test.
    box = Box(
        tmp_path / "box",
        "--durability=normal",
        "--backup-every=0.0005",
        "--backup-keep=10",
        "--limits=off",
    )
    backups = os.path.join(box.data_dir, "backups")
    with box:
        token = box.signup("alice")
        post_messages(box, token, "general", 120, size=1000)
        assert wait_until(lambda: any(n.endswith(".db") for n in os.listdir(backups)))
        db = os.path.join(box.data_dir, "chatbox.db")
        size, pages = message_pages(db)
        damage(db, pages[len(pages) // 2 :][:3], size)
        assert wait_until(lambda: box.call("GET", "/healthz")[0] == 503)
        status, data, _ = box.call("GET", "/healthz")
        assert data["status"] == "failing" and "damaged" in data["reason"]
        report = run("status", f"--data-dir={box.data_dir}").stdout
        assert "FAILED: the database is damaged" in report
        kept = [name for name in os.listdir(backups) if name.endswith(".db")]
        assert kept
        for name in kept:  # every copy kept is a good one
            assert backup.integrity(os.path.join(backups, name)) == "ok"
        assert box.terminate() == 0
