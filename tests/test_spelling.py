"""Typos: unknown words read as the model's nearest word, in English and Russian; known words kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlp import Preprocessor, make_nlp
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


def test_the_spelled_text_has_the_corrected_words_replaced(english: Speller) -> None:
    """What the dense features read: the words the normalised text corrects, corrected in the
    text itself; case, spacing and punctuation of the rest kept."""
    pre = Preprocessor("en")
    text = "Cancle  my ordr, please!  And the fridge?"
    assert pre.spelled(pre.nlp(text)) == text  # no speller: the text as it is
    pre.speller = english
    doc = pre.nlp(text)
    assert pre.spelled(doc) == "cancel  my order, please!  And the fridge?"
    assert pre.read_many([text]) == ([pre.normalize(text)], [pre.spelled(doc)])
    assert pre.normalize(text).split()[:3] == ["cancel", "my", "order"]


def test_a_word_whose_normalised_form_the_model_knows_is_never_corrected() -> None:
    """ "been" is "be", which the model knows although it is too short to correct towards:
    no "ben" however near."""
    speller = Speller(["be", "ben", "order"], lexicon(make_nlp("en")))
    assert speller.norm("be", "been") == "be"


def test_the_english_lexicon_knows_inflected_forms() -> None:
    known = lexicon(make_nlp("en"))
    assert all(known(w) for w in ["been", "went", "was", "is", "children", "ordered", "order"])
    assert not any(known(w) for w in ["ordr", "cancle", "delivry"])


def test_the_served_model_reads_its_training_examples_as_training_did(models_dir: Path) -> None:
    """The speller corrects nothing in a training example, so the dense features a served model
    computes for one are those training computed (`tests/test_classifier.py` checks the rest of
    the features against scikit-learn's)."""
    from bot.model import load_model

    model = load_model(models_dir)
    texts = [text for text, _ in model.domain.training_examples()]
    docs = [model.preprocessor.nlp(t) for t in texts]
    assert [model.preprocessor.spelled(doc) for doc in docs] == [doc.text for doc in docs]
