"""`languages: [en, ru]` in intents.yaml: one bot, its words per language (`bot.domain_languages`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import DomainError, load_domain, parse_domain

ROOT = Path(__file__).parent.parent
MULTILINGUAL = ROOT / "examples" / "multilingual" / "intents.yaml"


def doc_example() -> str:
    """The example of docs/intents.md's section on several languages."""
    doc = (ROOT / "docs" / "intents.md").read_text(encoding="utf-8")
    return doc.split("## One bot in several languages", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]


def problems(text: str) -> list[str]:
    with pytest.raises(DomainError) as info:
        parse_domain(text, "intents.yaml")
    return str(info.value).splitlines()


def test_each_language_has_its_words_and_shares_intents_slots_and_entities() -> None:
    domain = parse_domain(doc_example())
    russian = domain.for_language("ru")
    assert (domain.language, domain.languages, list(domain.translations)) == ("en", ("en", "ru"), ["ru"])
    assert russian.language == "ru" and russian.intents.keys() == domain.intents.keys()
    assert russian.intents["order_status"].slots == {"order_id": "Назовите номер заказа."}
    assert domain.intents["order_status"].slots == {"order_id": "What's your order number?"}
    assert russian.intents["order_status"].responses[0].text == "Заказ {order_id} уже в пути."
    assert russian.intents["order_status"].title == "Где мой заказ?"
    assert russian.fallback.responses[0].text == "Простите, я не понял."
    assert (russian.forms.cancelled, domain.forms.cancelled) == ("Хорошо, оставим это.", "Okay, I've stopped that.")
    assert russian.forms.cancel_intents == domain.forms.cancel_intents == ("deny", "stop")
    assert russian.slots == domain.slots and russian.entities == domain.entities
    assert domain.for_language(None) is domain and domain.for_language("en") is domain
    assert domain.for_language("de") is domain  # a language it lacks: its first
    assert domain.examples_by_language()["ru"][0] == ("где мой заказ", "order_status")
    assert ("статус заказа AB123456", "order_status") in domain.training_examples()  # every language's


def test_the_shipped_two_language_bot_loads_with_confirmations_and_constraint_messages() -> None:
    domain = load_domain(MULTILINGUAL)
    russian = domain.for_language("ru")
    assert russian.intents["cancel_order"].confirm == "Отменить заказ {order_id}? Вернуть его будет нельзя."
    assert domain.intents["cancel_order"].confirm == "Cancel order {order_id}? This can't be undone."
    assert russian.slots["date"].messages["weekdays"].startswith("По воскресеньям")
    assert domain.slots["date"].messages["weekdays"].startswith("The service centre is closed")
    assert russian.forms.stuck.startswith("Без этого")
    assert domain.sha256 == russian.sha256  # one file, one model
    en, ru = domain.examples_by_language().values()
    assert len(en) == len(ru) > 80


def test_a_problem_of_one_language_names_it_with_its_line() -> None:
    text = doc_example()
    text = text.replace(
        '      ru: ["где мой заказ", "статус заказа [AB123456](order_number)"]\n', '      ru: ["где мой заказ"]\n'
    )
    text = text.replace('ru: ["Заказ {order_id} уже в пути."]', 'ru: ["Заказ {order} уже в пути."]')
    found = problems(text)
    line = next(n for n, raw in enumerate(text.splitlines(), 1) if '      ru: ["где мой заказ"]' in raw)
    assert f"intents.yaml:{line}: intent 'order_status': [ru] needs at least 2 examples, has 1" in found
    line = next(n for n, raw in enumerate(text.splitlines(), 1) if "Заказ {order}" in raw)
    assert any(p.startswith(f"intents.yaml:{line}:") and "[ru] response" in p and "{order}" in p for p in found)


def test_a_missing_or_undeclared_language_is_named() -> None:
    text = doc_example().replace(
        '    title: {en: "Where is my order?", ru: "Где мой заказ?"}', '    title: {en: "Where?"}'
    )
    assert any("[ru] intents.order_status.title: give a value for each of en, ru" in p for p in problems(text))
    text = doc_example().replace('ru: "Хорошо, оставим это."', 'de: "Gut."')
    assert any("forms.cancelled: 'de' is none of `languages:` (en, ru)" in p for p in problems(text))


def test_a_problem_of_every_language_is_reported_once_without_names() -> None:
    text = doc_example().replace("    entity: order_number\n", "    entity: order_code\n")
    found = problems(text)
    assert sum("names undeclared entity 'order_code'" in p for p in found) == 1
    assert not any("[" in p.split("intents.yaml:", 1)[1].split(" ", 2)[1] for p in found)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("languages: [en, fr]\n", "languages: each once, from en, ru; got en, fr"),
        ("languages: [en, en]\n", "languages: each once"),
        ("languages: en\n", "languages: give a list such as [en, ru]"),
        ("language: en\nlanguages: [en, ru]\n", "give `languages:` or `language:`"),
    ],
)
def test_languages_must_be_a_list_of_supported_ones_given_once(header: str, message: str) -> None:
    assert any(message in p for p in problems(header + "intents: {}\n"))
