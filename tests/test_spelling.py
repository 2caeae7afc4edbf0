"""Typos: unknown words read as the model's nearest word, in English and Russian; known words kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlp import make_nlp
from bot.spelling import Speller, lexicon

VOCABULARY = ["cancel", "order", "where", "deliver", "delivery", "appointment", "refund", "help", "hello", "receive"]


@pytest.fixture(scope="module")
def english() -> Speller:
    return Speller(VOCABULARY, lexicon(make_nlp("en")))


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("cancle", "cancel"),  # two letters swapped: one edit
        ("ordr", "order"),
        ("delivry", "delivery"),
        ("apointment", "appointment"),
        ("refnd", "refund"),
        ("Cancle", "cancel"),
        ("fridge", None),  # a real word: never rewritten into the domain
        ("order", None),  # known already
        ("helo", None),  # "hello" and "help" are both one edit away: no guess
        ("blorp", None),  # nothing near
        ("ab12", None),  # not a word
        ("ordrs", None),  # "order" two edits away, but 5 letters allow one
    ],
)
def test_english(english: Speller, word: str, meant: str | None) -> None:
    assert english.correct(word) == meant


def test_russian() -> None:
    speller = Speller(["заказ", "отменить", "доставка", "записаться"], lexicon(make_nlp("ru")))
    assert speller.correct("закз") == "заказ"
    assert speller.correct("отменитьь") == "отменить"
    assert speller.correct("доставкка") == "доставка"
    assert speller.correct("погода") is None  # a Russian word: kept
    assert speller.correct("ывапр") is None


def test_norm_keeps_what_the_model_knows(english: Speller) -> None:
    assert english.norm("order", "orders") == "order"
    assert english.norm("ordr", "ordr") == "order"


def test_the_served_model_understands_typos(models_dir: Path) -> None:
    from bot.model import load_model

    model = load_model(models_dir)
    clean, typo = model.understand(["where is my order", "were is my ordr"])
    assert typo.normalized.split()[-1] == "order"
    assert typo.prediction.intent == clean.prediction.intent == "order_status"
    assert not typo.prediction.is_fallback
