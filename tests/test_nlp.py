"""Preprocessing in English and Russian, and entity extraction to canonical values."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain import EntitySpec
from bot.nlp import CODE, EMAIL, NUM, URL, Preprocessor, make_nlp
from bot.word_forms import english_plural, russian_forms


@pytest.fixture(scope="module")
def english() -> Preprocessor:
    return Preprocessor(
        "en",
        {
            "product": EntitySpec(values={"laptop": ["notebook", "macbook"], "phone": ["cell phone", "smartphone"]}),
            "order": EntitySpec(regex=(r"\b[A-Z]{2}\d{6}\b",)),
            "guests": EntitySpec(builtin="number"),
            "mail": EntitySpec(builtin="email"),
        },
    )


def test_english_normalisation_lemmatises_and_masks(english: Preprocessor) -> None:
    text = "I was Booking flights for 3 people, order AB123456, mail me@example.com or see https://example.com!"
    assert english.normalize(text) == (f"i be book flight for {NUM} people order {CODE} mail {EMAIL} or see {URL}")


def test_normalize_many_matches_normalize(english: Preprocessor) -> None:
    texts = ["Where are my Orders?", "opening hours", "Cancel order 12"]
    assert english.normalize_many(texts) == [english.normalize(t) for t in texts]


def test_synonyms_map_to_canonical_values_with_offsets(english: Preprocessor) -> None:
    text = "Do you sell Laptops, a MacBook or cell phones?"
    found = [(e.entity, e.value, text[e.start : e.end]) for e in english.extract(text)]
    assert found == [
        ("product", "laptop", "Laptops"),
        ("product", "laptop", "MacBook"),
        ("product", "phone", "cell phones"),
    ]


def test_plurals_the_lemma_tables_do_not_know(english: Preprocessor) -> None:
    text = "MacBooks and smartphones"  # neither is in spaCy's English lookup tables
    found = [(e.entity, e.value, text[e.start : e.end]) for e in english.extract(text)]
    assert found == [("product", "laptop", "MacBooks"), ("product", "phone", "smartphones")]


@pytest.mark.parametrize(
    ("word", "plural"),
    [("phone", "phones"), ("box", "boxes"), ("battery", "batteries"), ("day", "days"), ("watch", "watches")],
)
def test_english_plural(word: str, plural: str) -> None:
    assert english_plural(word) == plural


def test_regex_number_and_email(english: Preprocessor) -> None:
    text = "order ab123456 for two guests, write to a.b@shop.example"
    found = {(e.entity, e.value) for e in english.extract(text)}
    assert found == {("order", "ab123456"), ("guests", 2), ("mail", "a.b@shop.example")}


def test_russian_lemmas_and_inflected_synonyms() -> None:
    ru = Preprocessor(
        "ru", {"city": EntitySpec(values={"Москва": ["мск"]}), "day": EntitySpec(values={"понедельник": ["пн"]})}
    )
    normalized, entities = ru.process("Хочу записаться в Москве на понедельник, 2 человека")
    assert normalized == f"хотеть записаться в москва на понедельник {NUM} человек"
    assert [(e.entity, e.value, e.text) for e in entities] == [
        ("city", "Москва", "Москве"),
        ("day", "понедельник", "понедельник"),
    ]


def test_unsupported_language() -> None:
    with pytest.raises(Exception, match="language 'xx' is not supported"):
        Preprocessor("xx")


def test_declared_builtins_are_resolved_relative_to_now() -> None:
    pre = Preprocessor(
        "en",
        {
            "day": EntitySpec(builtin="date"),
            "hour": EntitySpec(builtin="time"),
            "budget": EntitySpec(builtin="amount_of_money"),
            "contact": EntitySpec(builtin="phone"),
        },
        timezone="Europe/London",
        region="GB",
    )
    now = datetime(2026, 12, 10, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    text = "Can I come tomorrow around 2 in the afternoon? Up to £50, ring 020 7946 0958"
    normalized, entities = pre.process(text, now=now)
    assert [(e.entity, e.value, e.text, e.source) for e in entities] == [
        ("day", "2026-12-11", "tomorrow", "builtin"),
        ("hour", "14:00:00", "2 in the afternoon", "builtin"),
        ("budget", {"amount": 50.0, "currency": "GBP"}, "£50", "builtin"),
        ("contact", "+442079460958", "020 7946 0958", "builtin"),
    ]
    assert normalized == Preprocessor("en").normalize(text)  # built-ins leave the classifier's text alone
    assert pre.extract("what about the 14th?", now=now)[0].value == "2026-12-14"


def test_russian_builtins() -> None:
    pre = Preprocessor("ru", {"day": EntitySpec(builtin="date"), "hour": EntitySpec(builtin="time")})
    now = datetime(2026, 12, 10, 9, 0, tzinfo=ZoneInfo("UTC"))
    found = [(e.entity, e.value) for e in pre.extract("в следующий вторник часа в три дня", now=now)]
    assert found == [("day", "2026-12-15"), ("hour", "15:00:00")]


def test_a_date_and_time_slot_read_only_the_date_in_a_relative_date() -> None:
    """ "3 дня" in "через 3 дня" is part of the date, not also 3 p.m. for the time slot."""
    pre = Preprocessor("ru", {"day": EntitySpec(builtin="date"), "hour": EntitySpec(builtin="time")})
    now = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("UTC"))
    assert [(e.entity, e.value) for e in pre.extract("через 3 дня", now=now)] == [("day", "2026-12-04")]
    assert [(e.entity, e.value) for e in pre.extract("в 3 дня", now=now)] == [("hour", "15:00:00")]


def test_number_words_beyond_twelve() -> None:
    pre = Preprocessor("en", {"guests": EntitySpec(builtin="number")})
    assert [e.value for e in pre.extract("twenty one guests, maybe 3.5")] == [21, 3.5]


def test_russian_terms_match_in_every_case_even_where_the_lemma_is_ambiguous() -> None:
    ru = Preprocessor(
        "ru",
        {
            "service": EntitySpec(values={"диагностика": ["проверка"]}),
            "product": EntitySpec(values={"игровая приставка": ["консоль"], "наушники": ["гарнитура"]}),
        },
    )
    # pymorphy3 reads "диагностику" as "диагностика" or "диагностик" (0.5 each), so spaCy's
    # lookup lemmatizer keeps it as typed: only the spelled-out forms find it.
    found = ru.extract("запишите на диагностику игровой приставки и наушников")
    assert [(e.entity, e.value) for e in found] == [
        ("service", "диагностика"),
        ("product", "игровая приставка"),
        ("product", "наушники"),
    ]


def test_russian_forms_agree_and_leave_what_does_not_inflect() -> None:
    morph = make_nlp("ru").get_pipe("lemmatizer")._morph  # type: ignore[attr-defined]
    forms = russian_forms("игровая приставка", morph)
    assert {"игровая приставка", "игровой приставки", "игровые приставки", "игровыми приставками"} <= forms
    assert "игровой приставка" not in forms  # the words agree
    assert russian_forms("apple watch", morph) == {"apple watch"}
    assert "смарт тв" in russian_forms("смарт тв", morph) and "смарта тв" in russian_forms("смарт тв", morph)
