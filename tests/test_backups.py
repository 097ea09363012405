"""Automatic backups when their disk fills up: nothing piles up, retention holds, status says so.

The backups folder gets a disk of its own, a 1 MiB tmpfs mounted over it, which takes
root (or CAP_SYS_ADMIN). Where mounting is impossible the test is skipped and says why."""

import hashlib
import os
import sqlite3
import time

import pytest
from boxes import Box, fill, run, small_disk, wait_until

import models
import schema
from appliance import backup

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only


def test_periodic_backups_keep_only_the_newest_ones(tmp_path):
    db = str(tmp_path / "chatbox.db")
    schema.init_db(db)
    models.db.close()
    made = [backup.periodic(db, str(tmp_path / "backups"), keep=2) for _ in range(3)]
    copies = [name for name in os.listdir(tmp_path / "backups") if name.endswith(".db")]
    assert sorted(copies) == sorted(os.path.basename(p) for p in made[1:])
    assert backup.integrity(made[-1]) == "ok"


EVERY = "0.0005"


PERIOD = 1.8


@pytest.fixture
def data_dir(tmp_path):
    """A data dir whose backups/ folder is a 1 MiB disk of its own."""
    data = tmp_path / "box"
    with small_disk(data / "backups"):
        yield data


def copies(backups):
    """The automatic backups, oldest first."""
    names = [
        n for n in os.listdir(backups) if n.startswith("chatbox-") and n.endswith(".db")
    ]
    return sorted(names, key=lambda n: os.stat(os.path.join(backups, n)).st_mtime_ns)


def test_backups_that_outgrow_their_disk_leave_nothing_behind_keep_the_good_ones_and_say_so(
    data_dir,
):
    backups = data_dir / "backups"
    with Box(data_dir, f"--backup-every={EVERY}", "--backup-keep=3") as box:
        token = box.signup("alice")
        box.call("POST", "/api/chats/", {"name": "general"}, token=token)
        box.call("POST", "/api/chats/general/messages/", {"message": "hi"}, token=token)
        assert wait_until(lambda: len(copies(backups)) == 3)
        assert box.terminate() == 0
    good = copies(backups)
    assert len(good) == 3
    # A copy a power cut interrupted long ago.
    abandoned = backups / "chatbox-20250101-000000.db.partial"
    abandoned.write_bytes(b"\0" * 4096)
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    fill(backups)

    with Box(data_dir, f"--backup-every={EVERY}", "--backup-keep=3") as box:
        wait_until(lambda: "FAILED" in run("status", f"--data-dir={data_dir}").stdout)
        time.sleep(2 * PERIOD)  # a few more runs fail, and must not pile up either
        status = run("status", f"--data-dir={data_dir}").stdout
        leftovers = [n for n in os.listdir(backups) if ".partial" in n or "journal" in n]
        assert leftovers == []
        assert copies(backups) == good  # a failure never costs a good copy
        assert "last automatic backup:" in status and "FAILED" in status
        assert "the disk is full" in status
        assert box.call("GET", "/healthz")[0] == 200  # a full backup disk is no damage
        assert box.terminate() == 0

    os.unlink(backups / "filler")
    with Box(data_dir, f"--backup-every={EVERY}", "--backup-keep=3") as box:
        assert wait_until(
            lambda: ", ok: chatbox-" in run("status", f"--data-dir={data_dir}").stdout
        )
        assert box.terminate() == 0
    assert len(copies(backups)) == 3 and good[0] not in copies(backups)


def test_a_failed_backup_still_prunes_copies_beyond_the_number_to_keep(data_dir):
    backups = data_dir / "backups"
    db = str(data_dir / "chatbox.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE filling (text TEXT)")
    con.execute("INSERT INTO filling VALUES (?)", ("x" * 100_000,))
    con.commit()
    con.close()
    for _ in range(4):
        backup.periodic(db, str(backups), keep=4)
        time.sleep(0.01)  # distinct times, which order the copies
    good = copies(backups)
    fill(backups)
    # Fewer copies wanted now, and no room for another.
    with pytest.raises(backup.BackupError, match="the disk is full"):
        backup.periodic(db, str(backups), keep=2)
    assert copies(backups) == good[2:]
    assert [n for n in os.listdir(backups) if ".partial" in n] == []
    outcome = backup.last_outcome(str(backups))
    assert outcome["ok"] is False and "the disk is full" in outcome["detail"]


# --- Uploads go with the database ------------------------------------------------------


def put_upload(data_dir, content, message_text=None):
    """An upload as the server leaves it: the bytes under uploads/, a blob row, and
    (given a message's text) an attachment claimed by that message. Written straight
    into the database beside the server, as another process may."""
    sha = hashlib.sha256(content).hexdigest()
    folder = data_dir / "uploads" / sha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / sha).write_bytes(content)
    con = sqlite3.connect(data_dir / "chatbox.db", timeout=10)
    with con:
        blob = con.execute(
            'INSERT INTO "blob" ("sha256", "size", "type", "created_at")'
            " VALUES (?, ?, 'text/plain', '2025-01-01 00:00:00')",
            (sha, len(content)),
        ).lastrowid
        if message_text is not None:
            message, room, author = con.execute(
                'SELECT "id", "room_id", "author_id" FROM "message" WHERE "text" = ?',
                (message_text,),
            ).fetchone()
            con.execute(
                'INSERT INTO "attachment" ("blob_id", "room_id", "uploader_id",'
                ' "message_id", "name", "position", "created_at")'
                " VALUES (?, ?, ?, ?, 'notes.txt', 0, '2025-01-01 00:00:00')",
                (blob, room, author, message),
            )
    con.close()
    return sha


def test_backup_and_restore_bring_back_the_database_and_its_uploads_together(tmp_path):
    data = tmp_path / "box"
    with Box(data) as box:
        token = box.signup("alice")
        box.call("POST", "/api/chats/", {"name": "general"}, token=token)
        box.call("POST", "/api/chats/general/messages/", {"message": "kept"}, token=token)
        kept = put_upload(data, b"the notes we keep", "kept")
        result = run("backup", str(tmp_path / "copy"), f"--data-dir={data}")
        assert result.returncode == 0, result.stderr
        assert "and its uploads to the folder" in result.stdout
        status = run("status", f"--data-dir={data}").stdout
        assert f"uploads: {data / 'uploads'}, 1 files, 17 bytes" in status
        # After the backup: a message with a file of its own, and the kept file lost.
        box.call("POST", "/api/chats/general/messages/", {"message": "later"}, token=token)
        later = put_upload(data, b"a later file", "later")
        os.unlink(data / "uploads" / kept[:2] / kept)
        assert box.terminate() == 0
    copy = tmp_path / "copy"
    assert sorted(os.listdir(copy)) == ["chatbox.db", "uploads"]
    # Same disk: the backup's file is the upload itself, not a second copy of it.
    assert (copy / "uploads" / kept[:2] / kept).read_bytes() == b"the notes we keep"

    result = run("restore", str(copy), f"--data-dir={data}")
    assert result.returncode == 0, result.stderr
    assert (data / "uploads" / kept[:2] / kept).read_bytes() == b"the notes we keep"
    # The later file belongs to a message the restore took back: set aside, not lost.
    assert not (data / "uploads" / later[:2] / later).exists()
    assert (data / "uploads.before-restore" / later[:2] / later).exists()
    con = sqlite3.connect(data / "chatbox.db")
    texts = [row[0] for row in con.execute('SELECT "text" FROM "message"')]
    shas = [row[0] for row in con.execute('SELECT "sha256" FROM "blob"')]
    con.close()
    assert texts == ["kept"] and shas == [kept]


def test_a_backup_folder_missing_an_upload_is_refused_and_nothing_changes(tmp_path):
    data = tmp_path / "box"
    with Box(data) as box:
        token = box.signup("alice")
        box.call("POST", "/api/chats/", {"name": "general"}, token=token)
        box.call("POST", "/api/chats/general/messages/", {"message": "hi"}, token=token)
        sha = put_upload(data, b"some bytes", "hi")
        assert run("backup", str(tmp_path / "copy"), f"--data-dir={data}").returncode == 0
        assert box.terminate() == 0
    os.unlink(tmp_path / "copy" / "uploads" / sha[:2] / sha)
    before = (data / "chatbox.db").read_bytes()
    result = run("restore", str(tmp_path / "copy"), f"--data-dir={data}")
    assert result.returncode == 1
    assert "lacks 1 of the uploads" in result.stderr
    assert (data / "chatbox.db").read_bytes() == before


def test_periodic_backups_with_uploads_are_folders_of_links_and_are_pruned(tmp_path):
    db = str(tmp_path / "chatbox.db")
    schema.init_db(db)
    models.db.close()
    sha = put_upload(tmp_path, b"photo bytes")
    uploads = str(tmp_path / "uploads")
    (tmp_path / "uploads" / "ab").mkdir(exist_ok=True)
    (tmp_path / "uploads" / "ab" / "half-written.partial").write_bytes(b"x")
    made = []
    for _ in range(3):
        made.append(backup.periodic(db, str(tmp_path / "backups"), 2, uploads))
        time.sleep(0.01)
    assert backup.listed(str(tmp_path / "backups")) == sorted(
        os.path.basename(p) for p in made[1:]
    )
    newest = made[-1]
    assert os.path.isdir(newest) and not newest.endswith(".db")
    assert backup.integrity(newest) == "ok"
    original = os.stat(os.path.join(uploads, sha[:2], sha))
    linked = os.stat(os.path.join(newest, "uploads", sha[:2], sha))
    assert (linked.st_ino, linked.st_dev) == (original.st_ino, original.st_dev)
    assert [
        os.listdir(os.path.join(newest, "uploads", d))
        for d in os.listdir(os.path.join(newest, "uploads"))
    ] == [[sha]]
    backup.vet(newest)
