"""HTTPS without the internet: the box's own authority, its certificate, serving it,
renewing it, the pages that help a device trust it, and the plain-HTTP redirect."""

import asyncio
import datetime
import http.client
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import urllib.request

import pytest
import segno
from boxes import PASSWORD, Box, free_port, run, wait_until
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from appliance import banner, certs, lan
from appliance.https import AutoTLS

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only


def load(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def tls_files(data_dir):
    return certs.CertificateFiles(os.path.join(str(data_dir), "tls"))


def every_name_and_address():
    host = lan.host_name()
    return [f"{host}.local", host, "localhost"], lan.addresses()


def served_certificate(port, context, server_hostname="localhost"):
    """The certificate a TLS handshake with 127.0.0.1:port presents, checked by
    ``context`` against ``server_hostname``."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
        return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def https_box(data_dir, *args):
    box = Box(data_dir, "--tls=auto", *args)
    box.scheme = "https"
    return box


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch_plain(url, method="GET"):
    """(status, headers, body) of one plain-HTTP request, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(
        url, method=method, data=b"{}" if method == "POST" else None
    )
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


# make-cert


def test_make_cert_makes_an_authority_and_a_certificate_that_chains_to_it(tmp_path):
    result = run("make-cert", f"--data-dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    files = tls_files(tmp_path)
    authority, server = load(files.ca_cert), load(files.cert)
    assert authority.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
        f"chatbox local CA on {lan.host_name()}"
    )
    assert certs.fingerprint(authority) in result.stdout
    # Path validation as a browser does it: chain, signature, validity, key usages,
    # the authority's name constraints, and the name or address asked for.
    store = verification.Store([authority])
    names, addresses = every_name_and_address()
    for subject in [x509.DNSName(n) for n in names] + [
        x509.IPAddress(a) for a in addresses
    ]:
        verifier = verification.PolicyBuilder().store(store).build_server_verifier(subject)
        chain = verifier.verify(server, [])
        assert chain[-1] == authority, subject


def test_the_certificate_covers_every_name_and_address_and_nothing_link_local(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    server = load(tls_files(tmp_path).cert)
    names, addresses = certs.covered(server)
    want_names, want_addresses = every_name_and_address()
    assert names == set(want_names)
    assert addresses == set(want_addresses)
    assert any(str(a) == "127.0.0.1" for a in addresses)
    assert not any(a.is_link_local for a in addresses)


def test_the_certificates_have_the_extensions_browsers_require(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    files = tls_files(tmp_path)
    authority, server = load(files.ca_cert), load(files.cert)
    ext = server.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ext.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert ext.get_extension_for_class(
        x509.ExtendedKeyUsage
    ).value == x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH])
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = authority.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=825)  # Apple's limit
    assert lifetime >= datetime.timedelta(days=800)
    ca_life = authority.not_valid_after_utc - authority.not_valid_before_utc
    assert ca_life >= datetime.timedelta(days=3600)
    constraints = authority.extensions.get_extension_for_class(x509.BasicConstraints)
    assert (
        constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command here")
def test_openssl_verifies_the_certificate_for_tls_servers(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    files = tls_files(tmp_path)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-purpose",
            "sslserver",
            "-CAfile",
            files.ca_cert,
            files.cert,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK")


def test_private_keys_are_readable_by_the_owner_only(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    files = tls_files(tmp_path)
    for key in (files.ca_key, files.key):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    assert stat.S_IMODE(os.stat(files.folder).st_mode) == 0o700


def test_make_cert_again_keeps_the_authority_and_renews_the_certificate(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    files = tls_files(tmp_path)
    authority, first = load(files.ca_cert), load(files.cert)
    with open(files.ca_key, "rb") as f:
        authority_key = f.read()
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    assert load(files.ca_cert) == authority
    with open(files.ca_key, "rb") as f:
        assert f.read() == authority_key
    second = load(files.cert)
    assert second.serial_number != first.serial_number
    second.verify_directly_issued_by(authority)


def test_make_cert_without_the_authoritys_key_says_so_and_changes_nothing(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    files = tls_files(tmp_path)
    os.unlink(files.ca_key)
    before = load(files.cert)
    result = run("make-cert", f"--data-dir={tmp_path}")
    assert result.returncode == 1
    assert "ca.key is missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert load(files.cert) == before


def test_make_cert_refuses_arguments(tmp_path):
    result = run("make-cert", "extra", f"--data-dir={tmp_path}")
    assert result.returncode == 1
    assert "takes no arguments" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tls=maybe"], "--tls must be auto or off"),
        (["--redirect-http=8080"], "--redirect-http needs HTTPS"),
        (["--tls=auto", "--redirect-http=70000"], "must be a port number"),
        (["--tls=auto", "--certfile=a.pem", "--keyfile=b.pem"], "leave out --certfile"),
    ],
)
def test_bad_tls_options_are_refused_with_a_clear_message(tmp_path, args, message):
    result = run(f"--data-dir={tmp_path}", *args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# Serving


def test_a_client_trusting_only_the_made_authority_connects_over_https_and_wss(tmp_path):
    with https_box(tmp_path / "box") as box:
        files = tls_files(box.data_dir)
        context = ssl.create_default_context(cafile=files.ca_cert)
        assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
        status, data, _ = box.call("GET", "/healthz", context=context)
        assert status == 200 and data["status"] == "ok"
        # The hostname check passes for each of the box's names, not only its address.
        names, _ = every_name_and_address()
        for name in names:
            served = served_certificate(box.port, context, server_hostname=name)
            assert served == load(files.cert)
        account = {"username": "alice", "password": PASSWORD}
        assert box.call("POST", "/auth/users/", account, context=context)[0] == 201
        status, data, _ = box.call("POST", "/auth/token/login/", account, context=context)
        token = data["auth_token"]
        with box.socket(token, ssl=context) as ws:
            assert '"hello"' in ws.recv(timeout=20)
        # The same server is refused by a client that trusts only the usual public
        # authorities: the test above trusted the box because of its own authority.
        with pytest.raises(ssl.SSLCertVerificationError):
            served_certificate(box.port, ssl.create_default_context(), "localhost")
        # Nothing has been weakened to get there: plain HTTP on the TLS port is refused.
        with pytest.raises((http.client.HTTPException, OSError)):
            connection = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
            connection.request("GET", "/healthz")
            assert connection.getresponse().status == 400
            raise OSError("answered plain HTTP")


def test_a_box_with_tls_auto_makes_its_authority_on_first_start_and_keeps_it(tmp_path):
    box = https_box(tmp_path / "box")
    with box:
        authority = load(tls_files(box.data_dir).ca_cert)
    with box:
        assert load(tls_files(box.data_dir).ca_cert) == authority
        context = ssl.create_default_context(cafile=tls_files(box.data_dir).ca_cert)
        assert box.call("GET", "/healthz", context=context)[0] == 200


def test_a_box_whose_authority_cannot_sign_says_why_and_does_not_start(tmp_path):
    assert run("make-cert", f"--data-dir={tmp_path}").returncode == 0
    files = tls_files(tmp_path)
    with open(files.ca_key, "w") as f:
        f.write("not a key\n")
    os.unlink(files.cert)
    result = run(f"--data-dir={tmp_path}", "--tls=auto", "--port=0", timeout=60)
    assert result.returncode == 1
    assert "cannot serve TLS" in result.stderr and "ca.key" in result.stderr


def nearly_expired(files, days_left=5):
    """Replace the server certificate with one of the authority's that ends soon."""
    with open(files.ca_key, "rb") as f:
        authority_key = serialization.load_pem_private_key(f.read(), None)
    authority = load(files.ca_cert)
    names, addresses = files.wanted(authority)
    when = certs.now() - datetime.timedelta(days=certs.SERVER_DAYS - days_left)
    key, certificate = certs.make_server(authority_key, authority, names, addresses, when)
    certs._write_private(files.key, certs._key_pem(key), 0o600)
    certs._write_private(
        files.cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644
    )
    return certificate


@pytest.mark.gen_test(timeout=60)
async def test_renewal_replaces_a_nearly_expired_certificate_being_served(tmp_path):
    tls = AutoTLS(str(tmp_path / "tls"))
    context = tls.prepare()
    authority = load(tls.files.ca_cert)
    server = HTTPServer(lambda request: None, ssl_options=context)
    sock, port = bind_unused_port()
    server.add_sockets([sock])
    client = ssl.create_default_context(cafile=tls.files.ca_cert)
    loop = asyncio.get_running_loop()

    async def served():
        return await loop.run_in_executor(None, served_certificate, port, client)

    try:
        old = nearly_expired(tls.files)
        tls._load()  # as if it had been serving this one for 820 days
        assert await served() == old
        assert tls.files.why_renew().startswith("the server certificate expires on")
        assert await tls.check() is True
        new = await served()
        assert new != old
        assert new.not_valid_after_utc - certs.now() > datetime.timedelta(days=800)
        new.verify_directly_issued_by(authority)
        assert load(tls.files.ca_cert) == authority
        assert tls.context is context  # the same context, reloaded: no restart
        assert await tls.check() is False  # nothing due: kept
    finally:
        server.stop()


def test_a_running_box_renews_on_sighup_without_restarting(tmp_path):
    with https_box(tmp_path / "box") as box:
        files = tls_files(box.data_dir)
        context = ssl.create_default_context(cafile=files.ca_cert)
        authority = load(files.ca_cert)
        first = served_certificate(box.port, context)
        planted = nearly_expired(files)
        pid = box.proc.pid
        box.proc.send_signal(signal.SIGHUP)

        def renewed():
            served = served_certificate(box.port, context)
            return served not in (first, planted) and served == load(files.cert)

        assert wait_until(renewed), box.output()
        assert box.proc.poll() is None and box.proc.pid == pid
        assert load(files.ca_cert) == authority
        assert "the server certificate expires on" in box.output()
        assert box.call("GET", "/healthz", context=context)[0] == 200


# The trust pages and the redirect


def test_the_authority_and_the_trust_page_are_served_without_login(tmp_path):
    plain_port = free_port()
    with https_box(tmp_path / "box", f"--redirect-http={plain_port}") as box:
        files = tls_files(box.data_dir)
        with open(files.ca_cert, "rb") as f:
            pem = f.read()
        fingerprint = certs.fingerprint(load(files.ca_cert))
        context = ssl.create_default_context(cafile=files.ca_cert)
        for base, opener_context in (
            (f"http://127.0.0.1:{plain_port}", None),
            (box.url, context),
        ):
            with urllib.request.urlopen(base + "/ca.crt", context=opener_context) as r:
                assert r.status == 200
                assert r.headers["Content-Type"] == "application/x-x509-ca-cert"
                assert r.headers["Content-Disposition"].startswith("attachment;")
                assert r.read() == pem
            with urllib.request.urlopen(base + "/trust", context=opener_context) as r:
                page = r.read().decode()
                policy = r.headers["Content-Security-Policy"]
            assert fingerprint in page
            for platform in ("Android", "iPhone", "Windows", "macOS", "Linux"):
                assert platform in page
            assert 'href="/ca.crt"' in page
            # Self-contained: its one stylesheet is inline and allowed by hash only.
            assert "http" not in policy and "'sha256-" in policy
            assert "<script" not in page and "src=" not in page
        # Read over plain HTTP, the page leads on to the HTTPS address.
        plain_page = urllib.request.urlopen(f"http://127.0.0.1:{plain_port}/trust").read()
        assert f"https://127.0.0.1:{box.port}/".encode() in plain_page


def test_plain_http_redirects_to_https_keeping_path_and_query(tmp_path):
    plain_port = free_port()
    with https_box(tmp_path / "box", f"--redirect-http={plain_port}") as box:
        base = f"http://127.0.0.1:{plain_port}"
        status, headers, _ = fetch_plain(base + "/chats/abc/?q=1&r=two")
        assert status == 301
        assert headers["Location"] == f"https://127.0.0.1:{box.port}/chats/abc/?q=1&r=two"
        status, headers, _ = fetch_plain(base + "/api/chats/", method="POST")
        assert status == 308  # a POST stays a POST
        assert headers["Location"] == f"https://127.0.0.1:{box.port}/api/chats/"
        # Followed by a client that trusts the box, it arrives.
        context = ssl.create_default_context(cafile=tls_files(box.data_dir).ca_cert)
        https = urllib.request.HTTPSHandler(context=context)
        with urllib.request.build_opener(https).open(base + "/healthz", timeout=20) as r:
            assert r.status == 200 and r.url.startswith("https://")
        # A Host header that is no host name gets an error, not a redirect to it.
        connection = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=10)
        connection.request("GET", "/", headers={"Host": "evil.example/x@y"})
        assert connection.getresponse().status == 400


def test_without_an_authority_the_pages_say_there_is_nothing_to_trust(tmp_path):
    with Box(tmp_path / "box") as box:
        status, headers, body = fetch_plain(box.url + "/ca.crt")
        assert status == 404 and b"no certificate authority" in body
        status, _, body = fetch_plain(box.url + "/trust")
        assert status == 200 and b"--tls=auto" in body


# What the box prints at start


def test_start_up_prints_the_addresses_to_open(tmp_path):
    with https_box(tmp_path / "box") as box:
        output = box.output()
    assert f"https://127.0.0.1:{box.port}/" in output
    assert "chatbox is ready" in output
    # Not on a terminal (a log file): no QR code, no colour codes.
    assert "\x1b[" not in output


def test_the_banner_lists_the_local_name_and_every_address_when_listening_on_all():
    text = banner.text("https", 8443, "", trust=("http", 8080))
    assert f"https://{lan.host_name()}.local:8443/" in text
    for address in lan.addresses():
        assert lan.url("https", address, 8443) in text
    assert "/trust" in text and "http://" in text


def test_the_qr_code_draws_every_module_of_the_code():
    url = "https://192.168.1.50:8888/"
    lines = banner.qr_lines(url)
    matrix = [[bool(m) for m in row] for row in segno.make(url, error="l").matrix]
    q = banner.QUIET_ZONE
    drawn = []
    for line in lines:
        cells = line.removeprefix(banner.INK).removesuffix(banner.RESET)
        drawn.append([c in "▀█" for c in cells])
        drawn.append([c in "▄█" for c in cells])
    for y, row in enumerate(matrix):
        assert drawn[y + q][q : q + len(row)] == row
