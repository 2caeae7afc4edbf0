"""The parallel English/Russian test messages of bench/parallel.py: a fair test of both bots."""

from __future__ import annotations

import re
from collections import Counter

from bench.parallel import BOTS, DATA, parallel_sets
from bot.domain import load_domain
from bot.language import detect_language
from bot.understanding import OOS
from training.data import load_examples


def key(text: str) -> str:
    """A text without case, punctuation or extra spaces: "Where's my order?" is "wheres my order"."""
    return " ".join(re.sub(r"[^\w\s]", "", text.casefold()).split())


def test_the_two_files_ask_the_same_things_line_by_line() -> None:
    en, ru = (load_examples(DATA / f"{language}.jsonl") for language in ("en", "ru"))
    assert [intent for _, intent in en] == [intent for _, intent in ru]
    assert parallel_sets() == {"en": en, "ru": ru}


def test_every_intent_of_the_demo_is_asked_five_times_in_each_language_in_its_own_letters() -> None:
    for language, rows in parallel_sets().items():
        intents = set(load_domain(BOTS[language]).intents) | {OOS}
        assert Counter(intent for _, intent in rows) == dict.fromkeys(intents, 5)
        assert {detect_language(text, ["en", "ru"]) for text, _ in rows} == {language}


def test_no_message_is_an_example_of_either_bot() -> None:
    examples = {key(text) for path in BOTS.values() for text, _ in load_domain(path).training_examples()}
    for rows in parallel_sets().values():
        assert [text for text, _ in rows if key(text) in examples] == []
        assert len({key(text) for text, _ in rows}) == len(rows)
