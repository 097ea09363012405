"""chatbox: a chat server for a local network, in one process.

Run ``python chatbox.py`` and open http://<this box>:8888 in a browser.
``python chatbox.py --help`` lists every option and the admin commands.
"""

import asyncio
import logging
import os
import secrets
import signal
import sys
import tempfile
import time

import peewee
import tornado.ioloop
import tornado.web

import bus as buses
from appliance import __version__, backup, banner, dbfile, gctune, systemd
from appliance.certs import CertificateError
from appliance.config import UsageError, parse, usage
from appliance.https import AutoTLS, FileTLS
from appliance.listener import GuardedHTTPServer, raise_open_file_limit
from appliance.lock import Busy, ServerLock
from appliance.mdns import Advertiser
from appliance.options import options
from appliance.paths import Paths, put_in_place, redact
from appliance.service import Chores, tls_context
from database import ReadPool, forbid_loop
from files import MB, Storage
from handlers.admin import (
    AdminInviteResetHandler,
    AdminSettingsHandler,
    AdminUserActiveHandler,
    AdminUserRenameHandler,
    AdminUsersHandler,
)
from handlers.auth import (
    JWTCheckHandler,
    JWTCreateHandler,
    LoginThrottle,
    MeHandler,
    PasswordHandler,
    SessionHandler,
    SignupHandler,
    TokenCreateHandler,
    TokenDestroyHandler,
    hashing_executor,
)
from handlers.base import NotFoundHandler, log_request
from handlers.bots import (
    BotHandler,
    BotsHandler,
    BotTokenHandler,
    IncomingHookHandler,
    WebhookHandler,
    WebhooksHandler,
)
from handlers.budget import Limits
from handlers.chats import (
    AddMemberHandler,
    AddressHandler,
    ChatHandler,
    ChatListHandler,
    MemberHandler,
    NameHandler,
    NotificationsHandler,
    ReadHandler,
)
from handlers.cors import CrossOrigin
from handlers.export import ExportHandler
from handlers.files import (
    AvatarFileHandler,
    AvatarHandler,
    FileHandler,
    StorageHandler,
    ThumbnailHandler,
    UploadHandler,
)
from handlers.messages import (
    MessageHandler,
    MessagesHandler,
    ReactionHandler,
    ReactionsHandler,
)
from handlers.pages import AppShellHandler, HealthHandler, OpenAPIHandler, StaticHandler
from handlers.people import DirectHandler, PeopleHandler
from handlers.search import SearchHandler
from handlers.sockets import ClientSocket, RoomSocket
from handlers.trust import Trust, redirect_app, trust_routes
from hub import Messenger, RoomHub
from models import User, db
from schema import open_database
from webhooks import Webhooks
from writer import WriteQueue

HERE = os.path.dirname(os.path.abspath(__file__))

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
# The largest HTTP body: API bodies are a few kilobytes at most, and Tornado's default
# (100 MB) would let one request hold a good part of a Pi's memory.
MAX_BODY_BYTES = 1 << 20


def load_secret(path):
    """The cookie secret: made on first run, stored 0600, reused after.

    Several processes may start at once over one shared data dir: the secret is written
    whole under a temporary name and linked into place, so whichever process loses the
    race reads the winner's complete secret rather than half of it or its own.
    """
    for _ in range(2):
        try:
            with open(path, encoding="ascii") as f:
                secret = f.read().strip()
        except FileNotFoundError:
            pass
        else:
            if len(secret) < 32:
                raise ValueError(f"{path} holds no secret (fewer than 32 characters)")
            return secret
        directory = os.path.dirname(os.path.abspath(path))
        fd, temp = tempfile.mkstemp(prefix=".secret.", dir=directory)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                put_in_place(temp, path)
            except FileExistsError:
                pass  # another process's secret is there now: read it
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    raise ValueError(f"could not read or make {path}")


def make_app(
    cookie_secret,
    debug=False,
    allow_origin=(),
    limits=None,
    uploads=None,
    max_upload_mb=25,
    upload_quota_mb=None,
    trust=None,
    bus=None,
    read_threads=0,
):
    """The Tornado application; the database must already be initialised.

    ``allow_origin``: origins (or ``*``) whose pages may call the API with a token.
    ``limits``: the per-person budgets (``handlers.budget.Limits``), the defaults if None.
    ``uploads``: the folder of the box's files (``Paths.uploads``), by default ``uploads/``
    beside the database; ``max_upload_mb`` and ``upload_quota_mb`` (per person, None for
    none) bound what they may take.
    ``trust``: the box's certificate authority for /ca.crt and /trust
    (``handlers.trust.Trust``); None: it has none.
    ``read_threads``: threads that run the handlers' reads (``database.ReadPool``); 0
    runs them inline, as on SQLite. With threads, a statement issued on the event loop
    while serving raises ``database.OnLoop`` until ``shutdown`` turns the rule off.
    ``bus``: how this process hears of the others sharing its database
    (``bus.from_option``), None when it is alone. The app joins it once the event loop
    runs; ``await app.messenger.start()`` waits until it has.
    """
    if limits is None:
        limits = Limits()
    if trust is None:
        trust = Trust()
    writer = WriteQueue()
    reads = ReadPool(db, read_threads)
    webhooks = Webhooks(writer, user_agent=f"chatbox/{__version__}", reads=reads)
    webhooks.load()
    messenger = Messenger(
        writer, RoomHub(), limits=limits, webhooks=webhooks, reads=reads, bus=bus
    )
    forbid_loop(read_threads > 0)
    if bus is not None:
        tornado.ioloop.IOLoop.current().add_callback(messenger.start)
    if uploads is None:
        uploads = os.path.join(os.path.dirname(os.path.abspath(db.database)), "uploads")
    messenger.files = Storage(
        uploads,
        max_upload=int(max_upload_mb * MB),
        quota=None if not upload_quota_mb else int(upload_quota_mb * MB),
    )
    deps = dict(messenger=messenger, throttle=LoginThrottle())
    uri = r"(?P<uri>[^/]+)"
    message = r"(?P<message_id>[0-9]{1,19})"
    file = r"(?P<file_id>[0-9]{1,19})"
    routes = [
        (r"/api/admin/users", AdminUsersHandler, deps),
        (
            r"/api/admin/users/(?P<username>[^/]+)/(?P<action>deactivate|activate)",
            AdminUserActiveHandler,
            deps,
        ),
        (r"/api/admin/users/(?P<username>[^/]+)/rename", AdminUserRenameHandler, deps),
        (r"/api/admin/settings", AdminSettingsHandler, deps),
        (r"/api/admin/invite/reset", AdminInviteResetHandler, deps),
        (r"/auth/users/(?:create/)?", SignupHandler, deps),
        (r"/auth/token/(?:create|login)/", TokenCreateHandler, deps),
        (r"/auth/token/(?:destroy|logout)/", TokenDestroyHandler, deps),
        (r"/auth/jwt/create/", JWTCreateHandler, deps),
        (r"/auth/jwt/(?:refresh|verify)/", JWTCheckHandler, deps),
        (r"/auth/session/", SessionHandler, deps),
        (r"/api/me/?", MeHandler, deps),
        (r"/api/chats/", ChatListHandler, deps),
        (rf"/api/chats/{uri}/", ChatHandler, deps),
        (rf"/api/chats/{uri}/messages/", MessagesHandler, deps),
        (rf"/api/chats/{uri}/read/", ReadHandler, deps),
        (rf"/api/chats/{uri}/members/", AddMemberHandler, deps),
        (rf"/api/chats/{uri}/members/(?P<username>[^/]+)/", MemberHandler, deps),
        (rf"/api/chats/{uri}/address/", AddressHandler, deps),
        (rf"/api/chats/{uri}/name/", NameHandler, deps),
        (rf"/api/chats/{uri}/notifications/", NotificationsHandler, deps),
        (rf"/api/chats/{uri}/export\.(?:json|html)", ExportHandler, deps),
        (rf"/api/chats/{uri}/messages/{message}/", MessageHandler, deps),
        (rf"/api/chats/{uri}/messages/{message}/reactions/", ReactionsHandler, deps),
        (
            rf"/api/chats/{uri}/messages/{message}/reactions/(?P<symbol>[^/]+)/",
            ReactionHandler,
            deps,
        ),
        (rf"/api/chats/{uri}/uploads/", UploadHandler, deps),
        (rf"/api/files/{file}/thumbnail", ThumbnailHandler, deps),
        (rf"/api/files/{file}/(?P<name>[^/]+)", FileHandler, deps),
        (r"/api/me/avatar/", AvatarHandler, deps),
        (
            r"/api/avatars/(?P<user_id>[0-9]{1,19})/(?P<size>256|64)\.jpg",
            AvatarFileHandler,
            deps,
        ),
        (r"/api/admin/storage/", StorageHandler, deps),
        (r"/api/users/", PeopleHandler, deps),
        (r"/api/search/", SearchHandler, deps),
        (r"/api/direct/", DirectHandler, deps),
        (r"/api/me/password/", PasswordHandler, deps),
        (r"/api/bots/", BotsHandler, deps),
        (r"/api/bots/(?P<username>[^/]+)/", BotHandler, deps),
        (r"/api/bots/(?P<username>[^/]+)/token/", BotTokenHandler, deps),
        (r"/api/bots/(?P<username>[^/]+)/webhooks/", WebhooksHandler, deps),
        (
            r"/api/bots/(?P<username>[^/]+)/webhooks/(?P<hook_id>[0-9]{1,18})/",
            WebhookHandler,
            deps,
        ),
        (r"/hooks/(?P<secret>[^/]+)", IncomingHookHandler, deps),
        (r"/api/openapi.json", OpenAPIHandler, deps),
        (r"/healthz", HealthHandler, deps),
        (r"/(sw\.js)", StaticHandler, {"path": os.path.join(HERE, "static")}),
        (r"/ws", ClientSocket, deps),
        (r"/ws/chat/(?P<room>[^/]+)/?", RoomSocket, deps),
        *trust_routes(trust),
        (r"/(?:api|auth|ws|hooks)(?:/.*)?", NotFoundHandler, deps),
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
        cross_origin=CrossOrigin(allow_origin),
        log_function=log_request,
        debug=debug,
        version=__version__,
        uploads=uploads,
    )
    app.messenger = messenger
    app.bus = bus
    app.files = messenger.files
    app.database_health = dbfile.Health()
    app.started = time.time()
    return app


async def shutdown(server, app, grace=3.0):
    """Stop taking connections, tell browsers to come back later, flush writes."""
    server.stop()
    hub, writer = app.messenger.hub, app.messenger.writer
    # Acks for frames already being stored go out before their sockets close.
    await writer.flush()
    for socket in hub.connections():
        # 1001 "going away": browsers reconnect to the restarted box and resume.
        socket.close(1001, "server restarting")
    await writer.flush()
    # Websockets are detached from the HTTP server, so close_all_connections does not
    # wait for them: wait here (bounded) for the clients to answer the close frames.
    deadline = time.monotonic() + grace
    while hub.connections() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    app.messenger.presence.close()
    await app.messenger.stop()
    app.messenger.webhooks.close()
    writer.close()
    app.files.close()
    try:
        await asyncio.wait_for(server.close_all_connections(), grace)
    except TimeoutError:
        log.warning("some HTTP requests were still open at shutdown")
    # Nothing serves any more: the loop may touch the database again (the file is
    # folded and closed from it), and the readers' connections close.
    forbid_loop(False)
    app.messenger.reads.close()


def reload_certificates(certificates, running):
    """SIGHUP (``systemctl reload chatbox``): renew or reload the HTTPS certificate now."""
    if certificates is None:
        log.info("SIGHUP: serving plain HTTP, there is no certificate to reload")
        return
    task = asyncio.ensure_future(certificates.check())
    running.add(task)  # held until done: the loop keeps only a weak reference
    task.add_done_callback(running.discard)


async def main():
    """Serve until SIGTERM or SIGINT; options are already parsed."""
    try:
        ssl_options = tls_context(options.certfile, options.keyfile)
    except (ValueError, OSError) as exc:  # ssl.SSLError is an OSError
        log.error("cannot serve TLS: %s", exc)
        return 1
    certificates = None
    if ssl_options is not None:
        certificates = FileTLS(ssl_options, options.certfile, options.keyfile)
    try:
        limits = Limits(options.limits)
    except ValueError as exc:
        log.error("--limits: %s", exc)
        return 1
    raise_open_file_limit()
    paths = Paths.from_options(options)
    paths.make()
    try:
        lock = take_lock(paths, options.port)
    except Busy as exc:
        log.error("not starting: %s", exc)
        return 1
    try:
        try:
            version = open_box(paths)
        except (dbfile.Unsound, RuntimeError, peewee.OperationalError) as exc:
            # Unsound file, a database from a newer chatbox, a failed upgrade, or a
            # PostgreSQL server that cannot be reached.
            log.error("not starting: %s", exc)
            return 1
        if options.tls == "auto":
            # After the lock: two servers starting at once never make two authorities.
            certificates = AutoTLS(paths.tls)
            try:
                ssl_options = certificates.prepare()
            except (CertificateError, OSError) as exc:
                log.error("cannot serve TLS: %s", exc)
                return 1
        # Names from before today's rules keep working; say so until they are renamed.
        for user in User.misnamed():
            log.warning(
                "account %d, %s: %s Rename it: python chatbox.py rename '#%d' NEW",
                user.id,
                ascii(user.username),
                user.name_problem(),
                user.id,
            )
        try:
            secret = load_secret(paths.secret)
            bus = buses.from_option(options.bus, options.database)
        except (OSError, ValueError) as exc:
            log.error("not starting: %s", exc)
            return 1
        trust = Trust(
            certificates.files if options.tls == "auto" else None,
            options.port if ssl_options else None,
        )
        app = make_app(
            secret,
            debug=options.debug,
            allow_origin=options.allow_origin,
            limits=limits,
            uploads=paths.uploads,
            max_upload_mb=options.max_upload_mb,
            upload_quota_mb=options.upload_quota_mb or None,
            trust=trust,
            bus=bus,
            # PostgreSQL answers over the network: reads wait on threads of their own.
            read_threads=options.read_threads if paths.database else 0,
        )
        # Start-up objects are never garbage; freezing them (and, as connections pile
        # up, every full collection's survivors) keeps full collections short.
        gctune.install()
        asyncio.get_running_loop().set_default_executor(hashing_executor())
        if options.behind_proxy and options.address not in ("127.0.0.1", "::1"):
            log.warning(
                "--behind-proxy trusts the client address a request's headers claim; "
                "listen on 127.0.0.1 (--address) or firewall port %d so that only "
                "the proxy reaches it",
                options.port,
            )
        server = GuardedHTTPServer(
            app,
            ssl_options=ssl_options,
            # Behind a proxy every connection comes from it: the client's address (the
            # login throttle's key) is in the header the proxy sets.
            xheaders=options.behind_proxy,
            max_body_size=MAX_BODY_BYTES,
            idle_connection_timeout=options.idle_timeout,
            body_timeout=options.body_timeout,
            max_per_address=options.max_connections_per_address,
            exempt=options.max_connections_exempt,
        )
        server.listen(options.port, options.address)
        scheme = "https" if ssl_options else "http"
        plain = None
        if options.redirect_http:
            plain = GuardedHTTPServer(
                redirect_app(trust, log_request),
                xheaders=False,
                max_body_size=MAX_BODY_BYTES,
                idle_connection_timeout=options.idle_timeout,
                body_timeout=options.body_timeout,
                max_per_address=options.max_connections_per_address,
                exempt=options.max_connections_exempt,
            )
            plain.listen(options.redirect_http, options.address)
        lock.describe(
            port=options.port,
            address=options.address,
            scheme=scheme,
            started=app.started,
            version=__version__,
        )
        log.info(
            "chatbox %s listening on %s://%s:%d/ (database %s, schema version %d)",
            __version__,
            scheme,
            options.address or "0.0.0.0",
            options.port,
            described(paths),
            version,
        )
        backup_every = options.backup_every
        if paths.database:
            log.info(
                "no automatic backups on PostgreSQL: back it up with pg_dump "
                "(docs/scale-out.md), and the uploads folder %s with it",
                paths.uploads,
            )
            backup_every = 0
        chores = Chores(app, paths, backup_every, options.backup_keep)
        if certificates is not None:
            certificates.start()
        advertiser = None
        if options.mdns:
            advertiser = Advertiser(options.port, scheme, "/", options.address)
            advertiser.start()
        # A new device fetches the authority over plain HTTP when it can: over HTTPS
        # it would first have to click through the warning the authority cures.
        trust_page = None
        if options.tls == "auto":
            trust_page = (
                ("http", options.redirect_http) if plain else (scheme, options.port)
            )
        terminal = sys.stdout.isatty()
        print(banner.text(scheme, options.port, options.address, trust_page, terminal))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        checks = set()
        loop.add_signal_handler(signal.SIGHUP, reload_certificates, certificates, checks)
        # Only now: systemd may send SIGTERM as soon as it hears we are ready.
        systemd.notify(f"READY=1\nSTATUS=serving on port {options.port}")
        await stop.wait()
        log.info("chatbox stopping")
        systemd.notify("STOPPING=1")
        chores.stop()
        if certificates is not None:
            certificates.stop()
        if advertiser is not None:
            await advertiser.stop()
        if plain is not None:
            plain.stop()
        await shutdown(server, app)
        return 0
    finally:
        if paths.database:
            db.close()
        else:
            # After the writer thread closed its connection: the database file alone
            # then holds every commit, and is whole before another server may take the
            # lock.
            dbfile.fold_and_close()
        lock.release()


def take_lock(paths, port):
    """The lock that keeps a second server off what this one serves (Busy if taken).

    SQLite: the database file itself, for one process per file. PostgreSQL: a lock per
    host and port in the data dir, so several processes share the database and the data
    dir, and ``status`` finds each one's note.
    """
    if paths.database:
        path, note = paths.instance_lock(port)
        lock = ServerLock(path, note)
        try:
            lock.acquire(make=lambda temp: None)  # an empty file is all a lock needs
        except Busy:
            raise Busy(
                f"another chatbox serves port {port} from {paths.data_dir}"
            ) from None
        return lock
    lock = ServerLock(paths.db, paths.lock)
    try:
        # Only a missing file becomes a new box.
        lock.acquire(make=lambda path: dbfile.make(path, open_database))
    except Busy:
        raise Busy(f"another chatbox (or a restore) is using {paths.db}") from None
    return lock


def open_box(paths):
    """Open the database (SQLite: after checking the file) and bring its schema up to
    date; returns the schema version."""
    if paths.database:
        # No file to check: PostgreSQL vets its own storage.
        return open_database(paths.database)
    dbfile.check(paths.db)
    return open_database(
        paths.db,
        synchronous=options.durability.upper(),
        before_upgrade=lambda old: backup.before_upgrade(paths.db, paths.backups, old),
    )


def described(paths):
    """The database for the log: the file, or the URL without its password."""
    if not paths.database:
        return paths.db
    return redact(paths.database)


def cli(argv=None):
    """``python chatbox.py [command] [--options]``: serve, or run an admin command."""
    argv = sys.argv if argv is None else argv
    try:
        words, flags = parse(argv)
    except UsageError as exc:
        print(f"chatbox: {exc}", file=sys.stderr)
        print(usage(os.path.basename(argv[0])), file=sys.stderr)
        return 2
    systemd.configure_logging()
    if words:
        from appliance import admin

        return admin.run(words, flags, os.path.abspath(__file__))
    return asyncio.run(main())


if __name__ == "__main__":
    sys.exit(cli())
