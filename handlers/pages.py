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
        # Sets the _xsrf cookie the app echoes in X-XSRFToken on every write.
        self.xsrf_token
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


class HealthHandler(BaseHandler):
    """Liveness plus in-memory counts; nothing here may scan a table (it stays fast)."""

    def get(self):
        try:
            version = schema_version()
        except Exception:
            self.send_json({"status": "unavailable"}, 503)
            return
        started = getattr(self.application, "started", time.time())
        self.send_json(
            dict(
                self.hub.stats(),
                status="ok",
                schema_version=version,
                version=self.settings["version"],
                uptime_s=round(time.time() - started, 1),
            )
        )


class OpenAPIHandler(BaseHandler):
    def get(self):
        self.send_json(OPENAPI)
