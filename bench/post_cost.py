"""CPU cost of storing one message, without the network: ``Message.post`` in writer-sized
transactions on a scratch database. Run it from the checkout to measure, pinned to one
core (``taskset -c 1 python bench/post_cost.py``); it prints the best of five trials.
``--without-index`` drops the search index's triggers first, to show what they cost."""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import schema  # noqa: E402
from models import Message, Room, User, db  # noqa: E402

ROOMS, PEOPLE, PER_TRANSACTION, TRANSACTIONS, TRIALS = 100, 10, 50, 40, 5


def main():
    with tempfile.TemporaryDirectory() as folder:
        schema.init_db(os.path.join(folder, "cost.db"))
        if "--without-index" in sys.argv:
            for name in ("insert", "delete", "update"):
                db.execute_sql(f'DROP TRIGGER "message_fts_{name}"')
        people = [User.register(f"u{i}", "not-a-real-hash") for i in range(PEOPLE)]
        rooms = [Room.start_private(people[0]) for _ in range(ROOMS)]
        posts = PER_TRANSACTION * TRANSACTIONS
        best, n = None, 0
        for _ in range(TRIALS):
            started = time.perf_counter()
            for _ in range(TRANSACTIONS):
                with db.atomic():
                    for _ in range(PER_TRANSACTION):
                        n += 1
                        Message.post(
                            rooms[n % ROOMS],
                            people[n % PEOPLE],
                            f"message {n} " + "x" * 40,
                            f"c{n}",
                        )
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        print(f"{best / posts * 1e6:.1f} µs per message ({posts} posts, best of {TRIALS})")
        db.close()


if __name__ == "__main__":
    main()
