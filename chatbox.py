"""chatbox: a chat server for a local network, in one process.

Run ``python chatbox.py`` and open http://<this box>:8888 in a browser.
``python chatbox.py --help`` lists every option.
"""
import asyncio
import logging
import os
import secrets
import signal

import tornado.web
from tornado.options import define, options

from handlers.auth import (
    LoginThrottle,
    MeHandler,
    SessionHandler,
    SignupHandler,
    TokenCreateHandler,
    TokenDestroyHandler,
)
from handlers.base import NotFoundHandler
from handlers.chats import ChatHandler, ChatListHandler, MemberHandler
from handlers.messages import MessagesHandler
from handlers.pages import AppShellHandler, HealthHandler, OpenAPIHandler, StaticHandler
from handlers.sockets import ClientSocket, RoomSocket
from hub import Messenger, RoomHub
from models import WriteQueue, init_db

HERE = os.path.dirname(os.path.abspath(__file__))

define("port", default=8888, help="TCP port to serve HTTP and websockets on", type=int)
define("address", default="", help="address to listen on (empty: every interface)")
define(
    "db",
    default=os.path.join(HERE, "chatbox.db"),
    help="SQLite database file; the cookie secret is kept beside it",
)
define(
    "durability",
    default="full",
    help="full: every acknowledged message survives a power cut (fsync per commit); "
    "normal: survives a crash of chatbox but maybe not a power cut, for faster disks",
)
define("debug", default=False, help="reload on code changes and show tracebacks", type=bool)

log = logging.getLogger("chatbox")

# Browsers and NAT boxes drop idle connections after a minute or two; a ping every 25 s
# keeps them open and notices a vanished phone within a minute.
PING_INTERVAL = 25
# How long a ping may go unanswered. Tornado 6.6 allows no more than the interval (it
# warns and uses the interval instead); a phone on weak Wi-Fi answers within seconds,
# so 20 s of silence means the client is gone.
PING_TIMEOUT = 20
# The largest frame a client may send: a 4,000-character message in the worst UTF-8
# case plus its JSON envelope fits with room to spare.
MAX_FRAME_BYTES = 64 * 1024


def load_secret(path):
    """The cookie secret: made on first run, stored 0600, reused after."""
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret + "\n")
    return secret


def secret_path(db_path):
    return os.path.splitext(os.path.abspath(db_path))[0] + ".secret"


def make_app(cookie_secret, debug=False):
    """The Tornado application; the database must already be initialised."""
    messenger = Messenger(WriteQueue(), RoomHub())
    deps = dict(messenger=messenger, throttle=LoginThrottle())
    uri = r"(?P<uri>[^/]+)"
    routes = [
        (r"/auth/users/(?:create/)?", SignupHandler, deps),
        (r"/auth/token/(?:create|login)/", TokenCreateHandler, deps),
        (r"/auth/token/(?:destroy|logout)/", TokenDestroyHandler, deps),
        (r"/auth/session/", SessionHandler, deps),
        (r"/api/me/?", MeHandler, deps),
        (r"/api/chats/", ChatListHandler, deps),
        (rf"/api/chats/{uri}/", ChatHandler, deps),
        (rf"/api/chats/{uri}/messages/", MessagesHandler, deps),
        (rf"/api/chats/{uri}/members/(?P<username>[^/]+)/", MemberHandler, deps),
        (r"/api/openapi.json", OpenAPIHandler, deps),
        (r"/healthz", HealthHandler, deps),
        (r"/ws", ClientSocket, deps),
        (r"/ws/chat/(?P<room>[^/]+)/", RoomSocket, deps),
        (r"/(?:api|auth|ws)(?:/.*)?", NotFoundHandler, deps),
        (r"/(.*)", AppShellHandler, deps),
    ]
    app = tornado.web.Application(
        routes,
        cookie_secret=cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"samesite": "Lax"},
        template_path=os.path.join(HERE, "templates"),
        static_path=os.path.join(HERE, "static"),
        static_handler_class=StaticHandler,
        websocket_ping_interval=PING_INTERVAL,
        websocket_ping_timeout=PING_TIMEOUT,
        websocket_max_message_size=MAX_FRAME_BYTES,
        compress_response=True,
        debug=debug,
    )
    app.messenger = messenger
    return app


async def shutdown(server, app):
    """Stop taking connections, tell browsers to come back later, flush writes."""
    server.stop()
    for socket in app.messenger.hub.connections():
        # 1001 "going away": browsers reconnect to the restarted box and resume.
        socket.close(1001, "server restarting")
    await app.messenger.writer.flush()
    app.messenger.writer.close()
    await server.close_all_connections()


async def main():
    options.parse_command_line()
    version = init_db(options.db, synchronous=options.durability.upper())
    app = make_app(load_secret(secret_path(options.db)), debug=options.debug)
    server = app.listen(options.port, options.address, xheaders=False)
    log.info(
        "chatbox listening on http://%s:%d/ (database %s, schema version %d)",
        options.address or "0.0.0.0",
        options.port,
        options.db,
        version,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("chatbox stopping")
    await shutdown(server, app)


if __name__ == "__main__":
    asyncio.run(main())
