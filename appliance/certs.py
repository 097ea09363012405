"""A certificate authority of the box's own, and the server certificate it signs.

Browsers trust HTTPS only from a certificate that chains to an authority they trust,
and no public authority signs for ``raspberrypi.local`` or 192.168.1.50. So the box
makes its own authority once, people install its certificate on their phones and
laptops once (``/trust`` explains how), and the server certificate it signs can then be
renewed, and follow new addresses, without anyone noticing.

Files, in ``<data-dir>/tls/``: ``ca.crt``, ``ca.key``, ``server.crt``, ``server.key``;
keys are 0600. The authority's name constraints let it vouch only for the box's host
name, ``.local`` names and ``localhost``, so its key, if stolen, cannot be used to pose
as any other site to the people who trusted it.
"""

import datetime
import logging
import os
import tempfile

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance import lan
from appliance.paths import give_to_owner_of

log = logging.getLogger("chatbox.certs")

# The authority is installed by hand on every device, so it should outlive the box's
# hardware; ten years.
CA_DAYS = 3650
# Apple's platforms refuse server certificates valid longer than 825 days, even from an
# authority the user added; the others accept it too.
SERVER_DAYS = 825
# Renewed this long before it expires: the daily check has thirty chances to succeed,
# and a box switched off for a few weeks still comes back with a valid certificate.
RENEW_BEFORE = datetime.timedelta(days=30)
# Clocks of phones and of a Pi without a real-time clock drift; a certificate that
# starts an hour ago is not refused by one that runs a little behind.
BACKDATE = datetime.timedelta(hours=1)


class CertificateError(Exception):
    """The certificate files cannot be read, made or used; the message says why."""


def now():
    return datetime.datetime.now(datetime.UTC)


def fingerprint(certificate):
    """SHA-256 of the DER certificate as colon-separated hex, as browsers show it."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chatbox"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])  # fmt: skip


def make_authority(host, when=None):
    """A new (key, certificate) for ``host``'s own authority."""
    when = when or now()
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"chatbox local CA on {host}")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    permitted = [x509.DNSName(n) for n in (host, "local", "localhost")]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when - BACKDATE)
        .not_valid_after(when - BACKDATE + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def permitted_names(authority):
    """The DNS names the authority may vouch for (None: any)."""
    try:
        constraints = authority.extensions.get_extension_for_class(x509.NameConstraints)
    except x509.ExtensionNotFound:
        return None
    return [
        tree.value
        for tree in constraints.value.permitted_subtrees or ()
        if isinstance(tree, x509.DNSName)
    ]


def is_permitted(name, permitted):
    """Whether ``name`` falls inside one of the ``permitted`` subtrees (RFC 5280)."""
    if permitted is None:
        return True
    return any(name == tree or name.endswith("." + tree) for tree in permitted)


def make_server(authority_key, authority, names, addresses, when=None):
    """A new (key, certificate) for ``names`` and ``addresses``, signed by the authority."""
    when = when or now()
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    authority_ski = authority.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    alternatives = [x509.DNSName(n) for n in names]
    alternatives += [x509.IPAddress(a) for a in addresses]
    not_after = min(
        when - BACKDATE + datetime.timedelta(days=SERVER_DAYS),
        authority.not_valid_after_utc,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(when - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_ski),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    return key, certificate


def covered(certificate):
    """(DNS names, IP addresses) a certificate's subjectAltName lists, as sets."""
    try:
        san = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(san.get_values_for_type(x509.DNSName)), set(
        san.get_values_for_type(x509.IPAddress)
    )


def _write_private(path, data, mode):
    """Write ``data`` to ``path`` whole or not at all, with ``mode`` from the start."""
    folder = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        give_to_owner_of(temp, folder)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class CertificateFiles:
    """The authority and server certificate kept in one folder (``<data-dir>/tls``)."""

    def __init__(self, folder):
        self.folder = folder
        self.ca_cert = os.path.join(folder, "ca.crt")
        self.ca_key = os.path.join(folder, "ca.key")
        self.cert = os.path.join(folder, "server.crt")
        self.key = os.path.join(folder, "server.key")

    def authority(self):
        """The authority's certificate, or None if the box has none yet."""
        try:
            with open(self.ca_cert, "rb") as f:
                return x509.load_pem_x509_certificate(f.read())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise CertificateError(
                f"{self.ca_cert} is not a PEM certificate: {exc}"
            ) from None

    def server(self):
        """The server certificate, or None if there is none (or it cannot be read)."""
        try:
            with open(self.cert, "rb") as f:
                return x509.load_pem_x509_certificate(f.read())
        except (FileNotFoundError, ValueError):
            return None

    def _load_authority(self):
        """(key, certificate) of the authority, made now if the box has none."""
        certificate = self.authority()
        if certificate is None:
            if os.path.exists(self.ca_key):
                raise CertificateError(
                    f"{self.ca_key} exists without {self.ca_cert}; restore the "
                    "certificate, or remove the key to make a new authority (everyone "
                    "must then trust the new one)"
                )
            return self._make_authority()
        try:
            with open(self.ca_key, "rb") as f:
                key = serialization.load_pem_private_key(f.read(), password=None)
        except FileNotFoundError:
            raise CertificateError(
                f"{self.ca_key} is missing, so the box cannot sign a certificate; "
                f"remove {self.ca_cert} to make a new authority (everyone must then "
                "trust the new one)"
            ) from None
        except (ValueError, TypeError) as exc:
            raise CertificateError(f"{self.ca_key} is not a usable key: {exc}") from None
        if key.public_key() != certificate.public_key():
            raise CertificateError(f"{self.ca_key} is not the key of {self.ca_cert}")
        if certificate.not_valid_after_utc - now() < datetime.timedelta(days=SERVER_DAYS):
            log.warning(
                "the box's certificate authority expires on %s; to replace it, remove "
                "%s and %s, run make-cert, and have everyone trust the new one",
                certificate.not_valid_after_utc.date(),
                self.ca_cert,
                self.ca_key,
            )
        return key, certificate

    def _make_authority(self):
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        give_to_owner_of(self.folder, os.path.dirname(self.folder))
        key, certificate = make_authority(lan.host_name())
        # The key first: a certificate on disk always has its key beside it.
        _write_private(self.ca_key, _key_pem(key), 0o600)
        _write_private(
            self.ca_cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644
        )
        log.info(
            "made a certificate authority for this box, SHA-256 %s",
            fingerprint(certificate),
        )
        return key, certificate

    def wanted(self, authority=None):
        """(names, addresses) the server certificate should cover today."""
        host = lan.host_name()
        names = [lan.local_name(host), host, "localhost"]
        permitted = permitted_names(authority) if authority is not None else None
        kept = []
        for name in names:
            if name in kept:
                continue
            if not name.isascii() or not is_permitted(name, permitted):
                log.warning(
                    "the certificate leaves out %r: the box's authority may not vouch "
                    "for it (the host name changed since it was made?)",
                    name,
                )
                continue
            kept.append(name)
        return kept, lan.addresses()

    def why_renew(self, when=None):
        """Why the server certificate must be made again, or None if it is fine."""
        when = when or now()
        authority = self.authority()
        server = self.server()
        if authority is None:
            return "there is no certificate authority yet"
        if server is None:
            return "there is no server certificate yet"
        if not os.path.exists(self.key):
            return "the server key is missing"
        if server.issuer != authority.subject:
            return "the server certificate is not the authority's"
        try:
            server.verify_directly_issued_by(authority)
        except (InvalidSignature, ValueError, TypeError):
            return "the server certificate does not chain to the authority"
        left = server.not_valid_after_utc - when
        if left < RENEW_BEFORE:
            return (
                f"the server certificate expires on {server.not_valid_after_utc:%Y-%m-%d}"
            )
        names, addresses = self.wanted(authority)
        if covered(server) != (set(names), set(addresses)):
            return "the box's names or addresses changed"
        return None

    def make(self, force=False):
        """Make the authority if missing and the server certificate if due (or forced).

        Returns the reason the server certificate was made, or None if it was kept.
        """
        reason = "asked to" if force else self.why_renew()
        if reason is None:
            return None
        authority_key, authority = self._load_authority()
        names, addresses = self.wanted(authority)
        key, certificate = make_server(authority_key, authority, names, addresses)
        # The key first, then the certificate: a reader that finds a new certificate
        # finds its key too.
        _write_private(self.key, _key_pem(key), 0o600)
        _write_private(
            self.cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644
        )
        log.info(
            "made a server certificate (%s) for %s, valid until %s",
            reason,
            ", ".join([*names, *map(str, addresses)]),
            certificate.not_valid_after_utc.date(),
        )
        return reason
