"""The schema: a new database, and every older one brought up to date without losing a row.

Each past version is written out here as SQL, the way chatbox left it on a box, so that
no change to today's models can change what "an old database" means in these tests.
"""

import os
import sqlite3
import subprocess
import sys

import bcrypt
import pytest
from boxes import Box
from peewee import SQL, CharField, TextField

import models
import schema
from appliance.paths import Paths

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAST_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9]

# --- Every past version, frozen ---------------------------------------------------------

_USER_V1 = """
CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(32) NOT NULL,
  "username_key" VARCHAR(32) NOT NULL, "password_hash" VARCHAR(255) NOT NULL,
  "email" VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL,
  "last_name" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL);
CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key");
"""

# Version 2 gave users is_admin and is_active.
_USER_V2 = """
CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(32) NOT NULL,
  "username_key" VARCHAR(32) NOT NULL, "password_hash" VARCHAR(255) NOT NULL,
  "email" VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL,
  "last_name" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL,
  "is_admin" INTEGER NOT NULL, "is_active" INTEGER NOT NULL);
CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key");
"""

# Tokens, rooms and messages, unchanged since version 1.
_TOKENS_AND_ROOMS_V1 = """
CREATE TABLE "token" ("id" INTEGER NOT NULL PRIMARY KEY, "digest" VARCHAR(64) NOT NULL,
  "user_id" INTEGER NOT NULL, "kind" VARCHAR(8) NOT NULL, "created_at" DATETIME NOT NULL,
  FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "token_digest" ON "token" ("digest");
CREATE INDEX "token_user_id" ON "token" ("user_id");
CREATE TABLE "room" ("id" INTEGER NOT NULL PRIMARY KEY, "uri" VARCHAR(64) NOT NULL,
  "is_private" INTEGER NOT NULL, "owner_id" INTEGER NOT NULL, "created_at" DATETIME NOT NULL,
  FOREIGN KEY ("owner_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "room_uri" ON "room" ("uri");
CREATE INDEX "room_owner_id" ON "room" ("owner_id");
"""
_MESSAGES_V1 = """
CREATE TABLE "message" ("id" INTEGER NOT NULL PRIMARY KEY, "room_id" INTEGER NOT NULL,
  "author_id" INTEGER NOT NULL, "text" TEXT NOT NULL, "client_id" VARCHAR(64),
  "created_at" DATETIME NOT NULL,
  FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("author_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE INDEX "message_room_id" ON "message" ("room_id");
CREATE INDEX "message_author_id" ON "message" ("author_id");
CREATE UNIQUE INDEX "message_author_id_client_id" ON "message" ("author_id", "client_id");
CREATE INDEX "message_room_id_id" ON "message" ("room_id", "id");
"""

# Memberships, with the same indexes at every version.
_MEMBERSHIP_INDEXES = """
CREATE INDEX "membership_user_id" ON "membership" ("user_id");
CREATE INDEX "membership_room_id" ON "membership" ("room_id");
CREATE UNIQUE INDEX "membership_user_id_room_id" ON "membership" ("user_id", "room_id");
CREATE INDEX "membership_room_id_joined_at" ON "membership" ("room_id", "joined_at");
"""
_MEMBERSHIP_V1 = (
    """
CREATE TABLE "membership" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL,
  "room_id" INTEGER NOT NULL, "joined_at" DATETIME NOT NULL,
  FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE);
"""
    + _MEMBERSHIP_INDEXES
)
# Version 4 gave memberships their read marker.
_MEMBERSHIP_V4 = (
    """
CREATE TABLE "membership" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL,
  "room_id" INTEGER NOT NULL, "joined_at" DATETIME NOT NULL,
  "last_read_id" INTEGER NOT NULL,
  FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE);
"""
    + _MEMBERSHIP_INDEXES
)

# Version 6 added removals.
_REMOVAL_V6 = """
CREATE TABLE "removal" ("id" INTEGER NOT NULL PRIMARY KEY, "room_id" INTEGER NOT NULL,
  "user_id" INTEGER NOT NULL, "removed_at" DATETIME NOT NULL,
  FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE INDEX "removal_user_id" ON "removal" ("user_id");
CREATE UNIQUE INDEX "removal_room_id_user_id" ON "removal" ("room_id", "user_id");
"""

# Version 7 numbered each room's changes: room.seq, and an event row per change, each
# message included.
_ROOM_V7 = """
CREATE TABLE "room" ("id" INTEGER NOT NULL PRIMARY KEY, "uri" VARCHAR(64) NOT NULL,
  "is_private" INTEGER NOT NULL, "owner_id" INTEGER NOT NULL, "created_at" DATETIME NOT NULL,
  "seq" INTEGER NOT NULL,
  FOREIGN KEY ("owner_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "room_uri" ON "room" ("uri");
CREATE INDEX "room_owner_id" ON "room" ("owner_id");
"""
_EVENT_V7 = """
CREATE TABLE "event" ("id" INTEGER NOT NULL PRIMARY KEY, "room_id" INTEGER NOT NULL,
  "seq" INTEGER NOT NULL, "kind" VARCHAR(16) NOT NULL, "message_id" INTEGER,
  "user_id" INTEGER, "data" TEXT, "created_at" DATETIME NOT NULL,
  FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE INDEX "event_message_id" ON "event" ("message_id");
CREATE UNIQUE INDEX "event_room_id_seq" ON "event" ("room_id", "seq");
"""

# Version 8 brought conversations (display names, chat names, direct chats, notification
# levels, replies, edits, deletes, mentions, reactions) and moved a message's number onto
# its row; every table as it was then.
_SCHEMA_V8 = """
CREATE TABLE "event" ("id" INTEGER NOT NULL PRIMARY KEY, "room_id" INTEGER NOT NULL,
  "seq" INTEGER NOT NULL, "kind" VARCHAR(16) NOT NULL, "message_id" INTEGER, "user_id"
  INTEGER, "data" TEXT, "created_at" DATETIME NOT NULL, FOREIGN KEY ("room_id")
  REFERENCES "room" ("id") ON DELETE CASCADE, FOREIGN KEY ("message_id") REFERENCES
  "message" ("id") ON DELETE CASCADE, FOREIGN KEY ("user_id") REFERENCES "user" ("id")
  ON DELETE CASCADE);
CREATE INDEX "event_message_id" ON "event" ("message_id");
CREATE UNIQUE INDEX "event_room_id_seq" ON "event" ("room_id", "seq");
CREATE TABLE "membership" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT
  NULL, "room_id" INTEGER NOT NULL, "joined_at" DATETIME NOT NULL, "last_read_id"
  INTEGER NOT NULL, "notify" VARCHAR(8) NOT NULL, FOREIGN KEY ("user_id") REFERENCES
  "user" ("id") ON DELETE CASCADE, FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON
  DELETE CASCADE);
CREATE INDEX "membership_room_id" ON "membership" ("room_id");
CREATE INDEX "membership_room_id_joined_at" ON "membership" ("room_id", "joined_at");
CREATE INDEX "membership_user_id" ON "membership" ("user_id");
CREATE UNIQUE INDEX "membership_user_id_room_id" ON "membership" ("user_id", "room_id");
CREATE TABLE "mention" ("id" INTEGER NOT NULL PRIMARY KEY, "message_id" INTEGER NOT
  NULL, "room_id" INTEGER NOT NULL, "user_id" INTEGER NOT NULL, "start" INTEGER NOT
  NULL, "length" INTEGER NOT NULL, FOREIGN KEY ("message_id") REFERENCES "message"
  ("id") ON DELETE CASCADE, FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE
  CASCADE, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE INDEX "mention_message_id" ON "mention" ("message_id");
CREATE INDEX "mention_user_id_room_id_message_id" ON "mention" ("user_id", "room_id",
  "message_id");
CREATE TABLE "message" ("id" INTEGER NOT NULL PRIMARY KEY, "room_id" INTEGER NOT NULL,
  "author_id" INTEGER NOT NULL, "text" TEXT NOT NULL, "client_id" VARCHAR(64),
  "created_at" DATETIME NOT NULL, "seq" INTEGER, "reply_to_id" INTEGER, "edited_at"
  DATETIME, "deleted_at" DATETIME, FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON
  DELETE CASCADE, FOREIGN KEY ("author_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "message_author_id_client_id" ON "message" ("author_id", "client_id");
CREATE INDEX "message_room_id_id" ON "message" ("room_id", "id");
CREATE UNIQUE INDEX "message_room_id_seq" ON "message" ("room_id", "seq");
CREATE TABLE "reaction" ("id" INTEGER NOT NULL PRIMARY KEY, "message_id" INTEGER NOT
  NULL, "user_id" INTEGER NOT NULL, "emoji" VARCHAR(64) NOT NULL, "created_at" DATETIME
  NOT NULL, FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE,
  FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "reaction_message_id_user_id_emoji" ON "reaction" ("message_id",
  "user_id", "emoji");
CREATE TABLE "removal" ("id" INTEGER NOT NULL PRIMARY KEY, "room_id" INTEGER NOT NULL,
  "user_id" INTEGER NOT NULL, "removed_at" DATETIME NOT NULL, FOREIGN KEY ("room_id")
  REFERENCES "room" ("id") ON DELETE CASCADE, FOREIGN KEY ("user_id") REFERENCES "user"
  ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "removal_room_id_user_id" ON "removal" ("room_id", "user_id");
CREATE INDEX "removal_user_id" ON "removal" ("user_id");
CREATE TABLE "room" ("id" INTEGER NOT NULL PRIMARY KEY, "uri" VARCHAR(64) NOT NULL,
  "is_private" INTEGER NOT NULL, "owner_id" INTEGER NOT NULL, "created_at" DATETIME NOT
  NULL, "seq" INTEGER NOT NULL, "name" VARCHAR(80) NOT NULL, "direct_key" VARCHAR(32),
  FOREIGN KEY ("owner_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "room_direct_key" ON "room" ("direct_key");
CREATE INDEX "room_owner_id" ON "room" ("owner_id");
CREATE UNIQUE INDEX "room_uri" ON "room" ("uri");
CREATE TABLE "setting" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, "value" TEXT NOT NULL);
CREATE TABLE "token" ("id" INTEGER NOT NULL PRIMARY KEY, "digest" VARCHAR(64) NOT NULL,
  "user_id" INTEGER NOT NULL, "kind" VARCHAR(8) NOT NULL, "created_at" DATETIME NOT
  NULL, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "token_digest" ON "token" ("digest");
CREATE INDEX "token_user_id" ON "token" ("user_id");
CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(32) NOT NULL,
  "username_key" VARCHAR(32) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "email"
  VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255)
  NOT NULL, "created_at" DATETIME NOT NULL, "is_admin" INTEGER NOT NULL, "is_active"
  INTEGER NOT NULL, "display_name" VARCHAR(64) NOT NULL);
CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key");
"""

# Version 9 brought files and search: profile pictures' column on users, blobs and
# attachments, and the full-text index of messages with the triggers that keep it.
_SCHEMA_V9 = (
    _SCHEMA_V8.replace(
        '"display_name" VARCHAR(64) NOT NULL);',
        '"display_name" VARCHAR(64) NOT NULL, "avatar_id" INTEGER);',
    )
    + """
CREATE TABLE "blob" ("id" INTEGER NOT NULL PRIMARY KEY, "sha256" VARCHAR(64) NOT NULL,
  "size" INTEGER NOT NULL, "type" VARCHAR(100) NOT NULL, "width" INTEGER, "height"
  INTEGER, "created_at" DATETIME NOT NULL);
CREATE UNIQUE INDEX "blob_sha256" ON "blob" ("sha256");
CREATE TABLE "attachment" ("id" INTEGER NOT NULL PRIMARY KEY, "blob_id" INTEGER NOT
  NULL, "room_id" INTEGER NOT NULL, "uploader_id" INTEGER NOT NULL, "message_id"
  INTEGER, "name" VARCHAR(255) NOT NULL, "position" INTEGER NOT NULL, "created_at"
  DATETIME NOT NULL, FOREIGN KEY ("blob_id") REFERENCES "blob" ("id") ON DELETE
  CASCADE, FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE, FOREIGN
  KEY ("uploader_id") REFERENCES "user" ("id") ON DELETE CASCADE, FOREIGN KEY
  ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE);
CREATE INDEX "attachment_blob_id" ON "attachment" ("blob_id");
CREATE INDEX "attachment_room_id" ON "attachment" ("room_id");
CREATE INDEX "attachment_uploader_id" ON "attachment" ("uploader_id");
CREATE INDEX "attachment_message_id_position" ON "attachment" ("message_id",
  "position");
CREATE VIRTUAL TABLE "message_fts" USING fts5(text, content="message",
  content_rowid="id", tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER "message_fts_insert" AFTER INSERT ON "message" BEGIN
  INSERT INTO "message_fts" ("rowid", "text") VALUES (new."id", new."text"); END;
CREATE TRIGGER "message_fts_delete" AFTER DELETE ON "message" BEGIN
  INSERT INTO "message_fts" ("message_fts", "rowid", "text")
  VALUES ('delete', old."id", old."text"); END;
CREATE TRIGGER "message_fts_update" AFTER UPDATE OF "text" ON "message" BEGIN
  INSERT INTO "message_fts" ("message_fts", "rowid", "text")
  VALUES ('delete', old."id", old."text");
  INSERT INTO "message_fts" ("rowid", "text") VALUES (new."id", new."text"); END;
"""
)

# Version 3 added box-wide settings.
_SETTING_V3 = """
CREATE TABLE "setting" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, "value" TEXT NOT NULL);
"""

_CHATS_V1 = _TOKENS_AND_ROOMS_V1 + _MEMBERSHIP_V1 + _MESSAGES_V1
_CHATS_V4 = _TOKENS_AND_ROOMS_V1 + _MEMBERSHIP_V4 + _MESSAGES_V1

SCHEMAS = {
    1: _USER_V1 + _CHATS_V1,
    2: _USER_V2 + _CHATS_V1,
    3: _USER_V2 + _CHATS_V1 + _SETTING_V3,
    4: _USER_V2 + _CHATS_V4 + _SETTING_V3,
    # Version 5 changed no table, only how usernames' keys are computed.
    5: _USER_V2 + _CHATS_V4 + _SETTING_V3,
    6: _USER_V2 + _CHATS_V4 + _SETTING_V3 + _REMOVAL_V6,
    7: _USER_V2
    + _TOKENS_AND_ROOMS_V1.replace(
        _TOKENS_AND_ROOMS_V1[_TOKENS_AND_ROOMS_V1.index('CREATE TABLE "room"') :], ""
    )
    + _ROOM_V7
    + _MEMBERSHIP_V4
    + _MESSAGES_V1
    + _SETTING_V3
    + _REMOVAL_V6
    + _EVENT_V7,
    8: _SCHEMA_V8,
    9: _SCHEMA_V9,
}

_CHAT_ROWS = {
    "token": [
        (1, "d" * 64, 1, "api", "2025-01-02 03:04:06"),
        (2, "e" * 64, 2, "browser", "2025-01-02 03:05:01"),
    ],
    "room": [
        (1, "general", 0, 1, "2025-01-02 03:06:00"),
        (2, "f" * 32, 1, 2, "2025-01-02 03:07:00"),
        (3, "quiet", 0, 3, "2025-01-02 03:09:00"),
    ],
    "membership": [
        (1, 1, 1, "2025-01-02 03:06:00"),
        (2, 2, 1, "2025-01-02 03:06:30"),
        (3, 2, 2, "2025-01-02 03:07:00"),
        (4, 3, 2, "2025-01-02 03:08:00"),
        (5, 3, 3, "2025-01-02 03:09:00"),
    ],
    "message": [
        (1, 1, 1, "hello", None, "2025-01-02 03:06:10"),
        (2, 1, 2, "hi alice", "c-1", "2025-01-02 03:06:40"),
        (3, 2, 3, "private words", None, "2025-01-02 03:08:10"),
    ],
}

_USERS_V1 = [
    (
        1,
        "Alice",
        "alice",
        "$2b$10$hash-a",
        "alice@example.org",
        "Alice",
        "A",
        "2025-01-02 03:04:05",
    ),
    (2, "bob", "bob", "$2b$10$hash-b", "", "", "", "2025-01-02 03:05:00"),
    (3, "carol", "carol", "$2b$10$hash-c", "c@example.org", "", "", "2025-01-03 00:00:00"),
]
# On a version 2 box an administrator may have handed the role on and switched an
# account off; an upgrade must keep that, not crown the first account again.
_ROLES_V2 = [(0, 1), (1, 1), (0, 0)]

_SETTING_ROWS = [("signup_policy", "invite"), ("invite_code", "frozen-code")]
# Read markers as a version 3 box's upgrade leaves them: each room's newest message.
_READ_MARKERS_V4 = [2, 2, 3, 3, 0]

ROWS = {
    1: {"user": _USERS_V1, **_CHAT_ROWS},
    2: {"user": [u + r for u, r in zip(_USERS_V1, _ROLES_V2, strict=True)], **_CHAT_ROWS},
    3: {
        "user": [u + r for u, r in zip(_USERS_V1, _ROLES_V2, strict=True)],
        **_CHAT_ROWS,
        "setting": _SETTING_ROWS,
    },
    4: {
        "user": [u + r for u, r in zip(_USERS_V1, _ROLES_V2, strict=True)],
        **_CHAT_ROWS,
        "membership": [
            m + (marker,)
            for m, marker in zip(_CHAT_ROWS["membership"], _READ_MARKERS_V4, strict=True)
        ],
        "setting": _SETTING_ROWS,
    },
}
ROWS[5] = ROWS[4]
# The owner of "general" removed carol, who is kept out of it.
ROWS[6] = dict(ROWS[5], removal=[(1, 1, 3, "2025-01-03 00:01:00")])
# Each room counted its changes: "general" its two messages and then bob joining; the
# private chat its message.
ROWS[7] = dict(
    ROWS[6],
    room=[r + (seq,) for r, seq in zip(_CHAT_ROWS["room"], (3, 1, 0), strict=True)],
    event=[
        (1, 1, 1, "message", 1, 1, None, "2025-01-02 03:06:10"),
        (2, 1, 2, "message", 2, 2, None, "2025-01-02 03:06:40"),
        (3, 2, 1, "message", 3, 3, None, "2025-01-02 03:08:10"),
        (4, 1, 3, "joined", None, 3, None, "2025-01-03 00:02:00"),
    ],
)
# Version 8 gave each table its conversation columns and numbered messages on their
# rows; the event table kept only what was not a new message.
ROWS[8] = dict(
    ROWS[7],
    user=[u + ("",) for u in ROWS[7]["user"]],
    room=[r + ("", None) for r in ROWS[7]["room"]],
    membership=[m + ("all",) for m in ROWS[7]["membership"]],
    message=[
        m + (seq, None, None, None)
        for m, seq in zip(_CHAT_ROWS["message"], (1, 2, 1), strict=True)
    ],
    event=[row for row in ROWS[7]["event"] if row[3] != "message"],
)

# Version 9 gave alice a profile picture and kept a file bob shared with his message.
ROWS[9] = dict(
    ROWS[8],
    user=[u + (1 if u[0] == 1 else None,) for u in ROWS[8]["user"]],
    blob=[(1, "a" * 64, 5, "text/plain", None, None, "2025-01-04 00:00:00")],
    attachment=[(1, 1, 1, 2, 2, "notes.txt", 0, "2025-01-04 00:00:01")],
)

# The columns each table had when it was made, in order.
V1_COLUMNS = {
    "user": "id, username, username_key, password_hash, email, first_name, last_name, "
    "created_at",
    "token": "id, digest, user_id, kind, created_at",
    "room": "id, uri, is_private, owner_id, created_at",
    "membership": "id, user_id, room_id, joined_at",
    "message": "id, room_id, author_id, text, client_id, created_at",
    "setting": "key, value",
    "removal": "id, room_id, user_id, removed_at",
    "event": "id, room_id, seq, kind, message_id, user_id, data, created_at",
    "blob": "id, sha256, size, type, width, height, created_at",
    "attachment": "id, blob_id, room_id, uploader_id, message_id, name, position, "
    "created_at",
}


def build_database(path, version, rows=None):
    """A database file as chatbox left it at ``version``, with rows in every table.

    A version this file does not know (a newer chatbox's) gets the newest tables here.
    """
    known = min(version, max(SCHEMAS))
    rows = ROWS[known] if rows is None else rows
    connection = sqlite3.connect(path)
    with connection:
        connection.executescript(SCHEMAS[known])
        for table, values in rows.items():
            marks = ", ".join("?" * len(values[0]))
            connection.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
    connection.execute(f"PRAGMA user_version = {version}")
    connection.close()


def columns_at(version, table):
    """The columns ``table`` had at ``version``, in order."""
    added = {
        "user": [(2, ", is_admin, is_active"), (8, ", display_name"), (9, ", avatar_id")],
        "membership": [(4, ", last_read_id"), (8, ", notify")],
        "room": [(7, ", seq"), (8, ", name, direct_key")],
        "message": [(8, ", seq, reply_to_id, edited_at, deleted_at")],
    }
    return V1_COLUMNS[table] + "".join(
        columns for since, columns in added.get(table, ()) if version >= since
    )


def assert_every_row_kept(path, version):
    for table, values in ROWS[version].items():
        if table == "event":
            # Version 8 moved the numbers of messages onto their rows; every other
            # event stays as it was.
            values = [row for row in values if row[3] != "message"]
        assert rows_of(path, table, columns_at(version, table)) == values, table


def rows_of(path, table, columns="*"):
    connection = sqlite3.connect(path)
    try:
        return connection.execute(
            f'SELECT {columns} FROM "{table}" ORDER BY rowid'
        ).fetchall()
    finally:
        connection.close()


def schema_of(path):
    """Every table's columns (type, nullability, default, key), indexes (columns,
    uniqueness) and foreign keys, as SQLite itself reports them."""
    connection = sqlite3.connect(path)

    def pragma(name, argument):
        return connection.execute(f'PRAGMA {name}("{argument}")').fetchall()

    try:
        described = {}
        tables = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        for (table,) in tables:
            indexes = [
                (
                    name,
                    unique,
                    origin,
                    partial,
                    [c for _, _, c in pragma("index_info", name)],
                )
                for _, name, unique, origin, partial in pragma("index_list", table)
            ]
            described[table] = {
                "columns": pragma("table_info", table),
                "indexes": sorted(indexes),
                "foreign_keys": sorted(pragma("foreign_key_list", table)),
            }
        return described
    finally:
        connection.close()


def upgrade(path, before_upgrade=None):
    try:
        return schema.init_db(path, before_upgrade=before_upgrade)
    finally:
        models.db.close()


@pytest.fixture
def fresh(tmp_path):
    """A database chatbox has just created."""
    path = str(tmp_path / "fresh.db")
    upgrade(path)
    return path


# --- A new database and an upgraded one are the same ------------------------------------


def test_a_new_database_has_every_table_at_the_newest_version(fresh):
    # The models' tables, and the search index with the tables SQLite keeps it in.
    search = ["message_fts"] + [
        f"message_fts_{part}" for part in ("config", "data", "docsize", "idx")
    ]
    assert sorted(schema_of(fresh)) == sorted(
        [m._meta.table_name for m in models.MODELS] + search
    )
    connection = sqlite3.connect(fresh)
    assert connection.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    connection.close()


@pytest.mark.parametrize("version", PAST_VERSIONS)
def test_an_upgraded_database_has_exactly_the_schema_of_a_new_one(tmp_path, fresh, version):
    path = str(tmp_path / "old.db")
    build_database(path, version)
    assert upgrade(path) == schema.SCHEMA_VERSION
    assert schema_of(path) == schema_of(fresh)


@pytest.mark.parametrize("version", PAST_VERSIONS[:-1])
def test_each_upgrade_step_ends_in_the_frozen_schema_of_the_next_version(tmp_path, version):
    stepped, frozen = str(tmp_path / "stepped.db"), str(tmp_path / "frozen.db")
    build_database(stepped, version, rows={})
    build_database(frozen, version + 1, rows={})
    connection = sqlite3.connect(stepped)
    with connection:
        for step in schema.UPGRADES[version]:
            step(connection.execute) if callable(step) else connection.execute(step)
    connection.close()
    assert schema_of(stepped) == schema_of(frozen)


def test_the_frozen_past_versions_cover_every_upgrade():
    assert sorted(schema.UPGRADES) == PAST_VERSIONS
    assert max(PAST_VERSIONS) + 1 == schema.SCHEMA_VERSION


# --- Upgrades keep every row --------------------------------------------------------------


@pytest.mark.parametrize("version", PAST_VERSIONS)
def test_a_database_of_every_past_version_upgrades_and_keeps_every_row(tmp_path, version):
    path = str(tmp_path / "old.db")
    build_database(path, version)
    assert upgrade(path) == schema.SCHEMA_VERSION
    assert_every_row_kept(path, version)
    if version == 1:
        # Boxes from before administrators make their first account the administrator.
        assert rows_of(path, "user", "is_admin, is_active") == [(1, 1), (0, 1), (0, 1)]
    if version < 3:
        assert rows_of(path, "setting") == []
    if version < 4:
        # Read markers start at each room's newest message (none yet: 0), so nothing
        # from before the upgrade turns up unread.
        assert rows_of(path, "membership", "id, last_read_id") == [
            (1, 2),
            (2, 2),
            (3, 3),
            (4, 3),
            (5, 0),
        ]
    if version < 6:
        # Nobody was removed from anything before removals were kept.
        assert rows_of(path, "removal") == []
    # Every message has its room's next number on its row, in the order it was sent;
    # event rows hold only other changes. Before version 7 what else happened is
    # history, not numbered.
    assert rows_of(path, "message", "id, seq") == [(1, 1), (2, 2), (3, 1)]
    if version < 7:
        assert rows_of(path, "event") == []
        assert rows_of(path, "room", "id, seq") == [(1, 2), (2, 1), (3, 0)]
    else:
        assert rows_of(path, "event", "room_id, seq, kind, message_id, user_id") == [
            (1, 3, "joined", None, 3)
        ]
        assert rows_of(path, "room", "id, seq") == [(1, 3), (2, 1), (3, 0)]
    # Nobody has a display name, no chat a name, and everyone hears everything.
    assert {name for (name,) in rows_of(path, "user", "display_name")} == {""}
    assert rows_of(path, "room", "name, direct_key") == [("", None)] * 3
    assert {level for (level,) in rows_of(path, "membership", "notify")} == {"all"}
    # Nobody is a bot, and no chat has a webhook.
    assert rows_of(path, "user", "is_bot, bot_owner_id") == [(0, None)] * 3
    assert rows_of(path, "webhook") == []
    # Everything said before the upgrade can be searched for.
    connection = sqlite3.connect(path)
    found = connection.execute(
        "SELECT rowid FROM message_fts WHERE message_fts MATCH 'alice OR private'"
        " ORDER BY rowid"
    ).fetchall()
    connection.close()
    assert found == [(2,), (3,)]
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()


def test_upgrading_a_version_1_database_keeps_every_row(tmp_path):
    # Rebuilding the user table once dropped it with foreign keys on, which cascaded and
    # deleted every room, membership, message and token; read back through the models.
    path = str(tmp_path / "old.db")
    build_database(path, 1)
    try:
        assert schema.init_db(path) == schema.SCHEMA_VERSION
        assert schema.schema_version() == schema.SCHEMA_VERSION
        # Still the same connection settings after the upgrade.
        assert models.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        users = list(models.User.select().order_by(models.User.id))
        assert [u.username for u in users] == ["Alice", "bob", "carol"]
        assert [u.is_admin for u in users] == [True, False, False]
        assert all(u.is_active for u in users)
        assert users[0].email == "alice@example.org" and users[0].first_name == "Alice"
        assert models.Room.by_uri("f" * 32).owner.username == "bob"
        assert [m.username for m in models.Room.by_uri("f" * 32).members()] == [
            "bob",
            "carol",
        ]
        assert users[1].is_member(models.Room.by_uri("general"))
        assert models.Token.select().count() == 2
        messages = models.Message.page(models.Room.by_uri("general"))
        assert [(m.author.username, m.text, m.client_id) for m in messages] == [
            ("Alice", "hello", None),
            ("bob", "hi alice", "c-1"),
        ]
        # The unique rules survived the rebuild of the user table.
        with pytest.raises(models.ValidationError):
            models.User.register("ALICE", "x")
        broken = models.db.execute_sql("PRAGMA foreign_key_check").fetchall()
        assert broken == []
    finally:
        models.db.close()
    # Upgrading again is a no-op.
    assert upgrade(path) == schema.SCHEMA_VERSION
    assert len(rows_of(path, "user")) == 3


def test_an_empty_version_1_database_upgrades_with_no_admin(tmp_path):
    path = str(tmp_path / "empty.db")
    build_database(path, 1, rows={})
    assert upgrade(path) == schema.SCHEMA_VERSION
    assert rows_of(path, "user") == []


def test_an_upgrade_that_leaves_a_broken_reference_is_refused_and_undone(tmp_path):
    path = str(tmp_path / "broken.db")
    rows = {table: list(values) for table, values in ROWS[1].items()}
    rows["message"].append((4, 1, 99, "from nobody", None, "2025-01-04 00:00:00"))
    build_database(path, 1, rows=rows)
    with pytest.raises(RuntimeError, match="broke 1 references.*left at version 1"):
        upgrade(path)
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (1,)
    connection.close()
    assert "is_admin" not in {c[1] for c in schema_of(path)["user"]["columns"]}
    assert rows_of(path, "message", "id") == [(1,), (2,), (3,), (4,)]


def test_the_backup_is_taken_once_before_upgrading_and_never_for_a_current_database(
    tmp_path, fresh
):
    path = str(tmp_path / "old.db")
    build_database(path, 1)
    seen = []
    upgrade(path, before_upgrade=seen.append)
    upgrade(path, before_upgrade=seen.append)
    upgrade(fresh, before_upgrade=seen.append)
    assert seen == [1]


# --- Old upgrades do not depend on today's models -----------------------------------------


LATER = schema.SCHEMA_VERSION + 1


@pytest.fixture
def a_later_release(monkeypatch):
    """chatbox as a release that adds a column to Setting and one to User would be: the
    models gain the fields, and an upgrade step to the next version adds the columns."""
    added = {
        models.Setting: ("note", TextField(default="", constraints=[SQL("DEFAULT ''")])),
        models.User: ("nickname", CharField(default="", constraints=[SQL("DEFAULT ''")])),
    }
    for model, (name, field) in added.items():
        model._meta.add_field(name, field)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", LATER)
    monkeypatch.setitem(
        schema.UPGRADES,
        LATER - 1,
        (
            """ALTER TABLE "setting" ADD COLUMN "note" TEXT NOT NULL DEFAULT ''""",
            """ALTER TABLE "user" ADD COLUMN "nickname" VARCHAR(255) NOT NULL DEFAULT ''""",
        ),
    )
    yield
    for model, (name, _) in added.items():
        model._meta.remove_field(name)
        delattr(model, name)
    # Later tests create databases from these models: they must be today's again.
    assert all(name not in model._meta.columns for model, (name, _) in added.items())


@pytest.mark.parametrize("version", PAST_VERSIONS)
def test_old_upgrades_still_work_after_a_model_gains_a_column(
    tmp_path, a_later_release, version
):
    path, new = str(tmp_path / "old.db"), str(tmp_path / "new.db")
    build_database(path, version)
    # An old step that made its table from today's model would have made the new column
    # already, and the next version's step would then fail on "duplicate column name".
    assert upgrade(path) == LATER
    assert upgrade(new) == LATER
    assert schema_of(path) == schema_of(new)
    assert_every_row_kept(path, version)
    assert rows_of(path, "user", "nickname") == [("",)] * 3


# --- Version 5: one account per name apart from case and width --------------------------


def hash_of(password):
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def a_box_with_names_alike(path):
    """A version 4 database holding names today's rules refuse or fold together: one
    ending in a newline (which the old check's "$" let pass), and two whose keys kept
    them apart from "Alice" before keys folded width, or case (keys written by a script
    rather than by sign-up). Each has its own password: the name is the password."""
    people = [
        (1, "Alice", "alice", 1),
        (2, "alice\n", "alice\n", 0),
        (3, "ａｌｉｃｅ", "ａｌｉｃｅ", 0),
        (4, "ALICE", "ALICE", 0),
    ]
    rows = dict(ROWS[4])
    rows["user"] = [
        (
            user_id,
            name,
            key,
            hash_of(f"password of {ascii(name)}"),
            "",
            "",
            "",
            "2025-01-02 03:04:05",
            is_admin,
            1,
        )
        for user_id, name, key, is_admin in people
    ]
    build_database(path, 4, rows=rows)
    return [name for _, name, _, _ in people]


def test_names_alike_after_folding_keep_working_and_the_upgrade_reports_them(
    tmp_path, caplog
):
    path = str(tmp_path / "old.db")
    a_box_with_names_alike(path)
    with caplog.at_level("WARNING", logger="chatbox.schema"):
        assert upgrade(path) == schema.SCHEMA_VERSION
    # The oldest keeps the name; the others keep working under a key with a suffix.
    assert rows_of(path, "user", "id, username_key") == [
        (1, "alice"),
        (2, "alice\n"),
        (3, "alice#3"),
        (4, "alice#4"),
    ]
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 2
    assert "accounts 1 'Alice' and 3 '\\uff41\\uff4c\\uff49\\uff43\\uff45'" in reports[0]
    assert "accounts 1 'Alice' and 4 'ALICE'" in reports[1]
    assert all("\n" not in report for report in reports)
    assert_every_row_kept_but_keys(path)


def test_renaming_the_account_that_kept_a_name_hands_the_name_to_the_next(tmp_path):
    path = str(tmp_path / "old.db")
    a_box_with_names_alike(path)
    try:
        schema.init_db(path)
        User = models.User
        User.by_username("Alice").rename("alicia")
        assert rows_of(path, "user", "id, username_key") == [
            (1, "alicia"),
            (2, "alice\n"),
            (3, "alice"),
            (4, "alice#4"),
        ]
        assert User.by_username("alice").id == 3
        assert User.by_username("ALICE").id == 4
        with pytest.raises(models.ValidationError):
            User.get_by_id(4).rename("Alice")
        User.get_by_id(4).rename("alice4")
        # Holding the plain key, the fullwidth name is still one new names may not be.
        assert [(u.id, u.name_problem()) for u in User.misnamed()] == [
            (2, "The name has characters new names may not have."),
            (3, "The name has characters new names may not have."),
        ]
    finally:
        models.db.close()


def test_the_version_5_step_computes_keys_as_todays_models_do():
    # When models.username_key changes, a new step must compute the keys again.
    for name in ("alice", "Alice", "ＡＬＩＣＥ", "Straße", "ﬁ", "alice\n"):
        assert schema._username_key_v5(name) == models.username_key(name), name


def assert_every_row_kept_but_keys(path):
    for table, values in ROWS[4].items():
        if table != "user":
            assert rows_of(path, table, columns_at(4, table)) == values, table


def test_a_box_with_names_alike_upgrades_and_every_account_still_logs_in(tmp_path):
    names = a_box_with_names_alike(str(tmp_path / "chatbox.db"))
    with Box(tmp_path) as box:
        ids = []
        for name in names:
            status, data, _ = box.call(
                "POST",
                "/auth/token/login/",
                {"username": name, "password": f"password of {ascii(name)}"},
            )
            assert status == 200, ascii(name)
            status, me, _ = box.call("GET", "/api/me", token=data["auth_token"])
            ids.append(me["id"])
            if name == "Alice":
                admin = data["auth_token"]
        # Each by its exact name; a spelling that is none of theirs finds the oldest.
        assert ids == [1, 2, 3, 4]
        status, data, _ = box.call(
            "POST",
            "/auth/token/login/",
            {"username": "alice", "password": "password of 'Alice'"},
        )
        assert status == 200
        status, data, _ = box.call("GET", "/api/admin/users", token=admin)
        assert [bool(u["name_problem"]) for u in data["users"]] == [False, True, True, True]
        # Nobody new can take any form of the name.
        for name in ("alice", "ALICE", "ａｌｉｃｅ"):
            status, data, _ = box.call(
                "POST", "/auth/users/", {"username": name, "password": "long enough pw"}
            )
            assert status == 400, name
        assert box.terminate() == 0
    log = box.output()
    # The upgrade said what it did, and the start says what is left to rename, escaped.
    assert "accounts 1 'Alice' and 4 'ALICE' are one name" in log
    assert "account 2, 'alice\\n': The name has characters" in log
    assert "account 3, '\\uff41\\uff4c\\uff49\\uff43\\uff45': Another account" in log
    assert "rename '#4' NEW" in log


# --- Versions chatbox does not know -------------------------------------------------------


def test_a_database_newer_than_the_code_is_refused_and_left_alone(tmp_path):
    path = str(tmp_path / "future.db")
    build_database(path, schema.SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="newer than this chatbox"):
        upgrade(path)
    assert rows_of(path, "user", "id") == [(1,), (2,), (3,)]
    connection = sqlite3.connect(path)
    assert (
        connection.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION + 1
    )
    connection.close()


def test_a_database_with_tables_but_no_version_is_refused_and_left_alone(tmp_path):
    path = str(tmp_path / "stranger.db")
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    connection.close()
    with pytest.raises(RuntimeError, match="not made by chatbox"):
        upgrade(path)
    assert list(schema_of(path)) == ["notes"]


def test_chatbox_will_not_start_on_a_database_newer_than_itself(tmp_path):
    path = str(tmp_path / "future.db")
    build_database(path, schema.SCHEMA_VERSION + 1)
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "chatbox.py"),
            "--port=1",
            f"--data-dir={tmp_path}",
            f"--db={path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "newer than this chatbox" in result.stderr
    # It stopped before making anything for the new version.
    assert not os.path.exists(Paths(str(tmp_path), path).secret)


# --- The server upgrades on start, after a backup -----------------------------------------


@pytest.mark.parametrize("version", PAST_VERSIONS)
def test_an_upgrade_takes_a_backup_first_and_keeps_the_data(tmp_path, version):
    path = str(tmp_path / "chatbox.db")
    build_database(path, version)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            """UPDATE "user" SET "password_hash" = ? WHERE "username_key" = 'alice'""",
            (bcrypt.hashpw(b"long enough pw", bcrypt.gensalt(4)).decode(),),
        )
    connection.close()
    with Box(tmp_path) as box:
        status, data, _ = box.call("GET", "/healthz")
        assert data["schema_version"] == schema.SCHEMA_VERSION
        status, data, _ = box.call(
            "POST",
            "/auth/token/login/",
            {"username": "alice", "password": "long enough pw"},
        )
        token = data["auth_token"]
        status, data, _ = box.call("GET", "/api/chats/general/messages/", token=token)
        assert [m["message"] for m in data["messages"]] == ["hello", "hi alice"]
        newest = data["messages"][-1]["id"]
        # The old messages count as read; read markers work from here on.
        status, data, _ = box.call("GET", "/api/chats/", token=token)
        assert [(c["uri"], c["last_read_id"], c["unread"]) for c in data["chats"]] == [
            ("general", newest, 0)
        ]
        status, data, _ = box.call(
            "POST", "/api/chats/general/read/", {"id": newest}, token=token
        )
        assert status == 200 and data["last_read_id"] == newest
        assert box.terminate() == 0
    copies = os.listdir(tmp_path / "backups")
    assert len(copies) == 1 and f"-before-v{version}-upgrade" in copies[0]
    connection = sqlite3.connect(tmp_path / "backups" / copies[0])
    assert connection.execute("PRAGMA user_version").fetchone() == (version,)
    connection.close()


def test_a_start_without_an_upgrade_takes_no_backup(tmp_path):
    with Box(tmp_path) as box:
        assert box.terminate() == 0
    with Box(tmp_path) as box:
        assert box.terminate() == 0
    assert os.listdir(tmp_path / "backups") == []
