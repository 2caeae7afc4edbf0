"""`welcome:` in the domain, checked at load and sent in the client's language; rich reply fields validated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from websockets.sync.client import ClientConnection, connect

from bot.app import create_app
from bot.domain import DomainError, parse_domain
from bot.protocol import Image, LinkCard, Reply
from bot.welcome import welcome_reply
from tests.helpers import (
    SHOP,
    WELCOME,
    WELCOME_YAML,
    LiveServer,
    make_server_env,
    make_settings,
    run_server,
    train_domain,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def domain_with(welcome: str) -> str:
    return SHOP.read_text() + "\nwelcome:\n" + welcome


def test_welcome_per_language_with_starter_buttons() -> None:
    domain = parse_domain(
        domain_with(
            """  text: {en: "Hi!", ru: "Привет!"}
  buttons:
    - {title: {en: Opening hours, ru: Часы работы}, payload: /hours}
    - Thanks
"""
        )
    )
    ru = welcome_reply(domain, "ru-RU", NOW)
    assert ru is not None and ru.text == "Привет!"
    assert [(b.title, b.payload) for b in ru.buttons] == [("Часы работы", "/hours"), ("Thanks", "Thanks")]
    assert ru.message_id is None and ru.reply_to is None and ru.intent is None
    for lang in (None, "en", "de"):  # unknown: the domain's language
        reply = welcome_reply(domain, lang, NOW)
        assert reply is not None and reply.text == "Hi!"


def test_a_plain_string_welcome_and_none() -> None:
    reply = welcome_reply(parse_domain(domain_with('  "Hello there"\n')), "ru", NOW)
    assert reply is not None and reply.text == "Hello there" and reply.buttons == ()
    assert welcome_reply(parse_domain(SHOP.read_text()), "en", NOW) is None


def test_bad_welcomes_are_reported_with_their_lines() -> None:
    buttons = "".join(f"    - {{title: B{i}, payload: /hours}}\n" for i in range(11))
    with pytest.raises(DomainError) as error:
        parse_domain(
            domain_with('  text: {en: "Hi", de: "Hallo"}\n  buttons:\n    - {title: X, payload: /nope}\n' + buttons)
        )
    text = str(error.value)
    assert "language 'de' is not supported" in text
    assert "button payload '/nope' names no intent" in text
    assert "at most 10 buttons, has 12" in text


def test_rich_reply_fields_accept_only_web_urls() -> None:
    reply = Reply(
        text="See",
        intent=None,
        confidence=None,
        image=Image(url="https://example.com/a.png", alt="A"),
        link=LinkCard(url="http://example.com", title="Example"),
    )
    assert '"link":{"url":"http://example.com","title":"Example","description":""}' in reply.model_dump_json()
    with pytest.raises(ValidationError):
        Image(url="javascript:alert(1)", alt="x")
    with pytest.raises(ValidationError):
        LinkCard(url="data:text/html,hi", title="x")


@pytest.fixture(scope="module")
def welcome_domain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shop domain with `WELCOME_YAML`, trained once for the module."""
    return train_domain(tmp_path_factory.mktemp("welcome"), WELCOME_YAML)


def test_a_new_conversation_opens_with_the_welcome_and_a_resumed_one_does_not(
    tmp_path: Path, welcome_domain: tuple[Path, Path]
) -> None:
    intents, models = welcome_domain
    settings = make_settings(tmp_path, models, intents_path=intents)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "lang": "ru"})
        session, greeting = ws.receive_json(), ws.receive_json()
        assert greeting["type"] == "reply" and greeting["text"] == WELCOME["ru"]
        assert [b["title"] for b in greeting["buttons"]] == ["Часы работы", "Статус заказа"]
        ws.send_json({"type": "hello", "session_id": session["session_id"]})
        assert ws.receive_json()["resumed"] is True
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # no second welcome came before it


def history(server: LiveServer, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/sessions/{session_id}/messages", params={"limit": 100}, timeout=10)
    response.raise_for_status()
    return list(response.json()["items"])


def reply_of(ws: ClientConnection) -> dict[str, Any]:
    """The next `reply` frame (a slow turn sends `typing` first)."""
    while (frame := json.loads(ws.recv(10)))["type"] == "typing":
        pass
    return dict(frame)


@pytest.fixture
def welcome_server(tmp_path: Path, welcome_domain: tuple[Path, Path]) -> Iterator[LiveServer]:
    intents, models = welcome_domain
    yield from run_server(tmp_path, {**make_server_env(tmp_path, models), "BOT_INTENTS_PATH": str(intents)})


def test_the_welcome_is_logged_as_the_bots_first_message(welcome_server: LiveServer) -> None:
    """Over a real WebSocket: in the history once, before the turns; thumbs on it are stored; a
    resumed session is not welcomed again; a first message without hello opens no welcome."""
    server = welcome_server
    with connect(server.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "hello", "lang": "en"}))
        session, greeting = json.loads(ws.recv(10)), json.loads(ws.recv(10))
        session_id = session["session_id"]
        assert greeting["type"] == "reply" and greeting["text"] == WELCOME["en"]
        assert isinstance(greeting["message_id"], int) and greeting["reply_to"] is None
        ws.send(json.dumps({"type": "message", "text": "when are you open", "id": "c1"}))
        reply = reply_of(ws)
        assert reply["reply_to"] == "c1" and reply["message_id"] > greeting["message_id"]
        ws.send(json.dumps({"type": "feedback", "message_id": greeting["message_id"], "value": 1}))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(10)) == {"type": "pong"}  # the feedback was accepted: no error came first

    logged = history(server, session_id)
    assert [(m["direction"], m["text"]) for m in logged] == [
        ("out", WELCOME["en"]),
        ("in", "when are you open"),
        ("out", "We are open 9 to 5, Monday to Friday."),
    ]
    first = logged[0]
    assert first["id"] == greeting["message_id"] and first["client_id"] is None and first["feedback"] == 1
    assert first["buttons"] == [["Opening hours", "/hours"], ["Order status", "/order_status"]]

    with connect(server.ws_url, open_timeout=10) as ws:  # a reconnect resumes: no second welcome
        ws.send(json.dumps({"type": "hello", "session_id": session_id, "lang": "en"}))
        assert json.loads(ws.recv(10))["resumed"] is True
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(10)) == {"type": "pong"}
    assert [m["text"] for m in history(server, session_id)].count(WELCOME["en"]) == 1

    with connect(server.ws_url, open_timeout=10) as ws:  # a first message without hello: no welcome
        ws.send(json.dumps({"type": "message", "text": "hi", "id": "c2"}))
        opened = json.loads(ws.recv(10))
        assert opened["type"] == "session" and reply_of(ws)["reply_to"] == "c2"
    assert WELCOME["en"] not in [m["text"] for m in history(server, opened["session_id"])]
