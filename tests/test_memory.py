"""The collector's young threshold: what the setting asks for is what the server runs with."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.memory import collect_young_every
from tests.helpers import make_settings


@pytest.fixture
def kept_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("kept_threshold")
def test_collect_young_every_sets_only_the_young_threshold() -> None:
    gc.set_threshold(700, 11, 12)
    assert collect_young_every(5_000) == 700
    assert gc.get_threshold() == (5_000, 11, 12)


@pytest.mark.usefixtures("kept_threshold")
def test_the_server_starts_with_the_configured_threshold(tmp_path: Path, models_dir: Path) -> None:
    gc.set_threshold(700, 10, 10)
    settings = make_settings(tmp_path, models_dir, gc_young_threshold=12_345)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold()[0] == 12_345
