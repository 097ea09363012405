"""Profile the server while it fans messages out to many UI sockets (not a test).

    python bench/profile_fanout.py [--sockets 200] [--messages 2000] [--plain]

Starts ``chatbox.py`` under cProfile (or, with --plain, without it, to measure its CPU
time undisturbed) on a loopback port with a temporary database,
opens the sockets (a few tabs per user, all subscribed to one room), posts the messages
from ten sender sockets, waits until every socket has every message, then stops the
server with SIGTERM and prints where its time went. Bounded in count and time.
"""

import argparse
import asyncio
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import tornado.httpclient
import tornado.websocket

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from boxes import free_port  # noqa: E402
from conftest import API  # noqa: E402

TABS_PER_USER = 4
SENDERS = 10
DEADLINE = 300  # seconds for the whole run, whatever the machine


async def wait_healthy(url, process):
    client = tornado.httpclient.AsyncHTTPClient()
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("chatbox exited during start-up")
        try:
            if (await client.fetch(url + "/healthz", raise_error=False)).code == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("chatbox did not start")


async def listener(person, uri, expected, done):
    ws = await person.socket("/ws")
    await ws.read_message()  # hello
    ws.write_message(json.dumps({"type": "subscribe", "uri": uri}))
    while json.loads(await ws.read_message())["type"] != "subscribed":
        pass
    done["ready"] += 1
    count = 0
    while count < expected:
        raw = await read_or_fail(ws)
        if raw.startswith('{"id"'):  # a message frame; no need to parse it all
            count += 1
    done["finished"] += 1


async def read_or_fail(ws):
    raw = await ws.read_message()
    if raw is None:
        raise SystemExit(f"a socket was closed: {ws.close_code} {ws.close_reason}")
    return raw


async def sender(person, uri, numbers):
    """Sends one message at a time, the next after the ack: ten senders then keep the
    server busy without outrunning what the listeners (one Python process) can read."""
    ws = await person.socket("/ws")
    await ws.read_message()
    for n in numbers:
        ws.write_message(
            json.dumps(
                {
                    "type": "send",
                    "uri": uri,
                    "client_id": f"p-{n}",
                    "text": f"message {n} " + "x" * 80,
                }
            )
        )
        while '"type":"ack"' not in await read_or_fail(ws):
            pass


def cpu_seconds(pid):
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def drive(url, sockets, messages, pid):
    api = API(url)
    users = [await api.signup(f"user{n}") for n in range(max(1, sockets // TABS_PER_USER))]
    uri = await users[0].start_chat("fanout")
    for person in users[1:]:
        await person.join(uri)
    done = {"ready": 0, "finished": 0}
    listeners = [
        asyncio.ensure_future(listener(users[n % len(users)], uri, messages, done))
        for n in range(sockets)
    ]
    while done["ready"] < sockets:
        await asyncio.sleep(0.05)
    started = time.perf_counter()
    cpu_before = cpu_seconds(pid)
    await asyncio.gather(
        *(sender(users[0], uri, range(s, messages, SENDERS)) for s in range(SENDERS))
    )
    await asyncio.gather(*listeners)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    print(
        f"{messages} messages to {sockets} sockets: {elapsed:.2f} s wall, "
        f"{messages * sockets / elapsed:,.0f} deliveries/s; server CPU {cpu:.2f} s, "
        f"{cpu / (messages * sockets) * 1e6:.1f} µs per delivery"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--plain", action="store_true", help="no profiler: CPU time only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        profile = os.path.join(tmp, "server.prof")
        profiler = [] if args.plain else ["-m", "cProfile", "-o", profile]
        server = subprocess.Popen(
            [
                sys.executable,
                *profiler,
                os.path.join(ROOT, "chatbox.py"),
                f"--port={port}",
                "--address=127.0.0.1",
                f"--db={os.path.join(tmp, 'p.db')}",
                "--logging=warning",
            ],
            cwd=ROOT,
        )
        try:

            async def run():
                await wait_healthy(url, server)
                await asyncio.wait_for(
                    drive(url, args.sockets, args.messages, server.pid), DEADLINE
                )

            asyncio.run(run())
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
        if args.plain:
            return
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.print_callers("frames.py.*encode|write_message|utf8")


if __name__ == "__main__":
    main()
