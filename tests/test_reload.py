"""Hot reload: a new model goes live with connections open; a broken one leaves the old serving."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.auth import create_user
from bot.config import Settings
from bot.model import current_version, promote
from tests.helpers import SHOP, app_state, replies, say
from training.fit import main as fit

EXTRA_INTENT = """
  weather:
    examples:
      - what is the weather like
      - will it rain today
      - is it sunny outside
      - weather forecast please
      - how hot is it today
      - do I need an umbrella
    responses:
      - "I only know about the shop, but take an umbrella just in case."
"""


@pytest.fixture
def models(tmp_path: Path, models_dir: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy, symlinks=True)
    return copy


@pytest.fixture
def admin_client(settings: Settings, models: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(settings.model_copy(update={"models_dir": models}))
    with TestClient(app) as client:
        create_user(app.state.services.engine, "boss", "boss-password", "admin")
        token = client.post("/api/login", json={"username": "boss", "password": "boss-password"}).json()["token"]
        yield client, {"Authorization": f"Bearer {token}"}


def train_weather(tmp_path: Path, models: Path) -> str:
    domain = tmp_path / "weather.yaml"
    domain.write_text(SHOP.read_text() + EXTRA_INTENT)
    old = current_version(models)
    assert fit(["--intents", str(domain), "--out", str(models), "--quick"]) == 0
    new = current_version(models)
    assert new and new != old
    return new


def test_reload_switches_model_and_domain_with_connection_open(
    admin_client: tuple[TestClient, dict[str, str]], tmp_path: Path, models: Path
) -> None:
    client, admin = admin_client
    with client.websocket_connect("/ws") as ws:
        before = say(ws, "will it rain today")
        assert before[-1]["intent"] != "weather"
        old = current_version(models)
        new = train_weather(tmp_path, models)
        answer = client.post("/api/admin/reload", headers=admin)
        assert answer.status_code == 200 and answer.json() == {"version": new, "previous": old}
        after = say(ws, "will it rain today")
        assert after[-1]["intent"] == "weather" and "umbrella" in after[-1]["text"]
        session_id = before[0]["session_id"]
    items = client.get(f"/api/sessions/{session_id}/messages").json()["items"]
    assert [m["model_version"] for m in items] == [old, old, new, new]
    assert client.get("/readyz").json()["model"] == new


def test_served_model_is_hidden_from_the_collector_and_a_replaced_one_is_freed(
    admin_client: tuple[TestClient, dict[str, str]], tmp_path: Path, models: Path
) -> None:
    client, admin = admin_client
    services = app_state(client).services
    old = weakref.ref(services.nlu.model.preprocessor.nlp)  # a spaCy pipeline is a reference cycle
    served = services.nlu.model.preprocessor
    assert not any(obj is served for obj in gc.get_objects()), "full collections walk the served model"
    del served
    train_weather(tmp_path, models)
    assert client.post("/api/admin/reload", headers=admin).status_code == 200
    gc.collect()
    assert old() is None, "the replaced model stayed frozen in memory"


def test_broken_model_leaves_the_old_one_serving(admin_client: tuple[TestClient, dict[str, str]], models: Path) -> None:
    client, admin = admin_client
    serving = current_version(models)
    broken = models / "broken"
    shutil.copytree(models / str(serving), broken)
    (broken / "model.joblib").write_bytes(b"not a pickle")
    promote(models, "broken")
    answer = client.post("/api/admin/reload", headers=admin)
    assert answer.status_code == 409
    assert (
        f"still serving {serving}" in answer.json()["detail"]
        and "run `python -m training.fit`" in answer.json()["detail"]
    )
    with client.websocket_connect("/ws") as ws:
        assert replies(say(ws, "thanks"))
    assert client.get("/readyz").json()["model"] == serving


def test_reloads_under_traffic_lose_and_duplicate_nothing(
    admin_client: tuple[TestClient, dict[str, str]], tmp_path: Path, models: Path
) -> None:
    client, admin = admin_client
    versions = {current_version(models), train_weather(tmp_path, models)}
    errors: list[str] = []
    sessions: list[str] = []

    def talk(worker: int) -> None:
        with client.websocket_connect("/ws") as ws:
            for i in range(25):
                frames = say(ws, "what are your opening hours", f"{worker}-{i}")
                if i == 0:
                    sessions.append(frames[0]["session_id"])
                if frames[-1]["type"] != "reply":
                    errors.append(json.dumps(frames[-1]))

    threads = [threading.Thread(target=talk, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for _ in range(10):
        older, newer = sorted(versions)
        promote(models, older if current_version(models) == newer else newer)
        assert client.post("/api/admin/reload", headers=admin).status_code == 200
    for t in threads:
        t.join()
    assert errors == []
    for session_id in sessions:
        items = client.get(f"/api/sessions/{session_id}/messages?limit=500").json()["items"]
        ids = [m["client_id"] for m in items if m["direction"] == "in"]
        assert len(ids) == len(set(ids)) == 25
        assert len([m for m in items if m["direction"] == "out"]) == 25
        assert {m["model_version"] for m in items} <= versions


def test_watch_models_reloads_by_itself(settings: Settings, models: Path, tmp_path: Path) -> None:
    import time

    app = create_app(settings.model_copy(update={"models_dir": models, "watch_models": True}))
    with TestClient(app) as client:
        new = train_weather(tmp_path, models)
        deadline = time.monotonic() + 15
        while client.get("/readyz").json()["model"] != new and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").json()["model"] == new


_FRAGMENT = """
import sys
from bot.memory import return_large_blocks
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
if sys.argv[1] == "fixed":
    return_large_blocks()
first = bytearray(4 << 20)
del first  # glibc's dynamic mmap threshold is now at least 4 MiB, whatever imports did before
holes = [bytearray(1000) for _ in range(20_000)]  # fill the free holes imports left in the heap
base = rss_mb()
blocks, small = [], []
for _ in range(100):  # a model's large arrays, with small objects that live on between them
    blocks.append(bytearray(1 << 20))
    small.append(bytearray(1000))
del blocks
print(round(rss_mb() - base))
"""


def test_large_blocks_go_back_to_the_system_when_freed() -> None:
    """What keeps reloads from growing the process: with glibc's default, 100 MB of freed
    1 MiB blocks stay resident behind the small objects allocated between them."""

    def resident_after_free(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _FRAGMENT, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent.parent,
        )
        return int(done.stdout)

    assert resident_after_free("fixed") < 10
    assert resident_after_free("default") > 50  # the failure the setting prevents, still there to prevent
