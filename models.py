"""chatbox's data and its rules: the database, the models and their named queries.

The database object is created uninitialised so that the command line (or a test) picks
the file: ``schema.init_db(path)`` opens it and brings its tables up to date. Writes go
through the writer thread (``writer.WriteQueue``).
"""

import datetime
import hashlib
import hmac
import json
import re
import secrets
import time
import unicodedata
import urllib.parse

import bcrypt
import emoji
from peewee import (
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    IntegrityError,
    Model,
    TextField,
    fn,
)

from database import Sqlite
from mentions import find_mentions, names_in

# Pointed at an open ``database.Sqlite`` or ``database.Postgres`` by ``schema`` at
# start; until then a SQLite database with no file, so that asking whether it is closed
# needs no special case.
db = DatabaseProxy()
db.initialize(Sqlite(None))

MAX_MESSAGE_LENGTH = 4000
MIN_PASSWORD_LENGTH = 8
# bcrypt ignores bytes past 72; refuse longer input rather than silently truncate it.
MAX_PASSWORD_BYTES = 72
# Every pattern here is used with fullmatch: with match, "$" also matches before a
# final newline, and "alice\n" would pass for a name and show as a second "alice".
# Usernames stay ASCII. Normalising Unicode folds case and width ("ＡＬＩＣＥ") but not
# look-alikes from other scripts (a Cyrillic "а" in "аlice"), so a wider alphabet would
# bring back two names that read the same; ASCII also has nothing invisible in it.
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
ROOM_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# The shape of a private chat's address. No name may take it: an address given up for a
# new one must stay dead, not come back as a public room anyone can open.
PRIVATE_URI_RE = re.compile(r"[0-9a-f]{32}")
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
# Characters that draw nothing or change how the text around them is drawn: controls,
# format characters (zero-width joiners, bidirectional overrides), line and paragraph
# separators, private-use, unassigned and surrogate code points.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# Letters that are drawn as blank space.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Joins a key to an account id when an upgrade found two accounts alike (schema.py,
# version 5). No username can hold it, so no new name's key can end up the same.
KEY_SUFFIX = "#"
# SQLite's largest integer: no id is above it, and a larger Python int cannot be bound.
MAX_ID = 2**63 - 1
# The types a browser may show inside the page (docs/files.md); others are downloads.
INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/mp4",
        "video/mp4",
        "video/webm",
    }
)
# Photos are decoded, cleaned and given a thumbnail.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Cost 10 takes about 60 ms on this class of x86 core and about 0.3 s on a Raspberry Pi
# 4: slow enough to make offline guessing expensive, fast enough that a classroom of
# thirty signing in at once does not queue for long on a Pi.
BCRYPT_ROUNDS = 10


class ValidationError(ValueError):
    """Bad input for a model rule; ``errors`` maps field names to lists of messages."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def has_hidden_characters(text):
    """Whether some of ``text`` would not be seen, or would disguise what is seen."""
    return any(
        char in BLANK_LETTERS or unicodedata.category(char) in HIDDEN_CATEGORIES
        for char in text
    )


def username_key(username):
    """What makes two usernames one account: the name with case and Unicode width and
    compatibility forms folded, so "Alice", "ALICE" and "ａｌｉｃｅ" all give "alice".

    NFKC on both sides of the case fold, because folding can undo a normalisation.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


class NotFound(Exception):
    """No such thing for the caller (a message id not of that chat); says what."""


class NotAllowed(Exception):
    """The caller may not do this (not theirs to change, or not for this kind of chat);
    the message says why."""


class Removed(Exception):
    """The owner removed this person from the chat: they may not join it by its link."""

    def __init__(self, room):
        # Who can let them back in: any member of a private chat, a named room's owner.
        whom = "a member" if room.is_private else "its owner"
        self.detail = f"You were removed from this chat; ask {whom} to add you back."
        super().__init__(self.detail)


def utcnow():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def isoformat(moment):
    return moment.isoformat(timespec="milliseconds") + "Z"


def digest(secret):
    """Tokens are stored hashed, so a copied database does not hand out live sessions."""
    return hashlib.sha256(secret.encode()).hexdigest()


class BaseModel(Model):
    class Meta:
        database = db


class User(BaseModel):
    username = CharField(max_length=32)
    # The unique key, ``username_key(username)``: "Alice" and "ＡＬＩＣＥ" are one account.
    username_key = CharField(max_length=32, unique=True)
    password_hash = CharField()
    email = CharField(default="")
    first_name = CharField(default="")
    last_name = CharField(default="")
    created_at = DateTimeField(default=utcnow)
    is_admin = BooleanField(default=False)
    is_active = BooleanField(default=True)
    # Shown in place of the username where set; the username stays the unique handle.
    display_name = CharField(max_length=64, default="")
    # The profile picture: the ``Blob`` of its 256 px square (None: initials). No
    # foreign key: a blob is removed only once nothing refers to it.
    avatar_id = IntegerField(null=True)
    # A bot: an account a person made for their scripts, with an API token and no
    # password (see ``Bot``); ``bot_owner`` is that person.
    is_bot = BooleanField(default=False)
    bot_owner = ForeignKeyField("self", null=True, backref="bots", on_delete="CASCADE")

    @staticmethod
    def avatar_url(user_id, avatar_id):
        # The blob's id changes with every new picture, so the address may be cached
        # for ever.
        if avatar_id is None:
            return None
        return f"/api/avatars/{user_id}/256.jpg?v={avatar_id}"

    def set_avatar(self, fields):
        """Wear the picture whose blob ``fields`` describe (None: back to initials);
        returns the hashes of blobs freed, whose files may go after the commit."""
        blob_id = None if fields is None else Blob.keep(fields).id
        old = self.avatar_id
        User.update(avatar_id=blob_id).where(User.id == self.id).execute()
        self.avatar_id = blob_id
        return Blob.release([old]) if old is not None and old != blob_id else []

    # Shown when a name breaks the rules, at sign-up and on a rename.
    USERNAME_RULE = "Use 1 to 32 of the letters A to Z (either case), digits, _ . or -"
    TAKEN = "A user with that username already exists."

    @classmethod
    def validate(cls, username, password, email=""):
        errors = {}
        if not cls.is_valid_name(username):
            errors["username"] = [cls.USERNAME_RULE]
        try:
            cls.validate_password(password)
        except ValidationError as exc:
            errors.update(exc.errors)
        if (
            not isinstance(email, str)
            or len(email) > 254
            or (email and (not EMAIL_RE.fullmatch(email) or has_hidden_characters(email)))
        ):
            errors["email"] = ["Enter a valid email address."]
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def validate_password(password):
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            problem = f"Ensure this field has at least {MIN_PASSWORD_LENGTH} characters."
        elif len(password.encode()) > MAX_PASSWORD_BYTES:
            problem = f"Ensure this field has no more than {MAX_PASSWORD_BYTES} bytes."
        else:
            return
        raise ValidationError({"password": [problem]})

    @staticmethod
    def is_valid_name(username):
        """Whether a new account (or a rename) may take this name."""
        return isinstance(username, str) and USERNAME_RE.fullmatch(username) is not None

    @staticmethod
    def hash_password(password):
        """Slow on purpose: call it through an executor, never on the event loop."""
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()

    def check_password(self, password):
        """Slow on purpose: call it through an executor, never on the event loop."""
        if not self.password_hash.startswith("$2"):
            return False  # a bot: no password opens it
        return bcrypt.checkpw(password.encode(), self.password_hash.encode())

    @classmethod
    def register(cls, username, password_hash, email=""):
        """Create an account; the first one on a box becomes its administrator."""
        is_first = not cls.select().exists()
        try:
            with db.atomic():
                if cls.name_taken(username):
                    raise ValidationError({"username": [cls.TAKEN]})
                return cls.create(
                    username=username,
                    username_key=username_key(username),
                    password_hash=password_hash,
                    email=email,
                    is_admin=is_first,
                )
        except IntegrityError:
            raise ValidationError({"username": [cls.TAKEN]}) from None

    @classmethod
    def by_username(cls, username):
        """The account a typed name means: its exact name first, else the one whose
        name is alike apart from case and width."""
        if not isinstance(username, str):
            return None
        try:
            username.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (from a command line): no name
            return None
        # Accounts alike by key that a version 5 upgrade found on an old box hold the
        # key with a suffix; each of them still answers to its own exact name.
        key = username_key(username)
        return (
            cls.select()
            .where((cls.username_key == key) | cls.key_with_suffix(key))
            .order_by(
                (cls.username == username).desc(), (cls.username_key == key).desc(), cls.id
            )
            .first()
        )

    @classmethod
    def name_taken(cls, username, by_other_than=None):
        """Whether ``username`` would be one more account alike an existing one."""
        key = username_key(username)
        alike = (cls.username_key == key) | cls.key_with_suffix(key)
        if by_other_than is not None:
            alike &= cls.id != by_other_than.id
        return cls.select().where(alike).exists()

    @classmethod
    def key_with_suffix(cls, key):
        """Keys that are ``key`` followed by the suffix, as a range of the unique index:
        "$" is the character after "#", and SQLite compares text byte by byte (so does
        PostgreSQL here: the column's collation is "C", see schema.PG_SCHEMA_SQL)."""
        after = chr(ord(KEY_SUFFIX) + 1)
        return (cls.username_key >= key + KEY_SUFFIX) & (cls.username_key < key + after)

    def answers_to(self, name):
        """Whether ``name``, as typed, means this account (see ``by_username``)."""
        return isinstance(name, str) and (
            name == self.username or username_key(name) == self.username_key
        )

    def rename(self, new_name):
        """Give the account a new name; its logins, chats and messages stay its own."""
        if not self.is_valid_name(new_name):
            raise ValidationError({"username": [self.USERNAME_RULE]})
        old_key = self.username_key
        # Only a plain key (not one with a suffix) can have accounts waiting for it.
        had_plain_key = old_key == username_key(self.username)
        try:
            with db.atomic():
                if User.name_taken(new_name, by_other_than=self):
                    raise ValidationError({"username": [self.TAKEN]})
                new_key = username_key(new_name)
                User.update(username=new_name, username_key=new_key).where(
                    User.id == self.id
                ).execute()
                # An account that kept its name only by its exact spelling (see
                # schema.py, version 5) takes over the plain key this one leaves.
                if had_plain_key and old_key != new_key:
                    heir = (
                        User.select(User.id)
                        .where(User.key_with_suffix(old_key))
                        .order_by(User.id)
                        .first()
                    )
                    if heir is not None:
                        User.update(username_key=old_key).where(
                            User.id == heir.id
                        ).execute()
        except IntegrityError:
            raise ValidationError({"username": [self.TAKEN]}) from None
        self.username, self.username_key = new_name, new_key
        return self

    def name_problem(self):
        """Why an administrator should rename this account, or None.

        Only accounts from before today's rules can have one: a name with characters
        new names may not have, or one alike another account's apart from case and
        width, which the version 5 upgrade kept working under a key with a suffix.
        """
        if self.username_key != username_key(self.username):
            return (
                "Another account has this name apart from case or width; this one "
                "answers only to its exact spelling."
            )
        if not self.is_valid_name(self.username):
            return "The name has characters new names may not have."
        return None

    @classmethod
    def misnamed(cls):
        """Accounts whose names ``name_problem`` finds fault with, oldest first."""
        return [user for user in cls.select().order_by(cls.id) if user.name_problem()]

    @classmethod
    def admin_list(cls):
        """Every account as ``admin_view`` shows it, oldest first."""
        return [user.admin_view() for user in cls.select().order_by(cls.id)]

    def admin_view(self):
        """What an administrator sees in the account list."""
        return {
            "id": self.id,
            "username": self.username,
            "is_admin": self.is_admin,
            "is_active": self.is_active,
            "created_at": isoformat(self.created_at),
            "name_problem": self.name_problem(),
        }

    def set_active(self, active):
        """Switch an account on or off; switching it off also ends every login of it,
        and switches off the person's bots (with their webhooks) too."""
        with db.atomic():
            User.update(is_active=active).where(User.id == self.id).execute()
            if not active:
                Token.delete().where(Token.user == self).execute()
                for bot in User.select().where((User.bot_owner == self) & User.is_active):
                    bot.set_active(False)
                Webhook.delete().where(Webhook.bot == self).execute()
        self.is_active = active
        return self

    def set_password(self, password_hash):
        """A new password ends every existing login, in case the old one leaked."""
        with db.atomic():
            User.update(password_hash=password_hash).where(User.id == self.id).execute()
            Token.delete().where(Token.user == self).execute()
        self.password_hash = password_hash
        return self

    def public(self):
        """What anyone may see of a user; never the e-mail address."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "avatar_url": self.avatar_url(self.id, self.avatar_id),
            "is_bot": self.is_bot,
        }

    MAX_DISPLAY_NAME = 64

    def set_display_name(self, name):
        """Show ``name`` in place of the username (``""`` goes back to the username)."""
        if not isinstance(name, str):
            raise ValidationError({"display_name": ["Give a name, or an empty one."]})
        name = " ".join(name.split())
        if len(name) > self.MAX_DISPLAY_NAME or has_hidden_characters(name):
            raise ValidationError(
                {
                    "display_name": [
                        f"Use at most {self.MAX_DISPLAY_NAME} visible characters."
                    ]
                }
            )
        User.update(display_name=name).where(User.id == self.id).execute()
        self.display_name = name
        return self

    def change_password(self, password_hash, keep_digest, log_out_others):
        """The user's own change of password. Unlike ``set_password`` (an administrator's
        reset, which ends every login), the login that asked stays; the others end only
        with ``log_out_others``."""
        with db.atomic():
            User.update(password_hash=password_hash).where(User.id == self.id).execute()
            if log_out_others:
                Token.delete().where(
                    (Token.user == self) & (Token.digest != keep_digest)
                ).execute()
        self.password_hash = password_hash
        return self

    @classmethod
    def directory(cls, query="", limit=50):
        """Active accounts, by username; with ``query``, those whose username or display
        name holds it, in any letter case and any script (folded in Python: SQLite only
        folds ASCII). A box has hundreds of people, not millions."""
        people = cls.select().where(cls.is_active).order_by(fn.LOWER(cls.username), cls.id)
        if not query:
            return list(people.limit(limit))
        wanted = query.casefold()
        found = []
        for person in people:
            if (
                wanted in person.username.casefold()
                or wanted in person.display_name.casefold()
            ):
                found.append(person)
                if len(found) == limit:
                    break
        return found

    def private(self):
        """What the user sees of their own account."""
        return dict(self.public(), email=self.email, is_admin=self.is_admin)

    # Bots per person: enough for a home's scripts, few enough that nobody fills the
    # box's list of people with them.
    MAX_BOTS = 10

    @classmethod
    def make_bot(cls, owner, username, display_name=""):
        """A bot owned by ``owner``, and its first API token: ``(bot, token)``.

        A bot has no password (none opens it: see ``check_password``); it works with
        its token alone, over the REST API and both sockets, like anyone.
        """
        if owner.is_bot:
            raise NotAllowed("A bot cannot make bots.")
        errors = {}
        if not cls.is_valid_name(username):
            errors["username"] = [cls.USERNAME_RULE]
        if not isinstance(display_name, str):
            display_name = None
        else:
            display_name = " ".join(display_name.split())
        if (
            display_name is None
            or len(display_name) > cls.MAX_DISPLAY_NAME
            or has_hidden_characters(display_name)
        ):
            errors["display_name"] = [
                f"Use at most {cls.MAX_DISPLAY_NAME} visible characters."
            ]
        if errors:
            raise ValidationError(errors)
        try:
            with db.atomic():
                mine = cls.select().where((cls.bot_owner == owner) & cls.is_active)
                if mine.count() >= cls.MAX_BOTS:
                    raise ValidationError(
                        {"detail": [f"You can have at most {cls.MAX_BOTS} bots."]}
                    )
                if cls.name_taken(username):
                    raise ValidationError({"username": [cls.TAKEN]})
                bot = cls.create(
                    username=username,
                    username_key=username_key(username),
                    password_hash="",
                    display_name=display_name,
                    is_bot=True,
                    bot_owner=owner,
                )
                token = Token.issue(bot, "api")
        except IntegrityError:
            raise ValidationError({"username": [cls.TAKEN]}) from None
        return bot, token

    def bots_owned(self):
        """The person's active bots, oldest first."""
        return list(
            User.select().where((User.bot_owner == self) & User.is_active).order_by(User.id)
        )

    def bot_named(self, username):
        """The person's active bot of that name, or None."""
        bot = User.by_username(username)
        if bot is None or bot.bot_owner_id != self.id or not bot.is_active:
            return None
        return bot

    def new_bot_token(self):
        """A new API token for a bot; every earlier one stops working."""
        with db.atomic():
            Token.delete().where(Token.user == self).execute()
            return Token.issue(self, "api")

    def bot_view(self, webhooks=()):
        """A bot as its owner sees it: its public face and its webhooks."""
        return dict(
            self.public(),
            created_at=isoformat(self.created_at),
            webhooks=[hook.as_dict() for hook in webhooks],
        )

    def is_member(self, room):
        return (
            Membership.select()
            .where((Membership.user == self) & (Membership.room == room))
            .exists()
        )


class Token(BaseModel):
    """A login: an API token (``kind='api'``) or a browser session (``kind='browser'``)."""

    digest = CharField(max_length=64, unique=True)
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    kind = CharField(max_length=8, default="api")
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def issue(cls, user, kind="api"):
        """Returns the secret; only its digest is stored."""
        secret = secrets.token_hex(20)
        cls.create(digest=digest(secret), user=user, kind=kind)
        return secret

    @classmethod
    def user_for(cls, secret, kind):
        if not isinstance(secret, str) or not secret:
            return None
        return (
            User.select()
            .join(Token)
            .where(
                (Token.digest == digest(secret))
                & (Token.kind == kind)
                & (User.is_active == True)  # noqa: E712 (peewee expression)
            )
            .first()
        )

    @classmethod
    def revoke(cls, secret):
        return cls.delete().where(cls.digest == digest(secret)).execute()


class Room(BaseModel):
    """A chat: a private session (unguessable URI) or a named room (URI = its name)."""

    uri = CharField(max_length=64, unique=True)
    is_private = BooleanField(default=True)
    owner = ForeignKeyField(User, backref="owned_rooms", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    # The number of the room's newest event (see ``Event``); 0 before the first.
    seq = IntegerField(default=0)
    # What the members call a private chat ("" for none); a named room's name is its URI.
    name = CharField(max_length=80, default="")
    # Set only on a direct chat: its two people's ids, "<lower>:<higher>". Unique, so a
    # pair has one direct chat however many times, and from whichever side, it is opened.
    direct_key = CharField(max_length=32, null=True, unique=True)

    MAX_NAME = 80

    @property
    def is_direct(self):
        return self.direct_key is not None

    @property
    def kind(self):
        if self.is_direct:
            return "direct"
        return "group" if self.is_private else "room"

    @staticmethod
    def pair_key(one, other):
        low, high = sorted((one.id, other.id))
        return f"{low}:{high}"

    def pair(self):
        """A direct chat's two user ids."""
        return tuple(int(part) for part in self.direct_key.split(":"))

    @staticmethod
    def normalise_name(name):
        if not isinstance(name, str) or not ROOM_NAME_RE.fullmatch(name.strip().lower()):
            raise ValidationError(
                {
                    "name": [
                        "Use 1 to 64 lower-case letters, digits, hyphens or underscores."
                    ]
                }
            )
        name = name.strip().lower()
        if PRIVATE_URI_RE.fullmatch(name):
            raise ValidationError(
                {"name": ["That is the shape of a private chat's address, not a name."]}
            )
        return name

    @staticmethod
    def private_uri():
        # 128 random bits: a URI nobody can guess is what keeps a private chat private.
        return secrets.token_hex(16)

    @classmethod
    def start_private(cls, owner):
        with db.atomic():
            room = cls.create(uri=cls.private_uri(), owner=owner, is_private=True)
            Membership.create(user=owner, room=room)
            Event.record(room, "joined", user=owner)
        return room

    def change_address(self):
        """Give a private chat a new address; the old one leads nowhere from now on.

        Returns ``(new URI, seq)``. Members, history and read markers belong to the
        room, not to its address, so they all stay.
        """
        uri = self.private_uri()
        with db.atomic():
            Room.update(uri=uri).where(Room.id == self.id).execute()
            seq = Event.record(self, "moved", data={"uri": self.uri, "new_uri": uri})
        return uri, seq

    @classmethod
    def open_named(cls, owner, name):
        """The named room, created (owned by ``owner``) if new; returns ``(room, created)``."""
        uri = cls.normalise_name(name)
        room = cls.get_or_none(cls.uri == uri)
        if room is not None and room.is_private:
            # A private chat's address is not a name anyone may open it by.
            raise ValidationError({"name": ["That name is taken."]})
        if room is not None:
            return room, False
        with db.atomic():
            room = cls.create(uri=uri, owner=owner, is_private=False)
            Membership.create(user=owner, room=room)
            Event.record(room, "joined", user=owner)
        return room, True

    @classmethod
    def open_direct(cls, user, other):
        """The one direct chat of ``user`` and ``other``, created on first use; both are
        made members again if either had left it. Returns ``(room, created, joined)``:
        ``joined`` is ``[(user, seq), ...]`` for each person who became a member."""
        if other.id == user.id:
            raise ValidationError({"username": ["A direct chat needs someone else."]})
        key = cls.pair_key(user, other)
        with db.atomic():
            room = cls.get_or_none(cls.direct_key == key)
            created = room is None
            if created:
                room = cls.create(
                    uri=cls.private_uri(), owner=user, is_private=True, direct_key=key
                )
            joined = []
            for person in (user, other):
                if not person.is_member(room):
                    Membership.create(
                        user=person,
                        room=room,
                        last_read_id=0 if created else Message.latest_id(room),
                    )
                    joined.append((person, Event.record(room, "joined", user=person)))
        return room, created, joined

    def rename(self, user, name):
        """Name a private chat (``""`` clears the name); returns the seq of the change,
        or None if the name was already that."""
        if not self.is_private or self.is_direct:
            raise ValidationError(
                {
                    "name": [
                        "A direct chat is called by its people's names."
                        if self.is_direct
                        else "A named room is called by its name."
                    ]
                }
            )
        if not isinstance(name, str):
            raise ValidationError({"name": ["Give a name, or an empty one."]})
        name = " ".join(name.split())
        if len(name) > self.MAX_NAME or has_hidden_characters(name):
            raise ValidationError(
                {"name": [f"Use at most {self.MAX_NAME} visible characters."]}
            )
        with db.atomic():
            changed = (
                Room.update(name=name)
                .where((Room.id == self.id) & (Room.name != name))
                .execute()
            )
            self.name = name
            if not changed:
                return None
            return Event.record(self, "renamed", user=user, data={"name": name})

    @classmethod
    def by_uri(cls, uri):
        return cls.get_or_none(cls.uri == uri)

    # Every socket frame asks for a room by URI and whether the sender is an active
    # member of it. Under load peewee spent far longer building those queries than
    # SQLite spent answering them, so this is written out once and run with parameters.
    _MEMBER_SQL = (
        'SELECT r."id", r."uri", r."is_private", r."owner_id", r."created_at",'
        ' r."name", r."direct_key", EXISTS ('
        ' SELECT 1 FROM "membership" AS m JOIN "user" AS u ON u."id" = m."user_id"'
        ' WHERE m."room_id" = r."id" AND m."user_id" = ? AND u."is_active")'
        ' FROM "room" AS r WHERE r."uri" = ?'
    )

    @classmethod
    def for_member(cls, uri, user_id):
        """``(room, is_member)`` for the room named ``uri`` (None if there is none);
        ``is_member`` is True only while ``user_id`` is a member with an active account."""
        try:
            row = db.execute_sql(cls._MEMBER_SQL, (user_id, uri)).fetchone()
        except UnicodeEncodeError:  # a lone surrogate, which JSON can escape: no room
            return None, False
        if row is None:
            return None, False
        room_id, uri, is_private, owner_id, created_at, name, direct_key, member = row
        room = cls(
            id=room_id,
            uri=uri,
            is_private=bool(is_private),
            owner=owner_id,
            created_at=cls.created_at.python_value(created_at),
            name=name,
            direct_key=direct_key,
        )
        return room, bool(member)

    def admit(self, user, added_by_member=False):
        """Make ``user`` a member; returns the seq of their joining, or None if they
        were a member already.

        Someone the owner removed cannot come back by the link (``Removed`` is raised);
        only a member adding them (``added_by_member``) lets them in, and lifts the
        removal. A newcomer starts with the history read: what was said before they
        joined is there to scroll back to, not a pile of unread messages.
        """
        if self.is_direct and user.id not in self.pair():
            raise NotAllowed("A direct chat is for its two people only.")
        try:
            with db.atomic():
                if added_by_member:
                    Removal.delete().where(
                        (Removal.room == self) & (Removal.user == user)
                    ).execute()
                elif self.keeps_out(user):
                    raise Removed(self)
                Membership.create(
                    user=user, room=self, last_read_id=Message.latest_id(self)
                )
                return Event.record(self, "joined", user=user)
        except IntegrityError:
            return None

    def remove(self, user, keep_out=False):
        """End a membership; returns the seq of its ending, or None if there was none.

        ``keep_out`` (the owner removing someone, not someone leaving) also records the
        removal, so that the link no longer lets them back in.
        """
        if keep_out and self.is_direct:
            raise NotAllowed("Nobody can be removed from a direct chat.")
        with db.atomic():
            removed = (
                Membership.delete()
                .where((Membership.room == self) & (Membership.user == user))
                .execute()
                > 0
            )
            if not removed:
                return None
            if keep_out:
                Removal.insert(room=self, user=user).on_conflict_ignore().execute()
            return Event.record(self, "removed" if keep_out else "left", user=user)

    def keeps_out(self, user):
        """True if the owner removed ``user`` and no member has added them back."""
        return (
            Removal.select().where((Removal.room == self) & (Removal.user == user)).exists()
        )

    def members(self):
        """Members, owner first, then in the order they joined."""
        return list(
            User.select()
            .join(Membership)
            .where(Membership.room == self)
            .order_by((User.id != self.owner_id), Membership.joined_at, Membership.id)
        )

    # How many members a chat list shows per chat: enough to name a private chat and
    # draw a few faces, few enough that a list of a hundred chats stays small.
    PREVIEW_MEMBERS = 5

    # The user's chats in the list's order, newest activity first: the time of a chat's
    # newest message, or its own for a chat without one. SQLite does one index probe
    # per chat; all the rest is done only for the page asked for.
    _LIST_ORDER_SQL = (
        "SELECT active_at, room_id FROM ("
        ' SELECT m."room_id" AS room_id, COALESCE('
        '  (SELECT g."created_at" FROM "message" AS g WHERE g."room_id" = m."room_id"'
        '   ORDER BY g."id" DESC LIMIT 1),'
        '  r."created_at") AS active_at'
        ' FROM "membership" AS m JOIN "room" AS r ON r."id" = m."room_id"'
        ' WHERE m."user_id" = ?) AS chats'
    )
    _LIST_FIRST_SQL = _LIST_ORDER_SQL + " ORDER BY active_at DESC, room_id DESC LIMIT ?"
    _LIST_NEXT_SQL = (
        _LIST_ORDER_SQL + " WHERE active_at < ? OR (active_at = ? AND room_id < ?)"
        " ORDER BY active_at DESC, room_id DESC LIMIT ?"
    )

    @classmethod
    def chat_page(cls, user, limit, after=None):
        """Up to ``limit`` of the user's chats as the list shows them, continuing after
        the place ``after`` (from an earlier page) or from the top.

        Returns ``(summaries, place)``: ``place`` is where the next page starts, None
        after the last one. A place is ``(activity time as stored, room id)``.
        """
        if after is None:
            rows = db.execute_sql(cls._LIST_FIRST_SQL, (user.id, limit + 1)).fetchall()
        else:
            mark, room_id = after
            rows = db.execute_sql(
                cls._LIST_NEXT_SQL, (user.id, mark, mark, room_id, limit + 1)
            ).fetchall()
        page = rows[:limit]
        summaries = cls.summaries_for(user, [row[1] for row in page]) if page else []
        if len(rows) <= limit:
            return summaries, None
        mark, room_id = page[-1]
        # SQLite hands back the time as stored (text), PostgreSQL as a datetime, which
        # becomes the same text here: a place travels to the client and back as JSON.
        if isinstance(mark, datetime.datetime):
            mark = str(mark)
        return summaries, (mark, room_id)

    @classmethod
    def summaries_for(cls, user, rooms):
        """Some of the user's chats as the chat list shows them, most recently active
        first: ``rooms`` is one room, or a list of room ids (a page, see ``chat_page``).

        A fixed handful of queries however many chats there are: the memberships with
        their rooms and owners, the newest message of each room, a preview of each
        room's members with their count, and the unread counts.
        """
        ids = [rooms.id] if isinstance(rooms, Room) else list(rooms)
        mine = (Membership.user == user) & Membership.room.in_(ids)
        scope = Membership.select(Membership.room).where(mine)
        memberships = (
            Membership.select(Membership, Room, User)
            .join(Room)
            .join(User, on=(Room.owner == User.id))
            .where(mine)
        )
        # One MAX per room, correlated: SQLite answers each from the end of the
        # (room, id) index, where a GROUP BY would read every message of every room.
        newest = scope.select(
            Message.select(fn.MAX(Message.id)).where(Message.room == Membership.room)
        )
        last = {
            m.room_id: m
            for m in Message.select(Message, User).join(User).where(Message.id.in_(newest))
        }
        members, counts = Membership.previews(scope, cls.PREVIEW_MEMBERS)
        unread = Membership.unread_counts(user, scope)
        mentions = Membership.mention_counts(user, scope)
        Message.annotate(list(last.values()))
        summaries = []
        for membership in memberships:
            chat = membership.room
            message = last.get(chat.id)
            summaries.append(
                (
                    (message.created_at if message else chat.created_at, chat.id),
                    {
                        "uri": chat.uri,
                        "kind": chat.kind,
                        "name": chat.uri if not chat.is_private else (chat.name or None),
                        "direct_with": cls.other_person(chat, user, members),
                        "notify": membership.notify,
                        "mentions": mentions.get(chat.id, 0),
                        "is_private": chat.is_private,
                        "owner": chat.owner.public(),
                        "created_at": isoformat(chat.created_at),
                        "member_count": counts.get(chat.id, 0),
                        "members": members.get(chat.id, []),
                        "last_message": message.as_dict(chat) if message else None,
                        "last_read_id": membership.last_read_id,
                        "unread": unread.get(chat.id, 0),
                    },
                )
            )
        summaries.sort(key=lambda pair: pair[0], reverse=True)
        return [summary for _, summary in summaries]

    @staticmethod
    def other_person(chat, user, members):
        """The other person of a direct chat (a public user object), None for others.
        Found among the chat's previewed members, or read if they have left it."""
        if not chat.is_direct:
            return None
        other_id = next(i for i in chat.pair() if i != user.id)
        for member in members.get(chat.id, ()):
            if member["id"] == other_id:
                return member
        other = User.get_or_none(User.id == other_id)
        return other.public() if other else None


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    room = ForeignKeyField(Room, backref="memberships", on_delete="CASCADE")
    joined_at = DateTimeField(default=utcnow)
    # The newest message the member has seen: kept on the server so that every tab and
    # device of theirs agrees on what is unread.
    last_read_id = IntegerField(default=0)
    # What the member wants to hear of the chat: every message, mentions of them only,
    # or nothing (NOTIFY_LEVELS).
    notify = CharField(max_length=8, default="all")

    NOTIFY_LEVELS = ("all", "mentions", "muted")

    class Meta:
        indexes = ((("user", "room"), True), (("room", "joined_at"), False))

    # Asked on every frame of the seed socket; written out once for the same reason as
    # Room._MEMBER_SQL.
    _ACTIVE_MEMBER_SQL = (
        'SELECT 1 FROM "membership" AS m JOIN "user" AS u ON u."id" = m."user_id"'
        ' WHERE m."user_id" = ? AND m."room_id" = ? AND u."is_active" LIMIT 1'
    )

    @classmethod
    def is_active_member(cls, user_id, room_id):
        """True while the user is a member of the room and the account is active."""
        return (
            db.execute_sql(cls._ACTIVE_MEMBER_SQL, (user_id, room_id)).fetchone()
            is not None
        )

    @classmethod
    def mark_read(cls, user, room, message_id):
        """Move the read marker forward to ``message_id`` (never back).

        Returns ``(moved, marker)``: whether it moved, and where it is now (None if the
        user is not a member).
        """
        moved = (
            cls.update(last_read_id=message_id)
            .where(
                (cls.user == user) & (cls.room == room) & (cls.last_read_id < message_id)
            )
            .execute()
        )
        marker = (
            cls.select(cls.last_read_id)
            .where((cls.user == user) & (cls.room == room))
            .scalar()
        )
        return moved > 0, marker

    @classmethod
    def unread_counts(cls, user, rooms):
        """``{room id: messages by others after the user's read marker}`` for the rooms
        of the subquery ``rooms``; rooms with none are left out."""
        return dict(
            Message.select(Message.room, fn.COUNT(Message.id))
            .join(cls, on=((cls.room == Message.room) & (cls.user == user)))
            .where(
                Message.room.in_(rooms)
                & (Message.id > cls.last_read_id)
                & (Message.author != user)
            )
            .group_by(Message.room)
            .tuples()
        )

    @classmethod
    def set_notify(cls, user, room, level):
        if level not in cls.NOTIFY_LEVELS:
            raise ValidationError({"level": ['Choose "all", "mentions" or "muted".']})
        cls.update(notify=level).where((cls.user == user) & (cls.room == room)).execute()
        return level

    @classmethod
    def mention_counts(cls, user, rooms):
        """``{room id: messages after the user's read marker that mention them}`` for
        the rooms of the subquery ``rooms``; rooms with none are left out."""
        return dict(
            Mention.select(Mention.room, fn.COUNT(fn.DISTINCT(Mention.message)))
            .join(cls, on=((cls.room == Mention.room) & (cls.user == Mention.user)))
            .where(
                (Mention.user == user)
                & Mention.room.in_(rooms)
                & (Mention.message > cls.last_read_id)
            )
            .group_by(Mention.room)
            .tuples()
        )

    @staticmethod
    def previews(rooms, limit):
        """The first ``limit`` members of each room of the subquery ``rooms`` (owner
        first, then in the order they joined) as public user objects, and each room's
        member count: ``({room id: [user, ...]}, {room id: count})``, in one query."""
        rooms_sql, params = rooms.sql()
        cursor = db.execute_sql(
            f"""
            SELECT room_id, id, username, display_name, first_name, last_name,
                avatar_id, is_bot, total
            FROM (
                SELECT m.room_id, u.id, u.username, u.display_name, u.first_name,
                    u.last_name, u.avatar_id, u.is_bot,
                    ROW_NUMBER() OVER (
                        PARTITION BY m.room_id
                        ORDER BY u.id != r.owner_id, m.joined_at, m.id
                    ) AS place,
                    COUNT(*) OVER (PARTITION BY m.room_id) AS total
                FROM "membership" AS m
                JOIN "user" AS u ON u.id = m.user_id
                JOIN "room" AS r ON r.id = m.room_id
                WHERE m.room_id IN ({rooms_sql})
            ) AS members WHERE place <= ? ORDER BY room_id, place
            """,
            [*params, limit],
        )
        members, counts = {}, {}
        for (
            room_id,
            user_id,
            username,
            display_name,
            first_name,
            last_name,
            avatar_id,
            is_bot,
            total,
        ) in cursor:
            members.setdefault(room_id, []).append(
                {
                    "id": user_id,
                    "username": username,
                    "display_name": display_name,
                    "first_name": first_name,
                    "last_name": last_name,
                    "avatar_url": User.avatar_url(user_id, avatar_id),
                    "is_bot": bool(is_bot),
                }
            )
            counts[room_id] = total
        return members, counts


class Removal(BaseModel):
    """Someone the owner removed from a chat, kept out of it until a member adds them
    back. Leaving by oneself leaves no row: the link still works for them."""

    # No index of its own: the unique (room, user) index below serves lookups by room.
    room = ForeignKeyField(Room, backref="removals", on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, backref="removals", on_delete="CASCADE")
    removed_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("room", "user"), True),)


class Message(BaseModel):
    # Neither key has an index of its own: the (room, id) and (author, client_id)
    # indexes below begin with them and serve their lookups and cascades. Every index
    # is one more write per message, on the path every message takes.
    room = ForeignKeyField(Room, backref="messages", on_delete="CASCADE", index=False)
    author = ForeignKeyField(User, backref="messages", on_delete="CASCADE", index=False)
    text = TextField()
    # Chosen by the client so that a resend after a reconnect is recognised, not stored
    # twice. NULL for clients that do not send one (SQLite allows many NULLs in a
    # UNIQUE index).
    client_id = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)
    # The message's number in its room's sequence of events (see ``Event``). A new
    # message is the commonest change of all, so its number is kept on its own row
    # rather than in an event row. NULL only for rows loaded without one.
    seq = IntegerField(null=True)
    # The message this one answers, always of the same room. No foreign key: messages
    # are never deleted one by one (a deleted one stays as a tombstone), and a room's
    # deletion takes both; no index either, for nothing looks replies up.
    reply_to_id = IntegerField(null=True)
    edited_at = DateTimeField(null=True)
    deleted_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("author", "client_id"), True),
            (("room", "id"), False),
            (("room", "seq"), True),
        )

    # How much of the original a reply quotes.
    EXCERPT = 140

    @property
    def is_deleted(self):
        return self.deleted_at is not None

    @staticmethod
    def validate_text(text, blank_ok=False):
        """``text`` if it may be a message's; ``blank_ok`` for a caption of files."""
        if not isinstance(text, str) or not (text.strip() or blank_ok):
            raise ValidationError({"message": ["This field may not be blank."]})
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, which JSON can escape
            raise ValidationError({"message": ["Not valid Unicode text."]}) from None
        # NUL draws nothing, and PostgreSQL's text cannot hold it: refused on both
        # engines, so that every message a box keeps can move to PostgreSQL.
        if "\0" in text:
            raise ValidationError({"message": ["Text may not contain the NUL character."]})
        if len(text) > MAX_MESSAGE_LENGTH:
            raise ValidationError(
                {
                    "message": [
                        f"Ensure this field has no more than {MAX_MESSAGE_LENGTH} characters."
                    ]
                }
            )
        return text

    @staticmethod
    def validate_client_id(client_id):
        if client_id is None:
            return None
        if not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id):
            raise ValidationError({"client_id": ["Use 1 to 64 letters, digits or _ . : -"]})
        return client_id

    # Written out once: building the insert with peewee cost more than running it.
    _POST_SQL = (
        'INSERT INTO "message" ("room_id", "author_id", "text", "client_id",'
        ' "created_at", "seq", "reply_to_id") VALUES (?, ?, ?, ?, ?, ?, ?)'
        ' ON CONFLICT ("author_id", "client_id") DO NOTHING'
    )
    # psycopg has no lastrowid: PostgreSQL returns the new id (no row for a resend).
    # SQLite keeps lastrowid, three times faster than RETURNING (9 us an insert).
    _POST_RETURNING_SQL = _POST_SQL + ' RETURNING "id"'

    @classmethod
    def post(cls, room, author, text, client_id=None, reply_to=None, attachments=()):
        """Store a message once; returns ``(message, created)``.

        A resend with a ``client_id`` the author used before returns the original
        message, whichever room it names, so a retried send is never stored twice.
        ``reply_to`` is the id of the message of ``room`` it answers; ``attachments``
        the ids of the author's unclaimed uploads to ``room``, claimed here.
        """
        original = None if reply_to is None else cls.answerable(room, reply_to)
        if attachments:
            Attachment.claimable(room, author, attachments)
        # Two statements for the common case, a new message: the room's next number
        # (which holds the room until the commit: see ``Event``), then the row. The
        # unique index on (author, client_id) turns a resend into no row, and only then
        # is the number given back and the original looked up. NULL client ids never
        # conflict.
        now = utcnow()
        seq = Event.next_seq(room)
        row = (
            room.id,
            author.id,
            text,
            client_id,
            cls.created_at.db_value(now),
            seq,
            reply_to,
        )
        if isinstance(db.obj, Sqlite):
            cursor = db.execute_sql(cls._POST_SQL, row)
            new_id = cursor.lastrowid if cursor.rowcount == 1 else None
        else:
            inserted = db.execute_sql(cls._POST_RETURNING_SQL, row).fetchone()
            new_id = None if inserted is None else inserted[0]
        if new_id is not None:
            message = cls(
                id=new_id,
                room=room,
                author=author,
                text=text,
                client_id=client_id,
                created_at=now,
                seq=seq,
                reply_to_id=reply_to,
            )
            message.mentions = Mention.record(message) if "@" in text else []
            message.reactions = []
            message.attachments = Attachment.claim(message, attachments)
            message.quote = None if original is None else original.as_quote()
            return message, True
        Event.give_back(room)
        earlier = cls.get((cls.author == author) & (cls.client_id == client_id))
        if earlier.room_id != room.id:
            raise ValidationError(
                {"client_id": ["This id was already used for another message."]}
            )
        return earlier, False

    @classmethod
    def answerable(cls, room, message_id):
        """The message of ``room`` that ``message_id`` names, to reply to (with its
        author, for the quote); a ValidationError if there is none."""
        original = cls.in_room(room, message_id)
        if original is None:
            raise ValidationError({"reply_to": ["Give the id of a message in this chat."]})
        return original

    @classmethod
    def in_room(cls, room, message_id):
        """The message ``message_id`` of ``room``, with its author; None if there is
        no such message there."""
        if (
            not isinstance(message_id, int)
            or isinstance(message_id, bool)
            or not 1 <= message_id <= MAX_ID
        ):
            return None
        return (
            cls.select(cls, User)
            .join(User)
            .where((cls.room == room) & (cls.id == message_id))
            .first()
        )

    def edit(self, user, text):
        """Change the text (the author only); returns the seq of the change, or None if
        the text was already that."""
        if self.author_id != user.id:
            raise NotAllowed("You can only edit your own messages.")
        if self.is_deleted:
            raise ValidationError({"message": ["This message was deleted."]})
        text = self.validate_text(text)
        if text == self.text:
            return None
        now = utcnow()
        with db.atomic():
            Message.update(text=text, edited_at=now).where(Message.id == self.id).execute()
            self.text, self.edited_at = text, now
            Mention.delete().where(Mention.message == self).execute()
            self.mentions = Mention.record(self) if "@" in text else []
            MessageIndex.after_change()
            return Event.record(self.room, "edited", self.id, user, now=now)

    def may_delete(self, user, room):
        return self.author_id == user.id or room.owner_id == user.id or user.is_admin

    def erase(self, room, user):
        """Delete the message, leaving a tombstone: its text, mentions and reactions are
        gone from the database (``PRAGMA secure_delete`` overwrites them on disk too;
        ``MessageIndex`` takes them out of the search index).
        The author, the room's owner or an administrator may; returns the seq of the
        change, or None if it was deleted already."""
        if not self.may_delete(user, room):
            raise NotAllowed("You can only delete your own messages.")
        if self.is_deleted:
            return None
        now = utcnow()
        with db.atomic():
            Message.update(text="", deleted_at=now).where(Message.id == self.id).execute()
            Mention.delete().where(Mention.message == self).execute()
            Reaction.delete().where(Reaction.message == self).execute()
            # Its files go with it; ``freed`` names those nothing else refers to, for
            # the caller to remove from disk once this has committed.
            self.freed = Attachment.drop(Attachment.message == self)
            self.text, self.deleted_at = "", now
            self.mentions, self.reactions, self.attachments = [], [], []
            MessageIndex.after_change()
            return Event.record(room, "deleted", self.id, user, now=now)

    def react(self, room, user, symbol, on):
        """Add (``on``) or take back the user's reaction ``symbol``; returns the seq of
        the change, or None if there was nothing to change."""
        symbol = Reaction.validate(symbol)
        if not isinstance(on, bool):
            raise ValidationError({"on": ["Give true to react or false to take it back."]})
        if self.is_deleted:
            raise ValidationError({"message": ["This message was deleted."]})
        mine = (
            (Reaction.message == self)
            & (Reaction.user == user)
            & (Reaction.emoji == symbol)
        )
        with db.atomic():
            if Reaction.select().where(mine).exists() == on:
                return None
            if on:
                Reaction.create(message=self, user=user, emoji=symbol)
            else:
                Reaction.delete().where(mine).execute()
            return Event.record(
                room, "reacted", self.id, user, data={"emoji": symbol, "on": on}
            )

    @classmethod
    def page(cls, room, before=None, after=None, limit=50, around=None):
        """Up to ``limit`` messages, oldest first: the newest ones, those next to an id,
        or those ``around`` one (about half up to it, half after it)."""
        query = cls.select(cls, User).join(User).where(cls.room == room)
        if around is not None:
            around = min(around, MAX_ID)
            older = list(query.where(cls.id <= around).order_by(cls.id.desc()).limit(limit))
            newer = list(query.where(cls.id > around).order_by(cls.id).limit(limit))
            # Half each way, and what one side lacks (at either end of the history)
            # taken from the other, so the window is full whenever the chat is.
            take_newer = min(len(newer), max(limit // 2, limit - len(older)))
            take_older = min(len(older), limit - take_newer)
            return cls.annotate(older[:take_older][::-1] + newer[:take_newer])
        # Clamping keeps the meaning (every id is below MAX_ID) and avoids an
        # OverflowError when a client sends an id too large for SQLite.
        before = None if before is None else min(before, MAX_ID)
        after = None if after is None else min(after, MAX_ID)
        if after is not None:
            return cls.annotate(
                list(query.where(cls.id > after).order_by(cls.id).limit(limit))
            )
        if before is not None:
            query = query.where(cls.id < before)
        return cls.annotate(list(reversed(query.order_by(cls.id.desc()).limit(limit))))

    @classmethod
    def since(cls, room, after_id, limit):
        """Messages after ``after_id`` in order, or None if there are more than
        ``limit``."""
        rows = cls.page(room, after=after_id, limit=limit + 1)
        return None if len(rows) > limit else rows

    _COUNT_SINCE_SQL = (
        'SELECT COUNT(*) FROM (SELECT 1 FROM "message"'
        ' WHERE "room_id" = ? AND "id" > ? LIMIT ?) AS later'
    )

    @classmethod
    def count_since(cls, room, after_id, limit):
        """How many messages of ``room`` follow ``after_id``, counting up to ``limit``:
        from the (room, id) index alone, without reading a message."""
        return db.execute_sql(
            cls._COUNT_SINCE_SQL, (room.id, min(after_id, MAX_ID), limit)
        ).fetchone()[0]

    @classmethod
    def read_marker(cls, room, value):
        """``value`` if it names a message of ``room``; a ValidationError otherwise."""
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 1 <= value <= MAX_ID
            or not cls.select().where((cls.room == room) & (cls.id == value)).exists()
        ):
            raise ValidationError({"id": ["Give the id of a message in this chat."]})
        return value

    @classmethod
    def latest_id(cls, room):
        return cls.select(fn.MAX(cls.id)).where(cls.room == room).scalar() or 0

    @classmethod
    def annotate(cls, messages):
        """Load what ``as_dict`` shows besides the row (mentions, reactions, the quote
        of the message replied to) for all of ``messages`` at once: three queries
        however many there are. Returns them."""
        if not messages:
            return messages
        ids = [m.id for m in messages]
        mentions, reactions = {}, {}
        for row in Mention.select().where(Mention.message.in_(ids)).order_by(Mention.id):
            mentions.setdefault(row.message_id, []).append(row.as_dict())
        for row in Reaction.select().where(Reaction.message.in_(ids)).order_by(Reaction.id):
            reactions.setdefault(row.message_id, []).append(row)
        files = Attachment.of_messages(ids)
        quoted = {m.reply_to_id for m in messages if m.reply_to_id is not None}
        originals = (
            {m.id: m for m in cls.select(cls, User).join(User).where(cls.id.in_(quoted))}
            if quoted
            else {}
        )
        for message in messages:
            message.mentions = mentions.get(message.id, [])
            message.reactions = reactions.get(message.id, [])
            message.attachments = files.get(message.id, [])
            original = originals.get(message.reply_to_id)
            message.quote = None if original is None else original.as_quote()
        return messages

    @property
    def annotated(self):
        """Whether ``annotate`` has loaded what ``as_dict`` shows besides the row."""
        return all(
            hasattr(self, name)
            for name in ("mentions", "reactions", "attachments", "quote")
        )

    def as_quote(self):
        return {
            "id": self.id,
            "user": self.author.public(),
            "excerpt": self.text[: self.EXCERPT],
            "deleted": self.is_deleted,
        }

    def as_dict(self, room=None):
        """The message as every client sees it (the REST API and both sockets): see
        docs/conversations.md. What the row does not hold comes from ``annotate``, or
        is read here for a message that was not annotated."""
        room = room or self.room
        if not self.annotated:
            self.annotate([self])
        return {
            "id": self.id,
            "seq": self.seq,
            "uri": room.uri,
            "user": self.author.public(),
            "message": self.text,
            "client_id": self.client_id,
            "created_at": isoformat(self.created_at),
            "reply_to": self.quote,
            "mentions": self.mentions,
            "reactions": Reaction.summary(self.reactions),
            "edited_at": None if self.edited_at is None else isoformat(self.edited_at),
            "deleted": self.is_deleted,
            "attachments": [a.as_file() for a in self.attachments],
        }


class Mention(BaseModel):
    """Someone a message mentions, by id, and where in its text (UTF-16 units)."""

    message = ForeignKeyField(Message, backref="mention_rows", on_delete="CASCADE")
    # Kept with the mention so that a chat's unread mentions are counted from this
    # table's (user, room, message) index alone.
    room = ForeignKeyField(Room, on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, on_delete="CASCADE", index=False)
    start = IntegerField()
    length = IntegerField()

    class Meta:
        indexes = ((("user", "room", "message"), False),)

    @classmethod
    def record(cls, message):
        """Find and keep the mentions of the room's members in ``message``; returns
        them as ``as_dict`` shows them. Only the members the text might name are read,
        not a whole big room's for every "@" (an e-mail address, say)."""
        names = names_in(message.text)
        if not names:
            return []
        members = {
            username.lower(): user_id
            for user_id, username in User.select(User.id, User.username)
            .join(Membership)
            .where(
                (Membership.room == message.room_id)
                & fn.LOWER(User.username).in_(sorted(names))
            )
            .tuples()
        }
        found = find_mentions(message.text, members)
        if found:
            cls.insert_many(
                [
                    {
                        "message": message.id,
                        "room": message.room_id,
                        "user": user_id,
                        "start": start,
                        "length": length,
                    }
                    for user_id, start, length in found
                ]
            ).execute()
        return [
            {"user": user_id, "start": start, "length": length}
            for user_id, start, length in found
        ]

    def as_dict(self):
        return {"user": self.user_id, "start": self.start, "length": self.length}


class Reaction(BaseModel):
    """One person's reaction with one emoji to one message."""

    message = ForeignKeyField(Message, on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, on_delete="CASCADE", index=False)
    emoji = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("message", "user", "emoji"), True),)

    @staticmethod
    def validate(symbol):
        """``symbol`` if it is exactly one emoji (as Unicode lists them, skin tones,
        flags and joined sequences included); a ValidationError otherwise."""
        if not isinstance(symbol, str) or len(symbol) > 32 or not emoji.is_emoji(symbol):
            raise ValidationError({"emoji": ["Give exactly one emoji."]})
        return symbol

    @staticmethod
    def summary(reactions):
        """``[{"emoji", "users": [ids]}, ...]``: each emoji in the order it was first
        used on the message, with who used it in the order they did."""
        grouped = {}
        for reaction in reactions:
            grouped.setdefault(reaction.emoji, []).append(reaction.user_id)
        return [{"emoji": symbol, "users": users} for symbol, users in grouped.items()]


class Event(BaseModel):
    """One change in a room, numbered by the room's own sequence: 1, 2, 3 … without
    gaps. A new message takes its number on its own row (``Message.seq``); every other
    change (a member joining, leaving or being removed, a new address, a new name, an
    edit, a delete, a reaction) is a row here.

    The number is taken in the transaction that makes the change, by counting up the
    room's row. That row stays locked until the commit (in SQLite the whole database
    does, but a server database locks only the row), so in every room the order of
    commits is the order of numbers: whoever has read up to some number has seen every
    change before it, which is what resuming by number relies on.

    An event row holds no text: what a replay shows of a message is the message as it
    is now, so a deleted message's words are nowhere to be found.
    """

    # No index of its own: the unique (room, seq) index below serves lookups by room.
    room = ForeignKeyField(Room, backref="events", on_delete="CASCADE", index=False)
    seq = IntegerField()
    kind = CharField(max_length=16)
    # The message an edit, delete or reaction changed.
    message = ForeignKeyField(Message, null=True, on_delete="CASCADE")
    # Who joined, left, renamed, edited, deleted or reacted. Users are deactivated, not
    # deleted, so no index is kept for a cascade that does not happen.
    user = ForeignKeyField(User, null=True, on_delete="CASCADE", index=False)
    # What else a client needs to show the change (a move's two addresses, a new name,
    # a reaction's emoji), as JSON.
    data = TextField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("room", "seq"), True),)

    # Written out once: the first runs for every message sent.
    _NEXT_SQL = 'UPDATE "room" SET "seq" = "seq" + 1 WHERE "id" = ? RETURNING "seq"'
    _GIVE_BACK_SQL = 'UPDATE "room" SET "seq" = "seq" - 1 WHERE "id" = ?'
    _RECORD_SQL = (
        'INSERT INTO "event" ("room_id", "seq", "kind", "message_id", "user_id",'
        ' "data", "created_at") VALUES (?, ?, ?, ?, ?, ?, ?)'
    )

    @classmethod
    def next_seq(cls, room):
        """Take the room's next number, holding the room until the commit. Call it
        inside the transaction that makes the change."""
        return db.execute_sql(cls._NEXT_SQL, (room.id,)).fetchall()[0][0]

    @classmethod
    def give_back(cls, room):
        """Return the number just taken, for a change that turned out to be none (a
        resend): the room is still held, so nobody took a number since."""
        db.execute_sql(cls._GIVE_BACK_SQL, (room.id,))

    @classmethod
    def record(cls, room, kind, message_id=None, user=None, data=None, now=None):
        """Number a change of ``room`` other than a new message and keep it; returns
        its seq. Call it inside the transaction that makes the change."""
        seq = cls.next_seq(room)
        db.execute_sql(
            cls._RECORD_SQL,
            (
                room.id,
                seq,
                kind,
                message_id,
                None if user is None else user.id,
                None if data is None else json.dumps(data, separators=(",", ":")),
                cls.created_at.db_value(now or utcnow()),
            ),
        )
        return seq

    @classmethod
    def latest_seq(cls, room):
        return Room.select(Room.seq).where(Room.id == room.id).scalar() or 0

    @classmethod
    def since(cls, room, after_seq, limit):
        """Every change after ``after_seq`` in order, new messages included (as events
        of kind "message"), or None if there are more than ``limit``. Each comes with
        what its frame shows, as it is now: ``message`` (annotated, with its author) or
        ``user`` loaded."""
        after_seq = min(after_seq, MAX_ID)
        # The numbers have no gaps, so how many follow is a subtraction.
        if cls.latest_seq(room) - after_seq > limit:
            return None
        posted = list(
            Message.select(Message, User)
            .join(User)
            .where((Message.room == room) & (Message.seq > after_seq))
        )
        events = list(
            cls.select().where((cls.room == room) & (cls.seq > after_seq)).order_by(cls.seq)
        )
        changed_ids = {e.message_id for e in events if e.message_id is not None}
        changed = (
            {
                m.id: m
                for m in Message.select(Message, User)
                .join(User)
                .where(Message.id.in_(changed_ids))
            }
            if changed_ids
            else {}
        )
        Message.annotate(posted + list(changed.values()))
        user_ids = {e.user_id for e in events if e.user_id is not None}
        users = (
            {u.id: u for u in User.select().where(User.id.in_(user_ids))}
            if user_ids
            else {}
        )
        for event in events:
            if event.message_id is not None:
                event.message = changed[event.message_id]
            if event.user_id is not None:
                event.user = users[event.user_id]
        events += [
            cls(room=room, seq=m.seq, kind="message", message=m, user=m.author)
            for m in posted
        ]
        return sorted(events, key=lambda event: event.seq)

    @property
    def details(self):
        return {} if self.data is None else json.loads(self.data)


class Blob(BaseModel):
    """A file's bytes as stored under ``<data-dir>/uploads/``, named by their SHA-256:
    the same bytes uploaded twice are one blob. Attachments and avatars refer to it;
    ``type`` is what the server found the bytes to be, never what a client claimed."""

    sha256 = CharField(max_length=64, unique=True)
    size = IntegerField()
    type = CharField(max_length=100)
    # A photo's size in pixels, upright, so clients reserve its space before it loads.
    width = IntegerField(null=True)
    height = IntegerField(null=True)
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def keep(cls, fields):
        """The blob of these bytes (``fields`` as ``files.Stored.fields()``), made if new."""
        cls.insert(**fields).on_conflict_ignore().execute()
        return cls.get(cls.sha256 == fields["sha256"])

    @classmethod
    def release(cls, blob_ids):
        """Delete those of ``blob_ids`` that no attachment and no profile picture refer
        to; returns their hashes, whose files may go once this has committed."""
        if not blob_ids:
            return []
        unused = (
            cls.select(cls.id, cls.sha256)
            .where(
                cls.id.in_(list(blob_ids))
                & ~fn.EXISTS(Attachment.select().where(Attachment.blob == cls.id))
                & ~fn.EXISTS(User.select().where(User.avatar_id == cls.id))
            )
            .tuples()
        )
        gone = dict(unused)
        if gone:
            cls.delete().where(cls.id.in_(list(gone))).execute()
        return list(gone.values())

    @classmethod
    def bytes_of(cls, user):
        """What ``user``'s files take: each blob they uploaded (or wear) once."""
        return db.execute_sql(
            f"SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM ({cls._PER_PERSON_SQL})"
            " AS files"
            " WHERE person = ?",
            (user.id,),
        ).fetchone()[0]

    # Every (person, blob) pair: the files each uploaded, and their profile picture.
    # (Sums are cast back to integers: PostgreSQL sums BIGINTs as NUMERIC.)
    _PER_PERSON_SQL = (
        'SELECT a."uploader_id" AS person, b."id" AS blob, b."size" AS size'
        ' FROM "attachment" AS a JOIN "blob" AS b ON b."id" = a."blob_id"'
        ' UNION SELECT u."id", b."id", b."size"'
        ' FROM "user" AS u JOIN "blob" AS b ON b."id" = u."avatar_id"'
    )

    @classmethod
    def usage(cls):
        """The space files take: ``(total bytes, files, [(user, bytes, files), ...])``,
        people largest first. A blob two people share counts for each, once in all."""
        total, count = db.execute_sql(
            'SELECT CAST(COALESCE(SUM("size"), 0) AS BIGINT), COUNT(*) FROM "blob"'
        ).fetchone()
        rows = db.execute_sql(
            "SELECT person, CAST(SUM(size) AS BIGINT), COUNT(*) FROM"
            f" ({cls._PER_PERSON_SQL}) AS files GROUP BY person ORDER BY 2 DESC, person"
        ).fetchall()
        users = {u.id: u for u in User.select().where(User.id.in_([r[0] for r in rows]))}
        return total, count, [(users[p], size, n) for p, size, n in rows if p in users]


class Attachment(BaseModel):
    """A file shared in a chat: uploaded by a member to the chat, then claimed by one
    of their messages (``message`` is NULL until then)."""

    blob = ForeignKeyField(Blob, backref="attachments", on_delete="CASCADE")
    room = ForeignKeyField(Room, on_delete="CASCADE")
    uploader = ForeignKeyField(User, on_delete="CASCADE")
    message = ForeignKeyField(Message, null=True, on_delete="CASCADE", index=False)
    # The file's name as the uploader gave it (cleaned), shown and used on download.
    name = CharField(max_length=255)
    # Its place among the message's attachments.
    position = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("message", "position"), False),)

    MAX_PER_MESSAGE = 10

    @classmethod
    def upload(cls, room, uploader, name, fields):
        """Record a stored upload to ``room``, in no message yet; returns it."""
        blob = Blob.keep(fields)
        attachment = cls.create(blob=blob, room=room, uploader=uploader, name=name)
        attachment.blob = blob
        return attachment

    @classmethod
    def validate_ids(cls, value):
        """``value`` as a list of attachment ids, or a ValidationError."""
        if value is None:
            return []
        problem = None
        if not isinstance(value, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID
            for i in value
        ):
            problem = "Give a list of upload ids."
        elif len(value) > cls.MAX_PER_MESSAGE:
            problem = f"At most {cls.MAX_PER_MESSAGE} files per message."
        elif len(set(value)) != len(value):
            problem = "Each file once."
        if problem:
            raise ValidationError({"attachments": [problem]})
        return value

    @classmethod
    def claimable(cls, room, author, ids):
        """Raise unless every id is an upload of ``author`` to ``room`` in no message."""
        found = (
            cls.select()
            .where(
                cls.id.in_(ids)
                & (cls.room == room)
                & (cls.uploader == author)
                & cls.message.is_null()
            )
            .count()
        )
        if found != len(ids):
            raise ValidationError(
                {
                    "attachments": [
                        "Each id must be an upload of yours to this chat, not yet sent."
                    ]
                }
            )

    @classmethod
    def claim(cls, message, ids):
        """Put the uploads ``ids`` (checked by ``claimable``) in ``message``, in order;
        returns them."""
        for position, attachment_id in enumerate(ids):
            cls.update(message=message.id, position=position).where(
                (cls.id == attachment_id) & cls.message.is_null()
            ).execute()
        return cls.of_messages([message.id]).get(message.id, []) if ids else []

    @classmethod
    def of_messages(cls, message_ids):
        """``{message id: [attachment with its blob, ...]}`` in each message's order."""
        found = {}
        query = (
            cls.select(cls, Blob)
            .join(Blob)
            .where(cls.message.in_(message_ids))
            .order_by(cls.message, cls.position)
        )
        for attachment in query:
            found.setdefault(attachment.message_id, []).append(attachment)
        return found

    @classmethod
    def drop(cls, where):
        """Delete the attachments ``where`` selects; returns the hashes of the blobs
        nothing refers to any more (see ``Blob.release``)."""
        blob_ids = {a.blob_id for a in cls.select(cls.blob).where(where)}
        if not blob_ids:
            return []
        cls.delete().where(where).execute()
        return Blob.release(blob_ids)

    @classmethod
    def sweep(cls, before):
        """Delete uploads no message claimed that are older than ``before`` (a Unix
        time); returns ``(how many, hashes of blobs freed)``."""
        cutoff = datetime.datetime.fromtimestamp(before, datetime.UTC).replace(tzinfo=None)
        stale = cls.message.is_null() & (cls.created_at < cutoff)
        count = cls.select().where(stale).count()
        return count, cls.drop(stale) if count else []

    def as_file(self):
        """The file as clients see it (docs/files.md)."""
        blob = self.blob
        photo = blob.type in PHOTO_TYPES
        return {
            "id": self.id,
            "name": self.name,
            "size": blob.size,
            "type": blob.type,
            "width": blob.width,
            "height": blob.height,
            "url": f"/api/files/{self.id}/{self.url_name(self.name)}",
            "thumbnail_url": f"/api/files/{self.id}/thumbnail" if photo else None,
            "inline": blob.type in INLINE_TYPES,
        }

    @staticmethod
    def url_name(name):
        # A file called "thumbnail" would name its own thumbnail's address: its first
        # letter escaped, it still reads the same and leads to the file.
        quoted = urllib.parse.quote(name, safe="")
        return "%74" + quoted[1:] if quoted == "thumbnail" else quoted


class Webhook(BaseModel):
    """A bot's link to one chat it is a member of, made by the bot's owner.

    Incoming ("in"): a secret address anything on the LAN may post to, which posts as
    the bot; only the secret's digest is kept. Outgoing ("out"): every message of the
    chat (or each that mentions the bot, by ``trigger``) is posted to ``url``, signed
    with ``secret``, which has to be kept as it is to sign with. The delivery columns
    say how the last attempt went, for the owner to see.
    """

    bot = ForeignKeyField(User, backref="webhooks", on_delete="CASCADE")
    room = ForeignKeyField(Room, on_delete="CASCADE")
    direction = CharField(max_length=3)
    digest = CharField(max_length=64, null=True, unique=True)
    url = CharField(max_length=2000, null=True)
    secret = CharField(max_length=64, null=True)
    trigger = CharField(max_length=8, default="all")
    # The HTTP status of the last attempt (None: none yet, or no answer at all).
    last_status = IntegerField(null=True)
    last_error = CharField(max_length=300, default="")
    # Failed attempts since the last success.
    failures = IntegerField(default=0)
    last_attempt_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    DIRECTIONS = ("in", "out")
    TRIGGERS = ("all", "mention")
    # Per bot: a few chats each way is what a script needs; every outgoing one is a
    # queue and an HTTP request per message of its chat.
    MAX_PER_BOT = 20
    MAX_URL = 2000
    URL_RULE = "Give an http:// or https:// address of at most 2000 characters."

    @classmethod
    def validate_url(cls, url):
        """``url`` if it is an http or https address; a ValidationError otherwise.

        Addresses on the LAN are what a box's bots usually listen on, so private
        ranges are allowed: only other schemes (file:, ftp:, ...) are refused.
        """
        if not isinstance(url, str):
            raise ValidationError({"url": [cls.URL_RULE]})
        url = url.strip()
        try:
            parts = urllib.parse.urlsplit(url)
            # Reading the port raises on one that is not a number in range.
            bad_port = parts.port == 0
        except ValueError:
            raise ValidationError({"url": [cls.URL_RULE]}) from None
        if (
            bad_port
            or len(url) > cls.MAX_URL
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(char.isspace() for char in url)
            or has_hidden_characters(url)
        ):
            raise ValidationError({"url": [cls.URL_RULE]})
        return url

    @classmethod
    def check_room(cls, bot, room):
        if not bot.is_member(room):
            raise ValidationError(
                {"chat": ["Add the bot to the chat first, then give it a webhook there."]}
            )
        if cls.select().where(cls.bot == bot).count() >= cls.MAX_PER_BOT:
            raise ValidationError(
                {"detail": [f"A bot has at most {cls.MAX_PER_BOT} webhooks."]}
            )

    @classmethod
    def make_incoming(cls, bot, room):
        """Returns ``(webhook, secret)``; the secret is the address's last part."""
        # 192 random bits: the address is all that stands between a script and the chat.
        secret = secrets.token_urlsafe(24)
        with db.atomic():
            cls.check_room(bot, room)
            hook = cls.create(bot=bot, room=room, direction="in", digest=digest(secret))
        return hook, secret

    @classmethod
    def make_outgoing(cls, bot, room, url, trigger):
        """Returns ``(webhook, secret)``; the secret signs every delivery."""
        url = cls.validate_url(url)
        if trigger not in cls.TRIGGERS:
            raise ValidationError({"trigger": ['Choose "all" or "mention".']})
        secret = secrets.token_hex(32)
        with db.atomic():
            cls.check_room(bot, room)
            hook = cls.create(
                bot=bot, room=room, direction="out", url=url, secret=secret, trigger=trigger
            )
        return hook, secret

    @classmethod
    def for_secret(cls, secret):
        """The incoming webhook whose address ends in ``secret``, with its active bot
        and its room, or None."""
        if not isinstance(secret, str) or not secret or len(secret) > 100:
            return None
        wanted = digest(secret)
        hook = (
            cls.select(cls, User, Room)
            .join(User, on=(cls.bot == User.id))
            .switch(cls)
            .join(Room)
            .where((cls.digest == wanted) & (cls.direction == "in") & User.is_active)
            .first()
        )
        # Found by the digest's index; compared once more without an early exit.
        if hook is None or not hmac.compare_digest(hook.digest, wanted):
            return None
        return hook

    @classmethod
    def outgoing(cls):
        """Every outgoing webhook of an active bot, with its bot and room."""
        return list(
            cls.select(cls, User, Room)
            .join(User, on=(cls.bot == User.id))
            .switch(cls)
            .join(Room)
            .where((cls.direction == "out") & User.is_active)
        )

    @classmethod
    def remove(cls, bot, hook_id):
        """Delete one of the bot's webhooks; False if it has none of that id."""
        return cls.delete().where((cls.id == hook_id) & (cls.bot == bot)).execute() > 0

    def record(self, status, error, when):
        """Keep how a delivery attempt went (``error`` "" for a success)."""
        failures = 0 if not error else fn.COALESCE(Webhook.failures, 0) + 1
        Webhook.update(
            last_status=status,
            last_error=error[:300],
            failures=failures,
            last_attempt_at=when,
        ).where(Webhook.id == self.id).execute()

    def as_dict(self):
        room = self.room
        return {
            "id": self.id,
            "direction": self.direction,
            "chat": {
                "uri": room.uri,
                "kind": room.kind,
                "name": room.uri if not room.is_private else (room.name or None),
            },
            "url": self.url,
            "trigger": self.trigger if self.direction == "out" else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "failures": self.failures,
            "last_attempt_at": None
            if self.last_attempt_at is None
            else isoformat(self.last_attempt_at),
            "created_at": isoformat(self.created_at),
        }


class Setting(BaseModel):
    """Box-wide settings an administrator changes at run time, as key/value rows."""

    key = CharField(max_length=64, primary_key=True)
    value = TextField()

    SIGNUP_POLICIES = ("open", "invite")

    @classmethod
    def read(cls, key, default=None):
        row = cls.get_or_none(cls.key == key)
        return default if row is None else row.value

    @classmethod
    def write(cls, key, value):
        cls.insert(key=key, value=value).on_conflict(
            conflict_target=[cls.key], update={cls.value: value}
        ).execute()
        return value

    @classmethod
    def signup_policy(cls):
        return cls.read("signup_policy", "open")

    @classmethod
    def set_signup_policy(cls, policy):
        if policy not in cls.SIGNUP_POLICIES:
            raise ValidationError({"signup_policy": ['Choose "open" or "invite".']})
        with db.atomic():
            cls.write("signup_policy", policy)
            if cls.read("invite_code") is None:
                cls.new_invite_code()
        return policy

    @classmethod
    def invite_code(cls):
        return cls.read("invite_code")

    @classmethod
    def new_invite_code(cls):
        """A fresh code; links carrying the old one stop working."""
        # 96 random bits: an invitation cannot be guessed by trying.
        return cls.write("invite_code", secrets.token_urlsafe(12))

    @classmethod
    def check_signup(cls, invite):
        """Raise unless a sign-up is allowed: open policy, or the current invitation."""
        if cls.signup_policy() != "invite" or not User.select().exists():
            return
        code = cls.invite_code() or ""
        if not (
            isinstance(invite, str)
            and code
            and hmac.compare_digest(invite.encode(), code.encode())
        ):
            raise ValidationError(
                {"invite": ["Sign-up needs an invitation link from an administrator."]}
            )

    @classmethod
    def as_dict(cls):
        return {"signup_policy": cls.signup_policy(), "invite_code": cls.invite_code()}


MODELS = [
    User,
    Token,
    Room,
    Membership,
    Removal,
    Message,
    Mention,
    Reaction,
    Event,
    Blob,
    Attachment,
    Setting,
    Webhook,
]

# Full-text search over messages (SQLite FTS5): an index of the message table's text,
# kept in step by triggers in the very transaction that inserts, edits or deletes a
# message. Words are folded for case and accents ("Café" is found by "cafe"). Not a
# peewee model: schema.py creates it with the tables.
FTS_SQL = (
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
)


class MessageIndex:
    """Takes a deleted or edited message's old words out of the index file.

    FTS5 (before SQLite 3.42's secure-delete option) deletes by adding a marker under
    each of the old words; the words themselves, and the markers, stay in the index's
    segments until a merge writes them into the oldest segment, which drops both. So
    after an erase or an edit the whole index is merged into one segment, in bounded
    steps: ``merge`` with a negative page count puts every segment on one level and
    merges them, a bounded amount of work per call. With ``PRAGMA secure_delete`` on,
    the pages the merge frees are overwritten with zeros.

    A small index (most boxes) is done within the deleting transaction; a large one is
    finished by ``continue_`` steps that the server runs every few seconds between
    other writes, so no single write holds the database for long.
    """

    # Pages (of 4 KiB, FTS5's default) written per merge step: about 10 ms of work here.
    STEP_PAGES = 256
    # Work done within the deleting transaction before the rest is left for later.
    INLINE_SECONDS = 0.02
    # Between later steps, a writer holding the database this long at most.
    LATER_SECONDS = 0.05
    PENDING = "fts_merge_pending"

    _MERGE_SQL = 'INSERT INTO "message_fts" ("message_fts", "rank") VALUES (\'merge\', ?)'

    @classmethod
    def step(cls):
        """One bounded merge step; True once the index is a single segment."""
        before = db.execute_sql("SELECT total_changes()").fetchone()[0]
        db.execute_sql(cls._MERGE_SQL, (-cls.STEP_PAGES,))
        after = db.execute_sql("SELECT total_changes()").fetchone()[0]
        # SQLite's documented test: fewer than two rows changed means nothing was left
        # to merge.
        return after - before < 2

    @classmethod
    def work(cls, seconds):
        """Merge for up to ``seconds``; True if finished."""
        deadline = time.monotonic() + seconds
        while True:
            if cls.step():
                return True
            if time.monotonic() > deadline:
                return False

    @classmethod
    def after_change(cls):
        """Call in the transaction that deleted or edited a message's text.

        Only SQLite's index keeps old words: PostgreSQL's (schema.PG_SEARCH_SQL) is an
        index over the message rows themselves, which VACUUM cleans like the rows."""
        if not isinstance(db.obj, Sqlite):
            return
        if cls.work(cls.INLINE_SECONDS):
            Setting.delete().where(Setting.key == cls.PENDING).execute()
        else:
            Setting.write(cls.PENDING, "1")

    @classmethod
    def pending(cls):
        return Setting.read(cls.PENDING) is not None

    @classmethod
    def continue_(cls):
        """One later round of merging (run it through the writer); True when done."""
        if not cls.pending():
            return True
        if cls.work(cls.LATER_SECONDS):
            Setting.delete().where(Setting.key == cls.PENDING).execute()
            return True
        return False
