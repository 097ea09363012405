"""Periodic backups keep the newest copies; TLS serves HTTPS and WSS.

Schema upgrades and the backup taken before one are tested in test_schema.py.
"""
import http.client
import json
import os
import shutil
import ssl
import subprocess

import pytest

import models
import schema
from appliance import backup
from boxes import Box


def test_periodic_backups_keep_only_the_newest_ones(tmp_path):
    db = str(tmp_path / "chatbox.db")
    schema.init_db(db)
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
