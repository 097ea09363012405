"""Accounts: sign up, log in and out (API tokens and browser sessions), who am I."""

import asyncio
import concurrent.futures
import math
import os
import threading
import time

from handlers.base import SESSION_COOKIE, APIError, BaseHandler, bad_request
from handlers.throttle import RecentEvents
from models import Setting, Token, User, ValidationError, username_key

BAD_CREDENTIALS = {"non_field_errors": ["Unable to log in with provided credentials."]}


class LoginThrottle:
    """Limits password guessing; an attempt counts before its password is checked.

    Three counts of attempts that have not succeeded (failed, or still being checked):
    per address and username, per address, and per username from every address. The
    first two stop one device quickly and touch nobody elsewhere, so a guesser cannot
    lock the real owner out; the third is a slow brake that only a guesser with many
    addresses reaches. Counting before bcrypt runs means a burst of simultaneous
    attempts gets no more checks than a slow one.

    In memory on purpose: a restart forgets the counts, which costs an attacker a
    restart per few guesses, and the box keeps no state about people who failed.
    """

    # Someone mistyping their own password needs a few tries, not more; a guesser at
    # one device gets five guesses at an account every five minutes.
    PER_PAIR = 5
    PAIR_WINDOW = 300.0
    # One device trying many accounts; twenty still lets a few people behind one NAT
    # (a family, a classroom) each mistype their password.
    PER_ADDRESS = 20
    ADDRESS_WINDOW = 300.0
    # One account, all addresses together. One address at the pair limit fails at most
    # 15 times in 15 minutes, so it never reaches 40: only three or more addresses
    # guessing flat out do, and however many there are they get 160 guesses an hour.
    # Reaching it refuses the account's owner too, for up to 15 minutes: the price
    # of stopping a distributed guesser at all.
    PER_USERNAME = 40
    USERNAME_WINDOW = 900.0
    # Keys each count remembers. Full, the three hold 5.1 MiB (tracemalloc, with IPv6
    # addresses and 32-character names), which a Pi can spare; pushing a name under
    # attack out of the brake takes 4,096 guesses at other names in between, far more
    # than the guesses it frees.
    MAX_KEYS = 4096
    # Usernames have at most 32 characters: a longer one cannot be an account, and
    # keying on its start keeps a megabyte-long name from costing a megabyte.
    NAME_CHARS = 40

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._per_pair = RecentEvents(self.PER_PAIR, self.PAIR_WINDOW, self.MAX_KEYS, clock)
        self._per_address = RecentEvents(
            self.PER_ADDRESS, self.ADDRESS_WINDOW, self.MAX_KEYS, clock
        )
        self._per_username = RecentEvents(
            self.PER_USERNAME, self.USERNAME_WINDOW, self.MAX_KEYS, clock
        )

    def __len__(self):
        """Keys remembered across the three counts: what its memory grows with."""
        return len(self._per_pair) + len(self._per_address) + len(self._per_username)

    def attempt(self, username, address):
        """Count a login attempt before its password is checked.

        The answer's ``retry_after`` is the seconds to wait when a limit is already
        reached, and nothing is counted; otherwise it is 0 and the attempt counts as a
        failure until ``succeeded`` is called, so a check that never finishes counts.
        """
        # Every spelling that finds the account (case, width) counts against it.
        name = username_key(username[: self.NAME_CHARS])
        counts = (
            (self._per_pair, (address, name)),
            (self._per_address, address),
            (self._per_username, name),
        )
        wait = max(events.wait(key) for events, key in counts)
        if wait > 0:
            return LoginAttempt(retry_after=math.ceil(wait))
        now = self._clock()
        for events, key in counts:
            events.add(key, now)
        return LoginAttempt(counts, now)


class LoginAttempt:
    """One login attempt as its throttle counts it: a failure unless it succeeds."""

    def __init__(self, counts=(), when=None, retry_after=0):
        self._counts = counts
        self._when = when
        self.retry_after = retry_after

    def succeeded(self):
        """The owner got in from here: forget this address's failures at the name."""
        (pair, key), *others = self._counts
        pair.clear(key)
        for events, key in others:
            events.discard(key, self._when)


async def run_slowly(fn, *args):
    """bcrypt takes tens of milliseconds: keep it off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


# bcrypt lets go of the GIL, so its threads compete with the event loop for the CPU
# alone. This much nicer than the process, a hashing thread gets about a tenth of a core
# the event loop also wants and all of one it leaves idle: a burst of sign-ups slows the
# sign-ups (and logins), not everyone's chat.
HASHING_NICENESS = 10


def hashing_executor():
    """The executor for ``run_slowly`` (the event loop's default): its threads run at
    a lower priority than the event loop's."""
    return concurrent.futures.ThreadPoolExecutor(
        thread_name_prefix="slowly", initializer=hash_gently
    )


def hash_gently():
    # Linux keeps a nice value per thread, so this leaves the event loop's alone.
    thread = threading.get_native_id()
    try:
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))
    except OSError:  # not allowed here: hash at the usual priority
        pass


def may_sign_up(username, invite):
    """Raise unless ``username`` may become a new account (with ``invite``, where the
    box asks for one)."""
    Setting.check_signup(invite)
    if User.name_taken(username):
        raise bad_request({"username": [User.TAKEN]})


class SignupHandler(BaseHandler):
    async def post(self):
        data = self.body()
        username = data.get("username")
        password = data.get("password")
        email = data.get("email") or ""
        User.validate(username, password, email)
        await self.read(may_sign_up, username, data.get("invite"))
        # Counted per address, and only now, just before the costly part: a flood of
        # sign-ups is a flood of bcrypt hashes that every login then queues behind.
        # No turns: a class behind one router signs up together, and the hashing runs
        # at a lower priority than the event loop anyway.
        await self.pay("signup", self.request.remote_ip, turn=False)
        password_hash = await run_slowly(User.hash_password, password)
        user = await self.writer.run(User.register, username, password_hash, email)
        self.send_json({"id": user.id, "username": user.username, "email": user.email}, 201)


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
        attempt = self.throttle.attempt(username, self.request.remote_ip)
        if attempt.retry_after:
            raise APIError(
                429,
                {
                    "detail": "Too many failed logins. "
                    f"Try again in {attempt.retry_after} seconds."
                },
                headers={"Retry-After": str(attempt.retry_after)},
            )
        user = await self.read(User.by_username, username)
        ok = (
            user is not None
            and user.is_active
            and len(password.encode()) <= 72
            and await run_slowly(user.check_password, password)
        )
        if not ok:
            raise bad_request(BAD_CREDENTIALS)
        attempt.succeeded()
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


class JWTCreateHandler(LoginMixin, BaseHandler):
    """djoser's JWT login, which Chatire's later versions use: ``{"token": ...}``, sent
    back as ``Authorization: JWT <token>``.

    The token is an ordinary API token, not a signed JWT: no client of this address
    reads what is inside, and an API token can be revoked at once, which a JWT cannot.
    """

    async def post(self):
        user = await self.check_credentials()
        key = await self.writer.run(Token.issue, user, "api")
        self.send_json({"token": key})


class JWTCheckHandler(BaseHandler):
    """djoser's JWT refresh and verify: the token from the body, back unchanged while
    it still works. There is nothing to renew: a token lasts until its logout, and
    handing out a new one would close the sockets opened with the old."""

    async def post(self):
        key = self.body().get("token")
        if not isinstance(key, str) or not key:
            raise bad_request({"token": ["This field is required."]})
        if await self.read(Token.user_for, key, "api") is None:
            raise bad_request({"non_field_errors": ["The token is not valid."]})
        self.send_json({"token": key})


class SessionHandler(LoginMixin, BaseHandler):
    """The browser's login: a signed, HttpOnly, SameSite=Lax cookie."""

    starts_session = True
    cross_origin = False

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

    async def patch(self):
        """Change one's own profile: the display name, for now."""
        user = self.require_user()
        data = self.body()
        if "display_name" in data:
            await self.writer.run(user.set_display_name, data["display_name"])
        self.send_json(user.private())


class PasswordHandler(BaseHandler):
    async def post(self):
        """Change one's own password, proving the current one first (throttled like a
        login: this is a way to guess it too)."""
        user = self.require_user()
        data = self.body()
        current, new = data.get("current_password"), data.get("new_password")
        log_out_others = data.get("log_out_others", False)
        if not isinstance(log_out_others, bool):
            raise bad_request({"log_out_others": ["Give true or false."]})
        if not isinstance(current, str) or not current:
            raise bad_request({"current_password": ["This field is required."]})
        try:
            User.validate_password(new)
        except ValidationError as error:
            raise bad_request({"new_password": error.errors["password"]}) from None
        attempt = self.throttle.attempt(user.username, self.request.remote_ip)
        if attempt.retry_after:
            raise APIError(
                429,
                {
                    "detail": "Too many wrong passwords. "
                    f"Try again in {attempt.retry_after} seconds."
                },
                headers={"Retry-After": str(attempt.retry_after)},
            )
        if len(current.encode()) > 72 or not await run_slowly(user.check_password, current):
            raise bad_request({"current_password": ["That is not your current password."]})
        attempt.succeeded()
        password_hash = await run_slowly(User.hash_password, new)
        await self.writer.run(
            user.change_password, password_hash, self.credential, log_out_others
        )
        if log_out_others:
            # Close the other logins' open sockets now, here and on every process.
            await self.messenger.signed_out(user.id)
        self.send_json(
            {
                "detail": "Password changed; you are logged out everywhere else."
                if log_out_others
                else "Password changed."
            }
        )
