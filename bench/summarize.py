"""Print a run saved in bench/results/ as Markdown tables (for RESULTS.md).

python bench/summarize.py bench/results/s2-full-ws-*.json
"""

import json
import sys

COLUMNS = {
    "rate": [
        ("target_rate", "target msg/s"),
        ("inbound_per_s", "inbound msg/s"),
        ("delivered_per_s", "delivered msg/s"),
        ("fanout_p50_ms", "p50 ms"),
        ("fanout_p95_ms", "p95 ms"),
        ("fanout_p99_ms", "p99 ms"),
        ("fanout_max_ms", "max ms"),
        ("ack_p99_ms", "ack p99 ms"),
        ("lost", "lost"),
        ("duplicates", "dup"),
        ("server_cpu_pct", "server CPU %"),
        ("server_rss_mib", "server RSS MiB"),
        ("generator_cpu_pct", "generator CPU %"),
        ("cores_busy_pct", "cores busy %"),
    ],
    # Several processes on PostgreSQL: deliveries across processes, and where the CPU
    # of the server's core went.
    "cluster": [
        ("target_rate", "target msg/s"),
        ("inbound_per_s", "inbound msg/s"),
        ("delivered_per_s", "delivered msg/s"),
        ("fanout_p50_ms", "p50 ms"),
        ("fanout_p99_ms", "p99 ms"),
        ("cross_p50_ms", "cross-process p50 ms"),
        ("cross_p99_ms", "cross-process p99 ms"),
        ("ack_p99_ms", "ack p99 ms"),
        ("lost", "lost"),
        ("duplicates", "dup"),
        ("server_cpu_pct", "server side CPU %"),
        ("chatbox_cpu_pct_each", "each chatbox CPU %"),
        ("postgres_cpu_pct", "PostgreSQL CPU %"),
        ("redis_cpu_pct", "Redis CPU %"),
        ("generator_cpu_pct", "generator CPU %"),
        ("cores_busy_pct", "cores busy %"),
    ],
    "room": [
        ("clients", "clients"),
        ("send_to_all_p50_ms", "send-to-all p50 ms"),
        ("send_to_all_p95_ms", "p95 ms"),
        ("send_to_all_max_ms", "max ms"),
        ("first_receiver_p50_ms", "first receiver p50 ms"),
        ("incomplete", "incomplete"),
        ("lost", "lost"),
        ("server_busy_in_bursts_pct", "server busy in bursts %"),
        ("generator_busy_in_bursts_pct", "generator busy in bursts %"),
        ("server_rss_mib", "server RSS MiB"),
        ("cores_busy_pct", "cores busy %"),
    ],
}


def table(rows, columns):
    lines = [
        "| " + " | ".join(title for _, title in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key, "")
            cells.append(
                "/".join(map(str, value)) if isinstance(value, list) else str(value)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(paths):
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        header = run["header"]
        print(
            f"### {path}\n\n`{' '.join(header['argv'])}` — load avg at start "
            f"{header['load_avg']}\n"
        )
        timed = [r for r in run["results"] if "target_rate" in r]
        rooms = [r for r in run["results"] if "send_to_all_p95_ms" in r]
        if timed:
            kind = "cluster" if "chatbox_cpu_pct_each" in timed[0] else "rate"
            print(table(timed, COLUMNS[kind]) + "\n")
        if rooms:
            print(table(rooms, COLUMNS["room"]) + "\n")
        for other in run["results"]:
            if other not in timed and other not in rooms:
                print(f"- {json.dumps(other)}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
