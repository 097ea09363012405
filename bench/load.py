"""chatbox load scenarios: real websocket clients against a real chatbox process.

    python bench/load.py s1            # classroom: 500 clients, 25 rooms, 1 msg / 10 s each
    python bench/load.py s2            # ceiling: step the message rate up until p99 > 100 ms
    python bench/load.py s3            # big room: grow one room by 500 until p95 > 500 ms
    python bench/load.py s4            # idle connections: memory each; a client that stops reading

``--quick`` runs a small version of each. ``--processes N --database=postgres
--bus=postgres|redis`` runs them against N chatbox processes on one PostgreSQL database
with a bus (docs/scale-out.md), PostgreSQL and Redis started by the bench; clients are
spread over the processes. See bench/README.md and bench/RESULTS.md.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clients import Run, drained_to_eof, open_all, stuck_reader  # noqa: E402
from harness import (  # noqa: E402
    Cluster,
    Server,
    load_average,
    machine,
    pin_generator,
    raise_fd_limit,
    run_scenario,
    save_results,
    wait_for_quiet_box,
)

# A generator busier than this is measuring itself, not the server.
GENERATOR_CPU_LIMIT = 90.0


def ms(ns):
    return round(ns / 1e6, 2)


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency_summary(values, prefix):
    return {
        f"{prefix}_p50_ms": ms(percentile(values, 50) or 0),
        f"{prefix}_p95_ms": ms(percentile(values, 95) or 0),
        f"{prefix}_p99_ms": ms(percentile(values, 99) or 0),
        f"{prefix}_max_ms": ms(max(values) if values else 0),
    }


def report(line):
    print(json.dumps(line), flush=True)


def interleaved(clients):
    """Clients ordered so consecutive senders are in different rooms."""
    order = [
        (position, client.person.room, client)
        for members in by_room(clients).values()
        for position, client in enumerate(members)
    ]
    return [client for _, _, client in sorted(order, key=lambda t: t[:2])]


def by_room(clients):
    rooms = {}
    for client in clients:
        rooms.setdefault(client.person.room, []).append(client)
    return rooms


def missing(rooms):
    return sum(c.missing_from(members) for members in rooms.values() for c in members)


async def paced(senders, rate, seconds, padding=""):
    """Open loop: ``rate`` messages a second in all, round-robin over ``senders``.

    Sends go out on schedule whether or not earlier ones were answered, so a slow
    server shows up as latency rather than as a politely slower generator.
    """
    total = int(rate * seconds)
    start = time.monotonic()
    hard_stop = start + seconds * 1.5 + 5
    sent = 0
    while sent < total and time.monotonic() < hard_stop:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            await senders[sent % len(senders)].say(padding)
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - time.monotonic()))
    return sent, time.monotonic() - start


async def settle(rooms, seconds):
    """Wait (bounded) until every receiver has every message sent so far."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if missing(rooms) == 0:
            return
        await asyncio.sleep(0.2)


async def measure(server, run, meter, rooms, senders, rate, seconds, padding="", drain=5.0):
    """One steady-rate window: latency, throughput, loss, and what it cost."""
    lost_before = run.gaps + missing(rooms)
    dup_before = run.duplicates
    load = load_average()
    counters = getattr(server, "counters", None)
    before = counters() if counters else {}
    window = run.open_window()
    start = meter.mark()
    sent, took = await paced(senders, rate, seconds, padding)
    costs = meter.window(start)
    # Shared servers' work in the window (on PostgreSQL): transactions, reads
    # included, and notices on a Redis bus.
    after = counters() if counters else {}
    rates = {f"{k}_per_s": round((after[k] - before[k]) / took, 1) for k in after}
    await settle(rooms, drain)
    run.close_window()
    lost = run.gaps + missing(rooms) - lost_before
    result = {
        "target_rate": rate,
        "inbound_per_s": round(sent / took, 1),
        "delivered_per_s": round(len(window.latency_ns) / took, 1),
        "sent": sent,
        "delivered": len(window.latency_ns),
        "lost": lost,
        "duplicates": run.duplicates - dup_before,
        "send_failures": window.send_failures,
        "error_frames": window.errors,
        **latency_summary(window.latency_ns, "fanout"),
        **(latency_summary(window.cross_ns, "cross") if run.process_of else {}),
        **latency_summary(window.ack_ns, "ack"),
        **costs,
        **rates,
        "load_avg_before": load,
        "load_avg_after": load_average(),
    }
    result["valid"] = result["generator_cpu_pct"] < GENERATOR_CPU_LIMIT
    return result


async def start_clients(server, people, run, kind, meter):
    started = time.monotonic()
    if isinstance(server, Cluster):
        run.process_of = server.process_of
    clients = await open_all(people, run, server.url_for, kind)
    report(
        {
            "connected": len(clients),
            "seconds": round(time.monotonic() - started, 1),
            "server_rss_mib": round(meter.mark()[3] / 2**20, 1),
        }
    )
    return clients


async def s1(args, server, meter):
    """Classroom: everyone chats gently; nothing may be lost, p99 well under 50 ms."""
    run = Run()
    clients = await start_clients(server, server.people, run, args.socket, meter)
    await asyncio.sleep(3)
    rooms = by_room(clients)
    senders = interleaved(clients)
    rate = len(clients) / args.every
    result = await measure(server, run, meter, rooms, senders, rate, args.seconds)
    result.update(clients=len(clients), rooms=len(rooms), every_s=args.every)
    return [result]


async def s2(args, server, meter):
    """Ceiling: raise the inbound rate step by step until p99 > 100 ms or a loss."""
    run = Run()
    clients = await start_clients(server, server.people, run, args.socket, meter)
    await asyncio.sleep(3)
    rooms = by_room(clients)
    senders = interleaved(clients)
    steps = []
    for rate in args.rates:
        result = await measure(server, run, meter, rooms, senders, rate, args.seconds)
        kept_up = result["inbound_per_s"] >= 0.95 * rate
        result["passed"] = (
            result["fanout_p99_ms"] <= 100
            and result["lost"] == 0
            and result["duplicates"] == 0
            and result["error_frames"] == 0
            and kept_up
        )
        report(result)
        steps.append(result)
        if not result["passed"] or not result["valid"]:
            break
        await asyncio.sleep(2)
    passing = [s for s in steps if s["passed"] and s["valid"]]
    best = passing[-1] if passing else None
    ceiling = {
        "durability": args.durability,
        "ceiling_inbound_per_s": best and best["inbound_per_s"],
        "ceiling_delivered_per_s": best and best["delivered_per_s"],
        "stopped_by": None
        if not steps or steps[-1]["passed"]
        else {
            k: steps[-1][k]
            for k in (
                "target_rate",
                "fanout_p99_ms",
                "lost",
                "valid",
                "inbound_per_s",
                "generator_cpu_pct",
            )
        },
    }
    return steps + [ceiling]


async def s3(args, server, meter):
    """Big room: send-to-all time of 4 simultaneous messages as the room grows."""
    run = Run()
    arrivals = {}  # (sender, seq) -> [receivers so far, sent_ns, last arrival ns]

    def on_message(sender, seq, now):
        entry = arrivals.get((sender, seq))
        if entry is not None:
            entry[0] += 1
            entry[2] = now
            entry[3] = entry[3] or now

    run.on_message = on_message
    clients, steps = [], []
    people = server.people
    while len(clients) < len(people):
        batch = people[len(clients) : len(clients) + args.step]
        try:
            joined = await start_clients(server, batch, run, args.socket, meter)
        except (TimeoutError, RuntimeError, OSError) as error:
            steps.append(
                {"clients": len(clients), "stopped_by": f"connect failed: {error}"}
            )
            break
        # Newcomers start counting each sender from its messages sent after they joined.
        for client in joined:
            client.last = {s.index: s.seq for s in clients}
        clients += joined
        await asyncio.sleep(2)
        # Let the join traffic (presence frames on /ws) die down before timing.
        await quiet(meter)
        n = len(clients)
        samples, firsts, incomplete, gaps_before = [], [], 0, run.gaps
        busy = [0.0, 0.0, 0.0]  # wall, server CPU, generator CPU while a burst is out
        start = meter.mark()
        load = load_average()
        for _ in range(args.rounds):
            senders = random.sample(clients, 4)
            keys = [(s.index, s.seq + 1) for s in senders]
            burst = meter.mark()
            now = time.monotonic_ns()
            for key in keys:
                arrivals[key] = [0, now, 0, 0]
            await asyncio.gather(*(s.say() for s in senders))
            deadline = time.monotonic() + args.round_timeout
            while time.monotonic() < deadline and any(arrivals[k][0] < n for k in keys):
                await asyncio.sleep(0.002)
            done = meter.mark()
            for i in range(3):
                busy[i] += done[i] - burst[i]
            for key in keys:
                count, sent_ns, last_ns, first_ns = arrivals.pop(key)
                if first_ns:
                    firsts.append(first_ns - sent_ns)
                if count < n:
                    incomplete += 1
                    samples.append(args.round_timeout * 1e9)
                else:
                    samples.append(last_ns - sent_ns)
            await asyncio.sleep(0.3)
        costs = meter.window(start)
        result = {
            "clients": n,
            "messages_timed": len(samples),
            "incomplete": incomplete,
            "lost": incomplete * n + run.gaps - gaps_before,
            "duplicates": run.duplicates,
            "closed_by_server": run.closed,
            **latency_summary(samples, "send_to_all"),
            **latency_summary(firsts, "first_receiver"),
            "server_busy_in_bursts_pct": round(100 * busy[1] / busy[0], 1),
            "generator_busy_in_bursts_pct": round(100 * busy[2] / busy[0], 1),
            **costs,
            "load_avg": load,
        }
        result["passed"] = (
            result["send_to_all_p95_ms"] < 500
            and not incomplete
            and not result["lost"]
            and not run.closed
        )
        # The time to reach the last client is the generator's if it, not the
        # server, was the one flat out while the burst was in flight.
        result["valid"] = result["generator_busy_in_bursts_pct"] < GENERATOR_CPU_LIMIT
        report(result)
        steps.append(result)
        if not result["passed"]:
            break
    passing = [s for s in steps if s.get("passed")]
    return steps + [
        {
            "most_clients_p95_under_500ms": passing[-1]["clients"] if passing else 0,
            "socket": args.socket,
        }
    ]


async def quiet(meter, seconds=30, threshold=10.0):
    """Wait (bounded) until the server's CPU use drops to idle."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = meter.mark()
        await asyncio.sleep(1)
        if meter.window(start)["server_cpu_pct"] < threshold:
            return


async def s4(args, server, meter):
    """Idle connections: memory per connection; then one client that stops reading."""
    run = Run()
    stuck_person = server.people[-1]  # an extra member of room 0
    people = server.people[:-1]
    await asyncio.sleep(2)
    before = meter.mark()[3]
    clients = await start_clients(server, people, run, "ws", meter)
    await asyncio.sleep(5)
    await quiet(meter)
    after = meter.mark()[3]
    idle = {
        "idle_connections": len(clients),
        "server_rss_before_mib": round(before / 2**20, 1),
        "server_rss_after_mib": round(after / 2**20, 1),
        "bytes_per_connection": round((after - before) / len(clients)),
        "load_avg": load_average(),
    }
    report(idle)
    # Chat in room 0 while everyone else idles.
    rooms = {0: [c for c in clients if c.person.room == 0]}
    chatters = rooms[0][: args.chatters]
    padding = " " + "x" * args.padding
    baseline = await measure(
        server, run, meter, rooms, chatters, args.rate, args.seconds, padding
    )
    baseline["phase"] = "chat without a stuck reader"
    report(baseline)
    sock = stuck_reader(
        server.port_for(stuck_person.index), stuck_person, len(server.people)
    )
    closes_before = server.log_count("stopped reading")
    # Loopback socket buffers soak up a few MiB before the server's own queue grows, so
    # this phase runs long enough to push well past them and the 1 MiB limit.
    stuck = await measure(
        server, run, meter, rooms, chatters, args.rate, args.stuck_seconds, padding
    )
    stuck["phase"] = "chat with one client that never reads"
    closed_by_server = server.log_count("stopped reading") - closes_before
    eof, unread = drained_to_eof(sock)
    sock.close()
    stuck.update(
        stuck_reader_closed_by_server=closed_by_server > 0,
        stuck_socket_saw_eof=eof,
        stuck_socket_unread_bytes=unread,
    )
    report(stuck)
    return [idle, baseline, stuck]


SCENARIOS = {"s1": s1, "s2": s2, "s3": s3, "s4": s4}


def room_plan(args):
    """The room of each seeded user, in order."""
    if args.scenario == "s3":
        return [0] * args.clients
    plan = [i // args.room_size for i in range(args.clients)]
    if args.scenario == "s4":
        # The stuck reader: one more member of room 0, seeded last.
        plan.append(0)
    return plan


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="a small, short variant")
    parser.add_argument("--durability", choices=["full", "normal"], default="full")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite (one process); postgres (a PostgreSQL started by the bench); or "
        "the postgresql:// URL of an empty database",
    )
    parser.add_argument(
        "--bus",
        default="postgres",
        help="with PostgreSQL: postgres (LISTEN/NOTIFY), redis (a Redis started by "
        "the bench), a redis:// URL, or none (one process)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="chatbox processes on PostgreSQL; clients go to them in turn",
    )
    parser.add_argument(
        "--socket",
        choices=["ws", "room"],
        default="ws",
        help="ws: the web app's /ws; room: the seed's /ws/chat/<room>/",
    )
    parser.add_argument("--clients", type=int)
    parser.add_argument("--room-size", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument(
        "--every", type=float, default=10.0, help="s1: seconds between a client's messages"
    )
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")])
    parser.add_argument("--step", type=int, default=500, help="s3: clients added per step")
    parser.add_argument(
        "--rounds", type=int, default=10, help="s3: rounds of 4 sends per step"
    )
    parser.add_argument("--round-timeout", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="s4: chat rate in room 0")
    parser.add_argument("--chatters", type=int, default=10)
    parser.add_argument(
        "--stuck-seconds",
        type=float,
        default=40,
        help="s4: how long to chat with the stuck reader present",
    )
    parser.add_argument(
        "--padding", type=int, default=2000, help="s4: extra characters per message"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        help="wait up to this many seconds for other work to calm down first",
    )
    parser.add_argument(
        "--profile-server",
        metavar="FILE",
        help="run the server under cProfile (event-loop thread) into FILE",
    )
    parser.add_argument(
        "--gc-log",
        metavar="FILE",
        type=os.path.abspath,
        help="log the server's garbage-collection pauses into FILE (bench/gclog.py)",
    )
    parser.add_argument(
        "--deadline", type=float, default=1800, help="hard limit for the run, seconds"
    )
    args = parser.parse_args(argv)
    defaults = {
        "s1": dict(clients=500, room_size=20, seconds=60),
        "s2": dict(
            clients=1000,
            room_size=10,
            seconds=15,
            rates=[50, 100, 150, 200, 250, 300, 350, 400, 500, 600, 800, 1000, 1200, 1600],
        ),
        "s3": dict(clients=20000, room_size=0, seconds=0),
        "s4": dict(clients=19500, room_size=20, seconds=20),
    }[args.scenario]
    if args.quick:
        defaults.update(
            {
                "s1": dict(clients=100, seconds=15),
                "s2": dict(clients=200, seconds=5, rates=[50, 100, 200]),
                "s3": dict(clients=1000),
                "s4": dict(clients=1000, seconds=8),
            }[args.scenario]
        )
        if args.scenario == "s3":
            args.rounds = min(args.rounds, 5)
    if args.quick and args.scenario == "s4":
        args.stuck_seconds = min(args.stuck_seconds, 25)
    if args.database == "sqlite" and args.processes != 1:
        parser.error("several processes need --database=postgres (or a URL)")
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv=None):
    args = parse(argv)
    cores, all_cores = pin_generator()
    fd_limit = raise_fd_limit()
    busy = wait_for_quiet_box(args.wait_quiet) if args.wait_quiet else None
    # These scenarios measure capacity: a client here sends faster than the per-person
    # budgets let anyone (bench/abuse.py measures the budgets at their defaults).
    if args.database == "sqlite":
        server = Server(room_plan(args), args.durability, args.profile_server,
                        args.gc_log, args=["--limits=off"])  # fmt: skip
    else:
        server = Cluster(room_plan(args), args.processes, args.database, args.bus,
                         args=["--limits=off"])  # fmt: skip
    header = {
        "scenario": args.scenario,
        "argv": sys.argv,
        "machine": machine(),
        "server_command": " ".join(server.command),
        "database": "sqlite" if args.database == "sqlite" else "postgresql",
        "bus": None if args.database == "sqlite" else args.bus,
        "processes": args.processes,
        "generator_cores": cores,
        "generator_fd_limit": fd_limit,
        "seed_seconds": round(server.seed_seconds, 1),
        "load_avg": load_average(),
        "cores_busy_pct_at_start": busy,
    }
    report(header)
    results, log_tail = run_scenario(
        server,
        lambda meter: SCENARIOS[args.scenario](args, server, meter),
        args.deadline,
    )
    summary = {"header": header, "results": results, "server_log_tail": log_tail}
    report(results[-1])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    quick = "-quick" if args.quick else ""
    where = (
        ""
        if args.database == "sqlite"
        else f"-pg{args.processes}-{args.bus.split(':', 1)[0]}"
    )
    save_results(
        summary,
        f"{args.scenario}{quick}-{args.durability}-{args.socket}{where}-{stamp}.json",
    )
    return summary


if __name__ == "__main__":
    main()
