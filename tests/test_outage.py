"""The database goes away and comes back: a private PostgreSQL cluster the test starts and stops."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import Chat, LiveServer, free_port, need_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        need_postgres(f"PostgreSQL's server binaries ({name}) are not installed (apt-get install postgresql)")
    return found[-1]


@dataclass
class Cluster:
    """A throwaway PostgreSQL on a free loopback port, run as the postgres user."""

    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=2"

    def _ctl(self, *args: str) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.datadir} -c fsync=off"
        )
        command = [_pg_bin("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30", "-o", options, *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("-l", str(self.datadir / "server.log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="pg-outage-"))
    datadir = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    cluster = Cluster(datadir, free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,  # the cluster may already be down: the test stops it on purpose
        )
        shutil.rmtree(base, ignore_errors=True)


def test_database_outage_is_reported_and_survived(cluster: Cluster, server_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**server_env, "BOT_DATABASE_URL": cluster.url, "BOT_PORT": str(port)}
    server = LiveServer(env=env, port=port, log_path=tmp_path / "server.log").start()
    try:
        chat = Chat(server.ws_url)
        assert chat.say("where is my order", "o1")["text"] == "What is your order number?"

        cluster.stop()
        error = chat.say("AB123456", "o2")
        assert error["type"] == "error" and error["code"] == "unavailable" and error["reply_to"] == "o2"
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and ready.json()["database"] is False
        assert httpx.get(f"{server.url}/healthz").status_code == 200

        cluster.start()
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.url}/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        reply = chat.say("AB123456", "o2")  # the same id again: it was never answered
        assert reply["type"] == "reply" and reply["text"] == "Order AB123456 is on its way."
        chat.close()
        items = httpx.get(f"{server.url}/api/sessions/{chat.session_id}/messages").json()["items"]
        assert [(m["direction"], m["client_id"]) for m in items] == [
            ("in", "o1"),
            ("out", "o1"),
            ("in", "o2"),
            ("out", "o2"),
        ]
    finally:
        server.stop()
