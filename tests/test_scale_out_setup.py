"""Running several processes: the options, the systemd template, the nginx sample."""

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from boxes import ROOT, Box, run

from appliance import nginx, systemd
from appliance.paths import Paths, redact
from chatbox import PING_INTERVAL, load_secret

URL = "postgresql://chatbox@db.lan:5432/chatbox"


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--bus=postgres"], "give --database=postgresql://"),
        (["--bus=redis://127.0.0.1:6379/0"], "give --database=postgresql://"),
        (["--database=/var/lib/chatbox/chatbox.db"], "a SQLite file is named with --db"),
        ([f"--database={URL}", "--bus=rabbit"], "--bus must be postgres or a redis://"),
        ([f"--database={URL}", "--read-threads=0"], "--read-threads must be 1 or more"),
        ([f"--database={URL}", "--tls=auto"], "serve HTTPS from the reverse proxy"),
    ],
)
def test_options_that_do_not_fit_together_are_refused_before_anything_starts(args, problem):
    done = run(*args, "--port=1")
    assert done.returncode == 2
    assert problem in done.stderr


def test_a_database_password_never_reaches_the_log():
    assert (
        redact("postgresql://chatbox:s3cret@db/chatbox")
        == "postgresql://chatbox:***@db/chatbox"
    )
    assert redact(URL) == URL


def test_processes_on_one_data_dir_lock_their_own_port_only(tmp_path):
    paths = Paths(str(tmp_path), database=URL)
    first, _ = paths.instance_lock(8001)
    second, _ = paths.instance_lock(8002)
    elsewhere, _ = paths.instance_lock(8001, host="other-host")
    assert len({first, second, elsewhere}) == 3
    assert os.path.dirname(first) == paths.instances


def test_uploads_and_the_cookie_secret_may_live_elsewhere(tmp_path):
    paths = Paths(str(tmp_path), uploads="/srv/shared/uploads", secret="/srv/shared/key")
    assert paths.uploads == "/srv/shared/uploads"
    assert paths.secret == "/srv/shared/key"


def test_processes_starting_together_agree_on_one_cookie_secret(tmp_path):
    path = str(tmp_path / "chatbox.secret")
    secrets = {load_secret(path) for _ in range(5)}
    assert len(secrets) == 1
    assert [p for p in os.listdir(tmp_path) if p != "chatbox.secret"] == []


def template(*args):
    done = run(
        "install-service",
        "--instances=8001,8002",
        f"--database={URL}",
        "--bus=postgres",
        "--output=-",
        *args,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_template_runs_one_process_per_port_on_loopback_behind_the_proxy():
    text = template().stdout
    start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    for option in (
        "--port=%i",
        "--address=127.0.0.1",
        "--behind-proxy",
        "--mdns=false",
        f"--database={URL}",
        "--bus=postgres",
        f"--data-dir={systemd.STATE_DIR}",
    ):
        assert option in start.split()
    assert "%%i" not in start and "--instances" not in start
    # The instances share the data dir, so they share one user.
    assert "DynamicUser=yes" in text and "User=chatbox" in text


def test_the_template_is_hardened_like_the_single_unit():
    single = run("install-service", "--output=-").stdout
    text = template().stdout
    hardening = [
        line
        for line in single.splitlines()
        if line.startswith(
            ("Protect", "Restrict", "NoNewPrivileges", "SystemCall", "Private")
        )
        or line.startswith(("Capability", "LimitNOFILE", "WatchdogSec", "UMask", "Type="))
    ]
    assert len(hardening) > 15
    for line in hardening:
        assert line in text.splitlines(), line


def test_the_database_password_stays_out_of_the_unit_file():
    done = template("--database=postgresql://chatbox:s3cret@db.lan/chatbox")
    assert "s3cret" not in done.stdout
    assert "--database=postgresql://chatbox@db.lan/chatbox" in done.stdout
    assert "PGPASSWORD" in done.stderr and systemd.ENVIRONMENT_FILE in done.stdout
    single = run(
        "install-service", "--database=postgresql://chatbox:s3cret@db/c", "--output=-"
    )
    assert single.returncode == 1 and "s3cret" not in single.stdout


def test_shared_uploads_are_writable_and_the_secret_is_handed_over(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("ab" * 32)
    text = template(
        "--uploads=/srv/chatbox/uploads", f"--cookie-secret-file={secret}"
    ).stdout
    assert "ReadWritePaths=/srv/chatbox/uploads" in text
    assert f"LoadCredential=cookie-secret:{secret}" in text
    assert "--cookie-secret-file=%d/cookie-secret" in text


def test_instances_need_a_postgresql_database():
    done = run("install-service", "--instances=8001,8002", "--output=-")
    assert done.returncode == 1
    assert "--database=postgresql://" in done.stderr


# --- nginx --------------------------------------------------------------------------


def blocks(text):
    """{location or block header: its body}, for the sample's simple nesting."""
    found, stack = {}, []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.endswith("{"):
            stack.append([line[:-1].strip(), []])
        elif line == "}":
            header, body = stack.pop()
            found[header] = body
            if stack:
                stack[-1][1].append(f"{header} {{...}}")
        elif line and stack:
            stack[-1][1].append(line)
    return found


def test_the_shipped_nginx_sample_is_what_nginx_config_prints():
    with open(os.path.join(ROOT, "deploy", "nginx-chatbox.conf"), encoding="utf-8") as f:
        shipped = f.read()
    assert shipped == nginx.config([8001, 8002])
    done = run("nginx-config", "--instances=8001,8002")
    assert done.returncode == 0 and done.stdout == shipped


def test_the_nginx_sample_proxies_sockets_with_upgrade_and_a_long_timeout():
    parsed = blocks(nginx.config([8001, 8002, 8003]))
    upstream = parsed["upstream chatbox"]
    assert [s.split()[1] for s in upstream if s.startswith("server ")] == [
        "127.0.0.1:8001",
        "127.0.0.1:8002",
        "127.0.0.1:8003",
    ]
    assert not any(s.startswith(("ip_hash", "sticky", "hash")) for s in upstream)
    sockets = parsed["location /ws"]
    assert "proxy_set_header Upgrade $http_upgrade;" in sockets
    assert "proxy_set_header Connection $chatbox_connection;" in sockets
    timeout = next(s for s in sockets if s.startswith("proxy_read_timeout"))
    assert int(re.search(r"(\d+)s", timeout).group(1)) > 2 * PING_INTERVAL
    # A location that sets a header inherits none: the socket's Host and address too.
    assert "proxy_set_header Host $host;" in sockets
    assert "proxy_set_header X-Real-IP $remote_addr;" in sockets


def test_the_nginx_sample_passes_the_client_address_chatbox_trusts():
    server = blocks(nginx.config([8001]))["server"]
    # Tornado's xheaders take X-Real-IP first: set from the connection, not the client.
    assert "proxy_set_header X-Real-IP $remote_addr;" in server
    assert "proxy_set_header Host $host;" in server


def test_the_nginx_sample_takes_uploads_as_large_as_chatbox_does():
    server = blocks(nginx.config([8001], max_upload_mb=100))["server"]
    size = next(s for s in server if s.startswith("client_max_body_size"))
    assert int(re.search(r"(\d+)m", size).group(1)) > 100


def test_the_nginx_sample_limits_logins_across_processes():
    parsed = blocks(nginx.config([8001, 8002]))
    login = next(v for k, v in parsed.items() if k.startswith("location ~ ^/auth/"))
    assert any(s.startswith("limit_req zone=chatbox_login") for s in login)


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed here")
def test_nginx_accepts_the_sample(tmp_path):
    conf = tmp_path / "nginx.conf"
    sample = nginx.config([8001, 8002])
    conf.write_text(
        f"error_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\n"
        f"events {{}}\nhttp {{\naccess_log off;\n{sample}\n}}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def failed_login(box, address=None):
    """One login with a wrong password, from ``address`` as a proxy would say; the
    status."""
    request = urllib.request.Request(
        box.url + "/auth/token/login/",
        data=json.dumps({"username": "ada", "password": "wrong guess"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if address:
        request.add_header("X-Real-IP", address)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_behind_a_proxy_the_login_throttle_counts_each_client_apart(tmp_path):
    with Box(tmp_path, "--mdns=false", "--behind-proxy") as box:
        box.signup("ada")
        statuses = [failed_login(box, "192.0.2.10") for _ in range(6)]
        assert statuses == [400] * 5 + [429]
        # Another client behind the same proxy still gets its own tries.
        assert failed_login(box, "192.0.2.11") == 400


def test_without_behind_proxy_a_forged_address_header_changes_nothing(tmp_path):
    with Box(tmp_path, "--mdns=false") as box:
        box.signup("ada")
        statuses = [failed_login(box, f"192.0.2.{n}") for n in range(6)]
        assert statuses == [400] * 5 + [429]
