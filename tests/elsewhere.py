"""A page served by another web server, calling chatbox the way a browser lets it.

Chromium sends a preflight before any call that is not "simple" (a method other than
GET or POST, or a header such as Authorization), and hands the page an answer only if
its CORS headers name the page's origin. ``Page`` does the same and fails the test
where the browser would have blocked the page.
"""

import json
import urllib.parse

import tornado.httpclient
import tornado.websocket

# The page's own origin: Chatire's Vue app as its development server serves it.
CHATIRE = "http://localhost:8080"

SIMPLE_METHODS = ("GET", "HEAD", "POST")
SIMPLE_CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
)
# What Chromium adds to a page's call to another port of the same host.
FETCH_METADATA = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-site"}


class Blocked(AssertionError):
    """The browser would not have let the page have the answer."""


def needs_preflight(method, headers):
    """The headers of a call that make the browser ask first (lower case)."""
    unsafe = []
    for name, value in headers.items():
        if name.lower() == "content-type":
            if value.split(";")[0].strip().lower() in SIMPLE_CONTENT_TYPES:
                continue
        elif name.lower() in ("accept", "accept-language", "content-language"):
            continue
        unsafe.append(name.lower())
    return (method not in SIMPLE_METHODS or bool(unsafe)), unsafe


def listed(header_value):
    return {
        item.strip().lower() for item in (header_value or "").split(",") if item.strip()
    }


class Page:
    """One page at ``origin`` in a browser, calling the box at ``api.base_url``."""

    def __init__(self, api, origin=CHATIRE):
        self.api = api
        self.origin = origin
        self.preflights = []

    def url(self, path):
        # Chatire calls some addresses by full URL (127.0.0.1 rather than localhost).
        return path if "://" in path else self.api.base_url + path

    async def raw(self, method, path, body=None, headers=None):
        return await self.api.client.fetch(
            self.url(path),
            method=method,
            body=body,
            headers=headers,
            raise_error=False,
            follow_redirects=False,
            allow_nonstandard_methods=True,
        )

    def readable(self, response):
        """Whether the browser hands ``response`` to the page (never with credentials)."""
        if "Access-Control-Allow-Credentials" in response.headers:
            raise AssertionError("the box must never allow credentials")
        allowed = response.headers.get("Access-Control-Allow-Origin")
        return allowed in (self.origin, "*")

    async def preflight(self, method, path, unsafe):
        headers = dict(
            FETCH_METADATA,
            Origin=self.origin,
            **{"Access-Control-Request-Method": method},
        )
        if unsafe:
            headers["Access-Control-Request-Headers"] = ",".join(sorted(unsafe))
        response = await self.raw("OPTIONS", path, headers=headers)
        self.preflights.append((method, path, response.code))
        if not (200 <= response.code < 300 and self.readable(response)):
            raise Blocked(f"preflight for {method} {path} refused: {response.code}")
        methods = listed(response.headers.get("Access-Control-Allow-Methods"))
        if method not in SIMPLE_METHODS and method.lower() not in methods:
            raise Blocked(f"{method} not among the allowed methods {methods}")
        missing = set(unsafe) - listed(response.headers.get("Access-Control-Allow-Headers"))
        if missing:
            raise Blocked(f"headers {missing} not allowed")
        return response

    async def ajax(self, method, path, data=None, headers=None):
        """jQuery's ``$.ajax`` from the page: ``data`` goes form-encoded, as jQuery
        sends an object; returns ``(status, parsed JSON)`` if the page may read it."""
        headers = dict(headers or {})
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        elif method in ("POST", "PATCH", "PUT"):
            body = ""
        preflight, unsafe = needs_preflight(method, headers)
        if preflight:
            await self.preflight(method, path, unsafe)
        headers.update(FETCH_METADATA, Origin=self.origin, Accept="*/*")
        response = await self.raw(method, path, body=body, headers=headers)
        if not self.readable(response):
            raise Blocked(
                f"the answer to {method} {path} ({response.code}) is not readable"
            )
        return response.code, (json.loads(response.body) if response.body else None)

    async def websocket(self, url, subprotocols=None):
        """``new WebSocket(url)`` from the page: no headers but Origin, no cookies."""
        request = tornado.httpclient.HTTPRequest(
            url, headers={"Origin": self.origin, "Sec-Fetch-Site": "same-site"}
        )
        return await tornado.websocket.websocket_connect(request, subprotocols=subprotocols)

    def ws_url(self, path):
        return self.api.base_url.replace("http", "ws", 1) + path
