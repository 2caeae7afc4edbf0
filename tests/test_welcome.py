"""`welcome:` in the domain, checked at load and sent in the client's language; rich reply fields validated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.app import create_app
from bot.domain import DomainError, parse_domain
from bot.protocol import Image, LinkCard, Reply
from bot.welcome import welcome_reply
from tests.helpers import SHOP, make_settings
from training.fit import main as fit

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


def test_a_new_conversation_opens_with_the_welcome_and_a_resumed_one_does_not(tmp_path: Path) -> None:
    welcome = (
        '  text: {en: "Hi! How can I help?", ru: "Здравствуйте!"}\n  buttons:\n    - {title: Hours, payload: /hours}\n'
    )
    intents = tmp_path / "intents.yaml"
    intents.write_text(domain_with(welcome))
    assert fit(["--intents", str(intents), "--out", str(tmp_path / "models"), "--quick"]) == 0
    settings = make_settings(tmp_path, tmp_path / "models", intents_path=intents)
    with TestClient(create_app(settings)) as client, client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "lang": "ru"})
        session, greeting = ws.receive_json(), ws.receive_json()
        assert greeting["type"] == "reply" and greeting["text"] == "Здравствуйте!"
        ws.send_json({"type": "hello", "session_id": session["session_id"]})
        assert ws.receive_json()["resumed"] is True
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # no second welcome came before it
