"""The frames the sockets send, built once per change and shared by every recipient.

A ``Frame`` is the JSON text; a transport may keep its own encoding of it on the frame
(``wire``), so a broadcast to a thousand sockets encodes once.
"""

import json


class Frame(str):
    """A frame's JSON text, shared by every recipient of one broadcast.

    Being a ``str`` it goes anywhere text does; the attribute ``wire`` lets the first
    recipient's transport store the bytes it makes of it, for the others to reuse.
    """

    wire = None


def encode(frame):
    # Compact separators: fewer bytes per frame, for every recipient of every broadcast.
    return Frame(json.dumps(frame, separators=(",", ":"), ensure_ascii=False))


def message_frame(room, message):
    """A stored message as both sockets send it: the seed's frame plus ``type`` and
    what docs/conversations.md adds (its number in the room's sequence among them)."""
    return encode(dict(message.as_dict(room), type="message"))


def change_frame(room, kind, seq, message, user, details=None):
    """An edit, a delete or a reaction: the message as it is now, and who did it."""
    frame = {"type": kind, "uri": room.uri, "seq": seq, "target": message.as_dict(room)}
    if kind == "deleted":
        frame["by"] = user.public()
    else:
        frame["user"] = user.public()
    if kind == "reacted":
        frame.update(emoji=details["emoji"], on=details["on"])
    return encode(frame)


def renamed_frame(room, seq, name, user):
    return encode(
        {
            "type": "renamed",
            "uri": room.uri,
            "seq": seq,
            "name": name,
            "user": user.public(),
        }
    )


def member_frame(room, user, event, seq):
    return encode(
        {
            "type": "member",
            "uri": room.uri,
            "event": event,
            "user": user.public(),
            "seq": seq,
        }
    )


def moved_frame(old_uri, new_uri, seq):
    return encode({"type": "moved", "uri": old_uri, "new_uri": new_uri, "seq": seq})


# The changes to a message, each its own frame type.
CHANGES = ("edited", "deleted", "reacted")


def event_frame(room, event):
    """A stored event (``models.Event.since``) as the frame that announced it live."""
    if event.kind == "message":
        return message_frame(room, event.message)
    if event.kind == "moved":
        details = event.details
        return moved_frame(details["uri"], details["new_uri"], event.seq)
    if event.kind == "renamed":
        return renamed_frame(room, event.seq, event.details["name"], event.user)
    if event.kind in CHANGES:
        return change_frame(
            room, event.kind, event.seq, event.message, event.user, event.details
        )
    # Whether someone left or was removed, the room sees them go the same way.
    return member_frame(
        room, event.user, "joined" if event.kind == "joined" else "left", event.seq
    )
