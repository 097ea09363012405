"""The command line behaves like every other tool's: values joined or spaced, clear refusals."""

import pytest
from boxes import Box, run

from appliance import admin, config

# Tests of the SQLite engine itself (its file, upgrades, the appliance around it).
pytestmark = pytest.mark.sqlite_only


def test_an_option_value_may_follow_the_option_as_the_next_argument(tmp_path):
    box = Box(tmp_path)
    box.args = [
        "--data-dir",
        str(tmp_path),
        "--port",
        str(box.port),
        "--address",
        "127.0.0.1",
    ]
    with box:
        status, body, _ = box.call("GET", "/healthz")
        assert status == 200, body
        assert box.terminate() == 0


def test_a_command_takes_spaced_options_too(tmp_path):
    result = run("status", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "server: not running" in result.stdout


def test_a_flag_does_not_swallow_the_word_after_it(tmp_path):
    result = run("--debug", "status", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_an_unknown_option_prints_one_line_and_the_usage_and_exits_2():
    result = run("--prot=8080")
    assert result.returncode == 2
    error, usage = result.stderr.strip().splitlines()
    assert error == "chatbox: unknown option --prot"
    assert usage.startswith("Usage: chatbox.py [command]")


def test_an_unknown_command_prints_one_line_and_the_usage_and_exits_2():
    result = run("frobnicate")
    assert result.returncode == 2
    error, usage = result.stderr.strip().splitlines()
    assert error == "chatbox: unknown command 'frobnicate'"
    assert usage.startswith("Usage: ")


def test_an_option_missing_its_value_is_refused():
    result = run("status", "--port")
    assert result.returncode == 2
    assert "chatbox: option --port needs a value" in result.stderr


def test_help_lists_every_command_and_every_command_has_an_action():
    assert set(admin.ACTIONS) == config.COMMAND_NAMES
    result = run("--help")
    assert result.returncode == 0
    for command in config.COMMANDS:
        assert command in result.stdout
    assert "--backup-keep" in result.stdout or "--backup_keep" in result.stdout
