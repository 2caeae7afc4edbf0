"""The rows a chat turn writes, typed: one log line, and the session's state after the turn.

The store's hot path reads their fields in `MESSAGE_COLUMNS` / `SESSION_COLUMNS` order, which
come from the dataclasses themselves, so a column added here is written everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

Direction = Literal["in", "out", "agent"]
"""`in` from the user, `out` from the bot, `agent` from a person who took the conversation over."""


@dataclass(frozen=True, slots=True)
class MessageRow:
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


@dataclass(frozen=True, slots=True)
class SessionRow:
    """The `chat_session` columns a turn moves on."""

    active_form: str | None
    requested_slot: str | None
    slots: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    failures: int = 0
    last_form: str | None = None
    user_id: int | None = None
    last_active: datetime | None = None


MESSAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(MessageRow))
SESSION_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(SessionRow))
