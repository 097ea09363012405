"""The database and its schema: opening it, creating it, upgrading an old one.

A new database gets today's tables from the models. An older one is taken up one version
at a time by ``UPGRADES``: plain SQL that spells out the tables as they were at each
version. A step written with today's model classes would change meaning the day a model
gains a field (creating that column early, so that a later step fails on an old box).
The tests build a database of every past version and check that upgrading it ends in
exactly the schema a new database gets.

chatbox runs on a SQLite file (``init_db``) or on PostgreSQL (``init_postgres``);
``open_database`` picks by what it is given. PostgreSQL arrived at version 10, so its
databases start there, and keep their version in the table ``schema_version`` (it has no
``user_version``). From version 11 on, every version has a step for each engine: SQL
differs between the two (SQLite rebuilds a table to add a NOT NULL column, PostgreSQL
alters it), so ``UPGRADES[n]`` takes a SQLite file from n to n + 1 and
``POSTGRES_UPGRADES[n]`` a PostgreSQL database, each written out as the tables were at
version n, and the tests hold both to the schema a new database gets.
"""

import logging
import unicodedata

from database import Postgres, Sqlite, is_postgres
from models import FTS_SQL, MODELS, db

log = logging.getLogger("chatbox.schema")

SCHEMA_VERSION = 10

# SQLite adds a NOT NULL column only with a DEFAULT clause, which the tables peewee
# creates never carry. A step that adds one therefore rebuilds the table the way SQLite's
# documentation describes (create the new shape, copy, drop the old, rename, re-index), so
# an upgraded box ends with the very table a new one starts with.

# Version 2 added administrators and deactivation.
_TO_VERSION_2 = (
    'CREATE TABLE "user_v2" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "username" VARCHAR(32) NOT NULL, "username_key" VARCHAR(32) NOT NULL,'
    ' "password_hash" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL,'
    ' "first_name" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255) NOT NULL,'
    ' "created_at" DATETIME NOT NULL, "is_admin" INTEGER NOT NULL,'
    ' "is_active" INTEGER NOT NULL)',
    'INSERT INTO "user_v2" SELECT "id", "username", "username_key", "password_hash",'
    ' "email", "first_name", "last_name", "created_at", 0, 1 FROM "user"',
    'DROP TABLE "user"',
    'ALTER TABLE "user_v2" RENAME TO "user"',
    'CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key")',
    # Boxes that predate administrators make their first account the administrator.
    'UPDATE "user" SET "is_admin" = 1 WHERE "id" = (SELECT MIN("id") FROM "user")',
)

# Version 3 added box-wide settings (sign-up policy, invitation code).
_TO_VERSION_3 = (
    'CREATE TABLE "setting" ("key" VARCHAR(64) NOT NULL PRIMARY KEY,'
    ' "value" TEXT NOT NULL)',
)

# Version 4 added read markers kept on the server (membership.last_read_id).
_TO_VERSION_4 = (
    'CREATE TABLE "membership_v4" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "user_id" INTEGER NOT NULL, "room_id" INTEGER NOT NULL,'
    ' "joined_at" DATETIME NOT NULL, "last_read_id" INTEGER NOT NULL,'
    ' FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE)',
    # Until now each browser kept its own markers; the server cannot know them, so it
    # starts everyone with their chats read rather than with their whole history unread.
    'INSERT INTO "membership_v4" SELECT m."id", m."user_id", m."room_id", m."joined_at",'
    ' COALESCE((SELECT MAX(g."id") FROM "message" AS g WHERE g."room_id" = m."room_id"), 0)'
    ' FROM "membership" AS m',
    'DROP TABLE "membership"',
    'ALTER TABLE "membership_v4" RENAME TO "membership"',
    'CREATE INDEX "membership_user_id" ON "membership" ("user_id")',
    'CREATE INDEX "membership_room_id" ON "membership" ("room_id")',
    'CREATE UNIQUE INDEX "membership_user_id_room_id" ON "membership" ("user_id", "room_id")',
    'CREATE INDEX "membership_room_id_joined_at" ON "membership" ("room_id", "joined_at")',
)


def _username_key_v5(username):
    """The key as version 5 defines it, written out here so that a later change to
    models.username_key cannot change what this step did."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def _rekey_users_v5(execute):
    """Version 5 makes usernames one account apart from Unicode width and compatibility
    forms as well as case ("ａｌｉｃｅ" is "alice"), so every key is computed again.

    Two accounts that now fall together both keep working: the older keeps the plain
    key, the newer gets it with "#<id>" after it (no username holds "#", so no name
    typed later means it) and still logs in by its exact name. Nothing is renamed
    behind the owners' backs; the log says which accounts an administrator should
    rename, and so does the server at every start until they are.
    """
    users = execute(
        'SELECT "id", "username", "username_key" FROM "user" ORDER BY "id"'
    ).fetchall()
    # Keys move between rows here; the unique index comes back once they are settled.
    execute('DROP INDEX "user_username_key"')
    owners = {}
    for user_id, username, old_key in users:
        key = _username_key_v5(username)
        if key in owners:
            first_id, first_name = owners[key]
            log.warning(
                "accounts %d %s and %d %s are one name apart from case or width; "
                "%d keeps it, %d answers only to its exact name until it is renamed",
                first_id,
                ascii(first_name),
                user_id,
                ascii(username),
                first_id,
                user_id,
            )
            key = f"{key}#{user_id}"
            while key in owners:  # only a name written into the file by hand gets here
                key += "#"
        owners[key] = (user_id, username)
        if key != old_key:
            execute('UPDATE "user" SET "username_key" = ? WHERE "id" = ?', (key, user_id))
    execute('CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key")')


# Version 5 computes usernames' keys with Unicode folding (no table changes shape).
_TO_VERSION_5 = (_rekey_users_v5,)

# Version 6 added removals: who the owner removed from a chat stays out of it.
_TO_VERSION_6 = (
    'CREATE TABLE "removal" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "room_id" INTEGER NOT NULL, "user_id" INTEGER NOT NULL,'
    ' "removed_at" DATETIME NOT NULL,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "removal_user_id" ON "removal" ("user_id")',
    'CREATE UNIQUE INDEX "removal_room_id_user_id" ON "removal" ("room_id", "user_id")',
)

# Version 7 numbered every change in a room: each room counts its events (room.seq), and
# the event table keeps them. A room's messages so far become its first events, numbered
# in the order of their ids (the order they were committed in, with one writer): one
# statement, one small row per message, and every message then has a number, so that a
# client resuming by message id is served by the same sequence as one resuming by
# number. Who joined or left before the upgrade is not known in order, so it is not
# numbered: it is the chat's history, read from its member list.
_TO_VERSION_7 = (
    'CREATE TABLE "room_v7" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "uri" VARCHAR(64) NOT NULL, "is_private" INTEGER NOT NULL,'
    ' "owner_id" INTEGER NOT NULL, "created_at" DATETIME NOT NULL,'
    ' "seq" INTEGER NOT NULL,'
    ' FOREIGN KEY ("owner_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'INSERT INTO "room_v7" SELECT r."id", r."uri", r."is_private", r."owner_id",'
    ' r."created_at", (SELECT COUNT(*) FROM "message" AS g WHERE g."room_id" = r."id")'
    ' FROM "room" AS r',
    'DROP TABLE "room"',
    'ALTER TABLE "room_v7" RENAME TO "room"',
    'CREATE UNIQUE INDEX "room_uri" ON "room" ("uri")',
    'CREATE INDEX "room_owner_id" ON "room" ("owner_id")',
    'CREATE TABLE "event" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "room_id" INTEGER NOT NULL, "seq" INTEGER NOT NULL, "kind" VARCHAR(16) NOT NULL,'
    ' "message_id" INTEGER, "user_id" INTEGER, "data" TEXT,'
    ' "created_at" DATETIME NOT NULL,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'INSERT INTO "event" ("room_id", "seq", "kind", "message_id", "user_id", "data",'
    ' "created_at") SELECT "room_id",'
    ' ROW_NUMBER() OVER (PARTITION BY "room_id" ORDER BY "id"),'
    ' \'message\', "id", "author_id", NULL, "created_at" FROM "message"',
    'CREATE INDEX "event_message_id" ON "event" ("message_id")',
    'CREATE UNIQUE INDEX "event_room_id_seq" ON "event" ("room_id", "seq")',
)

# Version 8 brought conversations: display names, chat names, direct chats, notification
# levels, replies, edits, deletes, mentions and reactions. A new message's number moved
# from an event row onto the message's own row (one write fewer for every message), and
# the message table lost the two single-column indexes that its composite ones already
# serve (two more). Event rows now hold every change but new messages.
_TO_VERSION_8 = (
    'CREATE TABLE "user_v8" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "username" VARCHAR(32) NOT NULL, "username_key" VARCHAR(32) NOT NULL,'
    ' "password_hash" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL,'
    ' "first_name" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255) NOT NULL,'
    ' "created_at" DATETIME NOT NULL, "is_admin" INTEGER NOT NULL,'
    ' "is_active" INTEGER NOT NULL, "display_name" VARCHAR(64) NOT NULL)',
    'INSERT INTO "user_v8" SELECT "id", "username", "username_key", "password_hash",'
    ' "email", "first_name", "last_name", "created_at", "is_admin", "is_active", \'\''
    ' FROM "user"',
    'DROP TABLE "user"',
    'ALTER TABLE "user_v8" RENAME TO "user"',
    'CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key")',
    'CREATE TABLE "room_v8" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "uri" VARCHAR(64) NOT NULL, "is_private" INTEGER NOT NULL,'
    ' "owner_id" INTEGER NOT NULL, "created_at" DATETIME NOT NULL,'
    ' "seq" INTEGER NOT NULL, "name" VARCHAR(80) NOT NULL, "direct_key" VARCHAR(32),'
    ' FOREIGN KEY ("owner_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'INSERT INTO "room_v8" SELECT "id", "uri", "is_private", "owner_id", "created_at",'
    ' "seq", \'\', NULL FROM "room"',
    'DROP TABLE "room"',
    'ALTER TABLE "room_v8" RENAME TO "room"',
    'CREATE UNIQUE INDEX "room_uri" ON "room" ("uri")',
    'CREATE INDEX "room_owner_id" ON "room" ("owner_id")',
    'CREATE UNIQUE INDEX "room_direct_key" ON "room" ("direct_key")',
    'CREATE TABLE "membership_v8" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "user_id" INTEGER NOT NULL, "room_id" INTEGER NOT NULL,'
    ' "joined_at" DATETIME NOT NULL, "last_read_id" INTEGER NOT NULL,'
    ' "notify" VARCHAR(8) NOT NULL,'
    ' FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE)',
    'INSERT INTO "membership_v8" SELECT "id", "user_id", "room_id", "joined_at",'
    ' "last_read_id", \'all\' FROM "membership"',
    'DROP TABLE "membership"',
    'ALTER TABLE "membership_v8" RENAME TO "membership"',
    'CREATE INDEX "membership_user_id" ON "membership" ("user_id")',
    'CREATE INDEX "membership_room_id" ON "membership" ("room_id")',
    'CREATE UNIQUE INDEX "membership_user_id_room_id" ON "membership"'
    ' ("user_id", "room_id")',
    'CREATE INDEX "membership_room_id_joined_at" ON "membership" ("room_id", "joined_at")',
    # Only nullable columns join the message table, so it is altered, not copied: it is
    # by far the largest table of a box.
    'ALTER TABLE "message" ADD COLUMN "seq" INTEGER',
    'ALTER TABLE "message" ADD COLUMN "reply_to_id" INTEGER',
    'ALTER TABLE "message" ADD COLUMN "edited_at" DATETIME',
    'ALTER TABLE "message" ADD COLUMN "deleted_at" DATETIME',
    'UPDATE "message" SET "seq" = (SELECT e."seq" FROM "event" AS e'
    ' WHERE e."message_id" = "message"."id" AND e."kind" = \'message\')',
    'DELETE FROM "event" WHERE "kind" = \'message\'',
    'DROP INDEX "message_room_id"',
    'DROP INDEX "message_author_id"',
    'CREATE UNIQUE INDEX "message_room_id_seq" ON "message" ("room_id", "seq")',
    'CREATE TABLE "mention" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "message_id" INTEGER NOT NULL, "room_id" INTEGER NOT NULL,'
    ' "user_id" INTEGER NOT NULL, "start" INTEGER NOT NULL, "length" INTEGER NOT NULL,'
    ' FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "mention_message_id" ON "mention" ("message_id")',
    'CREATE INDEX "mention_user_id_room_id_message_id" ON "mention"'
    ' ("user_id", "room_id", "message_id")',
    'CREATE TABLE "reaction" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "message_id" INTEGER NOT NULL, "user_id" INTEGER NOT NULL,'
    ' "emoji" VARCHAR(64) NOT NULL, "created_at" DATETIME NOT NULL,'
    ' FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "reaction_message_id_user_id_emoji" ON "reaction"'
    ' ("message_id", "user_id", "emoji")',
)

# Version 9 brought files and search: blobs (files on disk, by content) and the
# attachments that share them in chats, profile pictures, and the full-text index of
# every message so far, built here in one pass.
_TO_VERSION_9 = (
    'ALTER TABLE "user" ADD COLUMN "avatar_id" INTEGER',
    'CREATE TABLE "blob" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "sha256" VARCHAR(64) NOT NULL, "size" INTEGER NOT NULL,'
    ' "type" VARCHAR(100) NOT NULL, "width" INTEGER, "height" INTEGER,'
    ' "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "blob_sha256" ON "blob" ("sha256")',
    'CREATE TABLE "attachment" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "blob_id" INTEGER NOT NULL, "room_id" INTEGER NOT NULL,'
    ' "uploader_id" INTEGER NOT NULL, "message_id" INTEGER,'
    ' "name" VARCHAR(255) NOT NULL, "position" INTEGER NOT NULL,'
    ' "created_at" DATETIME NOT NULL,'
    ' FOREIGN KEY ("blob_id") REFERENCES "blob" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("uploader_id") REFERENCES "user" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("message_id") REFERENCES "message" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "attachment_blob_id" ON "attachment" ("blob_id")',
    'CREATE INDEX "attachment_room_id" ON "attachment" ("room_id")',
    'CREATE INDEX "attachment_uploader_id" ON "attachment" ("uploader_id")',
    'CREATE INDEX "attachment_message_id_position" ON "attachment"'
    ' ("message_id", "position")',
    # The index as version 9 made it; FTS_SQL may change in later versions, this may not.
    'CREATE VIRTUAL TABLE "message_fts" USING fts5(text, content="message",'
    " content_rowid=\"id\", tokenize='unicode61 remove_diacritics 2')",
    'CREATE TRIGGER "message_fts_insert" AFTER INSERT ON "message" BEGIN'
    ' INSERT INTO "message_fts" ("rowid", "text") VALUES (new."id", new."text"); END',
    'CREATE TRIGGER "message_fts_delete" AFTER DELETE ON "message" BEGIN'
    ' INSERT INTO "message_fts" ("message_fts", "rowid", "text")'
    ' VALUES (\'delete\', old."id", old."text"); END',
    'CREATE TRIGGER "message_fts_update" AFTER UPDATE OF "text" ON "message" BEGIN'
    ' INSERT INTO "message_fts" ("message_fts", "rowid", "text")'
    ' VALUES (\'delete\', old."id", old."text");'
    ' INSERT INTO "message_fts" ("rowid", "text") VALUES (new."id", new."text"); END',
    'INSERT INTO "message_fts" ("message_fts") VALUES (\'rebuild\')',
)

# Version 10 brought bots and webhooks: an account may be a bot, owned by a person, and
# a bot may have webhooks in its chats. The user table is copied, for its new NOT NULL
# column.
_TO_VERSION_10 = (
    'CREATE TABLE "user_v10" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "username" VARCHAR(32) NOT NULL, "username_key" VARCHAR(32) NOT NULL,'
    ' "password_hash" VARCHAR(255) NOT NULL, "email" VARCHAR(255) NOT NULL,'
    ' "first_name" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255) NOT NULL,'
    ' "created_at" DATETIME NOT NULL, "is_admin" INTEGER NOT NULL,'
    ' "is_active" INTEGER NOT NULL, "display_name" VARCHAR(64) NOT NULL,'
    ' "avatar_id" INTEGER, "is_bot" INTEGER NOT NULL, "bot_owner_id" INTEGER,'
    ' FOREIGN KEY ("bot_owner_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'INSERT INTO "user_v10" SELECT "id", "username", "username_key", "password_hash",'
    ' "email", "first_name", "last_name", "created_at", "is_admin", "is_active",'
    ' "display_name", "avatar_id", 0, NULL FROM "user"',
    'DROP TABLE "user"',
    'ALTER TABLE "user_v10" RENAME TO "user"',
    'CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key")',
    'CREATE INDEX "user_bot_owner_id" ON "user" ("bot_owner_id")',
    'CREATE TABLE "webhook" ("id" INTEGER NOT NULL PRIMARY KEY,'
    ' "bot_id" INTEGER NOT NULL, "room_id" INTEGER NOT NULL,'
    ' "direction" VARCHAR(3) NOT NULL, "digest" VARCHAR(64), "url" VARCHAR(2000),'
    ' "secret" VARCHAR(64), "trigger" VARCHAR(8) NOT NULL, "last_status" INTEGER,'
    ' "last_error" VARCHAR(300) NOT NULL, "failures" INTEGER NOT NULL,'
    ' "last_attempt_at" DATETIME, "created_at" DATETIME NOT NULL,'
    ' FOREIGN KEY ("bot_id") REFERENCES "user" ("id") ON DELETE CASCADE,'
    ' FOREIGN KEY ("room_id") REFERENCES "room" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "webhook_bot_id" ON "webhook" ("bot_id")',
    'CREATE INDEX "webhook_room_id" ON "webhook" ("room_id")',
    'CREATE UNIQUE INDEX "webhook_digest" ON "webhook" ("digest")',
)

# UPGRADES[n] holds the steps that take a database at version n to n + 1: SQL
# statements, or a function given ``execute(sql, params=())`` where the new value of a
# row needs Python to compute; such a function too sees only the tables of its version.
UPGRADES = {
    1: _TO_VERSION_2,
    2: _TO_VERSION_3,
    3: _TO_VERSION_4,
    4: _TO_VERSION_5,
    5: _TO_VERSION_6,
    6: _TO_VERSION_7,
    7: _TO_VERSION_8,
    8: _TO_VERSION_9,
    9: _TO_VERSION_10,
}


def schema_version():
    """The open database's schema version (0 for a new one), on either engine."""
    if isinstance(db.obj, Postgres):
        return postgres_schema_version()
    return db.execute_sql("PRAGMA user_version").fetchone()[0]


def _prepare_upgrade(version, before_upgrade):
    """Refuse a database newer than this chatbox; before an upgrade, call
    ``before_upgrade(version)`` once (to take a backup first)."""
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this chatbox "
            f"({SCHEMA_VERSION}); run a newer chatbox"
        )
    if version < SCHEMA_VERSION and before_upgrade is not None:
        before_upgrade(version)


def migrate_schema(before_upgrade=None):
    """Create a new database at SCHEMA_VERSION, or upgrade an older one in place.

    ``before_upgrade(version)`` is called once, only when an upgrade is about to run
    (to take a backup first).
    """
    version = schema_version()
    if version == 0:
        if db.get_tables():
            raise RuntimeError(
                "the database has tables but no schema version: it was not made by "
                "chatbox; give chatbox a new file"
            )
        # The models are today's schema by definition; the tests hold the upgrades to it.
        with db.atomic():
            db.create_tables(MODELS)
            for statement in FTS_SQL:
                db.execute_sql(statement)
            db.execute_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return SCHEMA_VERSION
    _prepare_upgrade(version, before_upgrade)
    # A step that rebuilds a table drops the old one. With foreign keys on, that drop
    # cascades and deletes every row pointing at the table (all rooms, messages and
    # tokens when the table is "user"). The pragma cannot change inside a transaction, so
    # it is switched off around the upgrades and the references are checked before each
    # step commits.
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        while version < SCHEMA_VERSION:
            log.info("upgrading the database from schema version %d", version)
            with db.atomic():
                for step in UPGRADES[version]:
                    if callable(step):
                        step(db.execute_sql)
                    else:
                        db.execute_sql(step)
                broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"upgrading to schema version {version + 1} broke {len(broken)} "
                        f"references; the database was left at version {version}"
                    )
                version += 1
                db.execute_sql(f"PRAGMA user_version = {version}")
    finally:
        db.execute_sql("PRAGMA foreign_keys = ON")
    return version


def init_db(path, synchronous="FULL", before_upgrade=None, upgrade=True):
    """Open the database file and bring its schema up to date.

    WAL lets readers carry on while the writer commits; synchronous=FULL makes every
    commit durable against power loss, which is what an acknowledgement promises.
    """
    db.initialize(
        Sqlite(
            path,
            pragmas={
                "journal_mode": "wal",
                "synchronous": synchronous,
                "foreign_keys": 1,
                # A writer that finds the file locked (a backup, an admin command) waits up
                # to five seconds rather than failing at once.
                "busy_timeout": 5000,
                "cache_size": -8000,  # 8 MB: plenty for a box's working set, small for a Pi
                # What is deleted or overwritten (a deleted message's text, an edit's old
                # words) is overwritten with zeros in the file, not left in free space.
                "secure_delete": 1,
            },
        )
    )
    db.connect(reuse_if_open=True)
    return migrate_schema(before_upgrade) if upgrade else schema_version()


# --- PostgreSQL ------------------------------------------------------------------------

# The steps that take a PostgreSQL database at version n to n + 1, as ``UPGRADES`` does
# for SQLite (same forms: SQL statements, or a function given ``execute``, here with
# ``%s`` placeholders). PostgreSQL databases begin at version 10, so there is none yet;
# a version 11 adds ``UPGRADES[10]`` and ``POSTGRES_UPGRADES[10]`` together.
POSTGRES_UPGRADES = {}

# The first version a PostgreSQL database can have.
POSTGRES_FIRST_VERSION = 10

# Full-text search on PostgreSQL, in place of SQLite's FTS5 table (models.FTS_SQL):
# an expression index over the message text, so there is nothing to keep in step. Words
# are folded as FTS5's tokenizer folds them: case (lower), accents (decomposed, then
# the combining marks dropped: "Café" is found by "cafe"). search.py asks with the same
# expression, which is what lets PostgreSQL use the index. The functions are IMMUTABLE
# (what an index expression must be): they depend on nothing but their argument, given
# the database's encoding (UTF-8, which ``normalize`` requires). Case is folded with
# ICU's root collation where the server has ICU (Debian's and most builds do): under a
# "C" locale ``lower`` would fold only ASCII letters.
_PG_FOLD_SQL = (
    'CREATE FUNCTION "chatbox_fold"(body text) RETURNS text'
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN"
    " lower(regexp_replace(normalize(body, NFKD), '[\u0300-\u036f]+', '', 'g'){})"
)
# What PostgreSQL needs beyond the tables peewee makes. Usernames' keys are compared by
# byte as in SQLite (User.key_with_suffix asks for a range of keys that holds exactly
# those with a suffix), whatever the database's own collation, which may order
# punctuation after letters.
PG_SCHEMA_SQL = (
    'ALTER TABLE "user" ALTER COLUMN "username_key" TYPE VARCHAR(32) COLLATE "C"',
)

PG_SEARCH_SQL = (
    'CREATE FUNCTION "chatbox_words"(body text) RETURNS tsvector'
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN"
    " to_tsvector('simple'::regconfig, \"chatbox_fold\"(body))",
    'CREATE INDEX "message_words" ON "message" USING GIN ("chatbox_words"("text"))',
)

# Any fixed number: the lock every process that opens the database takes while it
# looks at the schema, so that two starting at once do not both create the tables.
_SCHEMA_LOCK = 0x63686174  # "chat"


def postgres_schema_version():
    """The PostgreSQL database's version: 0 for an empty one."""
    if not db.execute_sql("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
        return 0
    row = db.execute_sql('SELECT "version" FROM "schema_version"').fetchone()
    return 0 if row is None else row[0]


def migrate_postgres(before_upgrade=None):
    """``migrate_schema`` for PostgreSQL: create the tables at SCHEMA_VERSION in an empty
    database, or upgrade an older one in place, each step in a transaction."""
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        version = postgres_schema_version()
        if version == 0:
            if db.get_tables():
                raise RuntimeError(
                    "the database has tables but no schema version: it was not made by "
                    "chatbox; give chatbox an empty database"
                )
            db.create_tables(MODELS)
            for statement in PG_SCHEMA_SQL:
                db.execute_sql(statement)
            icu = db.execute_sql(
                "SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'"
            ).fetchone()
            db.execute_sql(_PG_FOLD_SQL.format(' COLLATE "und-x-icu"' if icu else ""))
            for statement in PG_SEARCH_SQL:
                db.execute_sql(statement)
            db.execute_sql('CREATE TABLE "schema_version" ("version" INTEGER NOT NULL)')
            db.execute_sql(
                'INSERT INTO "schema_version" ("version") VALUES (%s)', (SCHEMA_VERSION,)
            )
            return SCHEMA_VERSION
    _prepare_upgrade(version, before_upgrade)
    while version < SCHEMA_VERSION:
        log.info("upgrading the database from schema version %d", version)
        with db.atomic():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            if postgres_schema_version() != version:  # another process did this step
                version = postgres_schema_version()
                continue
            for step in POSTGRES_UPGRADES[version]:
                if callable(step):
                    step(db.execute_sql)
                else:
                    db.execute_sql(step)
            version += 1
            db.execute_sql('UPDATE "schema_version" SET "version" = %s', (version,))
    return version


def init_postgres(url, before_upgrade=None, upgrade=True):
    """Connect to the PostgreSQL database at ``url`` and bring its schema up to date.

    Durability is the server's (its own fsync and synchronous_commit settings), so
    there is nothing like SQLite's ``synchronous`` to choose here. What SQLite's
    ``secure_delete`` does has no counterpart: a deleted message's text stays in the
    table's free space until VACUUM (autovacuum) reuses it.
    """
    db.initialize(Postgres(url))
    db.connect(reuse_if_open=True)
    return migrate_postgres(before_upgrade) if upgrade else postgres_schema_version()


def open_database(target, synchronous="FULL", before_upgrade=None, upgrade=True):
    """Open ``target`` (a SQLite file's path, or a ``postgresql://`` URL) as
    ``models.db`` and bring its schema up to date; returns the schema version."""
    if is_postgres(target):
        return init_postgres(target, before_upgrade=before_upgrade, upgrade=upgrade)
    return init_db(
        target, synchronous=synchronous, before_upgrade=before_upgrade, upgrade=upgrade
    )
