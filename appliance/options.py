"""Every option chatbox takes, defined in one place so ``--help`` is the whole manual.

Importing this module defines them on Tornado's global ``options``; the command line
and the config file are read into it by ``appliance.config.parse``.
"""

from tornado.options import define, options

__all__ = ["options"]

define(
    "config",
    default="",
    help="read options from this file first (Python syntax: port = 8080); options on "
    "the command line win over it",
)
define("port", default=8888, help="TCP port to serve HTTP and websockets on", type=int)
define("address", default="", help="address to listen on (empty: every interface)")
define(
    "data_dir",
    default="",
    help="directory holding the database, the cookie secret, uploads/ and backups/ "
    "(default: the folder of --db if given, else the folder of chatbox.py)",
)
define("db", default="", help="SQLite database file (default: <data-dir>/chatbox.db)")
define(
    "database",
    default="",
    help="postgresql://user:password@host:5432/dbname: keep the data in PostgreSQL, "
    "which several chatbox processes can share (docs/scale-out.md); empty: the SQLite "
    "file --db, one process",
)
define(
    "bus",
    default="",
    help="with --database=postgresql://...: how the processes tell each other about "
    "news: postgres (LISTEN/NOTIFY on the same database) or redis://host:6379/0 "
    "(empty: none, for a single process)",
)
define(
    "read_threads",
    default=4,
    type=int,
    help="with PostgreSQL: threads that run database reads, so the event loop never "
    "waits on the network (ignored on SQLite, where reads are in-process lookups)",
)
define(
    "uploads",
    default="",
    help="the folder of shared files and avatars (default: <data-dir>/uploads). "
    "Several processes must all name the same folder (shared storage)",
)
define(
    "cookie_secret_file",
    default="",
    help="the file holding the key that signs login cookies (default: "
    "<data-dir>/chatbox.secret, made on first start). Several processes must use "
    "the same one, or a login made on one is refused by the others",
)
define(
    "behind_proxy",
    default=False,
    type=bool,
    help="take each client's address from the X-Real-IP (else X-Forwarded-For) "
    "header that a reverse proxy sets, for the login throttle and the logs. Only "
    "with --address=127.0.0.1 (or a firewall): anyone reaching chatbox directly "
    "could set those headers",
)
define(
    "tls",
    default="off",
    help="auto: serve HTTPS and WSS with the box's own certificate authority and "
    "certificate in <data-dir>/tls/ (made on first use, renewed before they expire; "
    "see make-cert); off: plain HTTP, unless --certfile and --keyfile are given",
)
define("certfile", default="", help="TLS certificate (PEM): serve HTTPS and WSS")
define("keyfile", default="", help="TLS private key (PEM) for --certfile")
define(
    "redirect_http",
    default=0,
    type=int,
    help="with TLS, also serve plain HTTP on this port: it sends every request to "
    "HTTPS, except /trust and /ca.crt, which a device needs before it trusts the box "
    "(0: no plain HTTP)",
)
define(
    "mdns",
    default=True,
    type=bool,
    help="advertise the box on the LAN by mDNS/DNS-SD, so <host>.local finds it and "
    "service browsers list it (--mdns=false: don't)",
)
define(
    "allow_origin",
    default=[],
    type=str,
    multiple=True,
    help="let web pages served elsewhere call the API with a token: their origins, "
    "comma-separated (http://192.168.1.20:8080), or * for any. Never "
    "with the web app's login cookie",
)
define(
    "backup_every",
    default=24.0,
    type=float,
    help="hours between automatic backups into <data-dir>/backups/ (0: never)",
)
define("backup_keep", default=7, type=int, help="automatic backups to keep")
define(
    "durability",
    default="full",
    help="full: every acknowledged message survives a power cut (fsync per commit); "
    "normal: survives a crash of chatbox but maybe not a power cut, for faster disks",
)
# A browser sends a request's headers at once (one packet on a LAN; a phone on weak Wi-Fi
# within a second or two), so ten seconds is ample; a connection opened and left mute
# gives its descriptor back soon. Tornado waits as long between keep-alive requests, and
# a browser whose idle connection was closed simply opens another.
define(
    "idle_timeout",
    default=10.0,
    type=float,
    help="seconds a connection may take to send a request's headers, and may stay idle "
    "between requests, before it is closed",
)
# Bodies are 1 MiB at most; over a link as slow as 0.5 Mbit/s that takes 17 s.
define(
    "body_timeout",
    default=30.0,
    type=float,
    help="seconds a request's body may take to arrive before the connection is closed",
)
# A classroom of 40 behind one NAT address, each with two tabs (a websocket each) and a
# browser's six HTTP connections, holds about 320; a laptop with ten tabs about 16. Yet
# 500 is under a thirtieth of the service's 16,384 descriptors (appliance/systemd.py),
# so one host alone cannot use them up.
define(
    "max_connections_per_address",
    default=500,
    type=int,
    help="most connections (HTTP and websockets) one client address may hold open; "
    "more are closed at once (0: no cap)",
)
# The box itself is exempt: anything on it could stop chatbox anyway, and a reverse
# proxy on the box makes every client share 127.0.0.1. Benchmarks open thousands of
# connections from loopback too.
define(
    "max_connections_exempt",
    default=["127.0.0.0/8", "::1"],
    type=str,
    multiple=True,
    help="comma-separated addresses and networks that --max-connections-per-address "
    "does not apply to, such as a reverse proxy in front of chatbox (empty: none)",
)
define(
    "max_upload_mb",
    default=25.0,
    type=float,
    help="the largest file anyone may share in a chat, in megabytes",
)
define(
    "upload_quota_mb",
    default=0.0,
    type=float,
    help="megabytes of files each person may have stored (0: no quota)",
)
define("debug", default=False, help="reload on code changes and show tracebacks", type=bool)
define(
    "user",
    default="",
    help="install-service: run the service as this existing system account "
    "(empty: a DynamicUser that systemd creates and removes by itself)",
    group="install-service",
)
define(
    "instances",
    default="",
    help="install-service: write the template chatbox@.service instead, for several "
    "processes on PostgreSQL, one per port, e.g. 8001,8002 (their names: "
    "chatbox@8001 ...); nginx-config: the ports of the processes behind nginx",
    group="install-service",
)
define(
    "output",
    default="",
    help="install-service: write the unit to this file, '-' for standard output "
    "(default: /etc/systemd/system/chatbox.service when run as root, else stdout)",
    group="install-service",
)
define(
    "limits",
    default="",
    help="per-person budgets, as NAME=AMOUNT/PERIOD separated by commas, e.g. "
    "send=60/30s,signup=100/10m (AMOUNT at once, refilled over PERIOD; k = thousand; "
    "period in s, m or h). Names and defaults: send=30/15s (messages per user), "
    "send-bytes=64k/1m (bytes of text per user), typing=10/10s (per user and chat), "
    "subscribe=300/30s (per user), replay=2k/1m (messages resent by subscribes, per "
    "user), reads=20/10s (API reads of chats and history, per user), new-chat=30/1h "
    "(per user), signup=40/10m (per address). NAME=off switches "
    "one off, off alone all of them",
)
