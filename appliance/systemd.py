"""Living under systemd: readiness and watchdog notifications, journald logs, the unit.

The notification protocol is one datagram of ``KEY=VALUE`` lines to the AF_UNIX socket
named in $NOTIFY_SOCKET; it is a few lines, so chatbox speaks it itself rather than
depending on libsystemd.
"""

import functools
import logging
import os
import shlex
import socket
import sys

log = logging.getLogger("chatbox.systemd")

UNIT_PATH = "/etc/systemd/system/chatbox.service"
# The template for several processes on PostgreSQL, one instance per port.
TEMPLATE_PATH = "/etc/systemd/system/chatbox@.service"
# Secrets the template's processes read from the environment, outside the unit file
# (which anyone on the machine may read): PGPASSWORD, for one.
ENVIRONMENT_FILE = "/etc/chatbox/chatbox.env"
STATE_DIR = "/var/lib/chatbox"
# systemd restarts a service that stays silent this long; the server pings at half of
# it. Thirty seconds rides out a slow SD card flushing, yet a hung box is back quickly.
WATCHDOG_SEC = 30
# Open files for the service, as both soft and hard limit. systemd's default soft limit,
# 1,024, is used up by a thousand idle connections; its default hard limit, 524,288,
# (which start-up would raise the soft limit to) lets memory run out long before. Each
# connection is one descriptor and about 21 KB of server memory (bench/RESULTS.md, S4):
# 16,384 of them take some 350 MB, what a 1 GB Pi 3 can spare beside its system. Past
# that the box refuses new connections and keeps serving the open ones, which beats
# being killed for want of memory.
OPEN_FILES = 16384


@functools.cache
def _notify_socket():
    # One socket for the life of the process, so that a watchdog ping needs no new
    # descriptor: while connections use up every descriptor, the box still serves the
    # open ones and must not be restarted as hung.
    return socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)


def notify(state, environ=os.environ):
    """Send one notification (``"READY=1"``, ...); False when not under systemd."""
    address = environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket, Linux only
    elif not address.startswith("/"):
        return False
    try:
        _notify_socket().sendto(state.encode(), address)
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", state, exc)
        return False
    return True


def watchdog_period(environ=os.environ):
    """Seconds between watchdog pings (half the deadline systemd set), or None."""
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


class JournalFormatter(logging.Formatter):
    """journald stamps each line itself and reads a ``<N>`` syslog priority prefix."""

    PRIORITIES = {
        logging.CRITICAL: 2,
        logging.ERROR: 3,
        logging.WARNING: 4,
        logging.INFO: 6,
    }

    def __init__(self):
        super().__init__("%(name)s: %(message)s")

    def format(self, record):
        prefix = f"<{self.PRIORITIES.get(record.levelno, 7)}>"
        # Each line becomes its own journal entry; keep tracebacks at the same priority.
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def under_journald(environ=os.environ):
    """True when stderr is the journal stream systemd gave us (not a later redirect)."""
    expected = environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


def configure_logging():
    if under_journald():
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JournalFormatter())


# Options of our own making that name systemd specifiers on purpose: credentials
# (%d, their folder) and the template's instance name (%i, its port).
SPECIFIED = ("--certfile=%d/", "--keyfile=%d/", "--cookie-secret-file=%d/", "--port=%i")


def unit_file(
    python,
    script,
    args=(),
    user="",
    credentials=(),
    low_port=False,
    template=False,
    writable=(),
):
    """The text of a hardened chatbox.service, or with ``template`` of chatbox@.service.

    ``args`` are extra command-line options; ``credentials`` are ``(name, path)``
    pairs (TLS files) handed over with LoadCredential so the sandboxed service can
    read them without owning them; refer to them in ``args`` as ``%d/<name>``.
    ``writable``: folders outside the state directory the service writes to (an
    uploads folder on shared storage); the rest of the file system is read-only to it.

    The template runs one process per instance, named by its port (chatbox@8001), on
    loopback behind a reverse proxy. Its instances share one data dir (the cookie
    secret, the uploads): with a DynamicUser they share its name, ``chatbox``, and so
    one user id, which systemd keeps while any of them runs.
    """
    if template:
        args = ["--port=%i", "--address=127.0.0.1", "--behind-proxy", "--mdns=false", *args]
    # "%" starts a systemd specifier: escape it in everything but our own on purpose.
    command = [
        part if part.startswith(SPECIFIED) else part.replace("%", "%%")
        for part in (python, script, f"--data-dir={STATE_DIR}", *args)
    ]
    if user:
        account = [f"User={user}", f"Group={user}"]
    elif template:
        account = ["DynamicUser=yes", "User=chatbox", "Group=chatbox"]
    else:
        account = ["DynamicUser=yes"]
    capabilities = "CAP_NET_BIND_SERVICE" if low_port else ""
    if template:
        head = [
            "Description=chatbox on port %i, one of several processes on PostgreSQL",
            "Documentation=file://"
            + os.path.join(os.path.dirname(script), "docs", "scale-out.md"),
            # Harmless where the database or Redis runs on another machine.
            "After=network-online.target postgresql.service redis-server.service",
        ]
        # The "-": a database without a password (peer or certificate login) needs none.
        environment = [f"EnvironmentFile=-{ENVIRONMENT_FILE}"]
    else:
        head = [
            "Description=chatbox, a chat server for the local network",
            "Documentation=file://"
            + os.path.join(os.path.dirname(script), "docs", "operations.md"),
            "After=network-online.target",
        ]
        environment = []
    lines = [
        "[Unit]",
        *head,
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join(shlex.quote(part) for part in command),
        f"WatchdogSec={WATCHDOG_SEC}",
        "Restart=on-failure",
        "RestartSec=2",
        # Shutdown closes sockets and flushes writes in a few seconds; this is the bound.
        "TimeoutStopSec=20",
        # SIGHUP: look at the HTTPS certificate now (renew it if due, load a new one).
        "ExecReload=/bin/kill -HUP $MAINPID",
        f"LimitNOFILE={OPEN_FILES}",
        *account,
        "StateDirectory=chatbox",
        "StateDirectoryMode=0700",
        "UMask=0077",
        *(f"LoadCredential={name}:{path}" for name, path in credentials),
        *environment,
        "Environment=PYTHONUNBUFFERED=1",
        # The code is read-only here; do not let Python try to write __pycache__.
        "Environment=PYTHONDONTWRITEBYTECODE=1",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        *(f"ReadWritePaths={path.replace('%', '%%')}" for path in writable),
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        # AF_NETLINK (read-only route socket): listing the interfaces' addresses, for
        # the certificate, mDNS and the start-up banner.
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallErrorNumber=EPERM",
        # Empty: no capabilities at all, unless a port below 1024 needs binding.
        f"CapabilityBoundingSet={capabilities}",
        f"AmbientCapabilities={capabilities}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)
