"""Per-person budgets: how fast one account, or one address, may make the box work.

Each budget is a token bucket per key (a user id, a user and a room, an address): it
holds up to ``amount`` tokens and refills at ``amount`` per ``period``, so a person may
do ``amount`` things at once and then keep going at the refill rate. A bucket that has
refilled is the same as none, so only keys that were busy lately take memory, and never
more than ``MAX_KEYS`` per budget.

The values below are the defaults; ``--limits`` changes them (see ``Limits.parse``).
"""

import asyncio
import collections
import math
import re
import time

# Keys each budget remembers. A key is forgotten once its bucket is full again, so this
# is reached only by that many people or addresses busy at the same moment; beyond it
# the least recently active key is forgotten first, which only makes its bucket full.
MAX_KEYS = 4096

# Messages per user, over every socket and the API together. Thirty at once covers
# pasting a few paragraphs as separate messages, or a reconnect resending everything
# typed offline; two a second for as long as one likes is faster than anyone types.
# A script that stored 848 messages a second stores two.
SEND = (30, 15.0)
# Bytes of message text per user (UTF-8, as stored). 64 kB at once is sixteen messages
# of the longest length in plain letters and four in the widest script, and a minute
# refills it: more than a person pastes. One account can then grow the database by
# about 90 MB a day at most, where it grew by 14 GB an hour.
SEND_BYTES = (64_000, 60.0)
# Typing notices per user and room. The web app sends one every three seconds while
# someone types, and one after each message sent; ten at once and one a second leaves
# room for two tabs typing in the same chat, while a flood reaches the room's other
# sockets once a second instead of thousands of times.
TYPING = (10, 10.0)
# Subscribe frames per user. The web app subscribes to every chat of its list (up to a
# page of 100) each time its socket opens; 300 at once lets it reconnect twice in a row
# and load more pages, and ten a second refills that within half a minute.
SUBSCRIBE = (300, 30.0)
# Events (messages, members coming and going) replayed to a user by subscribes that
# resume from a number or an id. One resume sends up to 500 (beyond that the client is
# told to refetch, which costs nothing here); 2,000 at once covers an evening's talk in a
# dozen chats, and a client refused the rest gets them within a minute. Each replayed
# event is a frame written in one step of the event loop: someone subscribing from 0
# over and over gets 33 events a second, not 500 a frame.
REPLAY = (2000, 60.0)
# Reads of chats and history over the API per user: a page of the chat list, a chat
# with its members, a page of history. The web app reads the list when it connects and
# two things when a chat opens; 20 at once covers clicking through ten chats in a row,
# and two a second one chat a second after that, or a script polling for new messages.
# Each read holds the event loop for a few milliseconds: hundreds a second from one
# account left it to nobody else, and even sixty at once were felt by everyone.
READS = (20, 10.0)
# Chats a user creates (private chats, and named rooms that did not exist yet). Thirty
# at once is a teacher opening one per pupil; then one every two minutes. Every chat
# makes every chat-list read of its owner a little longer.
NEW_CHAT = (30, 3600.0)
# Accounts signed up from one address. Forty at once is a class of thirty behind one
# school router, with latecomers; then four a minute. Each sign-up costs a bcrypt
# hash, and a flood of them left logins waiting for seconds.
SIGNUP = (40, 600.0)

# Requests of one account that spend a budget (reads, new chats, sign-ups by address)
# handled at once; the rest queue (see Turns). One is enough for a person: the web app
# asks for at most two things at a time, and the second then waits a few milliseconds.
AT_ONCE = 1

DEFAULTS = {
    "send": SEND,
    "send-bytes": SEND_BYTES,
    "typing": TYPING,
    "subscribe": SUBSCRIBE,
    "replay": REPLAY,
    "reads": READS,
    "new-chat": NEW_CHAT,
    "signup": SIGNUP,
}

# What a refusal says, before "Try again in N seconds."
REFUSALS = {
    "send": "You are sending messages too fast.",
    "send-bytes": "You are sending too much text too fast.",
    "typing": "Too many typing notices for this chat.",
    "subscribe": "Too many subscribes.",
    "replay": "Too many messages replayed.",
    "reads": "Too many requests for chats and history.",
    "new-chat": "Too many new chats.",
    "signup": "Too many sign-ups from this address.",
}


class Turns:
    """Requests of one key (a user) handled ``at_once`` at a time; the others wait their
    turn, in order, without costing the event loop anything meanwhile.

    A budget limits how much one person does in a minute; this limits how much of the
    event loop they hold at one moment. Forty requests at once from one account would
    otherwise all be ready together, and everyone else's frames would wait behind all
    forty. Keys take memory only while a request of theirs is under way or waiting.
    """

    def __init__(self, at_once):
        self.at_once = at_once
        self._keys = {}  # key -> [requests under way, futures of those waiting, in order]

    def __len__(self):
        return len(self._keys)

    async def enter(self, key):
        entry = self._keys.setdefault(key, [0, collections.deque()])
        if entry[0] < self.at_once and not entry[1]:
            entry[0] += 1
            return
        turn = asyncio.get_running_loop().create_future()
        entry[1].append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            # Given up while waiting: pass a turn it was already given on.
            if turn.done() and not turn.cancelled():
                self.leave(key)
            elif turn in entry[1]:
                entry[1].remove(turn)
            raise

    def leave(self, key):
        entry = self._keys[key]
        while entry[1]:
            turn = entry[1].popleft()
            if not turn.done():
                turn.set_result(None)  # the count stays: the turn passes on
                return
        entry[0] -= 1
        if not entry[0]:
            del self._keys[key]


class RateLimited(Exception):
    """A budget is spent; nothing was done. ``retry_after`` is the seconds until the
    same action would fit, rounded up to a tenth."""

    def __init__(self, name, retry_after):
        self.name = name
        self.retry_after = max(0.1, math.ceil(retry_after * 10) / 10)
        seconds = self.whole_seconds
        self.detail = (
            f"{REFUSALS[name]} Try again in {seconds} second{'s' if seconds > 1 else ''}."
        )
        super().__init__(self.detail)

    @property
    def whole_seconds(self):
        """For HTTP's Retry-After, which counts whole seconds."""
        return max(1, math.ceil(self.retry_after))


class TokenBuckets:
    """A token bucket per key: ``amount`` at once, refilled at ``amount`` per ``period``.

    Memory stays bounded whatever the keys: buckets are kept in the order they were last
    drawn from; full ones are forgotten, and beyond ``max_keys`` so is the stalest.
    """

    def __init__(self, amount, period, max_keys=MAX_KEYS, clock=time.monotonic):
        if amount <= 0 or period <= 0:
            raise ValueError("a budget needs an amount and a period above zero")
        self.amount = amount
        self.period = period
        self.rate = amount / period
        self.max_keys = max_keys
        self._clock = clock
        self._buckets = collections.OrderedDict()  # key -> [tokens, when counted]

    def __len__(self):
        return len(self._buckets)

    def _level(self, bucket, now):
        if bucket is None:
            return self.amount
        tokens, when = bucket
        return min(self.amount, tokens + (now - when) * self.rate)

    def wait(self, key, cost=1):
        """Seconds until ``key`` can spend ``cost``; 0 if it can now.

        A cost above the whole amount waits for a full bucket, so one large action is
        slowed, never refused for good.
        """
        cost = min(cost, self.amount)
        level = self._level(self._buckets.get(key), self._clock())
        # A hair of slack: after waiting exactly the time given, rounding must not
        # leave the bucket a billionth short.
        shortfall = cost - level
        return 0.0 if shortfall <= 1e-9 else shortfall / self.rate

    def take(self, key, cost=1):
        """Spend ``cost`` (call ``wait`` first: the level may go below zero)."""
        now = self._clock()
        cost = min(cost, self.amount)
        level = self._level(self._buckets.get(key), now)
        self._buckets[key] = [level - cost, now]
        self._buckets.move_to_end(key)
        self._forget(now)

    def _forget(self, now):
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            full = self._level(bucket, now) >= self.amount
            if len(self._buckets) <= self.max_keys and not full:
                return
            del self._buckets[key]


class Limits:
    """Every budget of a box by name, from a ``--limits`` spec (see ``parse``)."""

    def __init__(self, spec="", clock=time.monotonic, max_keys=MAX_KEYS, at_once=AT_ONCE):
        self.spec = spec
        self._budgets = {
            name: TokenBuckets(amount, period, max_keys, clock)
            for name, (amount, period) in self.parse(spec).items()
        }
        # With every budget off, so are the turns: nothing of one person is limited.
        self.turns = Turns(at_once) if self._budgets else None

    def __len__(self):
        """Keys remembered over every budget: what the memory grows with."""
        return sum(len(buckets) for buckets in self._budgets.values())

    def charge(self, name, key, cost=1):
        """Spend ``cost`` of ``key``'s budget ``name``, or raise ``RateLimited``."""
        self.charge_all([(name, key, cost)])

    def charge_all(self, charges):
        """Spend every ``(name, key, cost)`` or, if any is short, none of them."""
        charges = [c for c in charges if c[0] in self._budgets and c[2] > 0]
        waits = [(self._budgets[name].wait(key, cost), name) for name, key, cost in charges]
        if not waits:
            return
        wait, name = max(waits)
        if wait > 0:
            raise RateLimited(name, wait)
        for name, key, cost in charges:
            self._budgets[name].take(key, cost)

    def describe(self):
        """Each budget as ``--limits`` writes it, ``off`` for those switched off."""
        return {
            name: (
                f"{format_amount(self._budgets[name].amount)}/"
                f"{format_period(self._budgets[name].period)}"
                if name in self._budgets
                else "off"
            )
            for name in DEFAULTS
        }

    @staticmethod
    def parse(spec):
        """``{name: (amount, period seconds)}`` from a spec such as
        ``"send=60/30s,signup=100/10m,typing=off"``.

        Names not given keep their defaults; ``off`` alone switches every budget off.
        An amount may end in ``k`` (thousands); a period in ``s``, ``m`` or ``h``
        (seconds if bare). Raises ValueError, saying what is wrong, on anything else.
        """
        spec = (spec or "").strip()
        if spec == "off":
            return {}
        budgets = dict(DEFAULTS)
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, equals, value = (s.strip() for s in item.partition("="))
            if name not in DEFAULTS:
                raise ValueError(
                    f"unknown limit {name!r}; the limits are {', '.join(DEFAULTS)}"
                )
            if not equals:
                raise ValueError(f"give {name} a value, e.g. {name}=off or {name}=10/1m")
            if value == "off":
                budgets.pop(name)
                continue
            match = SPEC_VALUE.match(value)
            if match is None:
                raise ValueError(
                    f"{name}={value}: write AMOUNT/PERIOD, e.g. 30/15s, 64k/1m or 40/10m"
                )
            amount = float(match["amount"]) * (1000 if match["k"] else 1)
            period = float(match["period"]) * UNITS[match["unit"] or "s"]
            if amount < 1 or period <= 0:
                raise ValueError(f"{name}={value}: amount and period must be above zero")
            budgets[name] = (amount, period)
        return budgets


SPEC_VALUE = re.compile(
    r"^(?P<amount>\d+(?:\.\d+)?)(?P<k>k)?/(?P<period>\d+(?:\.\d+)?)(?P<unit>[smh])?$"
)
UNITS = {"s": 1, "m": 60, "h": 3600}


def format_amount(amount):
    if amount >= 1000 and amount % 1000 == 0:
        return f"{amount / 1000:g}k"
    return f"{amount:g}"


def format_period(seconds):
    for unit in ("h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{seconds / UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"
