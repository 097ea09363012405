"""Keeping full garbage collections short when thousands of connections stay open.

Each open websocket keeps a few hundred tracked objects alive (handler, stream, buffers,
futures). CPython's full collection walks every tracked object, so with ~20,000 idle
connections each one stalled the server for over a second, holding every message in
flight (bench/RESULTS.md, S4). Almost all of those objects are long-lived and never
garbage.

``install()`` freezes what exists at start-up and then, after every full collection,
the survivors: frozen objects are left out of later collections, so a full collection
only walks what arrived since the previous one. Frozen objects that later become
unreachable are still freed by reference counting; only those caught in reference cycles
wait. So that such garbage cannot pile up, every ``THAW_SECONDS`` everything is thawed
and the next full collection walks (and frees) all of it once, then freezing resumes.
"""

import gc
import time

# One long pause an hour at most, instead of one every few seconds under load; cyclic
# garbage among long-lived objects (closed connections) waits at most that long.
THAW_SECONDS = 3600


class Freezer:
    def __init__(self, thaw_seconds=THAW_SECONDS, clock=time.monotonic):
        self.thaw_seconds = thaw_seconds
        self.clock = clock
        self.next_thaw = clock() + thaw_seconds

    def after_collection(self, phase, info):
        if phase != "stop" or info["generation"] != 2:
            return
        now = self.clock()
        if now >= self.next_thaw:
            # Left unfrozen, so the next full collection walks everything once.
            gc.unfreeze()
            self.next_thaw = now + self.thaw_seconds
            return
        gc.freeze()


def install(thaw_seconds=THAW_SECONDS):
    """Call once, after start-up work and before serving; returns the Freezer."""
    gc.collect()
    gc.freeze()
    freezer = Freezer(thaw_seconds)
    gc.callbacks.append(freezer.after_collection)
    return freezer
