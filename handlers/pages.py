"""Pages and plumbing: the app shell, static files, health, the API description."""

import json
import os
import time

import tornado.web

from handlers.base import BaseHandler, set_security_headers
from schema import schema_version

with open(os.path.join(os.path.dirname(__file__), "openapi.json"), encoding="utf-8") as f:
    OPENAPI = json.load(f)


class AppShellHandler(BaseHandler):
    """Every UI route gets the same page; the app reads the path and shows the screen."""

    cross_origin = False

    def get(self, *_):
        # Reading it sets the _xsrf cookie the app echoes in X-XSRFToken on every write.
        _ = self.xsrf_token
        self.render("app.html")

    # Link checkers and uptime monitors ask with HEAD; Tornado sends no body for it.
    head = get


class StaticHandler(tornado.web.StaticFileHandler):
    def set_default_headers(self):
        set_security_headers(self)

    def set_extra_headers(self, path):
        # Vite puts a content hash in every asset name: such a file never changes.
        if path.startswith("assets/"):
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        # The service worker (served at /sw.js so that its scope is the whole box): the
        # browser must see each new build at once, or it would keep the old app shell.
        elif path == "sw.js":
            self.set_header("Cache-Control", "no-cache")


class HealthHandler(BaseHandler):
    """Liveness plus in-memory counts; nothing here may scan a table (it stays fast).

    A damaged database file answers 503 with SQLite's reason. Reading every page here
    would be slow, so the app's ``database_health`` remembers what other requests and
    the periodic backup's check of its copy have met.
    """

    async def get(self):
        health = getattr(self.application, "database_health", None)
        try:
            version = await self.read(schema_version)
        except Exception as exc:
            if health is None or not health.noticed(exc):
                self.send_json({"status": "unavailable"}, 503)
                return
            version = None
        started = getattr(self.application, "started", time.time())
        problem = health.problem if health is not None else None
        body = dict(
            self.hub.stats(),
            status="failing" if problem else "ok",
            schema_version=version,
            version=self.settings["version"],
            uptime_s=round(time.time() - started, 1),
        )
        if problem:
            body["reason"] = f"the database file is damaged: {problem}"
        self.send_json(body, 503 if problem else 200)


class OpenAPIHandler(BaseHandler):
    def get(self):
        self.send_json(OPENAPI)
