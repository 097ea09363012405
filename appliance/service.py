"""What a running server does besides serving: TLS, systemd pings, sweeps, backups."""

import asyncio
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor

from tornado.ioloop import PeriodicCallback

import files
from appliance import backup, systemd
from database import serving
from handlers.revocation import SWEEP_INTERVAL, close_ended
from models import MessageIndex

log = logging.getLogger("chatbox.service")

# How often a search index too large to merge within a delete gets its next step
# (models.MessageIndex): one step holds the writer for about 50 ms, so every 2 s is at
# most a fortieth of its time, and a deleted message's words leave an index of a
# million messages within minutes.
INDEX_UPKEEP_INTERVAL = 2


def tls_context(certfile, keyfile):
    """An SSL context for HTTPS and WSS, or None to serve plain HTTP."""
    if not certfile and not keyfile:
        return None
    if not (certfile and keyfile):
        raise ValueError("TLS needs both --certfile and --keyfile")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


class Chores:
    """The periodic jobs of a running server; ``stop()`` ends them all."""

    def __init__(self, app, paths, backup_every_hours=0, backup_keep=7):
        self.app = app
        self.paths = paths
        self.backup_keep = backup_keep
        # Backups read the whole file: give them their own thread so neither the event
        # loop nor the writer thread waits for them.
        self._backup_thread = ThreadPoolExecutor(1, thread_name_prefix="chatbox-backup")
        self._backup_running = None
        self._callbacks = []
        period = systemd.watchdog_period()
        if period:
            # A ping from the event loop itself: if the loop hangs, the pings stop and
            # systemd restarts the box, which is the point of a watchdog.
            self._every(period, lambda: systemd.notify("WATCHDOG=1"))
        # Off the event loop: on PostgreSQL the check is a round trip to the server.
        self._every(
            SWEEP_INTERVAL,
            lambda: close_ended(app.messenger.hub, app.messenger.reads),
        )
        self._every(files.SWEEP_INTERVAL, lambda: app.files.sweep(app.messenger.writer))
        self._every(INDEX_UPKEEP_INTERVAL, self.index_upkeep)
        if backup_every_hours > 0:
            self._every(backup_every_hours * 3600, self.backup)

    def _every(self, seconds, fn):
        def chore():
            # Each run has a context of its own: it serves, so the rule that keeps
            # statements off the event loop holds for it too.
            serving.set(True)
            return fn()

        callback = PeriodicCallback(chore, seconds * 1000)
        callback.start()
        self._callbacks.append(callback)

    def backup(self):
        if self._backup_running is not None and not self._backup_running.done():
            return  # the previous one is still copying
        loop = asyncio.get_running_loop()
        self._backup_running = loop.run_in_executor(
            self._backup_thread,
            backup.periodic,
            self.paths.db,
            self.paths.backups,
            self.backup_keep,
            self.paths.uploads,
        )
        self._backup_running.add_done_callback(self._backup_done)

    def _backup_done(self, future):
        if future.cancelled() or future.exception() is None:
            return
        error = future.exception()
        log.error("the periodic backup failed: %s", error)
        if isinstance(error, backup.Damaged):
            # The copy's check read every page of the database: report what it found.
            self.app.database_health.failed(error.verdict)

    async def index_upkeep(self):
        messenger = self.app.messenger
        try:
            if await messenger.reads.run(MessageIndex.pending):
                await messenger.writer.run(MessageIndex.continue_)
        except Exception as exc:
            log.error("merging the search index failed: %s", exc)

    def stop(self):
        for callback in self._callbacks:
            callback.stop()
        self._backup_thread.shutdown(wait=True)
