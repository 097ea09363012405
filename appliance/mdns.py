"""Found by name: the box advertised on the LAN by mDNS/DNS-SD (``--mdns``).

It advertises a ``_http._tcp`` (or ``_https._tcp``) service "chatbox on <host>" with
its port and path, which service browsers and home-automation boxes list, and answers
for ``<host>.local`` unless something else on the box already does (avahi-daemon on
Raspberry Pi OS, systemd-resolved elsewhere). Answering for the same name with a
different list of addresses than avahi would make avahi think another machine took its
name and rename the box, so the name is asked for first and, if the box itself already
answers, chatbox announces only its service records and leaves the addresses to it.

python-zeroconf runs its own thread and event loop; every blocking call here (probing,
the name query, the goodbye at shutdown) runs on one more thread of ours, so the
server's event loop never waits for the network.
"""

import asyncio
import errno
import ipaddress
import logging
import socket
from concurrent.futures import ThreadPoolExecutor

from zeroconf import (
    AddressResolver,
    IPVersion,
    NonUniqueNameException,
    ServiceInfo,
    Zeroconf,
)

from appliance import lan

log = logging.getLogger("chatbox.mdns")

MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353
# How long to listen for someone else answering for <host>.local. Responders answer
# within 20-120 ms (RFC 6762 section 6), but a freshly opened zeroconf sends its first
# query only after starting up: the first answer came after 1.4 s on a test VM. This
# runs on the mDNS thread, so waiting longer delays nothing but the advertisement.
NAME_QUERY_MS = 3000
# Unregistering sends goodbye packets (about 250 ms); a shutdown waits no longer than
# this for them.
GOODBYE_TIMEOUT = 3.0


def multicast_route():
    """Why mDNS cannot work here, or None if the kernel has a route for its group.

    Connecting a UDP socket sends nothing; it only asks the routing table.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((MDNS_GROUP, MDNS_PORT))
    except OSError as exc:
        return f"no route to the mDNS group {MDNS_GROUP} ({exc.strerror or exc})"
    return None


def service_type(scheme):
    return f"_{scheme}._tcp.local."


class Advertiser:
    """One service advertised while the server runs; ``stop()`` says goodbye."""

    def __init__(self, port, scheme="http", path="/", address=""):
        self.port = port
        self.scheme = scheme
        self.path = path
        self.address = address
        self.host = lan.host_name()
        self.zeroconf = None
        self.info = None
        self.server_name = None  # the .local name the service points at, once known
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chatbox-mdns")
        self._started = None

    def start(self):
        """Begin advertising in the background; returns at once."""
        loop = asyncio.get_running_loop()
        self._started = loop.run_in_executor(self._thread, self._register)
        return self._started

    async def stop(self):
        """Withdraw the service (goodbye packets) and close zeroconf's sockets."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.run_in_executor(self._thread, self._unregister), GOODBYE_TIMEOUT
            )
        except TimeoutError:
            log.warning("mDNS did not finish saying goodbye in %.0f s", GOODBYE_TIMEOUT)
        self._thread.shutdown(wait=False)

    def _addresses(self):
        return [a for a in lan.listened_addresses(self.address) if not a.is_loopback]

    def _open(self):
        # Over IPv4 only: every phone and laptop asks mDNS over IPv4, the answers still
        # carry the IPv6 addresses, and a machine without an IPv6 multicast route would
        # otherwise log a failed send for every packet.
        return Zeroconf(ip_version=IPVersion.V4Only, use_asyncio=False)

    def _register(self):
        """Runs on the mDNS thread. Every failure is logged once; none is raised."""
        reason = multicast_route()
        if reason is not None:
            log.warning("not advertising by mDNS: %s", reason)
            return
        addresses = self._addresses()
        if not addresses:
            log.info(
                "not advertising by mDNS: listening on %s only, which other machines "
                "cannot reach",
                self.address,
            )
            return
        try:
            self.zeroconf = self._open()
            self.server_name, announced = self._choose_name(addresses)
            self.info = ServiceInfo(
                service_type(self.scheme),
                f"chatbox on {self.host}.{service_type(self.scheme)}",
                port=self.port,
                properties={"path": self.path},
                server=self.server_name + ".",
                addresses=[a.packed for a in announced],
            )
            self.zeroconf.register_service(self.info, allow_name_change=True)
        except (OSError, NonUniqueNameException, RuntimeError) as exc:
            if isinstance(exc, OSError) and exc.errno in (
                errno.ENODEV,
                errno.EADDRNOTAVAIL,
            ):
                log.warning(
                    "not advertising by mDNS: no interface takes multicast (%s)", exc
                )
            else:
                log.warning("not advertising by mDNS: %s", exc)
            self._close()
            return
        log.info(
            "advertising %r (%s) by mDNS, at %s port %d",
            self.info.name.removesuffix("." + service_type(self.scheme)),
            self.info.type.rstrip("."),
            self.server_name,
            self.port,
        )

    def _choose_name(self, ours):
        """(.local name, addresses to announce for it); see the module's docstring."""
        name = lan.local_name(self.host)
        resolver = AddressResolver(name + ".")
        if not resolver.request(self.zeroconf, NAME_QUERY_MS):
            return name, ours  # nobody answers for it: chatbox does
        theirs = {ipaddress.ip_address(a) for a in resolver.parsed_addresses()}
        if theirs & set(ours):
            log.info(
                "%s is already answered by this machine (avahi-daemon or "
                "systemd-resolved); chatbox announces only its service",
                name,
            )
            return name, []
        other = f"chatbox-{self.host}.local"
        log.warning(
            "another machine (%s) answers for %s; chatbox advertises itself as %s",
            ", ".join(sorted(map(str, theirs))),
            name,
            other,
        )
        return other, ours

    def _unregister(self):
        if self.zeroconf is None:
            return
        if self.info is not None:
            try:
                self.zeroconf.unregister_service(self.info)
            except (OSError, RuntimeError) as exc:
                log.warning("mDNS goodbye failed: %s", exc)
        self._close()

    def _close(self):
        if self.zeroconf is not None:
            self.zeroconf.close()
            self.zeroconf = None
