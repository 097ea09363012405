"""The database file and its schema: opening it, and bringing old ones up to date."""
import logging

from peewee import BooleanField, IntegerField, fn
from playhouse.migrate import SqliteMigrator, migrate

from models import MODELS, Membership, Message, Setting, User, db

log = logging.getLogger("chatbox.schema")

SCHEMA_VERSION = 4


def _upgrade_1_to_2(migrator):
    """Version 2 added administrators and deactivation."""
    migrate(
        migrator.add_column("user", "is_admin", BooleanField(default=False)),
        migrator.add_column("user", "is_active", BooleanField(default=True)),
    )
    # Boxes that predate administrators make their first account the administrator.
    first = User.select(fn.MIN(User.id)).scalar()
    if first is not None:
        User.update(is_admin=True).where(User.id == first).execute()


def _upgrade_2_to_3(migrator):
    """Version 3 added box-wide settings (sign-up policy, invitation code)."""
    db.create_tables([Setting])


def _upgrade_3_to_4(migrator):
    """Version 4 added read markers kept on the server (membership.last_read_id)."""
    migrate(
        migrator.add_column("membership", "last_read_id", IntegerField(default=0)),
    )
    # Until now each browser kept its own markers; the server cannot know them, so it
    # starts everyone with their chats read rather than with their whole history unread.
    newest = (
        Message.select(fn.MAX(Message.id)).where(Message.room == Membership.room)
    )
    Membership.update(last_read_id=fn.COALESCE(newest, 0)).execute()


# UPGRADES[n] takes a database at version n to n + 1.
UPGRADES = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3, 3: _upgrade_3_to_4}


def schema_version():
    return db.execute_sql("PRAGMA user_version").fetchone()[0]


def migrate_schema(before_upgrade=None):
    """Create a new database at SCHEMA_VERSION, or upgrade an older one in place.

    ``before_upgrade(version)`` is called once, only when an upgrade is about to run
    (to take a backup first).
    """
    version = schema_version()
    if version == 0 and not db.table_exists("user"):
        with db.atomic():
            db.create_tables(MODELS)
            db.execute_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return SCHEMA_VERSION
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database is at schema version {version}, newer than this chatbox "
            f"({SCHEMA_VERSION}); run a newer chatbox"
        )
    if version < SCHEMA_VERSION and before_upgrade is not None:
        before_upgrade(version)
    migrator = SqliteMigrator(db)
    # SQLite changes a column by rebuilding its table: copy, drop the old, rename. With
    # foreign keys on, that drop cascades and deletes every row pointing at the table
    # (all rooms, messages and tokens when the table is "user"). The pragma cannot change
    # inside a transaction, so it is switched off around the upgrades and the references
    # are checked before each one commits.
    db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        while version < SCHEMA_VERSION:
            log.info("upgrading the database from schema version %d", version)
            with db.atomic():
                UPGRADES[version](migrator)
                broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"upgrading to schema version {version + 1} broke "
                        f"{len(broken)} references; the database was left unchanged"
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
    db.init(
        path,
        pragmas={
            "journal_mode": "wal",
            "synchronous": synchronous,
            "foreign_keys": 1,
            # A writer that finds the file locked (a backup, an admin command) waits up
            # to five seconds rather than failing at once.
            "busy_timeout": 5000,
            "cache_size": -8000,  # 8 MB: plenty for a box's working set, small for a Pi
        },
    )
    db.connect(reuse_if_open=True)
    return migrate_schema(before_upgrade) if upgrade else schema_version()
