"""Trusting the box: its authority's certificate, the page that explains it, and the
plain-HTTP door that sends everything else to HTTPS.

These answer anyone, logged in or not, over HTTP as well as HTTPS: a device has to
fetch the authority before it can trust the box's HTTPS, so this is where it starts.
"""

import base64
import hashlib
import os
import re

import tornado.httputil
import tornado.web
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from appliance import lan
from appliance.certs import CertificateError, fingerprint
from handlers.base import set_security_headers

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")
with open(os.path.join(TEMPLATES, "trust.css"), encoding="utf-8") as f:
    TRUST_CSS = f.read()
# The page's one stylesheet is inline (it must work before anything else is trusted);
# the policy allows exactly that stylesheet and nothing else inline.
CSS_HASH = base64.b64encode(hashlib.sha256(TRUST_CSS.encode()).digest()).decode()
TRUST_PAGE_POLICY = (
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# What a Host header may hold for a redirect to be built from it: a name, an IPv4
# address or a bracketed IPv6 one, and a port.
HOST_PATTERN = re.compile(r"^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$")


class Trust:
    """What the pages know: the box's certificate files (None: it has none) and the
    port that serves HTTPS (None: it serves none)."""

    def __init__(self, files=None, https_port=None):
        self.files = files
        self.https_port = https_port

    def authority(self):
        if self.files is None:
            return None
        try:
            return self.files.authority()
        except CertificateError:
            return None


class TrustHandler(tornado.web.RequestHandler):
    def initialize(self, trust):
        self.trust = trust

    def set_default_headers(self):
        set_security_headers(self)

    def https_url(self, path="/"):
        """This box over HTTPS, by the name the visitor used, or None."""
        if self.trust.https_port is None:
            return None
        host = tornado.httputil.split_host_and_port(self.request.host.lower())[0]
        if not HOST_PATTERN.match(host):
            host = lan.local_name()
        return lan.url("https", host, self.trust.https_port, path)


class AuthorityHandler(TrustHandler):
    """``/ca.crt``: the authority's certificate (PEM), for devices to install."""

    def get(self):
        authority = self.trust.authority()
        if authority is None:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(
                "This box has no certificate authority of its own: it is not started "
                "with --tls=auto, and make-cert has not been run.\n"
            )
            return
        self.set_header("Content-Type", "application/x-x509-ca-cert")
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="chatbox-{lan.host_name()}-ca.crt"',
        )
        # It changes only when an owner makes a new authority; a stale copy in a cache
        # would then fail the fingerprint comparison, so browsers ask each time.
        self.set_header("Cache-Control", "no-cache")
        self.finish(authority.public_bytes(serialization.Encoding.PEM))

    head = get


class TrustPageHandler(TrustHandler):
    """``/trust``: how to trust the authority on each kind of device."""

    def get(self):
        self.set_header("Content-Security-Policy", TRUST_PAGE_POLICY)
        self.set_header("Cache-Control", "no-cache")
        authority = self.trust.authority()
        self.render(
            "trust.html",
            css=TRUST_CSS,
            authority=authority,
            common_name=(
                authority.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                if authority
                else ""
            ),
            fingerprint=fingerprint(authority) if authority else "",
            expires=f"{authority.not_valid_after_utc:%Y-%m-%d}" if authority else "",
            https_url=self.https_url(),
            secure=self.request.protocol == "https",
            host=lan.host_name(),
        )

    head = get


class ToHTTPSHandler(TrustHandler):
    """Every other request on the plain-HTTP port: the same address over HTTPS."""

    def _redirect(self, *_):
        host = tornado.httputil.split_host_and_port(self.request.host.lower())[0]
        if not HOST_PATTERN.match(host):
            raise tornado.web.HTTPError(400, reason="Bad Host header")
        target = lan.url("https", host, self.trust.https_port, self.request.uri)
        # 301 for reading; 308 keeps the method and body of anything else.
        permanent = self.request.method in ("GET", "HEAD")
        self.redirect(target, status=301 if permanent else 308)

    get = head = post = put = patch = delete = options = _redirect


def trust_routes(trust):
    return [
        (r"/ca\.crt", AuthorityHandler, dict(trust=trust)),
        (r"/trust/?", TrustPageHandler, dict(trust=trust)),
    ]


def redirect_app(trust, log_function=None):
    """The application behind ``--redirect-http``."""
    return tornado.web.Application(
        [*trust_routes(trust), (r"/.*", ToHTTPSHandler, dict(trust=trust))],
        template_path=TEMPLATES,
        log_function=log_function,
    )
