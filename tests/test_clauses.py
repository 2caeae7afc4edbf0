"""Several requests in one message: the split, and when the parts are answered on their own."""

from __future__ import annotations

import pytest

from bot.clauses import answer_separately, split_clauses
from bot.domain import Domain, parse_domain
from bot.understanding import Prediction
from tests.test_dialogue_context import SHOP


@pytest.mark.parametrize(
    ("text", "language", "clauses"),
    [
        ("thanks, bye", "en", ["thanks", "bye"]),
        ("hi, where is my order?", "en", ["hi", "where is my order?"]),
        ("where is my order and when are you open", "en", ["where is my order", "when are you open"]),
        ("thanks! bye", "en", ["thanks", "bye"]),
        ("10.30 please", "en", ["10.30 please"]),
        ("1,5 kg", "en", ["1,5 kg"]),
        ("AB123456, thanks", "en", ["AB123456", "thanks"]),
        ("12/05, 3pm", "en", ["12/05, 3pm"]),
        ("hello", "en", ["hello"]),
        ("спасибо, пока", "ru", ["спасибо", "пока"]),
        ("привет, где мой заказ?", "ru", ["привет", "где мой заказ?"]),
        ("где заказ и когда вы открыты", "ru", ["где заказ", "когда вы открыты"]),
    ],
)
def test_split_clauses(text: str, language: str, clauses: list[str]) -> None:
    assert split_clauses(text, language) == clauses


@pytest.fixture(scope="module")
def domain() -> Domain:
    return parse_domain(SHOP)


def p(intent: str, confidence: float = 0.9, fallback: bool = False, ambiguous: bool = False) -> Prediction:
    return Prediction(intent, confidence, [(intent, confidence)], fallback, ambiguous)


@pytest.mark.parametrize(
    ("parts", "in_form", "separately"),
    [
        ([p("thanks"), p("goodbye")], False, True),
        ([p("greet"), p("track")], False, True),
        ([p("thanks"), p("goodbye")], True, False),
        ([p("thanks"), p("goodbye", 0.4)], False, False),
        ([p("thanks"), p("goodbye", fallback=True)], False, False),
        ([p("thanks"), p("goodbye", ambiguous=True)], False, False),
        ([p("deny"), p("cancel_order")], False, False),
        ([p("greet"), p("greet")], False, False),
        ([p("greet"), p("thanks"), p("hours"), p("goodbye")], False, False),
        ([p("greet")], False, False),
    ],
    ids=[
        "two sure",
        "greeting and form",
        "inside a form",
        "one unsure",
        "one fallback",
        "one ambiguous",
        "a no qualifies the rest",
        "the same twice",
        "more than three",
        "one part",
    ],
)
def test_answer_separately(domain: Domain, parts: list[Prediction], in_form: bool, separately: bool) -> None:
    assert answer_separately(p("thanks"), parts, domain, in_form) is separately
