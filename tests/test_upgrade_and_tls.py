"""Schema upgrades keep data and take a backup first; TLS serves HTTPS and WSS."""
import http.client
import json
import os
import shutil
import sqlite3
import ssl
import subprocess

import pytest

import models
from appliance import backup
from boxes import Box


def make_old_database(path, version):
    """A box as an older version left it: a user, a room and a message, in the tables
    of that version (made with today's models, then taken back step by step)."""
    models.init_db(path)
    user = models.User.register("old", models.User.hash_password("long enough pw"))
    room, _ = models.Room.open_named(user, "general")
    models.Message.post(room, user, "from before the upgrade")
    if version < 4:
        models.db.execute_sql('ALTER TABLE "membership" DROP COLUMN "last_read_id"')
    if version < 3:
        models.db.execute_sql('DROP TABLE "setting"')
    models.db.execute_sql(f"PRAGMA user_version = {version}")
    models.db.close()


@pytest.mark.parametrize("version", [2, 3])
def test_an_upgrade_takes_a_backup_first_and_keeps_the_data(tmp_path, version):
    db = str(tmp_path / "chatbox.db")
    make_old_database(db, version)
    with Box(tmp_path) as box:
        status, data, _ = box.call("GET", "/healthz")
        assert data["schema_version"] == models.SCHEMA_VERSION == 4
        status, data, _ = box.call(
            "POST", "/auth/token/login/", {"username": "old", "password": "long enough pw"}
        )
        token = data["auth_token"]
        status, data, _ = box.call("GET", "/api/chats/general/messages/", token=token)
        assert [m["message"] for m in data["messages"]] == ["from before the upgrade"]
        first_id = data["messages"][0]["id"]
        # The old message counts as read; read markers work from here on.
        status, data, _ = box.call("GET", "/api/chats/", token=token)
        assert [(c["uri"], c["last_read_id"], c["unread"]) for c in data["chats"]] == [
            ("general", first_id, 0)
        ]
        status, data, _ = box.call(
            "POST", "/api/chats/general/read/", {"id": first_id}, token=token
        )
        assert status == 200 and data["last_read_id"] == first_id
        assert box.terminate() == 0
    copies = os.listdir(tmp_path / "backups")
    assert len(copies) == 1 and f"-before-v{version}-upgrade" in copies[0]
    con = sqlite3.connect(tmp_path / "backups" / copies[0])
    assert con.execute("PRAGMA user_version").fetchone() == (version,)
    con.close()


def test_a_start_without_an_upgrade_takes_no_backup(tmp_path):
    with Box(tmp_path) as box:
        assert box.terminate() == 0
    with Box(tmp_path) as box:
        assert box.terminate() == 0
    assert os.listdir(tmp_path / "backups") == []


def test_periodic_backups_keep_only_the_newest_ones(tmp_path):
    db = str(tmp_path / "chatbox.db")
    models.init_db(db)
    models.db.close()
    made = [backup.periodic(db, str(tmp_path / "backups"), keep=2) for _ in range(3)]
    copies = [name for name in os.listdir(tmp_path / "backups") if name.endswith(".db")]
    assert sorted(copies) == sorted(os.path.basename(p) for p in made[1:])
    assert backup.integrity(made[-1]) == "ok"


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=chatbox.local", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:chatbox.local,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return str(cert), str(key)


def test_tls_serves_https_and_wss_with_a_secure_session_cookie(tmp_path, certificate):
    cert, key = certificate
    context = ssl.create_default_context(cafile=cert)
    with Box(tmp_path / "box", f"--certfile={cert}", f"--keyfile={key}") as box:
        status, data, _ = box.call("GET", "/healthz", context=context)
        assert status == 200
        status, _, _ = box.call(
            "POST", "/auth/users/", {"username": "alice", "password": "long enough pw"},
            context=context,
        )
        assert status == 201
        status, data, headers = box.call(
            "POST", "/auth/token/login/",
            {"username": "alice", "password": "long enough pw"}, context=context,
        )
        with box.socket(data["auth_token"], ssl=context) as ws:
            assert '"hello"' in ws.recv(timeout=20)
        # The browser login over HTTPS: its cookie must never travel over plain HTTP.
        conn = http.client.HTTPSConnection("127.0.0.1", box.port, context=context, timeout=30)
        conn.request("GET", "/")
        page = conn.getresponse()
        page.read()
        xsrf = page.getheader("Set-Cookie").split("_xsrf=")[1].split(";")[0]
        conn.request(
            "POST", "/auth/session/",
            body=json.dumps({"username": "alice", "password": "long enough pw"}),
            headers={"Content-Type": "application/json", "X-XSRFToken": xsrf,
                     "Cookie": f"_xsrf={xsrf}"},
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        session = [c for c in response.headers.get_all("Set-Cookie")
                   if c.startswith("chatbox_session=")]
        assert session and "Secure" in session[0] and "HttpOnly" in session[0]
        conn.close()
        assert box.terminate() == 0
