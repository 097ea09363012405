"""Taking connections so that neither one client nor a lack of descriptors stops the box.

Every open connection, websockets included, holds one file descriptor, and the process
has a fixed number of them. Three things keep them for the people using the box:

- ``raise_open_file_limit`` lifts the soft limit to the hard one at start-up.
- ``GuardedHTTPServer`` counts open connections per client address and closes at once
  any beyond ``max_per_address``; the HTTP timeouts it is given close connections that
  never finish their headers or body.
- Its ``Acceptor`` survives running out of descriptors. Tornado's own accept handler
  raises on EMFILE; the connection stays queued, so the listening socket stays readable
  and the event loop logs a traceback for it as fast as it can turn, forever. The
  Acceptor instead logs once, stops watching the listening sockets for a moment, and
  tries again; already open connections carry on, and queued ones are served as soon as
  descriptors are free again.

Only public Tornado API is used: ``HTTPServer.initialize``, ``add_sockets``, ``stop``
and ``handle_stream`` are its documented extension points, and a stream subclass may
override ``close_fd``, which every way of closing a stream goes through.
"""

import errno
import functools
import ipaddress
import logging
import resource
import time

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, SSLIOStream
from tornado.netutil import ssl_wrap_socket

log = logging.getLogger("chatbox.listener")

# accept() fails with these when the process (EMFILE) or the whole system (ENFILE) has
# no descriptor left, or the kernel no memory for one more socket.
SHORTAGE = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Linux's accept() hands on an error already pending on the queued connection (see
# accept(2)); that one connection is lost, the next may be fine.
CONNECTION_LOST = frozenset({
    errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETDOWN, errno.ENETUNREACH,
    errno.ENOPROTOOPT, errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.EOPNOTSUPP,
    getattr(errno, "ENONET", errno.ENETDOWN),
})  # fmt: skip
# How long to stop accepting after accept() fails for want of descriptors. Four tries a
# second cost nothing while the shortage lasts, and a browser that connects as
# descriptors come free waits no more than a quarter of a second for it.
ACCEPT_PAUSE = 0.25
# A box at its limit may run short every time a connection arrives; one report a minute
# says so without filling the journal.
LOG_EVERY = 60
# Connections taken per wake-up before other work gets a turn: the length of the listen
# queue, as Tornado's own accept handler does.
ACCEPTS_PER_WAKEUP = 128


def raise_open_file_limit():
    """Lift the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force.

    Each connection is a descriptor, and the soft limit a shell or an old init gives
    (often 1,024) is far below what the hard limit allows an unprivileged process.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            # An unlimited hard limit is refused above the kernel's fs.nr_open.
            log.warning("could not raise the open-file limit to %s: %s", hard, exc)
    log.info("open-file limit %d (about that many connections at once)", soft)
    return soft


class AddressTally:
    """Open connections per client address, and whether one more may open.

    A cap of 0 means none. Addresses in ``exempt`` (networks such as ``127.0.0.0/8``)
    are counted but never refused.
    """

    def __init__(self, cap=0, exempt=()):
        self.cap = cap
        self.exempt = [ipaddress.ip_network(net, strict=False) for net in exempt if net]
        self.open = {}
        self.total = 0
        # Addresses refused since they last dropped below the cap: each is logged once
        # per spell at the cap, not once per refused connection.
        self.refusing = set()

    def admit(self, host):
        """Count one more connection from ``host``; False (and nothing counted) if over."""
        count = self.open.get(host, 0)
        if self.cap and count >= self.cap and not self.is_exempt(host):
            if host not in self.refusing:
                self.refusing.add(host)
                log.warning(
                    "%s has %d connections open, the most one address may have "
                    "(--max-connections-per-address); refusing more from it",
                    host,
                    count,
                )
            return False
        self.open[host] = count + 1
        self.total += 1
        return True

    def release(self, host):
        count = self.open[host] - 1
        if count:
            self.open[host] = count
        else:
            del self.open[host]
        self.total -= 1
        if self.refusing and count < self.cap:
            self.refusing.discard(host)

    def is_exempt(self, host):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in net for net in self.exempt)


def check_networks(values):
    """Raise ValueError naming the first entry that is not an address or a network."""
    for value in values:
        if value:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an address or a network") from None


class _ClosingNotice:
    """A stream that reports when its descriptor is closed, whoever closes it.

    HTTP connections and websockets each set the stream's single close callback for
    themselves, so that cannot be borrowed; every way a stream closes (by either side,
    on error, after a websocket took it over) ends in ``close_fd`` exactly once.
    """

    def __init__(self, sock, on_fd_closed, **kwargs):
        super().__init__(sock, **kwargs)
        self.on_fd_closed = on_fd_closed

    def close_fd(self):
        try:
            super().close_fd()
        finally:
            callback, self.on_fd_closed = self.on_fd_closed, None
            if callback is not None:
                callback()


class CountedStream(_ClosingNotice, IOStream):
    pass


class CountedSSLStream(_ClosingNotice, SSLIOStream):
    pass


class Acceptor:
    """Accepts connections on listening sockets and rides out a lack of descriptors.

    A shortage lasts from the first failed accept() until no connection is left waiting
    in the listen queue. Its start is logged (once a minute at most, however often
    descriptors run short at the limit) and so is its end.
    """

    def __init__(self, on_connection, describe=lambda: ""):
        self.on_connection = on_connection
        self.describe = describe  # a few words on the load, for the shortage log line
        self.sockets = []
        self.watching = False
        self.resume_timer = None
        self.stopped = False
        self.short_since = None  # when accept() first failed in the current shortage
        self.short_until = None  # when it last failed
        self.logged = False  # whether the current shortage's start was logged
        self.logged_at = None
        self.unlogged = 0  # shortages since then that were not

    def add(self, sockets):
        self.sockets.extend(sockets)
        if self.resume_timer is None:  # while paused, the timer watches them all
            loop = IOLoop.current()
            for sock in sockets:
                loop.add_handler(sock, self._ready, IOLoop.READ)
            self.watching = True

    def stop(self):
        self.stopped = True
        self._unwatch()
        if self.resume_timer is not None:
            IOLoop.current().remove_timeout(self.resume_timer)
            self.resume_timer = None
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def _watch(self):
        self.resume_timer = None
        if self.stopped:
            return
        loop = IOLoop.current()
        for sock in self.sockets:
            loop.add_handler(sock, self._ready, IOLoop.READ)
        self.watching = True

    def _unwatch(self):
        if self.watching:
            loop = IOLoop.current()
            for sock in self.sockets:
                loop.remove_handler(sock)
            self.watching = False

    def _ready(self, sock, events):
        for _ in range(ACCEPTS_PER_WAKEUP):
            if not self.watching:
                return
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                if self.short_since is not None:
                    self._caught_up()
                return
            except OSError as exc:
                if exc.errno in CONNECTION_LOST:
                    continue
                self._pause(exc)
                return
            self.on_connection(connection, address)

    def _pause(self, exc):
        """Stop accepting for ACCEPT_PAUSE, leaving waiting connections queued."""
        now = time.monotonic()
        if self.short_since is None:
            self.short_since = now
            self.logged = self.logged_at is None or now - self.logged_at >= LOG_EVERY
            if self.logged:
                self._log_start(exc)
                self.logged_at = now
                self.unlogged = 0
            else:
                self.unlogged += 1
        self.short_until = now
        self._unwatch()
        self.resume_timer = IOLoop.current().call_later(ACCEPT_PAUSE, self._watch)

    def _log_start(self, exc):
        again = f"; {self.unlogged} more times since last said" if self.unlogged else ""
        if exc.errno in SHORTAGE:
            log.warning(
                "out of file descriptors (%s; open-file limit %d): new connections wait "
                "until some close, open ones carry on%s",
                self.describe(),
                resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                again,
            )
        else:
            log.error("cannot accept connections: %s; retrying%s", exc, again)

    def _caught_up(self):
        if self.logged:
            log.info(
                "accepting connections again, %.1f s after they first had to wait",
                self.short_until - self.short_since,
            )
        self.short_since = self.short_until = None


class GuardedHTTPServer(HTTPServer):
    """An HTTPServer that caps connections per address and survives a lack of descriptors.

    Takes HTTPServer's arguments plus ``max_per_address`` (0: no cap) and ``exempt``
    (addresses or networks the cap leaves alone). ``listen``, ``add_sockets`` and
    ``stop`` work as on any TCPServer.
    """

    def initialize(self, request_callback, max_per_address=0, exempt=(), **kwargs):
        super().initialize(request_callback, **kwargs)
        self.tally = AddressTally(max_per_address, exempt)
        self.acceptor = Acceptor(self._on_connection, self._load)

    def add_sockets(self, sockets):
        self.acceptor.add(list(sockets))

    def stop(self):
        self.acceptor.stop()
        super().stop()

    def _load(self):
        busiest = max(self.tally.open.items(), key=lambda item: item[1], default=None)
        text = f"{self.tally.total} connections open"
        if busiest is not None:
            text += f", {busiest[1]} of them from {busiest[0]}"
        return text

    def _on_connection(self, connection, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if not self.tally.admit(host):
            connection.close()
            return
        release = functools.partial(self.tally.release, host)
        if self.ssl_options is not None:
            try:
                connection = ssl_wrap_socket(
                    connection,
                    self.ssl_options,
                    server_side=True,
                    do_handshake_on_connect=False,
                )
            except OSError:  # the client hung up already; ssl.SSLError is an OSError
                connection.close()
                release()
                return
            kind = CountedSSLStream
        else:
            kind = CountedStream
        stream = kind(
            connection,
            release,
            max_buffer_size=self.max_buffer_size,
            read_chunk_size=self.read_chunk_size,
        )
        try:
            self.handle_stream(stream, address)
        except Exception:
            log.exception("could not start serving a connection from %s", host)
            stream.close()
