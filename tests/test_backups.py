"""Automatic backups when their disk fills up: nothing piles up, retention holds, status says so.

The backups folder gets a disk of its own, a 1 MiB tmpfs mounted over it, which takes
root (or CAP_SYS_ADMIN). Where mounting is impossible the test is skipped and says why."""

import os
import sqlite3
import time

import pytest
from boxes import Box, fill, run, small_disk, wait_until

import models
import schema
from appliance import backup


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
