"""A chat's whole history to take away: as JSON, and as one HTML file any browser shows
offline (photos inlined, every text escaped, no script). See docs/files.md, "Export".

Both are produced a chunk at a time (``json_chunks``, ``html_chunks``), so a chat of a
hundred thousand messages is never held in memory at once: the server writes each
chunk to the socket, the command line to a file.
"""

import base64
import html
import json
import os
import re

from models import Attachment, Blob, Message, Reaction, User, isoformat, utcnow

# Messages read per query.
CHUNK = 500
# Types a browser shows as a picture; the same list the server shows inline.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def blob_path(uploads, sha256):
    """Where a blob's bytes are: ``<uploads>/<first two hex digits>/<sha256>``."""
    return os.path.join(uploads, sha256[:2], sha256)


def chat_name(room):
    if not room.is_private:
        return room.uri
    return room.name or ("Direct chat" if room.is_direct else "Private chat")


def slug(room):
    """The chat's name as safe file-name characters (a private chat's with the start
    of its address, since several may share a name)."""
    text = re.sub(r"[^a-z0-9]+", "-", chat_name(room).lower()).strip("-")[:40] or "chat"
    return text + "-" + room.uri[:8] if room.is_private else text


def file_name(room, extension):
    """The download's name: ``chatbox-<name>-<date>.<extension>``."""
    return f"chatbox-{slug(room)}-{utcnow():%Y-%m-%d}.{extension}"


def file_view(attachment):
    """A file as message objects show it (docs/files.md)."""
    blob = attachment.blob
    photo = blob.type in PHOTO_TYPES
    return {
        "id": attachment.id,
        "name": attachment.name,
        "size": blob.size,
        "type": blob.type,
        "width": blob.width,
        "height": blob.height,
        "url": f"/api/files/{attachment.id}/{attachment.name}",
        "thumbnail_url": f"/api/files/{attachment.id}/thumbnail" if photo else None,
        "inline": photo,
    }


def _batches(room):
    """The chat's messages, oldest first, annotated, with their attachments, in lists
    of up to CHUNK."""
    after = 0
    while True:
        messages = Message.annotate(
            list(
                Message.select(Message, User)
                .join(User)
                .where((Message.room == room) & (Message.id > after))
                .order_by(Message.id)
                .limit(CHUNK)
            )
        )
        if not messages:
            return
        files = {}
        for attachment in (
            Attachment.select(Attachment, Blob)
            .join(Blob)
            .where(Attachment.message.in_([m.id for m in messages]))
            .order_by(Attachment.message, Attachment.position)
        ):
            files.setdefault(attachment.message_id, []).append(attachment)
        yield [(m, files.get(m.id, [])) for m in messages]
        after = messages[-1].id


def _header(room):
    return {
        "uri": room.uri,
        "kind": room.kind,
        "name": chat_name(room),
        "created_at": isoformat(room.created_at),
        "exported_at": isoformat(utcnow()),
        "members": [member.public() for member in room.members()],
    }


def json_chunks(room):
    """``{"chat": {...}, "members": [...], "messages": [...]}`` as pieces of text."""
    header = _header(room)
    members = header.pop("members")
    yield '{"chat": ' + json.dumps(header, ensure_ascii=False)
    yield ', "members": ' + json.dumps(members, ensure_ascii=False)
    yield ', "messages": ['
    first = True
    for batch in _batches(room):
        pieces = []
        for message, files in batch:
            data = message.as_dict(room)
            data.setdefault("attachments", [file_view(a) for a in files])
            pieces.append(json.dumps(data, ensure_ascii=False))
        yield ("" if first else ",\n") + ",\n".join(pieces)
        first = False
    yield "]}\n"


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;
color:#1c1c1c;background:#fff}
header{border-bottom:1px solid #ddd;margin-bottom:1em}
h1{font-size:1.4em;margin:0 0 .2em}
.meta{color:#666;font-size:.9em}
.day{text-align:center;color:#666;font-size:.85em;margin:1.5em 0 .5em}
article{margin:.6em 0;padding:.4em .6em;border-radius:6px;background:#f4f6f8}
.who{font-weight:600}
time{color:#777;font-size:.85em;margin-left:.5em}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.deleted{color:#888;font-style:italic}
.quote{border-left:3px solid #bbb;padding-left:.5em;color:#555;font-size:.9em}
.reactions{font-size:.9em;color:#555}
img{max-width:100%;height:auto;display:block;margin:.4em 0;border-radius:4px}
.file{font-size:.9em}
@media (prefers-color-scheme:dark){body{background:#121212;color:#e6e6e6}
article{background:#1f2327}.meta,.day,time{color:#aaa}}
"""


def _person(user):
    return user.display_name or user.username


def _photo_uri(uploads, attachment):
    if uploads is None:
        return None
    try:
        with open(blob_path(uploads, attachment.blob.sha256), "rb") as f:
            data = f.read()
    except OSError:
        return None
    return f"data:{attachment.blob.type};base64,{base64.b64encode(data).decode()}"


def _html_message(message, files, names, uploads):
    esc = html.escape
    when = message.created_at
    parts = [
        f'<article id="m{message.id}"><span class="who">{esc(_person(message.author))}'
        f'</span><time datetime="{isoformat(when)}">{when:%H:%M}</time>'
    ]
    if message.quote is not None:
        quoted = message.quote
        who = quoted["user"].get("display_name") or quoted["user"]["username"]
        excerpt = "(deleted)" if quoted["deleted"] else quoted["excerpt"]
        parts.append(f'<div class="quote">{esc(who)}: {esc(excerpt)}</div>')
    if message.is_deleted:
        parts.append('<div class="text deleted">This message was deleted.</div>')
    elif message.text:
        edited = " <small>(edited)</small>" if message.edited_at else ""
        parts.append(f'<div class="text">{esc(message.text)}{edited}</div>')
    for attachment in files:
        source = (
            _photo_uri(uploads, attachment) if attachment.blob.type in PHOTO_TYPES else None
        )
        if source is not None:
            parts.append(f'<img src="{source}" alt="{esc(attachment.name)}">')
        else:
            parts.append(
                f'<div class="file">📎 {esc(attachment.name)} '
                f"({attachment.blob.size:,} bytes)</div>"
            )
    reactions = [
        f"{esc(r['emoji'])} {', '.join(esc(names.get(u, '?')) for u in r['users'])}"
        for r in Reaction.summary(message.reactions)
    ]
    if reactions:
        parts.append(f'<div class="reactions">{" · ".join(reactions)}</div>')
    parts.append("</article>\n")
    return "".join(parts)


def html_chunks(room, uploads=None):
    """The chat as one self-contained HTML page, in pieces. ``uploads``: the folder of
    the box's files, for photos to be inlined (None leaves them listed by name)."""
    esc = html.escape
    header = _header(room)
    names = {m["id"]: m["display_name"] or m["username"] for m in header["members"]}
    title = esc(header["name"])
    # The page allows no script and loads nothing: should any text ever slip through
    # unescaped, a browser would still run nothing from it.
    yield (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style></head><body>\n"
        f'<header><h1>{title}</h1><div class="meta">'
        f"{len(header['members'])} members: "
        f"{esc(', '.join(names.values()))}<br>Exported {esc(header['exported_at'])}"
        "</div></header>\n<main>\n"
    )
    day = None
    for batch in _batches(room):
        pieces = []
        for message, files in batch:
            names.setdefault(message.author.id, _person(message.author))
            if message.created_at.date() != day:
                day = message.created_at.date()
                pieces.append(f'<div class="day">{day:%A %d %B %Y}</div>\n')
            pieces.append(_html_message(message, files, names, uploads))
        yield "".join(pieces)
    yield "</main></body></html>\n"


def write_all(rooms, folder, uploads):
    """One JSON and one HTML file per chat in ``folder``; returns the paths written."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    written = []
    for room in rooms:
        stem = os.path.join(folder, f"{room.id:05d}-{slug(room)}")
        for extension, chunks in (
            ("json", json_chunks(room)),
            ("html", html_chunks(room, uploads)),
        ):
            path = f"{stem}.{extension}"
            with open(path, "w", encoding="utf-8") as f:
                for chunk in chunks:
                    f.write(chunk)
            os.chmod(path, 0o600)
            written.append(path)
    return written
