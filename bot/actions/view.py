"""The turn as an action sees it: typed, frozen, and read-only down to the slots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.understanding import Entity, Understanding


@dataclass(frozen=True, slots=True)
class TurnView:
    """What an action may read about the turn; changes go back through its result."""

    text: str
    intent: str | None
    confidence: float
    session_id: str
    language: str
    entities: tuple[Entity, ...] = ()
    slots: Mapping[str, Any] = field(default_factory=dict)
    user_id: int | None = None
    username: str | None = None
    requested_slot: str | None = None
    active_form: str | None = None
    ranking: tuple[tuple[str, float], ...] = ()
    """The classifier's best guesses, `(intent, confidence)`."""
    correcting: bool = False
    """This run corrects the same form's last run ("actually, make it friday"): change what
    that run did (move the booking) instead of doing it again."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "entities", tuple(self.entities))
        object.__setattr__(self, "slots", MappingProxyType(dict(self.slots)))
        object.__setattr__(self, "ranking", tuple((str(i), float(c)) for i, c in self.ranking))

    def slot(self, name: str, default: Any = None) -> Any:
        value = self.slots.get(name)
        return default if value is None else value

    def entity(self, name: str) -> Entity | None:
        """The first entity of that type in the message, if any."""
        return next((e for e in self.entities if e.entity == name), None)


def view_of(
    understanding: Understanding,
    *,
    slots: Mapping[str, Any],
    session_id: str,
    language: str,
    user_id: int | None = None,
    username: str | None = None,
    requested_slot: str | None = None,
    active_form: str | None = None,
) -> TurnView:
    """The view of a turn from what the bot made of the message and the session's state."""
    prediction = understanding.prediction
    return TurnView(
        text=understanding.text,
        intent=None if prediction.is_fallback else prediction.intent,
        confidence=prediction.confidence,
        session_id=session_id,
        language=language,
        entities=tuple(understanding.entities),
        slots=slots,
        user_id=user_id,
        username=username,
        requested_slot=requested_slot,
        active_form=active_form,
        ranking=tuple(prediction.ranking),
    )
