"""What every handler shares: who the caller is, JSON in and out, errors, headers."""

import asyncio
import json
import logging
import urllib.parse

import tornado.web
from tornado import httputil
from tornado.log import access_log
from tornado.web import Finish, HTTPError

from database import serving
from handlers.budget import RateLimited
from handlers.cors import ALLOWED_HEADERS, EXPOSED_HEADERS, MAX_AGE
from models import NotAllowed, NotFound, Removed, Room, Token, ValidationError, digest
from writer import DiskFull

log = logging.getLogger("chatbox.http")

SESSION_COOKIE = "chatbox_session"
# Authorization schemes that carry an API token: DRF's, and the one Chatire's later
# versions send after logging in through the JWT address (the same tokens underneath).
TOKEN_SCHEMES = ("token", "jwt")
# Query parameters that may hold a secret: a browser can only give a websocket its
# token in the address, and addresses are what access logs print.
SECRET_PARAMETERS = ("token",)


# Paths whose last part is a secret: an incoming webhook's address (handlers/bots.py).
SECRET_PATHS = ("/hooks/",)


def redacted(uri):
    """``uri`` with every secret in it (query parameters, a webhook's address) replaced."""
    path, mark, query = uri.partition("?")
    for prefix in SECRET_PATHS:
        if path.startswith(prefix) and len(path) > len(prefix):
            path = prefix + "[redacted]"
    if not mark:
        return path
    fields = []
    for field in query.split("&"):
        name = field.partition("=")[0]
        if urllib.parse.unquote_plus(name).lower() in SECRET_PARAMETERS:
            field = name + "=[redacted]"
        fields.append(field)
    return path + mark + "&".join(fields)


def log_request(handler):
    """Tornado's access log line, with secrets in the address redacted."""
    status = handler.get_status()
    if status < 400:
        write = access_log.info
    elif status < 500:
        write = access_log.warning
    else:
        write = access_log.error
    request = handler.request
    write(
        "%d %s %s (%s) %.2fms",
        status,
        request.method,
        redacted(request.uri),
        request.remote_ip,
        1000.0 * request.request_time(),
    )


# A client over one of its budgets gets its refusal only after this long (or after the
# refusal's retry_after, if shorter), and a socket is not read meanwhile. A refusal
# costs the box about as much as an answer; a client refused in a loop then costs it one
# a second per connection instead of hundreds, and one that heeds retry_after loses
# nothing.
RATE_LIMITED_PAUSE = 1.0

# No inline script and no other origin: everything the page uses is served by the box.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def set_security_headers(handler):
    handler.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "no-referrer")
    handler.set_header("Cross-Origin-Opener-Policy", "same-origin")


class APIError(HTTPError):
    """An error whose JSON body is ``payload`` (Chatire/DRF style)."""

    def __init__(self, status_code, payload=None, headers=None, **kwargs):
        super().__init__(status_code, **kwargs)
        self.payload = payload
        # Carried by the error because Tornado clears the response's headers before
        # write_error: one set before raising would never reach the client.
        self.headers = headers or {}


def bad_request(errors):
    return APIError(400, errors)


class JSONErrors:
    """Errors answered as JSON, for HTTP handlers and refused websocket handshakes alike."""

    def log_exception(self, typ, value, tb):
        if isinstance(
            value, (HTTPError, ValidationError, Removed, NotAllowed, NotFound, RateLimited)
        ):
            return
        if isinstance(value, DiskFull):
            log.error("refused a write: %s", value.detail)
            return
        # A damaged database shows first as a failing query; /healthz reports it from now.
        health = getattr(self.application, "database_health", None)
        if health is not None:
            health.noticed(value)
        # Tornado's line for an uncaught exception prints the address, twice.
        self.request.uri = redacted(self.request.uri)
        super().log_exception(typ, value, tb)

    def write_error(self, status_code, **kwargs):
        payload = None
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, APIError):
            payload = error.payload
            for name, value in error.headers.items():
                self.set_header(name, value)
        elif isinstance(error, ValidationError):
            # A model rule refused the input: the client's mistake, not the server's.
            self.set_status(400)
            payload = error.errors
        elif isinstance(error, Removed):
            self.set_status(403)
            payload = {"detail": error.detail}
        elif isinstance(error, (NotAllowed, NotFound)):
            self.set_status(403 if isinstance(error, NotAllowed) else 404)
            payload = {"detail": str(error)}
        elif isinstance(error, RateLimited):
            # Over a per-person budget: nothing was done, and the wait is known.
            self.set_status(429)
            self.set_header("Retry-After", str(error.whole_seconds))
            payload = {"detail": error.detail}
        elif isinstance(error, DiskFull):
            # The box keeps serving reads; the sender may retry once space is freed.
            self.set_status(503)
            self.set_header("Retry-After", "60")
            payload = {"detail": error.detail}
        if payload is None:
            reason = getattr(error, "reason", None) or httputil.responses.get(
                status_code, "Error"
            )
            payload = {"detail": reason if status_code < 500 else "Server error."}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(payload))


class Authenticated:
    """Finds the caller from an API token (``Authorization: Token``) or the session cookie.

    Shared by HTTP handlers and websocket handlers, so both authenticate the same way.
    A request that names a token is judged by that token alone: a wrong one is not
    rescued by a cookie the browser happened to send along.
    """

    # The digest of the token or session that authenticated the caller, so a
    # long-lived socket can be closed when that login ends.
    credential = None
    # "token" or "cookie" once a request names a credential: the cookie is ambient
    # authority, which some rules (XSRF, other origins) treat differently.
    auth_method = None

    def token_key(self):
        """The API token the request names: None if it names none, "" if its
        Authorization header is of a scheme that carries no token."""
        header = self.request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        return key.strip() if scheme.lower() in TOKEN_SCHEMES else ""

    def credentials(self):
        """``(secret, kind)`` of the login the request names, or None if it names none."""
        key = self.token_key()
        if key is not None:
            self.auth_method = "token"
            return key, "api"
        secret = self.get_signed_cookie(SESSION_COOKIE, max_age_days=30)
        if secret is None:
            return None
        self.auth_method = "cookie"
        return secret.decode(), "browser"

    def authenticate(self):
        """The caller, read where this is called."""
        named = self.credentials()
        return None if named is None else self._logged_in(Token.user_for(*named), named)

    async def find_caller(self):
        """The caller, read through the messenger's reads (off the event loop where
        reads run on threads)."""
        named = self.credentials()
        if named is None:
            return None
        user = await self.messenger.reads.run(Token.user_for, *named)
        return self._logged_in(user, named)

    def _logged_in(self, user, named):
        if user is not None:
            self.credential = digest(named[0])
        return user

    def set_session(self, secret):
        self.set_signed_cookie(
            SESSION_COOKIE,
            secret,
            expires_days=30,
            httponly=True,
            samesite="Lax",
            secure=self.request.protocol == "https",
        )


def member_room(user, uri):
    """The room at ``uri`` if ``user`` is a member: 404 if none, 403 if not theirs.

    A read: call it through ``BaseHandler.read``, or from a read that does more.
    """
    room = Room.by_uri(uri)
    if room is None:
        raise APIError(404, {"detail": "Not found."})
    if not user.is_member(room):
        if room.keeps_out(user):
            raise Removed(room)
        raise APIError(
            403, {"detail": "You do not have permission to perform this action."}
        )
    return room


class BaseHandler(Authenticated, JSONErrors, tornado.web.RequestHandler):
    """JSON API handler: loads the caller in ``prepare``, answers errors as JSON."""

    rate_limited_pause = RATE_LIMITED_PAUSE
    # Set on handlers that log a browser in: they need XSRF even without a session
    # cookie, or another site could log a visitor into the attacker's account.
    starts_session = False
    # Whether pages at the origins of --allow-origin may call this with a token. Off
    # for what belongs to the web app alone: its page and its cookie login.
    cross_origin = True

    def initialize(self, messenger, throttle):
        # Runs before Tornado starts the task that prepares and answers the request,
        # so that task, and the connection's reads of a streamed body, are serving.
        serving.set(True)
        self.messenger = messenger
        self.throttle = throttle

    async def read(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, which reads the database, through the messenger's
        reads: inline on SQLite, on a reader thread on PostgreSQL. One call per
        request, doing all its reading, costs one hop."""
        return await self.messenger.reads.run(fn, *args, **kwargs)

    @property
    def hub(self):
        return self.messenger.hub

    @property
    def writer(self):
        return self.messenger.writer

    @property
    def limits(self):
        return self.messenger.limits

    async def pay(self, name, key, cost=1, turn=True):
        """Spend ``cost`` of a budget (handlers/budget.py), or refuse after a pause;
        then, with ``turn``, wait for ``key``'s turn (see ``Turns``), which ends with
        the request."""
        try:
            self.limits.charge(name, key, cost)
        except RateLimited as error:
            await self.slow_down(error)
            raise
        if turn and self._turn is None and self.limits.turns is not None:
            await self.limits.turns.enter(key)
            self._turn = key

    _turn = None

    def on_finish(self):
        if self._turn is not None:
            self.limits.turns.leave(self._turn)
            self._turn = None

    async def slow_down(self, error):
        """Hold a refusal for going over a budget back for a moment (see above)."""
        await asyncio.sleep(min(error.retry_after, self.rate_limited_pause))

    def set_default_headers(self):
        # Also run again when an error clears the response, so a page elsewhere can
        # read why its call failed.
        set_security_headers(self)
        self.set_header("Cache-Control", "no-store")
        self.allow_cross_origin()

    def allow_cross_origin(self):
        """Let a page at an allowed origin read this answer; True if it may."""
        policy = self.settings.get("cross_origin")
        if not policy:
            return False
        self.set_header("Vary", "Origin")
        origin = self.request.headers.get("Origin")
        if not (self.cross_origin and policy.allows(origin)):
            return False
        if self.get_cookie(SESSION_COOKIE) is not None:
            # Only the web app holds that cookie; its calls stay its own.
            return False
        self.set_header("Access-Control-Allow-Origin", policy.allow_origin_header(origin))
        self.set_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
        return True

    def answer_preflight(self):
        """Tell the browser whether a page elsewhere may make the call it is about to."""
        if not self.allow_cross_origin():
            raise APIError(
                403, {"detail": "Calls from pages at this origin are not allowed."}
            )
        methods = [
            method
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if getattr(type(self), method.lower())
            is not getattr(tornado.web.RequestHandler, method.lower())
        ]
        self.set_header("Access-Control-Allow-Methods", ", ".join(methods))
        self.set_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
        self.set_header("Access-Control-Max-Age", str(MAX_AGE))
        self.set_status(204)
        # Finish, not return: a subclass's prepare must not go on to demand a login
        # that a preflight never carries.
        raise Finish()

    def check_xsrf_cookie(self):
        # An Authorization header cannot be forged by another site, and a request that
        # carries no session cookie has no ambient authority to abuse.
        if self.request.headers.get("Authorization"):
            return
        if not self.starts_session and not self.get_cookie(SESSION_COOKIE):
            return
        super().check_xsrf_cookie()

    async def prepare(self):
        headers = self.request.headers
        if (
            self.request.method == "OPTIONS"
            and "Origin" in headers
            and "Access-Control-Request-Method" in headers
        ):
            self.answer_preflight()
        self.current_user = await self.find_caller()

    def require_user(self):
        if self.current_user is None:
            raise APIError(401, {"detail": "Authentication credentials were not provided."})
        return self.current_user

    async def member_room(self, uri):
        """The room at ``uri`` if the caller is a member: 404 if none, 403 if not theirs."""
        return await self.read(member_room, self.require_user(), uri)

    async def message_view(self, message, room):
        """``message.as_dict(room)``, read through ``read`` only if it has anything
        left to read (a message just stored or published has not)."""
        if message.annotated:
            return message.as_dict(room)
        return await self.read(message.as_dict, room)

    def body(self):
        """The request body as a dict, from JSON or a form; 400 if it is neither."""
        raw = self.request.body
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if not raw.strip():
            return {}
        # curl and some scripts label JSON as a form; a body starting with "{" is JSON.
        if (
            content_type == "application/x-www-form-urlencoded"
            and not raw.lstrip().startswith(b"{")
        ):
            try:
                pairs = urllib.parse.parse_qsl(
                    raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True
                )
            except (UnicodeDecodeError, ValueError):
                raise bad_request({"detail": "Malformed form body."}) from None
            return dict(pairs)
        try:
            data = json.loads(raw)
            # JSON may escape a lone UTF-16 surrogate ("\ud800"), which no UTF-8 text
            # can hold: SQLite and bcrypt would fail on it deep inside a handler.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        # RecursionError: a few kilobytes of "[[[[" nest deeper than the parser can go.
        except (ValueError, RecursionError):
            raise bad_request({"detail": "JSON parse error."}) from None
        if not isinstance(data, dict):
            raise bad_request({"detail": "Expected a JSON object."})
        return data

    def query_int(self, name, default=None, low=1, high=None):
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request({name: ["A valid integer is required."]}) from None
        if value < low or (high is not None and value > high):
            limits = f"between {low} and {high}" if high else f"at least {low}"
            raise bad_request({name: [f"Ensure this value is {limits}."]})
        return value

    def send_json(self, data, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(data, ensure_ascii=False))


class NotFoundHandler(BaseHandler):
    """Unknown paths under the API answer JSON, like everything else."""

    def prepare(self):
        raise APIError(404, {"detail": "Not found."})
