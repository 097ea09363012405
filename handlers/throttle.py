"""Counting recent events per key, in memory that stays bounded whatever the keys."""

import array
import collections
import time


class RecentEvents:
    """Events per key within the last ``window`` seconds, against a limit of ``limit``.

    Callers ask ``wait`` before each ``add``, so no key ever holds more than ``limit``
    times. Keys are kept in the order of their latest event: the stalest are forgotten
    once their newest event leaves the window, and beyond ``max_keys`` the stalest is
    forgotten even while it still counts. That bounds memory however many keys someone
    invents, and a key under attack, touched on every attempt, is the last to go.
    """

    def __init__(self, limit, window, max_keys, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        # key -> times, oldest first; an array of doubles costs 8 bytes a time where a
        # list of floats costs 32.
        self._times = collections.OrderedDict()

    def __len__(self):
        return len(self._times)

    def count(self, key):
        return len(self._live(key))

    def wait(self, key):
        """Seconds until ``key`` is below its limit again; 0 if it is now."""
        times = self._live(key)
        if len(times) < self.limit:
            return 0.0
        # The time whose expiry brings the count back under the limit.
        return times[len(times) - self.limit] + self.window - self._clock()

    def add(self, key, when):
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = array.array("d")
        times.append(when)
        self._times.move_to_end(key)
        self._forget_stale(when)

    def discard(self, key, when):
        """Take back one event added at ``when``, if it is still remembered."""
        times = self._times.get(key)
        if times is None or when not in times:
            return
        times.remove(when)
        if not times:
            del self._times[key]

    def clear(self, key):
        self._times.pop(key, None)

    def _live(self, key):
        times = self._times.get(key)
        if times is None:
            return ()
        horizon = self._clock() - self.window
        expired = 0
        while expired < len(times) and times[expired] <= horizon:
            expired += 1
        if expired == len(times):
            del self._times[key]
            return ()
        del times[:expired]
        return times

    def _forget_stale(self, now):
        horizon = now - self.window
        while self._times:
            key, times = next(iter(self._times.items()))
            if len(self._times) <= self.max_keys and times[-1] > horizon:
                return
            del self._times[key]
