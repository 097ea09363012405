"""One member abusing the box at full speed while others chat: what the others feel.

    python bench/abuse.py                        # this checkout, default budgets
    python bench/abuse.py --repo /tmp/chatbox-old  # another checkout, for before/after

Thirty people chat in a room, twenty messages a second in all (each of them well within
the per-person budgets); every message is timed from its send to its receipt by each of
the 29 others. Meanwhile one account, with its own token, does everything a person
could overdo, all at once and as fast as the box answers: sends 4,000-character
messages into that room, sends typing notices there, subscribes again and again to a
chat of 500 messages from its start, creates chats, signs accounts up from one address,
and reads its chat list. Every loop stops at a count and at a time.

The abuser runs as a process of its own, so its busy loops do not delay the victims'
clocks; both are pinned to the generator's core, the server to the other.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psutil  # noqa: E402
from clients import TimedConnection  # noqa: E402
from harness import (  # noqa: E402
    GENERATOR_CORE,
    REPO,
    Server,
    load_average,
    machine,
    pin_generator,
    raise_fd_limit,
    run_scenario,
    save_results,
    wait_for_quiet_box,
)
from load import latency_summary, percentile, report  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

# The password harness.seed gives every seeded account.
SEEDED_PASSWORD = "bench-password-never-used"
# The abuser's HTTP requests come from this address, the victim's logins from another,
# so that per-address budgets and the login throttle see them apart, as on a LAN.
ABUSER_ADDRESS = "127.0.0.3"
VICTIM_ADDRESS = "127.0.0.4"
# The longest message the box takes.
LONG_TEXT = "x" * 4000
# Upper bounds on each abuse loop, whatever the time left: far above what the box lets
# through in a run, so the time is what ends them.
MAX_FRAMES = 2_000_000
MAX_REQUESTS = 200_000
# Time the abuser's process gets to start and open its sockets before it abuses.
SPAWN_SECONDS = 5.0
# Subscribes the abuser keeps unanswered at once: enough to keep the server busy, few
# enough that the replies it must read do not get it closed as a client too slow.
SUBSCRIBES_IN_FLIGHT = 4


class Counts(dict):
    def add(self, key, n=1):
        self[key] = self.get(key, 0) + n


async def open_socket(url, token, on_text, uri=None):
    """A /ws connection past its hello (and subscribed to ``uri``); frames go to
    ``on_text``."""
    conn = await connect(
        url + "/ws",
        additional_headers={"Authorization": f"Token {token}"},
        compression=None,
        proxy=None,
        ping_interval=None,
        open_timeout=30,
        close_timeout=2,
        max_queue=None,
        create_connection=TimedConnection,
    )
    hello = json.loads(await asyncio.wait_for(conn.recv(), 30))
    assert hello["type"] == "hello", hello
    if uri is not None:
        await conn.send(json.dumps({"type": "subscribe", "uri": uri}))
        while True:
            frame = json.loads(await asyncio.wait_for(conn.recv(), 30))
            if frame.get("type") == "subscribed":
                break
    conn.on_text = on_text
    return conn


async def keep_reading(conn):
    """Anything not taken by on_text (control frames, the close) still has to be read."""
    try:
        async for _ in conn:
            pass
    except ConnectionClosed:
        pass


# -- the abuser ------------------------------------------------------------------------


def tally_answers(counts, prefix):
    """An on_text that counts what comes back: acks, refusals, other errors, messages.

    Frames come as the bytes on the wire; looking for a few bytes in them costs far less
    than parsing every one.
    """

    def on_text(data, _now):
        if b'"code":"rate_limited"' in data:
            counts.add(f"{prefix}_rate_limited")
        elif data.startswith(b'{"type":"error"'):
            counts.add(f"{prefix}_other_errors")
        elif data.startswith(b'{"type":"ack"'):
            counts.add(f"{prefix}_acked")
        elif data.startswith(b'{"type":"subscribed"'):
            counts.add(f"{prefix}_subscribed")
        elif data.startswith(b'{"type":"reset"'):
            counts.add(f"{prefix}_resets")
        elif b'"type":"message"' in data:
            counts.add(f"{prefix}_messages_received")

    return on_text


async def flood_frames(
    url, token, counts, name, frames, until, uri=None, in_flight=None, start_at=0
):
    """Send ``frames()`` on one socket as fast as it takes them, reconnecting if closed.

    With ``in_flight``, at most that many frames wait for an answer (subscribes, whose
    answers are long); otherwise TCP is the only brake.
    """
    answered = Counts()
    tally = tally_answers(counts, name)

    def on_text(data, now):
        tally(data, now)
        if data.startswith((b'{"type":"subscribed"', b'{"type":"error"')):
            answered.add("n")

    sent = 0
    while time.monotonic() < until and sent < MAX_FRAMES:
        try:
            conn = await open_socket(url, token, on_text, uri)
        except (OSError, ConnectionClosed, TimeoutError):
            counts.add(f"{name}_connect_failures")
            await asyncio.sleep(0.1)
            continue
        reader = asyncio.ensure_future(keep_reading(conn))
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        try:
            while time.monotonic() < until and sent < MAX_FRAMES:
                if in_flight is not None and sent - answered.get("n", 0) >= in_flight:
                    await asyncio.sleep(0.0005)
                    continue
                await conn.send(frames(sent))
                sent += 1
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else "without_close"
            counts.add(f"{name}_closed_{code}")
        finally:
            reader.cancel()
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(conn.close(), 2)
    counts.add(f"{name}_sent", sent)


async def flood_requests(
    client, base, counts, name, request, until, workers, token=None, start_at=0
):
    """``workers`` loops of one HTTP request after another; counts answers by status."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    latencies = []
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"

    async def worker(offset):
        n = 0
        while time.monotonic() < until and n < MAX_REQUESTS:
            method, path, body = request(offset + n * workers)
            started = time.monotonic()
            response = await client.fetch(
                base + path,
                method=method,
                body=None if body is None else json.dumps(body),
                headers=headers,
                raise_error=False,
                network_interface=ABUSER_ADDRESS,
                request_timeout=60,
            )
            latencies.append(time.monotonic() - started)
            counts.add(f"{name}_{response.code}")
            n += 1

    await asyncio.gather(*(worker(i) for i in range(workers)))
    counts[f"{name}_mean_ms"] = round(1000 * sum(latencies) / max(1, len(latencies)), 1)


ABUSES = ("send", "typing", "replay", "new_chat", "signup", "chat_list")


async def abuse(
    http, url, token, victims_room, history_room, start_at, until, workers, kinds
):
    """Every abuse in ``kinds`` from ``start_at`` to ``until`` (monotonic clock, which
    every process on the machine shares); sockets are opened before ``start_at``."""
    import tornado.httpclient

    counts = Counts()
    stamp = os.getpid()
    client = tornado.httpclient.AsyncHTTPClient(
        force_instance=True, max_clients=4 * workers
    )
    text = json.dumps
    loops = dict(zip(ABUSES, (
        flood_frames(
            url, token, counts, "send",
            lambda n: text({"type": "send", "uri": victims_room,
                            "client_id": f"abuse-{stamp}-{n}", "text": LONG_TEXT}),
            until, start_at=start_at,
        ),
        flood_frames(
            url, token, counts, "typing",
            lambda n: text({"type": "typing", "uri": victims_room}),
            until, uri=victims_room, start_at=start_at,
        ),
        flood_frames(
            url, token, counts, "replay",
            lambda n: text({"type": "subscribe", "uri": history_room, "after": 0}),
            until, in_flight=SUBSCRIBES_IN_FLIGHT, start_at=start_at,
        ),
        flood_requests(client, http, counts, "new_chat",
                       lambda n: ("POST", "/api/chats/", {}),
                       until, workers, token, start_at),
        flood_requests(
            client, http, counts, "signup",
            lambda n: ("POST", "/auth/users/",
                       {"username": f"flood{stamp}x{n}", "password": "flood password"}),
            until, workers, start_at=start_at,
        ),
        flood_requests(client, http, counts, "chat_list",
                       lambda n: ("GET", "/api/chats/", None),
                       until, workers, token, start_at),
    ), strict=True))  # fmt: skip
    for kind, loop in loops.items():
        if kind not in kinds:
            loop.close()  # never started
    await asyncio.gather(*(loop for kind, loop in loops.items() if kind in kinds))
    client.close()
    return counts


def abuser_process(http, url, token, victims_room, history_room, start_at, until, workers,
                   kinds, out):  # fmt: skip
    os.sched_setaffinity(0, {GENERATOR_CORE})
    counts = asyncio.run(
        abuse(http, url, token, victims_room, history_room, start_at, until, workers, kinds)
    )
    out.put(dict(counts))


# -- the victims -------------------------------------------------------------------------


class Victims:
    """What the room's members saw during one phase: each message of the others timed."""

    def __init__(self):
        self.started_ns = time.monotonic_ns()
        self.latency_ns = []
        self.slow = []  # (seconds into the phase, ms) of deliveries over 50 ms
        self.ack_ns = []
        self.typing_frames = 0
        self.received = 0
        self.sent = 0
        self.errors = []

    def on_text(self, me, data, now):
        if b'"message":"v ' in data:
            _, sender, _, sent_ns = json.loads(data)["message"].split()
            if int(sender) != me:
                took = now - int(sent_ns)
                self.latency_ns.append(took)
                self.received += 1
                if took > 50e6 and len(self.slow) < 1000:
                    self.slow.append((round((int(sent_ns) - self.started_ns) / 1e9, 2),
                                      round(took / 1e6, 1)))  # fmt: skip
        elif data.startswith(b'{"type":"ack"'):
            frame = json.loads(data)
            self.ack_ns.append(now - int(frame["client_id"].split("-")[1]))
        elif b'"type":"typing"' in data:
            self.typing_frames += 1
        elif data.startswith(b'{"type":"error"') and len(self.errors) < 5:
            self.errors.append(data[:300].decode(errors="replace"))


async def victim_sends(conns, uri, victims, rate, seconds):
    """Open loop: ``rate`` messages a second in turn from each member, whatever the box
    is doing."""
    start = time.monotonic()
    total = int(rate * seconds)
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        me = n % len(conns)
        sent_ns = time.monotonic_ns()
        await conns[me].send(json.dumps({
            "type": "send", "uri": uri, "client_id": f"v{n}-{sent_ns}",
            "text": f"v {me} {n} {sent_ns}",
        }))  # fmt: skip
        victims.sent += 1


async def timed_calls(client, base, method, path, body, every, seconds, headers):
    """One request every ``every`` seconds; how long each took, in ms."""
    took = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        began = time.monotonic()
        response = await client.fetch(
            base + path, method=method, body=body, headers=headers, raise_error=False,
            network_interface=VICTIM_ADDRESS, request_timeout=60,
        )  # fmt: skip
        took.append((round((time.monotonic() - began) * 1000, 1), response.code))
        await asyncio.sleep(max(0.0, began + every - time.monotonic()))
    return took


async def measure(phase, args, server, meter, victims_room, conns, abuser=None):
    import tornado.httpclient

    victims = Phase.current = Victims()
    http = server.url.replace("ws://", "http://")
    client = tornado.httpclient.AsyncHTTPClient(force_instance=True, max_clients=4)
    victim, helper = server.people[0], server.people[1]
    # Logins are timed for one member, the chat list for another.
    login = json.dumps({"username": f"bench{helper.index}", "password": SEEDED_PASSWORD})
    start = meter.mark()
    abuser_cpu = psutil.Process(abuser.pid).cpu_times() if abuser else None
    load = load_average()
    logins, lists, _ = await asyncio.gather(
        timed_calls(client, http, "POST", "/auth/token/create/", login, 2.0, args.seconds,
                    {"Content-Type": "application/json"}),
        timed_calls(client, http, "GET", "/api/chats/", None, 1.0, args.seconds,
                    {"Authorization": f"Token {victim.token}"}),
        victim_sends(conns, victims_room, victims, args.rate, args.seconds),
    )  # fmt: skip
    costs = meter.window(start)
    if abuser is not None:
        try:
            end = psutil.Process(abuser.pid).cpu_times()
            costs["abuser_cpu_pct"] = round(
                100 * (end.user + end.system - abuser_cpu.user - abuser_cpu.system)
                / costs["seconds"], 1)  # fmt: skip
        except psutil.Error:
            costs["abuser_cpu_pct"] = None
    expected = victims.sent * (len(conns) - 1)
    deadline = time.monotonic() + 10
    while victims.received < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    client.close()
    login_ms = [t for t, _ in logins]
    list_ms = [t for t, _ in lists]
    return {
        "phase": phase,
        "victim_messages_sent": victims.sent,
        "deliveries": victims.received,
        "deliveries_missing_after_10s": expected - victims.received,
        **latency_summary(victims.latency_ns, "victim_send_to_receive"),
        **latency_summary(victims.ack_ns, "victim_ack"),
        # When the slow deliveries were sent: one burst, or all along.
        "slow_deliveries_sent_at_s": sorted({t for t, _ in victims.slow}),
        "typing_frames_per_member": round(victims.typing_frames / len(conns), 1),
        "victim_login_ms": {"p50": percentile(login_ms, 50), "max": max(login_ms),
                            "codes": sorted({c for _, c in logins})},
        "victim_chat_list_ms": {"p50": percentile(list_ms, 50), "max": max(list_ms)},
        "victim_errors": victims.errors,
        **costs,
        "load_avg_before": load,
    }  # fmt: skip


class Phase:
    """The phase being measured, for the sockets' frame handlers to report to."""

    current = None


def prepare(server, history):
    """A chat of ``history`` messages that only the abuser is in, to replay from 0."""
    import models
    import schema

    schema.init_db(server.db)
    abuser = models.User.get_by_id(server.people[-1].user_id)
    with models.db.atomic():
        room = models.Room.create(uri="history", owner=abuser, is_private=False)
        models.Membership.create(user=abuser, room=room)
        models.Message.insert_many(
            [{"room": room, "author": abuser, "text": f"old {n}"} for n in range(history)]
        ).execute()
    models.db.close()
    return room.uri


async def scenario(args, server, meter):
    members, abuser = server.people[:-1], server.people[-1]
    room = members[0].uri
    Phase.current = Victims()

    def handler(me):
        return lambda data, now: Phase.current.on_text(me, data, now)

    conns = [await open_socket(server.url, p.token, handler(i), room)
             for i, p in enumerate(members)]  # fmt: skip
    readers = [asyncio.ensure_future(keep_reading(c)) for c in conns]
    report({"connected": len(conns)})
    await asyncio.sleep(2)
    results = [await measure("no abuse", args, server, meter, room, conns)]
    report(results[-1])
    await asyncio.sleep(2)

    http = server.url.replace("ws://", "http://")
    # The abuser's process starts (Python, imports, its sockets) well before it abuses,
    # so that its start-up does not delay the members' clocks on the shared core; the
    # timing starts a moment before the abuse, to catch its first bursts whole.
    start_at = time.monotonic() + SPAWN_SECONDS
    until = start_at + args.seconds
    out = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=abuser_process,
        args=(http, server.url, abuser.token, room, args.history_room, start_at, until,
              args.workers, args.abuse, out),
    )  # fmt: skip
    child.start()
    await asyncio.sleep(max(0.0, start_at - args.lead - time.monotonic()))
    during = await measure("one member abusing", args, server, meter, room, conns,
                           abuser=child)  # fmt: skip
    try:
        during["abuser"] = out.get(timeout=args.seconds + 60)
    except Exception as error:  # noqa: BLE001 (a result is worth more than a reason)
        during["abuser"] = {"lost": repr(error)}
    child.join(10)
    if child.is_alive():
        child.kill()
    during["server_429s"] = server.log_count(" 429 ")
    during["server_closed_sockets"] = server.log_count("closing a socket")
    report(during)
    results.append(during)
    for reader in readers:
        reader.cancel()
    for conn in conns:
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(conn.close(), 2)
    return results


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of each phase")
    parser.add_argument(
        "--lead",
        type=float,
        default=0.5,
        help="seconds the second phase is timed before the abuse starts",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=30,
        help="people chatting in the room the abuser floods",
    )
    parser.add_argument("--rate", type=float, default=20, help="victim messages a second")
    parser.add_argument(
        "--history",
        type=int,
        default=500,
        help="messages in the chat the abuser replays from its start",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="concurrent HTTP loops per kind of abusive request",
    )
    parser.add_argument(
        "--abuse",
        type=lambda s: s.split(","),
        default=list(ABUSES),
        help=f"what the abuser does, some of {','.join(ABUSES)}",
    )
    parser.add_argument("--repo", default=REPO, help="the checkout whose chatbox.py runs")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="an option for the server, e.g. --server-arg=--limits=off",
    )
    parser.add_argument("--keep-log", metavar="FILE", help="keep the server's log here")
    parser.add_argument("--label", default="", help="added to the results file's name")
    parser.add_argument("--wait-quiet", type=float, default=60)
    parser.add_argument(
        "--deadline", type=float, default=600, help="hard limit for the run, seconds"
    )
    return parser.parse_args(argv)  # fmt: skip


def main(argv=None):
    args = parse(argv)
    cores, _ = pin_generator()
    raise_fd_limit()
    busy = wait_for_quiet_box(args.wait_quiet) if args.wait_quiet else None
    # The members' room, with the abuser a member of it too; the abuser is seeded last.
    server = Server([0] * (args.members + 1), repo=os.path.abspath(args.repo),
                    args=args.server_arg)  # fmt: skip
    args.history_room = prepare(server, args.history)
    header = {
        "scenario": "abuse",
        "argv": sys.argv,
        "machine": machine(),
        "server_command": " ".join(server.command),
        "server_repo": server.repo,
        "generator_cores": cores,
        "load_avg": load_average(),
        "cores_busy_pct_at_start": busy,
    }
    report(header)
    results, log_tail = run_scenario(
        server, lambda meter: scenario(args, server, meter), args.deadline, args.keep_log
    )
    summary = {"header": header, "results": results, "server_log_tail": log_tail}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    label = f"-{args.label}" if args.label else ""
    save_results(summary, f"abuse-{stamp}{label}.json")
    for result in results:
        print(
            f"{result['phase']}: victim send->receive p50 "
            f"{result['victim_send_to_receive_p50_ms']} ms, p99 "
            f"{result['victim_send_to_receive_p99_ms']} ms, max "
            f"{result['victim_send_to_receive_max_ms']} ms; login p50 "
            f"{result['victim_login_ms']['p50']} ms; server CPU "
            f"{result['server_cpu_pct']} %, generator CPU {result['generator_cpu_pct']} %"
            + (f", abuser CPU {result['abuser_cpu_pct']} %" if "abuser_cpu_pct" in result
               else ""),
            flush=True,
        )  # fmt: skip
    return summary


if __name__ == "__main__":
    main()
