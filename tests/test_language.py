"""The language of a message from its letters (`bot.language`)."""

from __future__ import annotations

import pytest

from bot.language import detect_language, language_code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("где мой заказ?", "ru"),
        ("where is my order?", "en"),
        ("статус заказа AB123456", "ru"),  # the order number's Latin letters count half
        ("хочу купить iphone 15 pro max", "ru"),
        ("is the ПЭК courier available today", "en"),
        ("ok", "en"),
        ("привет", "ru"),
        ("12345 ???", None),  # no letter tells
        ("👍", None),
        ("", None),
        ("Καλημέρα", None),  # a script neither language is written in
    ],
)
def test_the_script_with_most_letters_decides(text: str, expected: str | None) -> None:
    assert detect_language(text, ("en", "ru")) == expected


def test_only_the_bots_languages_are_candidates() -> None:
    assert detect_language("привет", ("en",)) is None
    assert detect_language("привет", ("ru",)) == "ru"


@pytest.mark.parametrize(("tag", "code"), [("ru-RU", "ru"), ("EN", "en"), ("en_GB", "en"), ("", None), (None, None)])
def test_a_language_tag_gives_its_primary_subtag(tag: str | None, code: str | None) -> None:
    assert language_code(tag) == code
