"""Finding who a message mentions: ``@`` and a member's username, anywhere in the text.

Mentions are kept by user id with their place in the text, so a client shows the
person's current name even after a rename. Places count UTF-16 code units, the unit of
a JavaScript string index, since that is where every client that shows them runs.
"""

import re

# What a username is made of (models.USERNAME_RE: ASCII only, so lower-casing a name is
# all its key does to it); a mention must not start inside a
# word ("mail@alice") and must not stop inside one ("@alice" in "@alicex").
_NAME_CHARS = "A-Za-z0-9_.-"
_CANDIDATE = re.compile(rf"(?<![{_NAME_CHARS}])@([{_NAME_CHARS}]{{1,32}})")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")


def utf16_length(text):
    return len(text.encode("utf-16-le")) // 2


def _places(text):
    """Each ``@`` that may start a mention: ``(match, token, ends)``, ``ends`` being
    where a name may end within the token, longest first (never before a letter, digit
    or ``_``)."""
    for match in _CANDIDATE.finditer(text):
        token = match.group(1)
        ends = [
            end
            for end in range(len(token), 0, -1)
            if end == len(token) or not _WORD_CHAR.fullmatch(token[end])
        ]
        yield match, token, ends


def names_in(text):
    """Every lower-cased name ``text`` might mention: all ``find_mentions`` will look
    up, so that only those members need be read."""
    return {token[:end].lower() for _, token, ends in _places(text) for end in ends}


def find_mentions(text, members):
    """``[(user id, start, length), ...]`` for each mention of one of ``members`` (a map
    of lower-cased username to user id) in ``text``, in order; ``start`` and ``length`` in
    UTF-16 code units, the ``@`` included.

    Where a name could end at several places (``@bob.`` at the end of a sentence, with a
    member "bob"), the longest that is a member's name wins, as long as no letter,
    digit or ``_`` follows it.
    """
    found = []
    for match, token, ends in _places(text):
        for end in ends:
            user_id = members.get(token[:end].lower())
            if user_id is not None:
                start = utf16_length(text[: match.start()])
                found.append((user_id, start, end + 1))
                break
    return found
