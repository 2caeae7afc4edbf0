"""The merge rule of declared and learned entities, as a table."""

from __future__ import annotations

import pytest

from bot.entity_merge import keeps_learned, merge_entities
from bot.understanding import Entity

TEXT = "book a table for next friday at the Grand Hotel in New York"


def e(entity: str, text: str, source: str = "lookup", confidence: float = 1.0, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(text, start + 1)
    return Entity(entity, text, start, start + len(text), text, confidence, source)


def guess(entity: str, text: str, confidence: float = 0.8) -> Entity:
    return e(entity, text, "model", confidence)


CONTEXT = {"book": frozenset({"venue", "date", "city"}), "weather": frozenset({"city"})}

CASES = [
    ("declared only, untouched", [e("date", "next friday", "builtin")], [], None, [("date", "next friday")]),
    ("learned only, kept", [], [guess("venue", "Grand Hotel")], None, [("venue", "Grand Hotel")]),
    (
        "longest wins: a longer guess beats a shorter declared value",
        [e("city", "York")],
        [guess("city", "New York")],
        None,
        [("city", "New York")],
    ),
    (
        "longest wins: a longer declared value beats a shorter guess",
        [e("date", "next friday", "builtin")],
        [guess("date", "friday")],
        None,
        [("date", "next friday")],
    ),
    (
        "equal spans: declared beats a guess, even a guess of another type",
        [e("venue", "Grand Hotel", "regex")],
        [guess("city", "Grand Hotel", 0.99)],
        None,
        [("venue", "Grand Hotel")],
    ),
    (
        "equal length, overlapping guesses: the more confident",
        [],
        [guess("venue", "the Grand", 0.6), guess("venue", "Grand Hotel", 0.7)],
        None,
        [("venue", "Grand Hotel")],
    ),
    (
        "overlaps resolved longest first: the longest guess takes its span, the rest elsewhere stays",
        [e("city", "New York")],
        [guess("venue", "the Grand Hotel in New York"), guess("date", "next friday")],
        None,
        [("date", "next friday"), ("venue", "the Grand Hotel in New York")],
    ),
    (
        "declared entities of different types may overlap each other",
        [e("date", "next friday", "builtin"), e("day", "friday")],
        [],
        None,
        [("date", "next friday"), ("day", "friday")],
    ),
    (
        "context: a learned type the predicted intent's examples never carry is dropped",
        [],
        [guess("venue", "Grand Hotel"), guess("city", "New York")],
        "weather",
        [("city", "New York")],
    ),
    (
        "context never drops a declared value",
        [e("venue", "Grand Hotel")],
        [guess("date", "next friday")],
        "weather",
        [("venue", "Grand Hotel")],
    ),
    (
        "an intent with no annotated examples takes no learned entity",
        [],
        [guess("city", "New York")],
        "greet",
        [],
    ),
    (
        "a dropped guess no longer blocks a shorter declared value",
        [e("city", "York")],
        [guess("venue", "New York")],
        "weather",
        [("city", "York")],
    ),
]


@pytest.mark.parametrize(
    ("declared", "learned", "intent", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_merge_rule(
    declared: list[Entity], learned: list[Entity], intent: str | None, expected: list[tuple[str, str]]
) -> None:
    merged = merge_entities(declared, learned, intent, CONTEXT)
    assert [(m.entity, m.text) for m in merged] == expected


def test_merge_is_sorted_by_position_and_keeps_the_confidence() -> None:
    merged = merge_entities([e("city", "New York")], [guess("date", "next friday", 0.71)])
    assert [m.start for m in merged] == sorted(m.start for m in merged)
    assert merged[0] == guess("date", "next friday", 0.71)


@pytest.mark.parametrize("intent", [None, "book", "weather", "greet", "unknown"])
def test_keeps_learned_says_whether_the_merge_can_keep_any_guess(intent: str | None) -> None:
    every_type = [guess(t, "Grand Hotel") for t in ("venue", "date", "city", "name")]
    kept = merge_entities([], every_type, intent, {**CONTEXT, "greet": frozenset()})
    assert keeps_learned(intent, {**CONTEXT, "greet": frozenset()}) == bool(kept)
