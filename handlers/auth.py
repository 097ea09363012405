"""Accounts: sign up, log in and out (API tokens and browser sessions), who am I."""
import asyncio
import collections
import time

from handlers.base import SESSION_COOKIE, APIError, BaseHandler, bad_request
from models import Setting, Token, User

BAD_CREDENTIALS = {"non_field_errors": ["Unable to log in with provided credentials."]}


class LoginThrottle:
    """Counts failed logins per username and per address over a sliding window.

    In memory on purpose: a restart forgets the counts, which costs an attacker a
    restart per few guesses, and the box keeps no state about people who failed.
    """

    # Five wrong passwords for one account in five minutes is more than any person who
    # mistypes needs; twenty from one address allows a classroom behind one NAT.
    WINDOW = 300.0
    PER_USERNAME = 5
    PER_ADDRESS = 20
    # Bounds the memory an attacker can make us spend by trying many names.
    MAX_KEYS = 10_000

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._failures = collections.OrderedDict()  # key -> deque of failure times

    def _recent(self, key):
        times = self._failures.get(key)
        if times is None:
            return ()
        horizon = self._clock() - self.WINDOW
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return ()
        return times

    def retry_after(self, username, address):
        """Seconds to wait before another attempt is allowed, or 0."""
        wait = 0.0
        for key, limit in (
            (("user", username.lower()), self.PER_USERNAME),
            (("addr", address), self.PER_ADDRESS),
        ):
            times = self._recent(key)
            if len(times) >= limit:
                wait = max(wait, times[0] + self.WINDOW - self._clock())
        return max(1, int(wait + 0.999)) if wait > 0 else 0

    def failed(self, username, address):
        now = self._clock()
        for key in (("user", username.lower()), ("addr", address)):
            self._failures.setdefault(key, collections.deque()).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, username):
        self._failures.pop(("user", username.lower()), None)


async def run_slowly(fn, *args):
    """bcrypt takes tens of milliseconds: keep it off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class SignupHandler(BaseHandler):
    async def post(self):
        data = self.body()
        username = data.get("username")
        password = data.get("password")
        email = data.get("email") or ""
        User.validate(username, password, email)
        Setting.check_signup(data.get("invite"))
        if User.by_username(username) is not None:
            raise bad_request(
                {"username": ["A user with that username already exists."]}
            )
        password_hash = await run_slowly(User.hash_password, password)
        user = await self.writer.run(User.register, username, password_hash, email)
        self.send_json(
            {"id": user.id, "username": user.username, "email": user.email}, 201
        )


class LoginMixin:
    async def check_credentials(self):
        """The user named in the body if the password matches; 400 or 429 otherwise."""
        data = self.body()
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            errors = {
                field: ["This field is required."]
                for field in ("username", "password")
                if not isinstance(data.get(field), str)
            }
            raise bad_request(errors)
        address = self.request.remote_ip
        wait = self.throttle.retry_after(username, address)
        if wait:
            raise APIError(
                429,
                {"detail": f"Too many failed logins. Try again in {wait} seconds."},
                headers={"Retry-After": str(wait)},
            )
        user = User.by_username(username)
        ok = (
            user is not None
            and user.is_active
            and len(password.encode()) <= 72
            and await run_slowly(user.check_password, password)
        )
        if not ok:
            self.throttle.failed(username, address)
            raise bad_request(BAD_CREDENTIALS)
        self.throttle.succeeded(username)
        return user


class TokenCreateHandler(LoginMixin, BaseHandler):
    async def post(self):
        user = await self.check_credentials()
        key = await self.writer.run(Token.issue, user, "api")
        self.send_json({"auth_token": key})


class TokenDestroyHandler(BaseHandler):
    async def post(self):
        self.require_user()
        if self.auth_method != "token":
            raise APIError(401, {"detail": "Token authentication is required."})
        key = self.request.headers["Authorization"].partition(" ")[2].strip()
        await self.writer.run(Token.revoke, key)
        self.set_status(204)
        self.finish()


class SessionHandler(LoginMixin, BaseHandler):
    """The browser's login: a signed, HttpOnly, SameSite=Lax cookie."""

    starts_session = True

    async def post(self):
        user = await self.check_credentials()
        secret = await self.writer.run(Token.issue, user, "browser")
        self.set_session(secret)
        self.send_json(user.private())

    async def delete(self):
        secret = self.get_signed_cookie(SESSION_COOKIE, max_age_days=30)
        if secret is not None:
            await self.writer.run(Token.revoke, secret.decode())
        self.clear_cookie(SESSION_COOKIE)
        self.set_status(204)
        self.finish()


class MeHandler(BaseHandler):
    def get(self):
        self.send_json(self.require_user().private())
