"""What an action sees and what it gives back: light, typed values shared by the policy and the runner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.understanding import Entity

Outcome = Literal["ok", "rejected", "timeout", "error", "circuit_open"]


@dataclass(frozen=True)
class TurnView:
    """A read-only view of the turn an action runs in."""

    text: str
    intent: str | None
    confidence: float
    entities: tuple[Entity, ...]
    slots: Mapping[str, Any]
    session_id: str
    user_id: int | None = None
    username: str | None = None
    language: str = "en"
    active_form: str | None = None
    requested_slot: str | None = None


@dataclass(frozen=True)
class Link:
    url: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class ActionMessage:
    """One message an action sends: text, quick-reply buttons, an image or a link card."""

    text: str = ""
    buttons: tuple[tuple[str, str], ...] = ()
    """(title, payload) pairs."""
    image: str | None = None
    image_alt: str = ""
    link: Link | None = None
    custom: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ActionResult:
    """What an action did; a failed call has no messages and an outcome other than `ok`."""

    outcome: Outcome = "ok"
    messages: tuple[ActionMessage, ...] = ()
    set_slots: Mapping[str, Any] = field(default_factory=dict)
    reset_slots: bool = False
    followup: str | None = None
    """An intent to start next, a form for instance."""
    end_session: bool = False
    handoff: str | None = None
    """Hand the conversation to a person, for this reason."""
    latency_ms: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class Validation:
    """A slot validator's verdict: the value accepted (maybe normalised), or rejected with a message."""

    accepted: bool
    value: Any = None
    message: str | None = None
