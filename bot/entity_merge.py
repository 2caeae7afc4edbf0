"""One list of entities from the declared ones (lookup values, regexes, built-ins) and the learned ones.

The rule, in order:

1. Context: a learned entity whose type the predicted intent's examples never carry is
   dropped ("order 66" is no `movie` in a `track_order` message). With no confident intent
   (a fallback) nothing is dropped for context: a form may be asking for exactly that value.
2. The longest match wins: candidates are taken longest first, and one that overlaps an
   entity already taken is dropped when either of the two is learned (declared entities of
   different types may overlap each other, as the Preprocessor has always allowed; of one
   type it already kept the longest).
3. On equal length a declared value beats a guess; between equals of the same kind, the
   more confident, then the earlier one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.understanding import Entity

LEARNED = "model"


def is_learned(entity: Entity) -> bool:
    return entity.source == LEARNED


def keeps_learned(intent: str | None, intent_entities: Mapping[str, frozenset[str]]) -> bool:
    """Whether `in_context` can keep any learned entity for `intent`: not for an intent whose
    examples carry no entity, so a message predicted as one needs no tagging at all."""
    return intent is None or bool(intent_entities.get(intent))


def in_context(
    learned: Sequence[Entity], intent: str | None, intent_entities: Mapping[str, frozenset[str]]
) -> list[Entity]:
    """The learned entities whose type `intent`'s examples carry (all of them when `intent` is None)."""
    if intent is None:
        return list(learned)
    allowed = intent_entities.get(intent, frozenset())
    return [e for e in learned if e.entity in allowed]


def _conflict(a: Entity, b: Entity) -> bool:
    return a.overlaps(b) and (is_learned(a) or is_learned(b) or a.entity == b.entity)


def merge_entities(
    declared: Sequence[Entity],
    learned: Sequence[Entity],
    intent: str | None = None,
    intent_entities: Mapping[str, frozenset[str]] | None = None,
) -> list[Entity]:
    """Declared and learned entities merged by the module's rule, sorted by position."""
    candidates = [*declared, *in_context(learned, intent, intent_entities or {})]
    order = sorted(
        candidates,
        key=lambda e: (e.start - e.end, is_learned(e), -e.confidence, e.start),
    )
    kept: list[Entity] = []
    for entity in order:
        if not any(_conflict(entity, k) for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e.start, e.entity))
