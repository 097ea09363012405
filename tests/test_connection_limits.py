"""Connections cannot take the box down: mute ones time out, one address has a cap, and
running out of file descriptors is ridden out quietly."""

import contextlib
import json
import os
import socket
import time

import psutil
import pytest
from boxes import Box, run

from appliance.listener import AddressTally
from appliance.options import options

# Headers that never end: what a stalled or hostile client leaves on the line.
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: chatbox\r\n"
FULL_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: chatbox\r\nConnection: close\r\n\r\n"
# Low enough that a hundred connections exhaust the server, high enough for it to start.
FEW_FILES = 64


def connect(box, source="127.0.0.1"):
    return socket.create_connection(
        ("127.0.0.1", box.port), timeout=10, source_address=(source, 0)
    )


def answer(conn):
    """Everything the server sends before it closes; b"" if it closed without a word."""
    data = b""
    try:
        while chunk := conn.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def ask(conn, request=FULL_REQUEST):
    try:
        conn.sendall(request)
    except (BrokenPipeError, ConnectionResetError):
        return b""
    return answer(conn)


def healthz_answers(box, timeout=10):
    """Wait until a fresh connection gets 200 from /healthz; True if one did in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with connect(box) as conn:
                if ask(conn).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def descriptors_in_use(pid, limit):
    return sum(int(fd) < limit for fd in os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(process):
    times = process.cpu_times()
    return times.user + times.system


@pytest.mark.sqlite_only
def test_a_connection_that_never_finishes_its_headers_is_closed_after_the_idle_timeout(
    tmp_path,
):
    with Box(tmp_path, "--idle-timeout=1") as box:
        with connect(box) as conn:
            conn.sendall(HALF_REQUEST)
            started = time.monotonic()
            assert answer(conn) == b""
            waited = time.monotonic() - started
        assert 0.8 < waited < 5
        assert box.terminate() == 0


@pytest.mark.sqlite_only
def test_a_request_whose_body_stops_arriving_is_closed_after_the_body_timeout(tmp_path):
    with Box(tmp_path, "--body-timeout=1") as box:
        token = box.signup("alice")
        with connect(box) as conn:
            conn.sendall(
                b"POST /api/chats/ HTTP/1.1\r\nHost: chatbox\r\n"
                b"Authorization: Token " + token.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            started = time.monotonic()
            assert answer(conn) == b""
            waited = time.monotonic() - started
        assert 0.8 < waited < 5
        assert box.terminate() == 0


def test_connection_options_out_of_range_are_refused_before_serving():
    for wrong, complaint in [
        ("--idle-timeout=0", "must be more than 0 seconds"),
        ("--body-timeout=-1", "must be more than 0 seconds"),
        ("--max-connections-per-address=-1", "must be 0 (no cap) or more"),
        ("--max-connections-exempt=10.0.0.0/8,banana", "'banana' is not an address"),
    ]:
        result = run(wrong)
        assert result.returncode == 2, wrong
        assert complaint in result.stderr, result.stderr


@pytest.mark.sqlite_only
def test_one_address_may_hold_no_more_connections_than_the_cap_websockets_included(
    tmp_path,
):
    # 127.0.0.2 stands for an exempt address (a reverse proxy); 127.0.0.1 is capped.
    with Box(
        tmp_path, "--max-connections-per-address=3", "--max-connections-exempt=127.0.0.2"
    ) as box:
        token = box.signup("alice")
        with contextlib.ExitStack() as open_sockets:
            sockets = [open_sockets.enter_context(box.socket(token)) for _ in range(3)]
            for ws in sockets:
                assert '"hello"' in ws.recv(timeout=20)
            # A fourth connection is closed before it can say anything.
            with connect(box) as conn:
                assert ask(conn) == b""
            with connect(box) as conn:
                assert ask(conn) == b""
            # An exempt address is counted but never refused.
            exempt = [connect(box, source="127.0.0.2") for _ in range(4)]
            for conn in exempt:
                assert ask(conn).startswith(b"HTTP/1.1 200")
                conn.close()
            # Once one of the address's connections closes, it may open another.
            sockets[0].close()
            assert healthz_answers(box)
        assert box.terminate() == 0
    assert box.output().count("refusing more from it") == 1


def test_the_box_itself_and_no_one_else_is_exempt_from_the_cap_by_default():
    tally = AddressTally(1, options.max_connections_exempt)
    for host in ("127.0.0.1", "127.0.0.9", "::1", "::ffff:127.0.0.1"):
        assert tally.admit(host) and tally.admit(host), host
    assert tally.admit("192.168.1.20")
    assert not tally.admit("192.168.1.20")
    assert tally.admit("fd00::20")
    assert not tally.admit("fd00::20")
    tally.release("192.168.1.20")
    assert tally.admit("192.168.1.20")


@pytest.mark.sqlite_only
def test_start_up_raises_the_soft_open_file_limit_to_the_hard_one(tmp_path):
    with Box(tmp_path, open_files=(FEW_FILES, 4 * FEW_FILES)) as box:
        limits = psutil.Process(box.proc.pid).rlimit(psutil.RLIMIT_NOFILE)
        assert limits == (4 * FEW_FILES, 4 * FEW_FILES)
        assert f"open-file limit {4 * FEW_FILES}" in box.output()
        assert box.terminate() == 0


def test_the_service_unit_gives_the_box_more_open_files_than_the_default(tmp_path):
    unit = tmp_path / "chatbox.service"
    result = run("install-service", f"--output={unit}")
    assert result.returncode == 0, result.stderr
    assert "LimitNOFILE=16384\n" in unit.read_text()


@pytest.mark.sqlite_only
def test_running_out_of_descriptors_is_logged_once_and_the_box_carries_on(tmp_path):
    box = Box(
        tmp_path,
        "--idle-timeout=60",
        env={"WATCHDOG_USEC": "2000000"},
        open_files=(FEW_FILES, FEW_FILES),
    )
    with box:
        token = box.signup("alice")
        server = psutil.Process(box.proc.pid)
        with box.socket(token, "/ws/chat/lobby/") as ws:
            idle = []
            try:
                # More than the server has descriptors for; those it cannot take wait in
                # its listen queue (128 long), so every connect() here succeeds.
                for _ in range(FEW_FILES + 30):
                    conn = connect(box)
                    conn.sendall(HALF_REQUEST)
                    idle.append(conn)
                deadline = time.monotonic() + 10
                while descriptors_in_use(box.proc.pid, FEW_FILES) < FEW_FILES:
                    assert time.monotonic() < deadline, "the server never ran out"
                    time.sleep(0.05)
                # Out of descriptors, the server idles instead of retrying flat out.
                before = cpu_seconds(server)
                time.sleep(2)
                assert cpu_seconds(server) - before < 0.5
                # The socket that was already open still carries messages both ways.
                ws.send(json.dumps({"message": "still here"}))
                deadline = time.monotonic() + 10
                while json.loads(ws.recv(timeout=10)).get("message") != "still here":
                    assert time.monotonic() < deadline
                # And the watchdog is still fed, so systemd does not restart the box.
                box.notifications.seen.clear()
                box.notifications.wait_for("WATCHDOG=1", timeout=5)
            finally:
                for conn in idle:
                    conn.close()
            # Once the idle connections are gone, new ones are served again.
            assert healthz_answers(box)
        assert box.terminate() == 0
    log = box.output()
    assert log.count("out of file descriptors") == 1, log[-3000:]
    assert "accepting connections again" in log
    assert "Traceback" not in log, log[-3000:]
