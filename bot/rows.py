"""The rows a chat turn writes, typed: one log line, and the session's state after the turn.

The store's hot path reads their fields in `MESSAGE_COLUMNS` / `SESSION_COLUMNS` order, which
come from the types themselves, so a column added here is written everywhere. They are
`NamedTuple`s: as immutable as a frozen dataclass at a quarter of its construction cost (three
rows a turn), and already in column order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from typing_extensions import TypedDict  # pydantic reads these: on Python 3.11 it needs this one

Direction = Literal["in", "out", "agent"]
"""`in` from the user, `out` from the bot, `agent` from a person who took the conversation over."""


class ImagePart(TypedDict):
    """A picture in a bot message: where it is, and what it shows for those who cannot see it."""

    url: str
    alt: str


class LinkPart(TypedDict):
    """A link shown as a card."""

    url: str
    title: str
    description: str


class Rich(TypedDict, total=False):
    """What a bot message shows besides its text and buttons, as `message.rich` stores it."""

    image: ImagePart
    link: LinkPart


class MessageRow(NamedTuple):
    """One line of the conversation log, as written (the id is the database's)."""

    session_id: str
    user_id: int | None
    direction: Direction
    text: str
    client_id: str | None
    intent: str | None
    confidence: float | None
    ranking: list[list[Any]]
    """The classifier's best three, `[intent, score]`; empty on a reply."""
    entities: list[dict[str, Any]]
    slots: dict[str, Any]
    buttons: list[list[str]]
    """`[title, payload]` pairs offered with a reply."""
    fallback: bool
    model_version: str | None
    latency_ms: float | None
    created_at: datetime
    action: dict[str, Any] | None = None
    """On a reply: the action it came from (name, kind, outcome, latency_ms, the slots' new
    values, error). On a user message: `{"calls": [...]}`, every action and validator call
    of its turn (name, kind, outcome, latency_ms, slots_changed, error; a validator's slot and
    verdict), so calls are counted once a turn."""
    rich: Rich | None = None
    """The reply's image and link card, when it has either (what the `reply` frame's `image` and `link` said)."""


class SessionRow(NamedTuple):
    """The `chat_session` columns a turn moves on."""

    active_form: str | None
    requested_slot: str | None
    slots: dict[str, Any]
    turns: int = 0
    failures: int = 0
    last_form: str | None = None
    user_id: int | None = None
    last_active: datetime | None = None


MESSAGE_COLUMNS: tuple[str, ...] = MessageRow._fields
SESSION_COLUMNS: tuple[str, ...] = SessionRow._fields


def note(
    session_id: str,
    user_id: int | None,
    direction: Direction,
    text: str,
    now: datetime,
    *,
    client_id: str | None = None,
    intent: str | None = None,
    buttons: Sequence[tuple[str, str]] = (),
) -> MessageRow:
    """A log row outside a classified turn: a welcome, a message held for a person, a person's, a notice."""
    return MessageRow(
        session_id=session_id,
        user_id=user_id,
        direction=direction,
        text=text,
        client_id=client_id,
        intent=intent,
        confidence=None,
        ranking=[],
        entities=[],
        slots={},
        buttons=[[t, p] for t, p in buttons],
        fallback=False,
        model_version=None,
        latency_ms=None,
        created_at=now,
    )
