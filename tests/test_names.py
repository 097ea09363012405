"""Names: one account per name, nothing hidden in a name, and renaming an account.

A username is checked whole (a trailing newline once slipped past a "$"), is made of
visible ASCII only, and is one account whatever its case or Unicode width. The same
whole-string check holds for client ids and e-mail addresses.
"""

import sqlite3
import urllib.parse

import bcrypt
import pytest
from boxes import Box, run
from conftest import PASSWORD
from realtime import read, read_type, room_socket, send, ui_socket

import models


def snapshot():
    return {model.__name__: model.select().count() for model in models.MODELS}


def form(**fields):
    return dict(
        raw=urllib.parse.urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def log_in(api, username, password=PASSWORD):
    status, data = await api.call(
        "POST", "/auth/token/create/", {"username": username, "password": password}
    )
    return data["auth_token"] if status == 200 else None


def an_old_hash(password=PASSWORD):
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def an_old_account(username, password=PASSWORD):
    """An account as a box made it before today's rules, straight into the database."""
    return models.User.create(
        username=username,
        username_key=models.username_key(username),
        password_hash=an_old_hash(password),
    )


# --- Sign-up --------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_a_name_with_a_trailing_newline_is_refused_at_sign_up_as_json_or_a_form(api):
    await api.signup("alice")
    before = snapshot()
    for name in ("alice\n", "bob\n"):
        for body in (
            dict(body={"username": name, "password": PASSWORD}),
            form(username=name, password=PASSWORD),
        ):
            for path in ("/auth/users/create/", "/auth/users/"):
                status, data = await api.call("POST", path, **body)
                assert status == 400, (name, body)
                assert data == {"username": [models.User.USERNAME_RULE]}
    assert snapshot() == before
    assert [u.username for u in models.User.select()] == ["alice"]


@pytest.mark.gen_test
async def test_other_cases_and_fullwidth_forms_of_a_name_are_the_same_account(api):
    alice = await api.signup("alice")
    before = snapshot()
    for name in ("ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ", "ａlice"):
        status, data = await api.call(
            "POST", "/auth/users/", {"username": name, "password": PASSWORD}
        )
        assert status == 400 and "username" in data, name
        # Typed at the login, every form of the name finds the one account.
        token = await log_in(api, name)
        status, me = await api.call("GET", "/api/me", token=token)
        assert status == 200 and me["id"] == alice.id, name
    assert models.User.select().count() == before["User"]
    # A Chatire client naming the caller at a join may spell the name either way too.
    uri = await (await api.signup("bob")).start_chat()
    status, _ = await alice.call("PATCH", f"/api/chats/{uri}/", {"username": "ＡＬＩＣＥ"})
    assert status == 200


@pytest.mark.gen_test
async def test_invisible_and_direction_changing_characters_are_refused_in_names(api):
    before = snapshot()
    for name in (
        "ali\u200bce",  # zero-width space
        "alice\u200d",  # zero-width joiner
        "\u202eecila",  # right-to-left override
        "alice\u2066",  # left-to-right isolate
        "ali\u00adce",  # soft hyphen
        "alice\u3164",  # Hangul filler, a letter drawn as nothing
        "alice\u2028",  # line separator
        "alice\x00",
        "alice\r\n",
    ):
        status, data = await api.call(
            "POST", "/auth/users/", {"username": name, "password": PASSWORD}
        )
        assert status == 400 and "username" in data, ascii(name)
    assert snapshot() == before


@pytest.mark.gen_test
async def test_an_email_address_ending_in_a_newline_or_hiding_characters_is_refused(api):
    before = snapshot()
    hiding = ("a@example.org\n", "a@example.org\u202e", "a\u200b@example.org", "a@b\x00")
    for email in hiding:
        status, data = await api.call(
            "POST",
            "/auth/users/",
            {"username": "alice", "password": PASSWORD, "email": email},
        )
        assert status == 400 and list(data) == ["email"], ascii(email)
    assert snapshot() == before
    status, data = await api.call(
        "POST",
        "/auth/users/",
        {"username": "alice", "password": PASSWORD, "email": "é@ü.de"},
    )
    assert status == 201 and data["email"] == "é@ü.de"


# --- Client ids -----------------------------------------------------------------------


@pytest.mark.gen_test
async def test_a_client_id_with_a_trailing_newline_is_refused_over_rest(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    for body in (
        dict(body={"message": "hi", "client_id": "c-1\n"}),
        form(message="hi", client_id="c-1\n"),
    ):
        status, data = await alice.call("POST", f"/api/chats/{uri}/messages/", **body)
        assert status == 400 and "client_id" in data
    assert models.Message.select().count() == 0


@pytest.mark.gen_test
async def test_a_client_id_with_a_trailing_newline_is_refused_over_both_sockets(api):
    alice = await api.signup("alice")
    uri = await alice.start_chat("lobby")
    ui = await ui_socket(alice, uri)
    send(ui, {"type": "send", "uri": uri, "client_id": "c-1\n", "text": "hi", "ref": "r"})
    error = await read_type(ui, "error")
    assert (error["code"], error["ref"]) == ("invalid", "r")
    assert "client_id" in error["detail"]
    seed = await room_socket(alice, uri)
    send(seed, {"message": "hi", "client_id": "c-2\n"})
    error = await read(seed)
    assert error["error"] == "invalid" and "client_id" in error["detail"]
    assert models.Message.select().count() == 0


# --- Renaming over REST ---------------------------------------------------------------


@pytest.mark.gen_test
async def test_an_administrator_renames_an_account_and_chats_show_the_new_name(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    uri = await ada.start_chat("lobby")
    await bob.join(uri)
    await bob.say(uri, "hello")
    status, data = await ada.call(
        "POST", "/api/admin/users/bob/rename", {"username": "Robert"}
    )
    assert status == 200
    assert (data["id"], data["username"], data["name_problem"]) == (bob.id, "Robert", None)
    # The account keeps its logins, chats and messages; the old name is free again.
    status, me = await bob.call("GET", "/api/me")
    assert status == 200 and me["username"] == "Robert"
    assert [m["user"]["username"] for m in await ada.history(uri)] == ["Robert"]
    status, chat = await ada.call("GET", f"/api/chats/{uri}/")
    assert [m["username"] for m in chat["members"]] == ["ada", "Robert"]
    assert await log_in(api, "bob") is None
    assert await log_in(api, "robert") is not None
    # A change of case only is a rename too.
    status, data = await ada.call(
        "POST", "/api/admin/users/robert/rename", {"username": "robert"}
    )
    assert status == 200 and data["username"] == "robert"
    await api.signup("bob")


@pytest.mark.gen_test
async def test_a_rename_to_a_taken_or_broken_name_is_refused_and_changes_nothing(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    for body in (
        {"username": "ADA"},
        {"username": "ａｄａ"},
        {"username": "bob\n"},
        {"username": "b\u200bob"},
        {"username": ""},
        {"username": 7},
        {},
    ):
        status, data = await ada.call("POST", "/api/admin/users/bob/rename", body)
        assert status == 400 and "username" in data, body
    status, _ = await ada.call("POST", "/api/admin/users/nobody/rename", {"username": "x"})
    assert status == 404
    status, _ = await bob.call("POST", "/api/admin/users/bob/rename", {"username": "bobby"})
    assert status == 403
    status, _ = await api.call("POST", "/api/admin/users/bob/rename", {"username": "bobby"})
    assert status == 401
    assert [u.username for u in models.User.select().order_by(models.User.id)] == [
        "ada",
        "bob",
    ]


@pytest.mark.gen_test
async def test_an_old_account_named_with_a_newline_keeps_working_until_renamed(api):
    ada = await api.signup("ada")
    alice = await api.signup("alice")
    old = an_old_account("alice\n")
    token = await log_in(api, "alice\n")
    status, me = await api.call("GET", "/api/me", token=token)
    assert me["id"] == old.id
    status, data = await ada.call("GET", "/api/admin/users")
    problems = {u["id"]: u["name_problem"] for u in data["users"]}
    assert problems[alice.id] is None and problems[old.id]
    status, data = await ada.call(
        "POST", "/api/admin/users/alice%0A/rename", {"username": "alice2"}
    )
    assert status == 200 and data["id"] == old.id and data["name_problem"] is None
    status, me = await api.call("GET", "/api/me", token=token)
    assert me["username"] == "alice2"
    assert (await log_in(api, "alice")) is not None


# --- Renaming on the command line -----------------------------------------------------


@pytest.mark.sqlite_only
def test_the_rename_command_renames_by_name_or_by_id_and_refuses_bad_names(tmp_path):
    with Box(tmp_path) as box:
        box.signup("ada")
        token = box.signup("bob")
        result = run("rename", "bob", "robert", f"--data-dir={tmp_path}")
        assert result.returncode == 0, result.stderr
        assert "bob is now robert" in result.stdout
        status, me, _ = box.call("GET", "/api/me", token=token)
        assert status == 200 and me["username"] == "robert"
        for new in ("ADA", "robert\n", "r\u202eobert"):
            result = run("rename", "robert", new, f"--data-dir={tmp_path}")
            assert result.returncode == 1 and "chatbox rename:" in result.stderr, new
        result = run("rename", "nobody", "x", f"--data-dir={tmp_path}")
        assert result.returncode == 1 and "no user 'nobody'" in result.stderr
        result = run("rename", "robert", f"--data-dir={tmp_path}")
        assert result.returncode == 1
        # An account named with a newline, from before the rules: listed escaped, renamed
        # by its id.
        connection = sqlite3.connect(tmp_path / "chatbox.db")
        with connection:
            connection.execute(
                "INSERT INTO \"user\" VALUES (9, ?, ?, ?, '', '', '',"
                " '2025-01-02 03:04:05', 0, 1, '', NULL, 0, NULL)",
                ("ada\n", "ada\n", an_old_hash()),
            )
        connection.close()
        listing = run("users", f"--data-dir={tmp_path}").stdout
        assert "'ada\\n'" in listing and "rename '#9' NEW" in listing
        result = run("rename", "#9", "ada-two", f"--data-dir={tmp_path}")
        assert result.returncode == 0, result.stderr
        assert "'ada\\n' is now ada-two" in result.stdout
        status, _, _ = box.call(
            "POST", "/auth/token/login/", {"username": "ada-two", "password": PASSWORD}
        )
        assert status == 200
        assert "rename '#" not in run("users", f"--data-dir={tmp_path}").stdout
