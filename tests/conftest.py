"""Shared fixtures: a model trained once on a small domain, fresh databases, real servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from bot.app import create_app
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
SHOP = DATA / "shop.yaml"
CHROMIUM_ARGS = [  # Debian's Chromium, headless, asking nothing of the network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
POSTGRES_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop domain trained once for the whole run (light pipeline)."""
    from training.fit import main as fit

    out = tmp_path_factory.mktemp("models")
    assert fit(["--intents", str(SHOP), "--out", str(out), "--quick"]) == 0
    return out


def make_settings(folder: Path, models_dir: Path, **overrides: object) -> Settings:
    """Settings on a fresh SQLite file in `folder` and the shared model; no environment read."""
    values: dict[str, object] = {
        "database_url": f"sqlite:///{folder / 'bot.db'}",
        "intents_path": SHOP,
        "models_dir": models_dir,
        "train_if_needed": False,
        "rate_per_second": 1000,
        "rate_burst": 1000,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


@pytest.fixture
def settings(tmp_path: Path, models_dir: Path) -> Settings:
    """Settings for one test: its own SQLite file, the shared trained model."""
    return make_settings(tmp_path, models_dir)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not postgres_available():
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL} (set BOT_TEST_POSTGRES_URL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """`python -m bot` in a subprocess on a free loopback port; restartable, killable."""

    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 60.0) -> LiveServer:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.extra_args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()


def make_server_env(folder: Path, models_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(
        BOT_DATABASE_URL=f"sqlite:///{folder / 'live.db'}",
        BOT_INTENTS_PATH=str(SHOP),
        BOT_MODELS_DIR=str(models_dir),
        BOT_TRAIN_IF_NEEDED="false",
        BOT_ADMIN_USERNAME="admin",
        BOT_ADMIN_PASSWORD="admin-password-1",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def server_env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    return make_server_env(tmp_path, models_dir)


def run_server(folder: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    port = free_port()
    server = LiveServer(env={**env, "BOT_PORT": str(port)}, port=port, log_path=folder / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_server(tmp_path: Path, server_env: dict[str, str]) -> Iterator[LiveServer]:
    """A real uvicorn on loopback, for one test: it may restart or kill it."""
    yield from run_server(tmp_path, server_env)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[LiveServer]:
    """A real uvicorn shared by a module's tests that leave it running."""
    folder = tmp_path_factory.mktemp("shared-server")
    yield from run_server(folder, make_server_env(folder, models_dir))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is not installed; `make test` installs it (apt-get install chromium)")
    return path
