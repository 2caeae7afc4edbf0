"""What the bot says outside the domain's intents, per language: handoff notices, chat commands.

Built in for every language of `bot.domain.LANGUAGES`; a domain may override any of them under
`system_texts:` in intents.yaml, per language in a bot of several (docs/intents.md). Each text
may use only the placeholders its English text uses (`{position}`, `{email}`, ...).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict


class SystemTexts(BaseModel):
    """Every text the bot says of itself, in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queued: str
    """A person will take over; `{ahead}` is `queued_next` or `queued_position`."""
    queued_next: str
    queued_position: str
    nobody_online: str
    """Nobody is online: the bot offers to take a message and asks for an email address."""
    never_mind: str
    """The title of the button that gives up leaving a message (typing it does too)."""
    ticket_cancelled: str
    ticket_bad_email: str
    ticket_ask_text: str
    ticket_filed: str
    resume: str
    """Said when an agent gives the conversation back (unless `BOT_HANDOFF_RESUME_MESSAGE` is set)."""
    agent_gone: str
    """The agent holding the conversation is no longer available (their account was deleted): back
    in the queue; `{ahead}` is `queued_next` or `queued_position`."""
    colleague: str
    """How an agent is named whose account no longer exists."""
    whoami_user: str
    whoami_guest: str
    reset: str
    not_logged_in: str
    logged_out: str


ENGLISH = SystemTexts(
    queued="I've asked a colleague from our support team to take over: {ahead}. They'll answer right here.",
    queued_next="you're next",
    queued_position="you're number {position} in the queue",
    nobody_online=(
        "Nobody from our team is online right now. Leave a message and we'll email you back: what's your email address?"
    ),
    never_mind="Never mind",
    ticket_cancelled="No problem. What else can I help you with?",
    ticket_bad_email="That doesn't look like an email address. Where should we write to?",
    ticket_ask_text="Thanks. Now type your message for the team.",
    ticket_filed="Your message is with our team; we'll reply to {email}. Anything else?",
    resume="You're back with the virtual assistant. Ask me anything, or ask for a person again.",
    agent_gone=(
        "The colleague who was helping you is no longer available, so your conversation is back in the queue "
        "for someone else from our team: {ahead}."
    ),
    colleague="A colleague",
    whoami_user="You are logged in as {username} ({role}). Session {session_id}.",
    whoami_guest="You are chatting as a guest. Session {session_id}.",
    reset="Starting over: I've forgotten this conversation's details.",
    not_logged_in="You are not logged in.",
    logged_out="You are logged out; this is a new guest session.",
)

RUSSIAN = SystemTexts(
    queued="Передаю разговор коллеге из службы поддержки: {ahead}. Ответ придёт прямо сюда.",
    queued_next="вы следующий в очереди",
    queued_position="ваш номер в очереди: {position}",
    nobody_online=(
        "Сейчас никого из нашей команды нет на месте. Оставьте сообщение, и мы ответим по почте: "
        "какой у вас адрес электронной почты?"
    ),
    never_mind="Не нужно",
    ticket_cancelled="Хорошо. Чем ещё могу помочь?",
    ticket_bad_email="Это не похоже на адрес электронной почты. Куда вам написать?",
    ticket_ask_text="Спасибо. Теперь напишите сообщение для команды.",
    ticket_filed="Ваше сообщение передано команде; мы ответим на {email}. Что-нибудь ещё?",
    resume="Вы снова говорите с виртуальным помощником. Спрашивайте что угодно или снова позовите человека.",
    agent_gone=(
        "Сотрудник, который вам помогал, больше недоступен, поэтому разговор снова в очереди "
        "и его подхватит другой коллега из нашей команды: {ahead}."
    ),
    colleague="Коллега",
    whoami_user="Вы вошли как {username} ({role}). Сессия {session_id}.",
    whoami_guest="Вы общаетесь как гость. Сессия {session_id}.",
    reset="Начинаем сначала: подробности этого разговора забыты.",
    not_logged_in="Вы не вошли в систему.",
    logged_out="Вы вышли из системы; это новая гостевая сессия.",
)

BUILT_IN: Mapping[str, SystemTexts] = MappingProxyType({"en": ENGLISH, "ru": RUSSIAN})
"""The built-in texts of each language the bot may speak."""
NAMES = tuple(SystemTexts.model_fields)


def built_in(language: str | None) -> SystemTexts:
    """The built-in texts of `language`; English for one without them."""
    return BUILT_IN.get(language or "en", ENGLISH)


def texts_for(language: str | None, overrides: Mapping[str, str]) -> SystemTexts:
    """The built-in texts of `language` with a domain's overrides (checked by `problems`) in their place."""
    return built_in(language).model_copy(update=dict(overrides))


def problems(overrides: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, message) for each override that names no text or uses a placeholder its text lacks."""
    found: list[tuple[str, str]] = []
    for key, text in overrides.items():
        if key not in NAMES:
            found.append((key, f"system_texts: unknown text '{key}'; the texts are {', '.join(NAMES)}"))
            continue
        allowed = _placeholders(getattr(ENGLISH, key))
        try:
            used = _placeholders(text)
        except ValueError as exc:
            found.append((key, f"system_texts.{key}: {exc}; write a literal brace as {{{{ or }}}}"))
            continue
        if not used <= allowed:
            may = ", ".join(f"{{{p}}}" for p in sorted(allowed)) or "none"
            bad = ", ".join(f"{{{p}}}" for p in sorted(used - allowed))
            found.append((key, f"system_texts.{key}: {bad} is not known here; it may use {may}"))
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
