"""``--tls=auto``: serve HTTPS with the box's own certificate and keep it fresh.

The SSL context handed to the HTTP server is made once; renewing loads the new
certificate into that same context, so new handshakes use it while open connections
carry on and nothing restarts.
"""

import asyncio
import logging
import ssl

from tornado.ioloop import PeriodicCallback

from appliance.certs import CertificateError, CertificateFiles

log = logging.getLogger("chatbox.https")

# Certificates live 825 days and are renewed 30 days before the end; a daily look is
# plenty for that, and notices a new address (a DHCP lease moved) within a day. A
# restart notices at once.
CHECK_EVERY = 24 * 3600


class AutoTLS:
    """The certificate files of a box and the SSL context serving them."""

    def __init__(self, folder):
        self.files = CertificateFiles(folder)
        self.context = None
        self._callback = None
        self._checking = None

    def prepare(self):
        """Make what is missing or due and the SSL context; raises CertificateError."""
        self.files.make()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._load()
        return self.context

    def _load(self):
        try:
            self.context.load_cert_chain(self.files.cert, self.files.key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise CertificateError(f"cannot load {self.files.cert}: {exc}") from None

    def start(self, every=CHECK_EVERY):
        self._callback = PeriodicCallback(self.check, every * 1000)
        self._callback.start()

    def stop(self):
        if self._callback is not None:
            self._callback.stop()

    async def check(self):
        """Renew the certificate if due and load it; True if a new one is in use.

        Making keys and reading interfaces happens off the event loop; loading the
        result into the context happens on it, where connections are wrapped, so no
        handshake sees the context half-changed. A failure is logged, and the old
        certificate stays in use until the next check.
        """
        if self._checking is not None:
            return False
        loop = asyncio.get_running_loop()
        self._checking = loop.run_in_executor(None, self.files.make)
        try:
            renewed = await self._checking
        except (CertificateError, OSError, ValueError) as exc:
            log.error("could not renew the server certificate: %s", exc)
            return False
        finally:
            self._checking = None
        if renewed is None:
            return False
        try:
            self._load()
        except CertificateError as exc:
            log.error("%s; still serving the previous certificate", exc)
            return False
        log.info("serving the new certificate")
        return True


class FileTLS:
    """``--certfile/--keyfile``: the owner's files, loaded again on SIGHUP."""

    def __init__(self, context, certfile, keyfile):
        self.context = context
        self.certfile = certfile
        self.keyfile = keyfile

    def start(self):
        pass

    def stop(self):
        pass

    async def check(self):
        try:
            self.context.load_cert_chain(self.certfile, self.keyfile)
        except (OSError, ValueError) as exc:
            log.error(
                "cannot load %s: %s; still serving the previous one", self.certfile, exc
            )
            return False
        log.info("loaded %s again", self.certfile)
        return True
