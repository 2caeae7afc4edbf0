"""`welcome:` in the domain, checked at load and sent in the client's language; rich reply fields validated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bot.domain import DomainError, parse_domain
from bot.protocol import Image, LinkCard, Reply
from bot.welcome import welcome_reply
from tests.conftest import SHOP

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
