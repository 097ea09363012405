"""Where chatbox goes beneath Tornado's public websocket API, and nowhere else.

Two things have no public API in Tornado 6.6:

- sending a frame built once for every recipient of a broadcast, instead of letting
  ``write_message`` encode, frame and copy the same text again for each socket (fan-out
  to hundreds of sockets spent most of its time there: docs/profile.md);
- knowing how many bytes are queued for a client that stopped reading.

Both go through the connection's ``stream`` and, for the count, the stream's private
``_write_buffer``. tests/test_wsio.py names exactly these, so a Tornado upgrade that
changes them fails one clearly named test instead of misbehaving quietly.
"""

import struct

from tornado.iostream import StreamClosedError


def wire_frame(text):
    """The whole websocket frame carrying ``text`` as a server sends it (RFC 6455 5.2:
    one final text fragment, unmasked, uncompressed): the same bytes for every client,
    so a broadcast builds it once."""
    data = text.encode()
    size = len(data)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + data
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + data
    return struct.pack("!BBQ", 0x81, 127, size) + data


def _stream(handler):
    """The open stream under a websocket handler, or None once it has closed."""
    connection = handler.ws_connection
    stream = connection.stream if connection is not None else None
    return None if stream is None or stream.closed() else stream


def write_frame(handler, frame):
    """Queue the pre-built bytes of ``frame`` (a ``frames.Frame``) for this client.

    Only valid while compression is off for the socket: a compressed frame would differ
    per client, so it could not be shared.
    """
    stream = _stream(handler)
    if stream is None:
        return
    if frame.wire is None:
        frame.wire = wire_frame(frame)
    try:
        stream.write(frame.wire)
    except StreamClosedError:
        pass


def unsent_bytes(handler):
    """Bytes queued in this process for the client, not yet taken by the kernel."""
    stream = _stream(handler)
    return 0 if stream is None else len(stream._write_buffer)


def drop(handler):
    """Cut the connection at once, without waiting for a close handshake queued behind
    data the client is not reading; Tornado then runs ``on_close`` as usual."""
    stream = _stream(handler)
    if stream is not None:
        stream.close()
