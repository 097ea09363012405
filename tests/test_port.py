"""port-to-postgres: a SQLite box's whole history moves to PostgreSQL, and is checked."""

import contextlib
import http.cookies
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from boxes import PASSWORD, Box, free_port, run
from conftest import XSRF
from test_bots import add_hook, make_bot
from test_files import send, upload

import models
from database import Postgres

# It makes its own SQLite box and PostgreSQL database, so it runs once, in the SQLite pass.
pytestmark = pytest.mark.sqlite_only

PG_BIN = os.environ.get("CHATBOX_PG_BIN", "/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server on loopback; yields a maker of empty databases."""
    if not os.path.exists(os.path.join(PG_BIN, "postgres")):
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: no server binaries in {PG_BIN}")
        pytest.skip(f"PostgreSQL is not installed here ({PG_BIN}); CI runs these tests")
    psycopg = pytest.importorskip("psycopg")
    home = tempfile.mkdtemp(prefix="chatbox-pg-")
    # PostgreSQL refuses to run as root: as root, hand the folder to an ordinary user.
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(home, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    data = os.path.join(home, "data")
    subprocess.run(
        [*as_user, f"{PG_BIN}/initdb", "-D", data, "-U", "chatbox", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            *as_user,
            f"{PG_BIN}/postgres",
            "-D",
            data,
            "-k",
            home,
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    admin = f"postgresql://chatbox@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(admin).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                shutil.rmtree(home, ignore_errors=True)
                raise
            time.sleep(0.1)
    made = []

    def new_database():
        name = f"box{len(made)}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql://chatbox@127.0.0.1:{port}/{name}"

    yield new_database
    server.terminate()
    server.wait(30)
    shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def models_on(url):
    """The models read the PostgreSQL database at ``url`` for the block."""
    from playhouse.db_url import parse

    database = Postgres(**parse(url))
    with database.bind_ctx(models.MODELS):
        yield
    database.close()


async def a_lived_in_box(api):
    """People, chats, messages with mentions, replies and a deletion, reactions, a file,
    a bot with a webhook, someone removed, a changed setting: every table has rows."""
    ada = await api.signup("ada")
    bob = await api.signup("bob")
    uri = await ada.start_chat("general")
    await bob.join(uri)
    first = await ada.say(uri, "hello @bob, welcome")
    await bob.say(uri, "thanks!", reply_to=first["id"])
    gone = await bob.say(uri, "a typo")
    status, _ = await bob.call("DELETE", f"/api/chats/{uri}/messages/{gone['id']}/")
    assert status in (200, 204)
    status, _ = await bob.call(
        "POST", f"/api/chats/{uri}/messages/{first['id']}/reactions/", {"emoji": "👍"}
    )
    assert status in (200, 201)
    status, file = await upload(ada, uri, b"minutes of the meeting", name="minutes.txt")
    assert status == 201, file
    await send(ada, uri, "the minutes", files=[file["id"]])
    await make_bot(ada, "helper")
    status, _ = await ada.call("POST", f"/api/chats/{uri}/members/", {"username": "helper"})
    assert status == 201
    await add_hook(ada, "helper", uri, direction="in")
    carol = await api.signup("carol")
    await carol.join(uri)
    status, _ = await ada.call("DELETE", f"/api/chats/{uri}/members/carol/")
    assert status in (200, 204)
    status, _ = await ada.call("PATCH", "/api/admin/settings", {"signup_policy": "invite"})
    assert status == 200
    private = await bob.start_chat()
    await bob.say(private, "a note to self")
    return ada, bob, uri


def table_counts():
    return {m._meta.table_name: m.select().count() for m in models.MODELS}


@pytest.mark.gen_test(timeout=120)
async def test_a_box_moves_to_postgresql_whole_and_people_log_in_there(
    api, db_path, postgres
):
    ada, bob, uri = await a_lived_in_box(api)
    before = table_counts()
    assert all(before.values()), before  # the box has rows in every table
    rooms = {r.uri: r.seq for r in models.Room.select()}
    url = postgres()

    done = run("port-to-postgres", f"--db={db_path}", f"--database={url}")

    assert done.returncode == 0, done.stderr
    for table, count in before.items():
        assert f"{table}: copied {count}, verified {count}" in done.stdout
    assert "--uploads=" in done.stdout  # the files are the operator's to move
    with models_on(url):
        assert table_counts() == before
        assert {r.uri: r.seq for r in models.Room.select()} == rooms
        assert models.User.by_username("ada").check_password(PASSWORD)
        assert models.Setting.signup_policy() == "invite"
    # The box itself serves from PostgreSQL: logins and history.
    with Box(
        os.path.dirname(db_path),
        f"--database={url}",
        "--mdns=false",
        f"--uploads={os.path.join(os.path.dirname(db_path), 'uploads')}",
    ) as box:
        status, data, _ = box.call(
            "POST", "/auth/token/login/", {"username": "bob", "password": PASSWORD}
        )
        assert status == 200, data
        token = data["auth_token"]
        status, data, _ = box.call("GET", f"/api/chats/{uri}/messages/", token=token)
        assert status == 200, data
        texts = [m["message"] for m in data["messages"]]
        assert "hello @bob, welcome" in texts and "the minutes" in texts
        attached = [m for m in data["messages"] if m["attachments"]]
        assert attached[0]["attachments"][0]["name"] == "minutes.txt"
    # New rows get ids after the copied ones: the sequences were moved past them.
    with models_on(url):
        newest = max(m.id for m in models.Message.select())
        room = models.Room.get(models.Room.uri == uri)
        added = models.Message.create(room=room, author=room.owner, text="on postgres")
        assert added.id == newest + 1


@pytest.mark.gen_test(timeout=60)
async def test_port_to_postgres_refuses_a_database_that_holds_data(api, db_path, postgres):
    await api.signup("ada")
    url = postgres()
    assert run("port-to-postgres", f"--db={db_path}", f"--database={url}").returncode == 0

    again = run("port-to-postgres", f"--db={db_path}", f"--database={url}")

    assert again.returncode == 1
    assert "already holds data" in again.stderr
    with models_on(url):
        assert models.User.select().count() == 1  # nothing copied twice


def test_port_to_postgres_needs_a_postgresql_url(tmp_path):
    done = run("port-to-postgres", f"--data-dir={tmp_path}")
    assert done.returncode == 2
    assert "--database=postgresql://" in done.stderr


def test_sqlite_only_commands_say_what_to_use_on_postgresql(postgres, tmp_path):
    url = postgres()
    done = run("backup", str(tmp_path / "copy.db"), f"--database={url}")
    assert done.returncode == 1
    assert "pg_dump" in done.stderr


def test_admin_commands_work_on_postgresql(postgres, tmp_path):
    url = postgres()
    with Box(str(tmp_path), f"--database={url}", "--mdns=false") as box:
        box.signup("ada")
        status = run("status", f"--data-dir={tmp_path}", f"--database={url}")
        assert status.returncode == 0, status.stderr
        assert f"-{box.port}: running" in status.stdout
        assert "users: 1 (0 deactivated)" in status.stdout
    done = run("deactivate", "ada", f"--database={url}", f"--data-dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    listed = run("users", f"--database={url}", f"--data-dir={tmp_path}")
    assert "ada" in listed.stdout and "no" in listed.stdout.splitlines()[1]


def session_login(box, username):
    """Log in with the web app's cookie; the session cookie's value."""
    request = urllib.request.Request(
        box.url + "/auth/session/",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={
            "Content-Type": "application/json",
            "Cookie": f"_xsrf={XSRF}",
            "X-XSRFToken": XSRF,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        for header in response.headers.get_all("Set-Cookie"):
            cookie = http.cookies.SimpleCookie(header)
            if "chatbox_session" in cookie:
                return cookie["chatbox_session"].value
    raise AssertionError("no session cookie")


def me(box, session):
    request = urllib.request.Request(
        box.url + "/api/me/", headers={"Cookie": f"chatbox_session={session}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def test_two_processes_share_a_data_dir_and_honour_each_others_logins(postgres, tmp_path):
    url = postgres()
    with (
        Box(tmp_path, f"--database={url}", "--mdns=false") as first,
        Box(tmp_path, f"--database={url}", "--mdns=false") as second,
    ):
        first.signup("ada")
        session = session_login(first, "ada")
        status, data = me(second, session)
        assert status == 200 and data["username"] == "ada"
        status = run("status", f"--data-dir={tmp_path}", f"--database={url}").stdout
        assert f"-{first.port}: running" in status
        assert f"-{second.port}: running" in status
    # Without the shared secret the same cookie is a stranger's.
    elsewhere = tmp_path / "elsewhere"
    with Box(elsewhere, f"--database={url}", "--mdns=false") as third:
        assert me(third, session)[0] == 401
    # Given the shared secret by file, it is honoured again.
    with Box(
        elsewhere,
        f"--database={url}",
        "--mdns=false",
        f"--cookie-secret-file={tmp_path / 'chatbox.secret'}",
    ) as fourth:
        assert me(fourth, session)[0] == 200
