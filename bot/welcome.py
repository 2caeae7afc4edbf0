"""The welcome message a new conversation opens with (`welcome:` in intents.yaml)."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Domain
from bot.language import language_code
from bot.protocol import Button, Reply


def welcome_reply(domain: Domain, lang: str | None, now: datetime) -> Reply | None:
    """The welcome as a `reply` frame in the client's language; None when the domain has none.

    Not logged: it has no `message_id` (so no thumbs) and no `reply_to`.
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
