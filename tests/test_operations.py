"""The box as systemd runs it: a real process, its notifications, signals, commands;
TLS serving HTTPS and WSS."""

import http.client
import json
import os
import shutil
import sqlite3
import ssl
import subprocess
import threading
import time

import pytest
import websockets.exceptions
from boxes import Box, run

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only


def wait_for_close(ws, timeout=20):
    """Read until the server closes the socket; returns the close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except websockets.exceptions.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        pass
    raise AssertionError("the server did not close the socket")


def test_the_server_tells_systemd_it_is_ready_and_keeps_the_watchdog_fed(tmp_path):
    box = Box(tmp_path, env={"WATCHDOG_USEC": "2000000"})
    with box:
        # With a 2 s deadline the server pings every second.
        seen = box.notifications.wait_for("WATCHDOG=1", timeout=20)
        assert seen.index("READY=1") < seen.index("WATCHDOG=1")
        status, data, _ = box.call("GET", "/healthz")
        assert status == 200 and data["status"] == "ok"
        assert box.terminate() == 0
        box.notifications.wait_for("STOPPING=1", timeout=5)


def test_notifications_reach_an_abstract_socket(tmp_path):
    box = Box(tmp_path, notify_address=f"@chatbox-test-{os.getpid()}-{time.monotonic_ns()}")
    with box:
        assert box.terminate() == 0


def test_sigterm_closes_open_sockets_with_going_away_and_exits_cleanly(tmp_path):
    with Box(tmp_path) as box:
        token = box.signup("alice")
        with box.socket(token) as ws, box.socket(token, "/ws/chat/lobby/") as room_ws:
            assert '"hello"' in ws.recv(timeout=20)
            started = time.monotonic()
            assert box.terminate() == 0
            assert time.monotonic() - started < 10
            assert wait_for_close(ws) == 1001
            assert wait_for_close(room_ws) == 1001
        box.notifications.wait_for("STOPPING=1", timeout=5)


def test_deactivation_from_the_command_line_cuts_an_open_socket_and_the_token(tmp_path):
    with Box(tmp_path) as box:
        box.signup("admin")
        token = box.signup("mallory")
        with box.socket(token) as ws:
            ws.recv(timeout=20)
            result = run("deactivate", "mallory", f"--data-dir={tmp_path}")
            assert result.returncode == 0, result.stderr
            assert box.call("GET", "/api/me/", token=token)[0] == 401
            # The server sweeps open sockets every two seconds.
            assert wait_for_close(ws) == 4401
        result = run("users", f"--data-dir={tmp_path}")
        assert "mallory" in result.stdout and "no" in result.stdout.splitlines()[2]


def test_a_password_reset_from_stdin_ends_old_logins_and_allows_the_new_password(tmp_path):
    with Box(tmp_path) as box:
        token = box.signup("alice")
        result = run(
            "reset-password",
            "alice",
            f"--data-dir={tmp_path}",
            input="brand new password\n",
        )
        assert result.returncode == 0, result.stderr
        assert box.call("GET", "/api/me/", token=token)[0] == 401
        status, _, _ = box.call(
            "POST",
            "/auth/token/login/",
            {"username": "alice", "password": "brand new password"},
        )
        assert status == 200
        result = run("reset-password", "alice", f"--data-dir={tmp_path}", input="short\n")
        assert result.returncode == 1 and "at least 8" in result.stderr


def test_restore_refuses_while_a_server_runs_on_the_database(tmp_path):
    with Box(tmp_path / "box") as box:
        box.signup("alice")
        backup = tmp_path / "copy.db"
        assert run("backup", str(backup), f"--data-dir={box.data_dir}").returncode == 0
        result = run("restore", str(backup), f"--data-dir={box.data_dir}")
        assert result.returncode == 1
        assert "is running" in result.stderr
        assert not os.path.exists(os.path.join(box.data_dir, "chatbox.db.before-restore"))


def test_a_backup_taken_during_writes_restores_every_message_acknowledged_before_it(
    tmp_path,
):
    # Writes as fast as the box takes them, faster than the per-person budget allows.
    box = Box(tmp_path / "box", "--limits=off")
    backup = tmp_path / "during.db"
    with box:
        token = box.signup("alice")
        status, room, _ = box.call("POST", "/api/chats/", {"name": "busy"}, token=token)
        acked = []  # (time the ack arrived, message id)
        stop = threading.Event()

        def write():
            # Bounded in count and time: at most 3,000 messages or until told to stop.
            for n in range(3000):
                if stop.is_set():
                    return
                status, data, _ = box.call(
                    "POST", "/api/chats/busy/messages/", {"message": f"m{n}"}, token=token
                )
                assert status == 201, data
                acked.append((time.monotonic(), data["id"]))

        writer = threading.Thread(target=write)
        writer.start()
        while len(acked) < 50 and writer.is_alive():
            time.sleep(0.01)
        began = time.monotonic()
        result = run("backup", str(backup), f"--data-dir={box.data_dir}")
        stop.set()
        writer.join(60)
        assert result.returncode == 0, result.stderr
        before = {mid for t, mid in acked if t < began}
        assert len(before) >= 50
        assert any(t > began for t, _ in acked)  # writes went on during the backup
        assert box.terminate() == 0
    # The box now holds more than the backup; putting the backup back rolls it back.
    result = run("restore", str(backup), f"--data-dir={box.data_dir}")
    assert result.returncode == 0, result.stderr
    db = os.path.join(box.data_dir, "chatbox.db")
    assert os.path.exists(db + ".before-restore")
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = {row[0] for row in con.execute("SELECT id FROM message")}
    con.close()
    assert before <= restored
    with Box(box.data_dir) as again:
        status, data, _ = again.call(
            "GET", "/api/chats/busy/messages/?limit=1", token=token
        )
        assert status == 200


def test_restore_refuses_a_damaged_file(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\0" + os.urandom(8192))
    result = run("restore", str(bad), f"--data-dir={tmp_path}")
    assert result.returncode == 1
    assert "not a sound SQLite database" in result.stderr


def test_command_line_options_win_over_the_config_file(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "chatbox.conf"
    box = Box(tmp_path / "unused")
    config.write_text(f'port = 1\ndata_dir = "{data}"\nbackup_keep = 3\n')
    # The Box's own --data-dir would win over the file; drop it to see the file's.
    box.args = [a for a in box.args if not a.startswith("--data-dir")]
    box.args.append(f"--config={config}")
    box.data_dir = str(tmp_path / "unused")
    with box:
        status, _, _ = box.call("GET", "/healthz")
        assert status == 200  # on --port from the command line, not the file's port 1
        assert (data / "chatbox.db").exists()
        assert box.terminate() == 0


def test_a_config_file_with_an_unknown_option_is_refused(tmp_path):
    config = tmp_path / "chatbox.conf"
    config.write_text("prot = 8080\n")
    result = run("status", f"--config={config}")
    assert result.returncode == 2
    assert "unknown option 'prot'" in result.stderr


def test_status_reports_the_running_server_and_the_counts(tmp_path):
    with Box(tmp_path) as box:
        token = box.signup("alice")
        box.call("POST", "/api/chats/", {"name": "general"}, token=token)
        box.call("POST", "/api/chats/general/messages/", {"message": "hi"}, token=token)
        with box.socket(token) as ws:
            ws.recv(timeout=20)
            result = run("status", f"--data-dir={tmp_path}")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "chatbox 0.1.0" in out
        assert f"pid {box.proc.pid}" in out and "1 sockets open" in out
        assert "users: 1" in out and "rooms: 1" in out and "messages: 1" in out
    result = run("status", f"--data-dir={tmp_path}")
    assert "server: not running" in result.stdout


def test_the_generated_unit_passes_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "chatbox.service"
    result = run("install-service", f"--output={unit}", "--port=8080")
    assert result.returncode == 0, result.stderr
    text = unit.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=30",
        "DynamicUser=yes",
        "StateDirectory=chatbox",
        "CapabilityBoundingSet=\n",
    ):
        assert line in text
    assert "--data-dir=/var/lib/chatbox --port=8080" in text
    check = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify also complains about the host (no systemd running here); only lines about
    # our unit matter.
    problems = [line for line in check.stderr.splitlines() if "chatbox.service" in line]
    assert problems == [], check.stderr


def test_a_unit_for_tls_hands_the_key_over_as_a_credential(tmp_path):
    unit = tmp_path / "chatbox.service"
    result = run(
        "install-service",
        f"--output={unit}",
        "--user=chatbox",
        "--port=443",
        "--certfile=/etc/chatbox/cert.pem",
        "--keyfile=/etc/chatbox/key.pem",
    )
    assert result.returncode == 0, result.stderr
    text = unit.read_text()
    assert "LoadCredential=tls.key:/etc/chatbox/key.pem" in text
    assert "--keyfile=%d/tls.key" in text
    assert "User=chatbox" in text and "DynamicUser" not in text
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in text


def test_a_restore_run_as_root_leaves_files_the_service_account_can_open(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can hand files to another account")
    data = tmp_path / "data"
    with Box(data) as box:
        box.signup("alice")
        assert (
            run("backup", str(tmp_path / "copy.db"), f"--data-dir={data}").returncode == 0
        )
        assert box.terminate() == 0
    service_uid = 54321  # stands in for the service's own account
    for path in [data, *data.iterdir()]:
        os.chown(path, service_uid, service_uid)
    result = run("restore", str(tmp_path / "copy.db"), f"--data-dir={data}")
    assert result.returncode == 0, result.stderr
    for name in ("chatbox.db", "chatbox.db.before-restore", "chatbox.db.lock"):
        assert os.stat(data / name).st_uid == service_uid, name


def test_a_real_server_hashes_passwords_at_the_production_cost(tmp_path):
    with Box(tmp_path) as box:
        box.signup("alice")
        assert box.terminate() == 0
    with sqlite3.connect(tmp_path / "chatbox.db") as conn:
        (stored,) = conn.execute("SELECT password_hash FROM user").fetchone()
    assert stored.startswith("$2b$10$"), stored


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=chatbox.local",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            "subjectAltName=DNS:chatbox.local,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


def test_tls_serves_https_and_wss_with_a_secure_session_cookie(tmp_path, certificate):
    cert, key = certificate
    context = ssl.create_default_context(cafile=cert)
    with Box(tmp_path / "box", f"--certfile={cert}", f"--keyfile={key}") as box:
        status, data, _ = box.call("GET", "/healthz", context=context)
        assert status == 200
        status, _, _ = box.call(
            "POST",
            "/auth/users/",
            {"username": "alice", "password": "long enough pw"},
            context=context,
        )
        assert status == 201
        status, data, headers = box.call(
            "POST",
            "/auth/token/login/",
            {"username": "alice", "password": "long enough pw"},
            context=context,
        )
        with box.socket(data["auth_token"], ssl=context) as ws:
            assert '"hello"' in ws.recv(timeout=20)
        # The browser login over HTTPS: its cookie must never travel over plain HTTP.
        conn = http.client.HTTPSConnection(
            "127.0.0.1", box.port, context=context, timeout=30
        )
        conn.request("GET", "/")
        page = conn.getresponse()
        page.read()
        xsrf = page.getheader("Set-Cookie").split("_xsrf=")[1].split(";")[0]
        conn.request(
            "POST",
            "/auth/session/",
            body=json.dumps({"username": "alice", "password": "long enough pw"}),
            headers={
                "Content-Type": "application/json",
                "X-XSRFToken": xsrf,
                "Cookie": f"_xsrf={xsrf}",
            },
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        session = [
            c
            for c in response.headers.get_all("Set-Cookie")
            if c.startswith("chatbox_session=")
        ]
        assert session and "Secure" in session[0] and "HttpOnly" in session[0]
        conn.close()
        assert box.terminate() == 0
