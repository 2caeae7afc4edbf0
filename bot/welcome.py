"""The welcome message a new conversation opens with (`welcome:` in intents.yaml)."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Domain
from bot.language import language_code
from bot.protocol import Button, Reply
from bot.rows import MessageRow, note


def welcome_reply(domain: Domain, lang: str | None, now: datetime) -> Reply | None:
    """The welcome as a `reply` frame in the client's language; None when the domain has none.

    It answers no message, so it has no `reply_to`; the service logs it (`welcome_row`) and
    sends it with the logged message's id.
    """
    if domain.welcome is None:
        return None
    response = domain.welcome.for_language(language_code(lang), domain.language)
    return Reply(
        text=response.text,
        intent=None,
        confidence=None,
        buttons=tuple(Button(title=b.title, payload=b.payload) for b in response.buttons),
        time=now.isoformat(),
    )


def welcome_row(session_id: str, user_id: int | None, welcome: Reply, now: datetime) -> MessageRow:
    """The welcome as the session's first log line: a bot message answering no client id."""
    return note(session_id, user_id, "out", welcome.text, now, buttons=[(b.title, b.payload) for b in welcome.buttons])
