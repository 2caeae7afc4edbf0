"""Two instances share one PostgreSQL: a conversation moves between them, turns stay in order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Chat, LiveServer, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pair(postgres_url: str, server_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    servers = []
    for name in ("a", "b"):
        port = free_port()
        env = {**server_env, "BOT_DATABASE_URL": postgres_url, "BOT_PORT": str(port)}
        servers.append(LiveServer(env=env, port=port, log_path=tmp_path / f"{name}.log").start())
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


def test_conversation_moves_between_instances(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    on_a = Chat(a.ws_url)
    assert on_a.say("book an appointment", "m1")["text"] == "Which day suits you?"
    assert on_a.say("monday", "m2")["text"] == "What name should I put it under?"
    on_a.close()
    on_b = Chat(b.ws_url, session_id=on_a.session_id)
    assert on_b.session["resumed"] is True and on_b.session["slots"] == {"day": "monday"}
    assert on_b.say("monday", "m2")["duplicate"] is True  # a resend after the move is not redone
    assert on_b.say("Ada", "m3")["text"] == "Booked for Ada on monday."
    on_b.close()
    items = httpx.get(f"{a.url}/api/sessions/{on_a.session_id}/messages").json()["items"]
    assert [m["client_id"] for m in items if m["direction"] == "in"] == ["m1", "m2", "m3"]


def test_simultaneous_turns_on_two_instances_apply_in_order(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    on_a = Chat(a.ws_url)
    on_b = Chat(b.ws_url, session_id=on_a.session_id)
    replies: dict[str, list[dict[str, object]]] = {"a": [], "b": []}

    def talk(chat: Chat, key: str) -> None:
        for i in range(10):
            replies[key].append(chat.say(f"thanks {key}{i}", f"{key}{i}"))

    threads = [threading.Thread(target=talk, args=(on_a, "a")), threading.Thread(target=talk, args=(on_b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_a.close()
    on_b.close()
    assert all(r["type"] == "reply" for r in replies["a"] + replies["b"])
    items = httpx.get(f"{a.url}/api/sessions/{on_a.session_id}/messages?limit=100").json()["items"]
    assert len(items) == 40
    pairs = [(items[i]["client_id"], items[i + 1]["client_id"]) for i in range(0, 40, 2)]
    assert all(x == y for x, y in pairs)  # every reply directly follows its message
    session = httpx.get(f"{a.url}/api/sessions/{on_a.session_id}/messages").json()
    assert session["total"] == 40
    with httpx.Client() as client:
        assert json.loads(client.get(f"{b.url}/readyz").text)["ready"] is True
