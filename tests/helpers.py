"""Helpers the tests share: settings on a fresh database, a real server, protocol clients."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page
from sqlalchemy import create_engine
from starlette.datastructures import State
from starlette.testclient import WebSocketTestSession
from websockets.sync.client import ClientConnection, connect

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
SHOP = DATA / "shop.yaml"
WELCOME = {"en": "Hi, I'm Nora! Pick a topic or ask me anything.", "ru": "Привет, я Нора! Выберите тему или спросите."}
WELCOME_YAML = f"""
welcome:
  text: {{en: "{WELCOME["en"]}", ru: "{WELCOME["ru"]}"}}
  buttons:
    - {{title: {{en: Opening hours, ru: Часы работы}}, payload: /hours}}
    - {{title: {{en: Order status, ru: Статус заказа}}, payload: /order_status}}
"""
"""A welcome in two languages with starter buttons, to add to the shop domain."""
RICH_TEXT = "Here is our store <b>map</b>"
RICH_ACTIONS = '''"""The test domain's action: a rich message, as an action sends one."""

import os

from bot.actions import Link, Reply


def store_map(view):
    return Reply(
        "Here is our store <b>map</b>",
        image=os.environ["SITE_MAP_URL"],
        image_alt="A map of the store",
        link=Link("https://example.com/stores?id=1", "Find a <i>store</i>", "Opening hours"),
        buttons=[(f"Option {i}", f"option {i}") for i in range(12)],
    )
'''
"""`site_actions.py`: the `store_map` action's reply has text, an image (at $SITE_MAP_URL), a link card
and twelve buttons."""
STORE_MAP = """
  store_map:
    title: Store map
    examples:
      - show me the store map
      - store map please
      - a map of the store
      - can I see a map of the shop
      - I need the shop floor plan
      - send me the map
    action: store_map
actions:
  store_map: {python: "site_actions:store_map"}
"""
"""An intent answered by the `store_map` action, to add to the shop domain."""


def train_rich_domain(folder: Path, extra: str = "") -> tuple[Path, Path]:
    """The shop domain with `STORE_MAP` (and `extra`) trained in `folder`: the intents file and the models."""
    return train_domain(folder, STORE_MAP + extra, {"site_actions.py": RICH_ACTIONS})


POSTGRES_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
    # arg-type: `values` mixes the fields' types (Path, str, int); pydantic validates each one
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def app_state(client: TestClient) -> State:
    """The state of the FastAPI app behind `client` (its services and settings)."""
    app = client.app
    assert isinstance(app, FastAPI)
    return app.state


def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def need_postgres(what: str = "") -> None:
    """Skip the calling test when no PostgreSQL answers (fail instead under BOT_TEST_REQUIRE_POSTGRES=1)."""
    problem = what or ("" if postgres_available() else f"PostgreSQL is not reachable at {POSTGRES_URL}")
    if not problem:
        return
    advice = "start one, or point BOT_TEST_POSTGRES_URL at one"
    if os.environ.get("BOT_TEST_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{problem}: {advice} (BOT_TEST_REQUIRE_POSTGRES=1 makes this a failure)")
    pytest.skip(f"{problem}: {advice}")


def require_module(module: str, install: str) -> None:
    """Fail, naming the install command, when `make test`'s own setup should have installed `module`."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed; `make test` installs it ({install})")


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
    cwd: Path = ROOT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 60.0) -> LiveServer:
        with self.log_path.open("ab") as log:  # the server writes to its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.extra_args],
                cwd=self.cwd,
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


def run_rich_server(folder: Path, extra: str = "", env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """A real server on the rich domain (`train_rich_domain` with `extra`), with `env` added; the
    action's store map is an image the server itself serves."""
    intents, models = train_rich_domain(folder, extra)
    port = free_port()
    full = {
        **make_server_env(folder, models),
        "BOT_INTENTS_PATH": str(intents),
        **(env or {}),
        "BOT_PORT": str(port),
        "SITE_MAP_URL": f"http://127.0.0.1:{port}/map.png",
    }
    server = LiveServer(env=full, port=port, log_path=folder / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


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


def train_domain(
    folder: Path, extra: str = "", files: dict[str, str] | None = None, base: str | None = None
) -> tuple[Path, Path]:
    """The shop domain (or `base`, YAML text) plus `extra` YAML (and `files` beside it, e.g. an
    actions module) in `folder`, trained quickly: the intents file and the models folder."""
    from training.fit import main as fit

    for name, content in (files or {}).items():
        (folder / name).write_text(content)
    intents = folder / "intents.yaml"
    intents.write_text((SHOP.read_text() if base is None else base).rstrip("\n") + "\n" + extra)
    assert fit(["--intents", str(intents), "--out", str(folder / "models"), "--quick"]) == 0
    return intents, folder / "models"


def run_server(folder: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    port = free_port()
    server = LiveServer(env={**env, "BOT_PORT": str(port)}, port=port, log_path=folder / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def say(ws: WebSocketTestSession, text: str, id: str | None = None) -> list[dict[str, Any]]:
    """Send a message; return the frames up to and including its last reply."""
    frame: dict[str, Any] = {"type": "message", "text": text}
    if id is not None:
        frame["id"] = id
    ws.send_text(json.dumps(frame))
    frames = []
    while True:
        got = ws.receive_json()
        frames.append(got)
        if got["type"] in ("error", "reply"):
            return frames


def replies(frames: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in frames if f["type"] == "reply"]


def login(client: TestClient, username: str, password: str) -> str:
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


class Chat:
    """A small synchronous client for the protocol in docs/protocol.md."""

    def __init__(self, url: str, session_id: str | None = None, token: str | None = None) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(connect(url, open_timeout=10))
        try:
            self.ws.send(json.dumps({"type": "hello", "session_id": session_id, "token": token}))
            self.session = self.recv()
        except BaseException:  # refused (e.g. closed with 1013): let go of the socket
            self._stack.close()
            raise
        self.session_id: str = self.session["session_id"]

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        return dict(json.loads(self.ws.recv(timeout)))

    def say(self, text: str, id: str | None = None) -> dict[str, Any]:
        self.ws.send(json.dumps({"type": "message", "text": text, "id": id}))
        return self.reply()

    def reply(self) -> dict[str, Any]:
        while True:
            frame = self.recv()
            if frame["type"] in ("reply", "error"):
                return frame

    def close(self) -> None:
        self._stack.close()


def history(server: LiveServer, session_id: str, token: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(
        f"{server.url}/api/sessions/{session_id}/messages", params={"limit": 500}, headers=headers, timeout=10
    )
    response.raise_for_status()
    return response.json()["items"]


def wait_for(
    condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition", page: Page | None = None
) -> Any:
    """Poll; with a page, wait through Playwright so its event handlers (routes) keep running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
