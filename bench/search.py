"""Search over a large box, through the real endpoint: build a database of N messages
(default 1,000,000) straight into SQLite, start ``chatbox.py`` on it on loopback, and
time realistic searches; also the disk the index takes.

    python bench/search.py [--messages 1000000] [--queries 200] [--keep /tmp/big.db]

Text is words drawn from a vocabulary with Zipf-like frequencies (a few very common
words, a long tail of rare ones), in 20 rooms of 40 people. "alice" is in every room;
"bob" in 2 of them, so his searches must pass over matches in chats he is not in.
Every loop has a count and the whole run a deadline.
"""

import argparse
import hashlib
import itertools
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import schema  # noqa: E402
from models import FTS_SQL, db  # noqa: E402

ROOMS, PEOPLE, VOCABULARY = 20, 40, 20000
DEADLINE = 1800  # seconds for the whole run
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "te",
    "vi",
    "do",
    "pa",
    "be",
    "gu",
    "fi",
    "ho",
    "ja",
    "ze",
    "wo",
    "xi",
    "qu",
    "ly",
]
# Common English words first, so the most frequent words read like chat.
COMMON = [
    "the",
    "to",
    "and",
    "a",
    "i",
    "you",
    "it",
    "is",
    "that",
    "of",
    "in",
    "for",
    "on",
    "my",
    "me",
    "we",
    "this",
    "be",
    "have",
    "so",
    "but",
    "are",
    "not",
    "with",
    "what",
    "at",
    "just",
    "can",
    "do",
    "was",
    "if",
    "they",
    "all",
    "get",
    "your",
    "go",
    "no",
    "up",
    "about",
    "out",
    "like",
    "know",
    "there",
    "will",
    "one",
    "now",
    "how",
    "think",
    "time",
    "when",
    "good",
    "see",
    "then",
    "want",
    "here",
    "did",
    "come",
    "should",
    "from",
    "well",
    "back",
    "dinner",
    "tomorrow",
    "meeting",
    "wifi",
    "password",
    "photo",
    "school",
    "train",
    "weekend",
]


def vocabulary(rng):
    words = list(COMMON)
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    # A few with accents, as people type them.
    return words + ["café", "crème", "naïve", "résumé", "über"]


def build(path, messages, rng):
    schema.init_db(path, synchronous="OFF")
    db.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    words = vocabulary(rng)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    now = "2025-01-01 00:00:00"
    with con:
        con.executemany(
            'INSERT INTO "user" ("username", "username_key", "password_hash", "email",'
            ' "first_name", "last_name", "created_at", "is_admin", "is_active",'
            ' "display_name", "is_bot") VALUES (?, ?, ?, "", "", "", ?, 0, 1, "", 0)',
            [(n, n, "x", now) for n in ["alice", "bob"] + [f"p{i}" for i in range(PEOPLE)]],
        )
        con.executemany(
            'INSERT INTO "room" ("uri", "is_private", "owner_id", "created_at", "seq",'
            ' "name") VALUES (?, 0, 1, ?, 0, "")',
            [(f"room{r}", now) for r in range(ROOMS)],
        )
        members = [(1, r + 1) for r in range(ROOMS)] + [(2, 1), (2, 2)]
        members += [(3 + p, 1 + p % ROOMS) for p in range(PEOPLE)]
        con.executemany(
            'INSERT INTO "membership" ("user_id", "room_id", "joined_at",'
            ' "last_read_id", "notify") VALUES (?, ?, ?, 0, "all")',
            [(u, r, now) for u, r in members],
        )
    # The index is built once at the end ('rebuild'), far faster than by the triggers.
    for name in ("insert", "delete", "update"):
        con.execute(f'DROP TRIGGER "message_fts_{name}"')
    seqs = [0] * ROOMS
    started = time.time()
    batch = 100_000
    for first in range(0, messages, batch):
        rows = []
        for n in range(first, min(messages, first + batch)):
            room = rng.randrange(ROOMS)
            seqs[room] += 1
            text = " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(3, 18)))
            moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1704067200 + n * 30))
            rows.append((room + 1, 3 + rng.randrange(PEOPLE), text, moment, seqs[room]))
        with con:
            con.executemany(
                'INSERT INTO "message" ("room_id", "author_id", "text", "created_at",'
                ' "seq") VALUES (?, ?, ?, ?, ?)',
                rows,
            )
    with con:
        for room, seq in enumerate(seqs):
            con.execute('UPDATE "room" SET "seq" = ? WHERE "id" = ?', (seq, room + 1))
    built = time.time() - started
    started = time.time()
    with con:
        con.execute('INSERT INTO "message_fts" ("message_fts") VALUES (\'rebuild\')')
        for statement in FTS_SQL[1:]:
            con.execute(statement)
    indexed = time.time() - started
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return built, indexed


def index_bytes(path):
    """Bytes the FTS index's tables take (their pages), and the whole file."""
    con = sqlite3.connect(path)
    try:
        rows = con.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'message_fts%'"
        ).fetchone()
        fts = rows[0]
    except sqlite3.OperationalError:  # no dbstat: measure by dropping a copy's index
        fts = None
    con.close()
    return fts, os.path.getsize(path)


def token(base, user):
    con = sqlite3.connect(BENCH_DB)
    secret = f"bench-token-{user}"
    with con:
        con.execute(
            'INSERT OR IGNORE INTO "token" ("digest", "user_id", "created_at", "kind")'
            " SELECT ?, id, '2025-01-01 00:00:00', 'api' FROM \"user\" WHERE username = ?",
            (hashlib.sha256(secret.encode()).hexdigest(), user),
        )
    con.close()
    return secret


def ask(base, secret, params):
    url = base + "/api/search/?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Authorization": f"Token {secret}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    return (time.perf_counter() - started) * 1000, len(body["results"])


QUERIES = [
    ("common word", {"q": "the"}),
    ("rare word", {"q": "ZIPF_RARE"}),
    ("two words", {"q": "dinner tomorrow"}),
    ("prefix as typed: 'pa'", {"q": "pa"}),
    ("prefix as typed: 'passw'", {"q": "passw"}),
    ("accent folded: 'cafe'", {"q": "cafe"}),
    ("common word, one chat", {"q": "the", "chat": "room3"}),
    ("common word, from one person", {"q": "the", "from": "p7"}),
    (
        "common word, a date range",
        {"q": "the", "after": "2024-03-01", "before": "2024-03-08"},
    ),
    ("two words, page 2", {"q": "dinner tomorrow", "cursor": "CURSOR"}),
]

BENCH_DB = None


def disk(messages):
    """Bytes of a database of ``messages`` with and without the index, vacuumed."""
    path = os.path.join(tempfile.mkdtemp(prefix="chatbox-disk-"), "chatbox.db")
    build(path, messages, random.Random(12))
    con = sqlite3.connect(path)
    con.execute("VACUUM")
    with_index = os.path.getsize(path)
    index = index_bytes(path)[0]
    con.execute('DROP TABLE "message_fts"')
    con.commit()
    con.execute("VACUUM")
    con.close()
    print(
        f"{messages:,} messages: {with_index:,} bytes with the index ({index:,} of them"
        f" the index), {os.path.getsize(path):,} without"
    )


def merge_cost(source):
    """Time ``MessageIndex`` takes to merge a deleted message's words out of a copy of
    ``source``, a step at a time."""
    import shutil

    from models import MessageIndex

    path = os.path.join(tempfile.mkdtemp(prefix="chatbox-merge-"), "chatbox.db")
    shutil.copyfile(source, path)
    schema.init_db(path)
    last = db.execute_sql('SELECT MAX("id") FROM "message"').fetchone()[0]
    for victim in (last // 2, last // 3):
        with db.atomic():
            db.execute_sql('UPDATE "message" SET "text" = \'\' WHERE "id" = ?', (victim,))
            started, steps, first, done = time.perf_counter(), 0, None, False
            while not done:
                step_started = time.perf_counter()
                done = MessageIndex.step()
                steps += 1
                first = first or time.perf_counter() - step_started
        print(
            f"{last:,} messages: merged in {time.perf_counter() - started:.2f} s,"
            f" {steps} steps of {MessageIndex.STEP_PAGES} pages, first {first * 1000:.0f} ms"
        )
    db.close()


def main():
    global BENCH_DB
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="per kind")
    parser.add_argument("--keep", help="build here (and reuse if it exists)")
    parser.add_argument("--disk", action="store_true", help="only measure disk use")
    parser.add_argument("--merge", action="store_true", help="only time MessageIndex")
    args = parser.parse_args()
    if args.disk:
        return disk(args.messages)
    if args.merge:
        if not args.keep or not os.path.exists(args.keep):
            args.keep = os.path.join(tempfile.mkdtemp(prefix="chatbox-merge-"), "src.db")
            build(args.keep, args.messages, random.Random(12))
        return merge_cost(args.keep)
    deadline = time.time() + DEADLINE
    folder = tempfile.mkdtemp(prefix="chatbox-search-")
    BENCH_DB = args.keep or os.path.join(folder, "chatbox.db")
    rng = random.Random(12)
    if not os.path.exists(BENCH_DB):
        built, indexed = build(BENCH_DB, args.messages, rng)
        print(
            f"built {args.messages:,} messages in {built:.0f} s, indexed in {indexed:.0f} s"
        )
    fts, total = index_bytes(BENCH_DB)
    print(f"file {total:,} bytes; index tables {fts:,} bytes" if fts else f"file {total:,}")
    rare = vocabulary(random.Random(12))[VOCABULARY - 50]
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "chatbox.py"),
            f"--db={BENCH_DB}",
            f"--port={port}",
            "--address=127.0.0.1",
            "--limits=off",
            "--logging=warning",
            "--backup-every=0",
        ],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        secrets = {user: token(base, user) for user in ("alice", "bob")}
        print("| who | query | results | p50 ms | p95 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for user in ("alice", "bob"):
            for label, params in QUERIES:
                params = {k: (rare if v == "ZIPF_RARE" else v) for k, v in params.items()}
                if params.get("cursor") == "CURSOR":
                    first = ask(base, secrets[user], {"q": params["q"]})
                    url = (
                        base + "/api/search/?" + urllib.parse.urlencode({"q": params["q"]})
                    )
                    request = urllib.request.Request(
                        url, headers={"Authorization": f"Token {secrets[user]}"}
                    )
                    with urllib.request.urlopen(request) as response:
                        params["cursor"] = json.load(response)["next"] or ""
                    del first
                ask(base, secrets[user], params)  # warm
                times, found = [], 0
                for _ in range(args.queries):
                    if time.time() > deadline:
                        break
                    elapsed, found = ask(base, secrets[user], params)
                    times.append(elapsed)
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                print(
                    f"| {user} | {label.replace('ZIPF_RARE', rare)} | {found} |"
                    f" {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} |"
                )
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
