"""One chatbox process on a shared database and a bus, for tests of several processes.

``python tests/busnode.py DB PORT BUS SECRET``: serves the app of ``chatbox.make_app``
over the SQLite file DB on loopback PORT, joined to the bus BUS (as ``--bus`` takes
it), and prints "ready" once it listens and hears the bus.
"""

import asyncio
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import bus  # noqa: E402
import models  # noqa: E402
from chatbox import make_app  # noqa: E402
from handlers.budget import Limits  # noqa: E402
from schema import init_db  # noqa: E402


async def serve(path, port, bus_option, secret):
    init_db(path)
    models.BCRYPT_ROUNDS = 4
    app = make_app(secret, limits=Limits("off"), bus=bus.from_option(bus_option))
    app.messenger.presence.delay = 0.02
    await app.messenger.start()
    app.listen(port, "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    path, port, bus_option, secret = sys.argv[1:5]
    asyncio.run(serve(path, int(port), bus_option, secret))
