"""The bot's own texts (handoff notices, chat commands) per language: built in, overridden in
intents.yaml (`system_texts:`), chosen by the session's language (`bot.system_texts`)."""

from __future__ import annotations

import string
import textwrap

import pytest

from bot.domain import LANGUAGES, DomainError, parse_domain
from bot.system_texts import BUILT_IN, ENGLISH, NAMES, RUSSIAN, built_in, problems
from tests.test_domain_languages import ROOT, doc_example

BASE = """
language: {language}
intents:
  greet:
    examples: [hi, hello]
    responses: ["Hello!"]
"""


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_every_language_has_every_text_with_the_placeholders_of_the_english_one(language: str, name: str) -> None:
    text = getattr(BUILT_IN[language], name)
    assert text.strip() and fields(text) == fields(getattr(ENGLISH, name))


@pytest.mark.parametrize(
    ("name", "values", "english", "russian"),
    [
        ("queued_position", {"position": 3}, "you're number 3 in the queue", "ваш номер в очереди: 3"),
        (
            "ticket_filed",
            {"email": "me@example.com"},
            "Your message is with our team; we'll reply to me@example.com. Anything else?",
            "Ваше сообщение передано команде; мы ответим на me@example.com. Что-нибудь ещё?",
        ),
        (
            "whoami_user",
            {"username": "ada", "role": "agent", "session_id": "s1"},
            "You are logged in as ada (agent). Session s1.",
            "Вы вошли как ada (agent). Сессия s1.",
        ),
        (
            "whoami_guest",
            {"session_id": "s1"},
            "You are chatting as a guest. Session s1.",
            "Вы общаетесь как гость. Сессия s1.",
        ),
        ("never_mind", {}, "Never mind", "Не нужно"),
        ("not_logged_in", {}, "You are not logged in.", "Вы не вошли в систему."),
    ],
)
def test_texts_filled_in_each_language(name: str, values: dict[str, object], english: str, russian: str) -> None:
    assert getattr(ENGLISH, name).format(**values) == english
    assert getattr(RUSSIAN, name).format(**values) == russian


def test_a_language_without_texts_of_its_own_speaks_english() -> None:
    assert built_in("ru") is RUSSIAN
    assert built_in("de") is ENGLISH and built_in(None) is ENGLISH


def test_a_domain_of_one_language_uses_its_built_in_texts_and_its_overrides() -> None:
    russian = parse_domain(BASE.format(language="ru"))
    assert russian.texts == RUSSIAN
    english = parse_domain(BASE.format(language="en") + 'system_texts:\n  reset: "Fresh start."\n')
    assert english.texts.reset == "Fresh start." and english.texts.resume == ENGLISH.resume


def test_a_domain_of_several_languages_overrides_per_language_or_for_all() -> None:
    extra = """
system_texts:
  queued: {en: "A person is coming: {ahead}.", ru: "Сейчас подключится человек: {ahead}."}
  never_mind: "OK"
"""
    domain = parse_domain(doc_example() + extra)
    russian = domain.for_language("ru").texts
    assert domain.texts.queued.format(ahead=domain.texts.queued_next) == "A person is coming: you're next."
    assert russian.queued.format(ahead=russian.queued_next) == "Сейчас подключится человек: вы следующий в очереди."
    assert (domain.texts.never_mind, russian.never_mind) == ("OK", "OK")  # a plain value is every language's
    assert (domain.texts.reset, russian.reset) == (ENGLISH.reset, RUSSIAN.reset)


def test_a_bad_override_is_reported_with_its_line() -> None:
    text = BASE.format(language="en") + 'system_texts:\n  queue: "x"\n  ticket_filed: "We write to {mail}."\n'
    with pytest.raises(DomainError) as info:
        parse_domain(text, "intents.yaml")
    assert str(info.value).splitlines() == [
        f"intents.yaml:8: system_texts: unknown text 'queue'; the texts are {', '.join(NAMES)}",
        "intents.yaml:9: system_texts.ticket_filed: {mail} is not known here; it may use {email}",
    ]
    assert problems({"reset": "a { b"})[0][1].startswith("system_texts.reset: ")


def test_the_documented_overrides_load() -> None:
    doc = (ROOT / "docs" / "intents.md").read_text(encoding="utf-8")
    block = doc.split("**The bot's own texts.**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    domain = parse_domain(doc_example() + textwrap.dedent(block))
    assert domain.texts.queued.startswith("Nora from our team")
    assert domain.for_language("ru").texts.queued.startswith("Сейчас подключится Нора")
    assert domain.for_language("ru").texts.reset == domain.texts.reset == "Starting over."
