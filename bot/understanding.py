"""What the bot makes of one message, as plain values: entities, the prediction, both together.

This module imports nothing heavy (no spaCy, no numpy), so the dialogue policy and its tests
load in milliseconds and every layer shares one definition of each value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OOS = "oos"
"""Intent name whose examples are out-of-scope: they teach the fallback, never an answer."""
FALLBACK = "fallback"
"""Reserved label for the fallback; no intent may be called this."""


def same_text(text: str) -> str:
    """The key under which two texts are the same example or message: case-folded, spaces collapsed."""
    return " ".join(text.casefold().split())


EntityValue = str | int | float | bool | dict[str, Any] | list[Any]
"""A resolved value: text, a number, or typed JSON (an amount with its currency, a range)."""


@dataclass(frozen=True)
class Entity:
    """An entity found in a message: `value` is canonical, `text` what the user wrote."""

    entity: str
    value: EntityValue
    start: int
    end: int
    text: str
    confidence: float = 1.0
    """1.0 for declared values, patterns and built-ins; the model's own for a learned guess."""
    source: str = "lookup"
    """Where it came from: lookup, regex, builtin or model (the merge rule prefers a declared value)."""

    def as_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end, "text": self.text}

    def overlaps(self, other: Entity) -> bool:
        """Whether the two spans share a character."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Prediction:
    """What the classifier made of one utterance.

    `intent` is the best in-scope intent even when `is_fallback` (for "did you mean").
    """

    intent: str
    confidence: float
    ranking: list[tuple[str, float]]
    is_fallback: bool
    ambiguous: bool

    @property
    def runner_up(self) -> tuple[str, float] | None:
        """The second-best intent and its confidence, if the ranking has one."""
        return self.ranking[1] if len(self.ranking) > 1 else None

    @classmethod
    def certain(cls, intent: str) -> Prediction:
        """An intent named outright (a button's payload), not guessed."""
        return cls(intent=intent, confidence=1.0, ranking=[(intent, 1.0)], is_fallback=False, ambiguous=False)


@dataclass(frozen=True)
class Understanding:
    """What the bot made of one message."""

    text: str
    normalized: str
    entities: list[Entity] = field(default_factory=list)
    prediction: Prediction = field(default_factory=lambda: Prediction(FALLBACK, 0.0, [], True, False))
