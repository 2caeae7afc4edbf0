"""Language of a message from its letters (`bot.language`)."""

from __future__ import annotations

import pytest

from bot.language import detect_language, normalize_in_languages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("где мой заказ?", "ru"),
        ("where is my order?", "en"),
        ("статус заказа AB123456", "ru"),  # the order number's Latin letters are fewer
        ("my order NW-204518 не пришёл", "ru"),  # 9 Latin letters count 4.5 against 8 Cyrillic ones
        ("хочу купить iphone 15 pro max", "ru"),
        ("is the ПЭК courier service available", "en"),
        ("ok", "en"),
        ("привет", "ru"),
        ("12345 ???", "en"),  # no letter decides: the default
        ("", "en"),
    ],
)
def test_the_script_with_most_letters_decides(text: str, expected: str) -> None:
    assert detect_language(text, ("en", "ru")) == expected


def test_without_a_deciding_letter_the_given_default_wins() -> None:
    assert detect_language("👍", ("en", "ru"), default="ru") == "ru"
    assert detect_language("12:30", ["ru", "en"]) == "ru"


def test_a_script_none_of_the_languages_use_gives_the_default() -> None:
    assert detect_language("Καλημέρα", ("en", "ru")) == "en"


def test_each_text_is_normalised_by_its_own_language_in_order() -> None:
    calls: list[tuple[str, list[str]]] = []

    def by(language: str):  # type: ignore[no-untyped-def]
        def normalize(texts: list[str]) -> list[str]:
            calls.append((language, texts))
            return [f"{language}:{t}" for t in texts]

        return normalize

    texts = ["hello", "привет", "bye", "пока"]
    out = normalize_in_languages(texts, {"en": by("en"), "ru": by("ru")}, ("en", "ru"))
    assert out == ["en:hello", "ru:привет", "en:bye", "ru:пока"]
    assert calls == [("en", ["hello", "bye"]), ("ru", ["привет", "пока"])]  # one batch per language
