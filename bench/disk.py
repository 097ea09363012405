"""Disk used per 100,000 messages, and the time of an online backup and of the
start-up check of them.

    python bench/disk.py [--messages=100000]

Not a test (no pass/fail): it prints figures docs/operations.md reports. Start-up time,
memory and login time come from bench/startup.py.
"""

import argparse
import datetime
import os
import random
import secrets
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import models  # noqa: E402
import schema  # noqa: E402
from appliance import backup, dbfile  # noqa: E402

WORDS = [
    "ok",
    "yes",
    "no",
    "thanks",
    "see",
    "you",
    "later",
    "lunch",
    "meeting",
    "today",
    "tomorrow",
    "at",
    "the",
    "room",
    "is",
    "anyone",
    "here",
    "coming",
    "who",
    "has",
    "the",
    "key",
    "where",
    "are",
    "we",
    "now",
    "I",
    "think",
    "that",
    "sounds",
    "good",
    "great",
    "idea",
    "let",
    "me",
    "check",
    "and",
    "get",
    "back",
    "to",
    "you",
    "in",
    "ten",
    "minutes",
    "please",
    "send",
    "file",
    "photo",
]


def sentence():
    return " ".join(random.choice(WORDS) for _ in range(random.randint(2, 25)))


def disk_per(count, data_dir):
    path = os.path.join(data_dir, "bulk.db")
    schema.init_db(path)
    users = [
        models.User.create(username=f"u{n}", username_key=f"u{n}", password_hash="x")
        for n in range(30)
    ]
    rooms = [
        models.Room.create(uri=f"room{n}", owner=users[n], is_private=False)
        for n in range(20)
    ]
    start = datetime.datetime(2025, 1, 1)
    texts = 0
    rows = []
    for n in range(count):
        text = sentence()
        texts += len(text.encode())
        rows.append(
            dict(
                room=random.choice(rooms),
                author=random.choice(users),
                text=text,
                client_id=secrets.token_urlsafe(16),
                created_at=start + datetime.timedelta(seconds=n * 7),
            )
        )
    before = os.path.getsize(path)
    with models.db.atomic():
        for i in range(0, len(rows), 500):
            models.Message.insert_many(rows[i : i + 500]).execute()
    models.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    after = os.path.getsize(path)
    models.db.close()
    return after - before, texts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        grown, texts = disk_per(args.messages, data_dir)
        print(
            f"{args.messages:,} messages: database grew {grown / 2**20:.1f} MiB "
            f"({grown / args.messages:.0f} bytes/message; text itself "
            f"{texts / args.messages:.0f} bytes/message)"
        )
        began = time.monotonic()
        backup.copy(os.path.join(data_dir, "bulk.db"), os.path.join(data_dir, "copy.db"))
        print(f"online backup of that database: {time.monotonic() - began:.2f} s")
        times = []
        for _ in range(5):
            began = time.monotonic()
            dbfile.check(os.path.join(data_dir, "bulk.db"))
            times.append(time.monotonic() - began)
        print(
            f"start-up check of that database (quick_check), median of 5: "
            f"{sorted(times)[2] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
