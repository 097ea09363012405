"""An acknowledged message survives ``kill -9``: a real chatbox process, killed for real."""
import asyncio
import os
import signal
import socket
import subprocess
import sys

import pytest
import tornado.httpclient

from conftest import API
from realtime import read, read_type, send

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``python chatbox.py`` as systemd would run it, on a loopback port."""

    def __init__(self, db_path, log_path):
        self.db_path = db_path
        self.log_path = log_path
        self.process = None

    async def start(self):
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(ROOT, "chatbox.py"),
                    f"--port={self.port}",
                    "--address=127.0.0.1",
                    f"--db={self.db_path}",
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = tornado.httpclient.AsyncHTTPClient()
        for _ in range(200):  # up to 20 s on a busy machine
            assert self.process.poll() is None, open(self.log_path).read()
            try:
                response = await client.fetch(self.url + "/healthz", raise_error=False)
                if response.code == 200:
                    return API(self.url)
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError("chatbox did not start")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def server(tmp_path):
    running = Server(str(tmp_path / "chatbox.db"), str(tmp_path / "chatbox.log"))
    yield running
    running.stop()


@pytest.mark.gen_test(timeout=90)
async def test_every_message_acked_before_a_kill_9_is_there_after_restart(server):
    api = await server.start()
    alice = await api.signup("alice")
    uri = await alice.start_chat()
    acked = {}
    for round_ in range(3):
        ws = await alice.socket("/ws")
        assert (await read(ws))["type"] == "hello"
        # Many sends in flight at once, so the kill lands right after a group commit.
        for n in range(50):
            client_id = f"r{round_}-{n}"
            send(ws, {"type": "send", "uri": uri, "client_id": client_id, "text": client_id})
        for _ in range(50):
            ack = await read_type(ws, "ack", skip=("message",))
            acked[ack["client_id"]] = ack["id"]
        server.kill()  # no shutdown, no flush: the process simply vanishes
        api = await server.start()
        alice.api = api
        stored = await alice.history(uri, "?limit=200")
        assert {m["client_id"]: m["id"] for m in stored} == acked
        assert [m["message"] for m in stored] == [m["client_id"] for m in stored]
    assert len(acked) == 150
