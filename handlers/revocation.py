"""Ending open websockets whose login no longer holds.

A socket authenticates once, on its handshake. When an account is deactivated, its
password reset, or a token revoked, the REST API refuses the credential at once
(``Token.user_for`` checks every request), but an open socket would carry on. The
sweeper closes such sockets.

Why a periodic sweep rather than only an in-process call: the command-line tools
(``deactivate``, ``reset-password``) run in another process and cannot reach the hub in
this one. Rather than give them a channel (an admin endpoint they would need credentials
for) or an epoch every writer must remember to bump, the server re-checks every open
socket's credential every two seconds. That is one indexed query per 500 sockets, tiny
next to the traffic those sockets carry, and it catches every way a login can end,
including ones added later. The admin REST endpoint also sweeps at once, so a
deactivation from the web UI takes effect immediately.
"""

import logging

from models import Token, User

log = logging.getLogger("chatbox.revocation")

# Two seconds: the window a deactivated user keeps an open socket after a command-line
# deactivation. Short enough to feel immediate to the admin, long enough to cost nothing.
SWEEP_INTERVAL = 2.0
# Stays well below SQLite's limit on bound parameters per statement.
CHUNK = 500
# Application close code: the login behind this socket ended (signed out, deactivated or
# password changed). Clients must not reconnect with the same credential.
CLOSE_SIGNED_OUT = 4401


def live_digests(digests):
    """The token digests among ``digests`` that still belong to an active account."""
    digests = list(digests)
    live = set()
    for start in range(0, len(digests), CHUNK):
        chunk = digests[start : start + CHUNK]
        query = (
            Token.select(Token.digest)
            .join(User)
            .where(Token.digest.in_(chunk) & (User.is_active == True))  # noqa: E712
            .tuples()
        )
        live.update(row[0] for row in query)
    return live


async def close_ended(hub, reads, user_id=None):
    """``sweep``, reading off the event loop (``database.ReadPool``), of every socket
    or only ``user_id``'s; returns how many it closed."""
    sockets = [s for s in hub.connections(user_id) if s.credential]
    if not sockets:
        return 0
    live = await reads.run(live_digests, {s.credential for s in sockets})
    return _close(sockets, live)


def _close(sockets, live):
    closed = 0
    for socket in sockets:
        if socket.credential not in live:
            log.info("closing a socket of user %s: its login ended", socket.user_id)
            socket.close(CLOSE_SIGNED_OUT, "signed out")
            closed += 1
    return closed
