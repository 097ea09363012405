"""Found by name: a running box is advertised by mDNS/DNS-SD and withdrawn when it stops.

These listen on the real network with python-zeroconf, as a phone's service browser
would. A machine without a route for multicast cannot take part, and the tests that
need one say so instead of failing.
"""

import ipaddress
import threading

import pytest
from boxes import Box, wait_until
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceListener, Zeroconf

from appliance import lan, mdns

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only

NO_MULTICAST = mdns.multicast_route()
needs_multicast = pytest.mark.skipif(
    NO_MULTICAST is not None, reason=f"mDNS cannot work here: {NO_MULTICAST}"
)


class Seen(ServiceListener):
    """The services a browser has found, by name, and those said goodbye."""

    def __init__(self):
        self.added = set()
        self.removed = set()
        self.lock = threading.Lock()

    def add_service(self, zc, type_, name):
        with self.lock:
            self.added.add(name)

    def update_service(self, zc, type_, name):
        self.add_service(zc, type_, name)

    def remove_service(self, zc, type_, name):
        with self.lock:
            self.removed.add(name)


@pytest.fixture
def browser():
    zc = Zeroconf(ip_version=IPVersion.V4Only, use_asyncio=False)
    browsers = []

    def browse(service_type):
        seen = Seen()
        browsers.append(ServiceBrowser(zc, service_type, seen))
        return seen

    yield zc, browse
    for b in browsers:
        b.cancel()
    zc.close()


def ours(zc, seen, port):
    """The name of the service found that is this box (others may share the LAN)."""
    with seen.lock:
        names = list(seen.added)
    for name in names:
        info = zc.get_service_info(mdns.service_type("http"), name, timeout=3000)
        if info is not None and info.port == port:
            return name, info
    return None


@needs_multicast
def test_a_service_browser_finds_the_box_and_sees_it_leave(tmp_path, browser):
    zc, browse = browser
    seen = browse(mdns.service_type("http"))
    # Listening on every interface: a box on loopback alone is not advertised.
    box = Box(tmp_path / "box", "--address=0.0.0.0")
    with box:
        found = []
        assert wait_until(lambda: found.append(ours(zc, seen, box.port)) or found[-1]), (
            box.output()
        )
        name, info = found[-1]
        assert name.startswith(f"chatbox on {lan.host_name()}")
        assert info.properties[b"path"] == b"/"
        assert info.server == f"{lan.host_name()}.local."
        announced = {ipaddress.ip_address(a) for a in info.parsed_addresses()}
        assert announced & set(lan.addresses(loopback=False)), announced
        assert box.terminate() == 0
    # The goodbye at shutdown withdraws it at once, not when its records expire.
    assert wait_until(lambda: name in seen.removed, timeout=10), box.output()
    assert "advertising 'chatbox on" in box.output()


@needs_multicast
def test_with_tls_the_box_is_advertised_as_https(tmp_path, browser):
    zc, browse = browser
    seen = browse(mdns.service_type("https"))
    box = Box(tmp_path / "box", "--address=0.0.0.0", "--tls=auto")
    with box:

        def found():
            for name in list(seen.added):
                info = zc.get_service_info(mdns.service_type("https"), name, timeout=3000)
                if info is not None and info.port == box.port:
                    return True
            return False

        assert wait_until(found), box.output()


def test_with_mdns_off_nothing_is_advertised(tmp_path):
    with Box(tmp_path / "box", "--address=0.0.0.0", "--mdns=false") as box:
        assert box.call("GET", "/healthz")[0] == 200
        output = box.output()
    assert "mDNS" not in output


def test_a_box_on_loopback_only_says_why_it_is_not_advertised(tmp_path):
    with Box(tmp_path / "box") as box:
        assert wait_until(lambda: "not advertising by mDNS" in box.output()), box.output()


def test_without_a_multicast_route_the_advertiser_logs_once_and_carries_on(
    monkeypatch, caplog
):
    monkeypatch.setattr(mdns, "multicast_route", lambda: "no route (a test says so)")
    advertiser = mdns.Advertiser(8888, address="0.0.0.0")
    advertiser._register()
    advertiser._unregister()
    messages = [r.getMessage() for r in caplog.records if r.name == "chatbox.mdns"]
    assert messages == ["not advertising by mDNS: no route (a test says so)"]
    assert advertiser.zeroconf is None


@needs_multicast
def test_when_the_system_already_answers_for_the_name_only_the_service_is_added(
    tmp_path, browser
):
    zc, browse = browser
    # Standing in for avahi-daemon: something on this machine that answers for
    # <host>.local with the machine's addresses.
    host = lan.host_name()
    addresses = [a.packed for a in lan.addresses(loopback=False) if a.version == 4]
    if not addresses:
        pytest.skip("this machine has no IPv4 address but loopback")
    stand_in = ServiceInfo(
        "_workstation._tcp.local.",
        f"{host} stand-in._workstation._tcp.local.",
        port=9,
        server=f"{host}.local.",
        addresses=addresses,
    )
    zc.register_service(stand_in)
    seen = browse(mdns.service_type("http"))
    box = Box(tmp_path / "box", "--address=0.0.0.0")
    try:
        with box:
            found = []
            assert wait_until(lambda: found.append(ours(zc, seen, box.port)) or found[-1])
            assert "already answered by this machine" in box.output()
            assert found[-1][1].server == f"{host}.local."
    finally:
        zc.unregister_service(stand_in)
