"""Who this box is on the local network: its host name, ``.local`` name and addresses.

The certificate, the mDNS advertisement and the start-up banner all describe the box
by these, so they are worked out in one place.
"""

import ipaddress
import logging
import socket

import ifaddr

log = logging.getLogger("chatbox.lan")


def host_name():
    """The box's own name, lower case and without any domain (``raspberrypi``)."""
    name = socket.gethostname().split(".")[0].strip().lower()
    return name or "localhost"


def local_name(host=None):
    """The name mDNS answers for the box: ``<host>.local``."""
    return f"{host or host_name()}.local"


def is_usable(address):
    """Whether a browser elsewhere (or on the box) can reach us at ``address``.

    Link-local addresses are left out: they need a zone (``%eth0``) that browsers do not
    accept in a URL and certificates cannot name.
    """
    return not (address.is_link_local or address.is_multicast or address.is_unspecified)


def addresses(loopback=True):
    """The box's addresses, IPv4 first, as ``ipaddress`` objects without duplicates.

    Read from the interfaces (getifaddrs); if that fails (a sandbox without netlink),
    from what the host name resolves to, so the box still starts.
    """
    found = []
    try:
        for adapter in ifaddr.get_adapters():
            for ip in adapter.ips:
                # IPv6 comes as (address, flowinfo, scope_id); a zone is not part of it.
                text = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
                try:
                    found.append(ipaddress.ip_address(text.split("%")[0]))
                except ValueError:
                    continue
    except OSError as exc:
        log.warning("cannot list the network interfaces (%s); using the host name", exc)
        try:
            for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
                found.append(ipaddress.ip_address(sockaddr[0].split("%")[0]))
        except OSError:
            pass
        found += [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    chosen = []
    for address in found:
        if address in chosen or not is_usable(address):
            continue
        if address.is_loopback and not loopback:
            continue
        chosen.append(address)
    return sorted(chosen, key=lambda a: (a.version, a.is_loopback, a.packed))


def url(scheme, host, port, path="/"):
    """``scheme://host:port/path``, leaving out the scheme's default port."""
    if isinstance(host, ipaddress.IPv6Address):
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = str(host) if port == default else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"


def listened_addresses(bound):
    """Of the box's addresses, those a server bound to ``bound`` (empty: all) answers on."""
    if not bound:
        return addresses()
    try:
        only = ipaddress.ip_address(bound)
    except ValueError:  # a name: whatever it resolves to
        return []
    if only.is_unspecified:
        return [a for a in addresses() if a.version == only.version]
    return [only]
