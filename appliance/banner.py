"""What the server prints at start: the addresses people can open, and a QR code.

The person setting a box up usually has a phone in hand; scanning the code beats typing
an address. The code is drawn with half blocks (two modules per character cell) in
black on white set explicitly, so it scans on dark and light terminals alike.
"""

import segno

from appliance import lan

# The blank margin around the code, in modules. The standard asks for four; two are
# enough for phone cameras and keep the code within a 40-line terminal.
QUIET_ZONE = 2
# Black on bright white, then back to the terminal's own colours.
INK = "\x1b[30;107m"
RESET = "\x1b[0m"
HALVES = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_lines(text):
    """``text`` as a QR code: a list of terminal lines, two module rows per line."""
    code = segno.make(text, error="l", micro=False)
    rows = [[bool(module) for module in row] for row in code.matrix]
    width = len(rows[0]) + 2 * QUIET_ZONE
    blank = [False] * width
    rows = [
        *[blank] * QUIET_ZONE,
        *([False] * QUIET_ZONE + row + [False] * QUIET_ZONE for row in rows),
        *[blank] * QUIET_ZONE,
    ]
    if len(rows) % 2:
        rows.append(blank)
    lines = []
    for top, bottom in zip(rows[::2], rows[1::2], strict=True):
        cells = "".join(HALVES[pair] for pair in zip(top, bottom, strict=True))
        lines.append(INK + cells + RESET)
    return lines


def addresses_to_open(bound=""):
    """[(host, note)] people can use: the .local name, then each address."""
    found = lan.listened_addresses(bound)
    hosts = []
    if not bound or any(not a.is_loopback for a in found):
        hosts.append((lan.local_name(), "by name"))
    for address in found:
        hosts.append((address, "this machine only" if address.is_loopback else ""))
    if bound and not found:  # a name we could not match to an address
        hosts.append((bound, ""))
    return hosts


def main_host(hosts):
    """The one to scan: a LAN IPv4 address, which every phone reaches (Android's
    browsers do not all resolve .local names); else the first."""
    for host, note in hosts:
        if not note and getattr(host, "version", 4) == 4:
            return host
    return hosts[0][0] if hosts else None


def text(scheme, port, bound="", trust=None, terminal=False):
    """The whole banner as one string.

    ``trust``: (scheme, port) of the page that explains how to trust the box's own
    certificate authority, when it has one. Then that page is the one to scan: a new
    device must trust the box before its HTTPS address opens without a warning.
    """
    hosts = addresses_to_open(bound)
    lines = ["chatbox is ready. Open it from a phone or computer on this network:"]
    for host, note in hosts:
        lines.append(f"  {lan.url(scheme, host, port)}" + (f"  ({note})" if note else ""))
    main = main_host(hosts)
    target = lan.url(scheme, main, port) if main is not None else None
    if trust and main is not None:
        target = lan.url(trust[0], main, trust[1], "/trust")
        lines.append(f"New devices trust this box's certificate authority first: {target}")
    if terminal and target:
        lines.append("")
        lines.append(f"Scan to open {target}")
        lines.extend("  " + line for line in qr_lines(target))
    return "\n".join(lines)
