"""Finding messages: full-text search over the chats a person is in, and keeping the
index from holding on to words that were deleted.

The index itself (``message_fts``, SQLite FTS5) is defined in models.FTS_SQL and kept in
step with the message table by triggers. Here are the query over it and its upkeep.

On PostgreSQL the index is a GIN index over the folded words of each message
(schema.PG_SEARCH_SQL) and the query is written for it; it finds what FTS5 finds (every
word typed, as a prefix, in any case, with or without accents), newest first. The
snippet is made here rather than by the database (``ts_headline`` would not mark
"Café" for "cafe"), with the same markers and about as many words as FTS5's.
"""

import datetime
import re
import unicodedata

from database import Postgres
from models import MAX_ID, Message, Room, User, db

# Longer queries are refused: nobody types this much into a search box, and every word
# is one more list of matches to walk.
MAX_QUERY_CHARS = 200
MAX_WORDS = 12
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
# Characters FTS5's snippet() puts around each matched word. Private-use code points:
# a message holding them is found by ``_marked`` and shown without highlights rather
# than mis-highlighted.
START, END = "\ue000", "\ue001"
# Words of context the snippet shows around the match.
SNIPPET_TOKENS = 16


class BadQuery(ValueError):
    """A search the caller must change; ``errors`` maps parameters to messages."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def match_expression(text):
    """The FTS5 MATCH expression for what a person typed, or None if it has no word.

    Each word becomes a quoted string with a prefix star (``"wifi"*``), so nothing
    typed is ever FTS5 syntax: quotes are doubled inside the string, and AND, OR, NEAR,
    ``*``, ``-``, ``^``, ``:`` and parentheses are only characters the tokenizer drops.
    A word of punctuation alone would be an empty string, which FTS5 refuses, so it is
    left out. Words are ANDed (FTS5's implicit operator).
    """
    words = [word for word in text.split() if any(char.isalnum() for char in word)]
    if not words:
        return None
    if len(words) > MAX_WORDS:
        raise BadQuery({"q": [f"Search for at most {MAX_WORDS} words."]})
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def tsquery(text):
    """The PostgreSQL tsquery text for what a person typed (``to_tsquery`` of it after
    folding): every word a quoted prefix, all of them required. Inside the quotes
    nothing is tsquery syntax; the database's parser splits the word as it splits a
    message's text. None if there is no word."""
    words = [word for word in text.split() if any(char.isalnum() for char in word)]
    if not words:
        return None
    if len(words) > MAX_WORDS:
        raise BadQuery({"q": [f"Search for at most {MAX_WORDS} words."]})
    return " & ".join(
        "'" + word.replace("\x00", "").replace("\\", "\\\\").replace("'", "''") + "':*"
        for word in words
    )


def fold(text):
    """A word as both indexes compare it: lower case, accents dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_WORD = re.compile(r"\w+")


def marked_snippet(text, q):
    """FTS5's kind of snippet, for PostgreSQL: up to SNIPPET_TOKENS words around the
    first match, every word that starts with a typed word between START and END."""
    prefixes = [fold(word) for word in _WORD.findall(q)]
    words = list(_WORD.finditer(text))
    marks = [any(fold(w.group()).startswith(p) for p in prefixes) for w in words]
    first, last = 0, len(words)
    if len(words) > SNIPPET_TOKENS:
        hit = marks.index(True) if True in marks else 0
        first = max(0, min(hit - SNIPPET_TOKENS // 4, len(words) - SNIPPET_TOKENS))
        last = first + SNIPPET_TOKENS
    start = 0 if first == 0 else words[first].start()
    end = len(text) if last == len(words) else words[last - 1].end()
    pieces = ["" if first == 0 else "…"]
    position = start
    for word, marked in zip(words[first:last], marks[first:last], strict=True):
        if marked:
            pieces += [text[position : word.start()], START, word.group(), END]
            position = word.end()
    pieces += [text[position:end], "" if end == len(text) else "…"]
    return "".join(pieces)


def parse_moment(value, name):
    """A stored-format timestamp for an ISO date or date and time (UTC)."""
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise BadQuery(
            {name: ["Give a date as YYYY-MM-DD, or an ISO date and time."]}
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return Message.created_at.db_value(moment)


def parse_cursor(value):
    if value is None or value == "":
        return MAX_ID
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise BadQuery({"cursor": ["Give the cursor a previous answer's next held."]})
    return int(value)


def segments(snippet):
    """FTS5 snippet text with START/END markers as ``[{"text", "match"}]`` pieces."""
    pieces = []
    match = False
    rest = snippet
    while rest:
        marker = END if match else START
        before, found, rest = rest.partition(marker)
        if before:
            pieces.append({"text": before, "match": match})
        if not found:
            break
        match = not match
    return pieces


def _marked(text):
    return START in text or END in text


def chat_view(room):
    """How a search result names its chat."""
    name = room.uri if not room.is_private else (room.name or None)
    return {"uri": room.uri, "kind": room.kind, "name": name}


# Driven by the index, newest match first (FTS5 walks its rowids backwards), so LIMIT
# stops the walk early; every join is a lookup by key. The caller's memberships are a
# join, so another chat's message cannot come out of this query whatever the filters.
_SEARCH_SQL = (
    'SELECT f."rowid", snippet("message_fts", 0, ?, ?, \'…\', ?)'
    ' FROM "message_fts" AS f'
    ' JOIN "message" AS m ON m."id" = f."rowid"'
    ' JOIN "membership" AS ms ON ms."room_id" = m."room_id" AND ms."user_id" = ?'
    ' WHERE "message_fts" MATCH ? AND f."rowid" < ? AND m."deleted_at" IS NULL'
)
_SEARCH_ORDER_SQL = ' ORDER BY f."rowid" DESC LIMIT ?'

# The same on PostgreSQL: the GIN index finds the matching rows, newest first by id.
_PG_SEARCH_SQL = (
    'SELECT m."id", m."text" FROM "message" AS m'
    ' JOIN "membership" AS ms ON ms."room_id" = m."room_id" AND ms."user_id" = ?'
    ' WHERE "chatbox_words"(m."text") @@ to_tsquery(\'simple\', "chatbox_fold"(?))'
    ' AND m."id" < ? AND m."deleted_at" IS NULL'
)
_PG_SEARCH_ORDER_SQL = ' ORDER BY m."id" DESC LIMIT ?'


def search(
    user,
    q,
    chat=None,
    author=None,
    after=None,
    before=None,
    has=None,
    limit=DEFAULT_LIMIT,
    cursor=None,
):
    """The caller's matching messages, newest first: ``(results, next_cursor)``.

    ``results`` are ``(message, room, snippet_pieces)``. Raises BadQuery for input the
    caller must change; a search that cannot match anything returns no results.
    """
    if len(q) > MAX_QUERY_CHARS:
        raise BadQuery({"q": [f"Search for at most {MAX_QUERY_CHARS} characters."]})
    postgres = isinstance(db.obj, Postgres)
    expression = tsquery(q) if postgres else match_expression(q)
    below = parse_cursor(cursor)
    clauses, params = [], []
    if after:
        clauses.append('m."created_at" > ?')
        params.append(parse_moment(after, "after"))
    if before:
        clauses.append('m."created_at" < ?')
        params.append(parse_moment(before, "before"))
    if has is not None:
        if has != "file":
            raise BadQuery({"has": ['The only filter of this kind is "file".']})
        clauses.append(
            'EXISTS (SELECT 1 FROM "attachment" AS a WHERE a."message_id" = m."id")'
        )
    if chat is not None:
        room = Room.by_uri(chat)
        if room is None:
            return [], None
        clauses.append('m."room_id" = ?')
        params.append(room.id)
    if author is not None:
        person = User.by_username(author)
        if person is None:
            return [], None
        clauses.append('m."author_id" = ?')
        params.append(person.id)
    if expression is None:
        return [], None
    where = "".join(" AND " + clause for clause in clauses)
    if postgres:
        rows = db.execute_sql(
            _PG_SEARCH_SQL + where + _PG_SEARCH_ORDER_SQL,
            [user.id, expression, below, *params, limit + 1],
        ).fetchall()
        rows = [(message_id, marked_snippet(text, q)) for message_id, text in rows]
    else:
        rows = db.execute_sql(
            _SEARCH_SQL + where + _SEARCH_ORDER_SQL,
            [START, END, SNIPPET_TOKENS, user.id, expression, below, *params, limit + 1],
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row[0] for row in rows]
    messages = (
        {
            m.id: m
            for m in Message.select(Message, User).join(User).where(Message.id.in_(ids))
        }
        if ids
        else {}
    )
    Message.annotate(list(messages.values()))
    rooms = (
        {
            r.id: r
            for r in Room.select().where(
                Room.id.in_({m.room_id for m in messages.values()})
            )
        }
        if messages
        else {}
    )
    results = []
    for message_id, snippet in rows:
        message = messages.get(message_id)
        if message is None:  # deleted for good between the two queries
            continue
        if _marked(message.text):
            pieces = [{"text": message.text[:200], "match": False}]
        else:
            pieces = segments(snippet)
        results.append((message, rooms[message.room_id], pieces))
    return results, (str(ids[-1]) if more else None)
