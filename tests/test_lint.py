"""Few-shot advice for bot authors (`training.lint`)."""

from __future__ import annotations

from bot.domain import parse_domain
from bot.nlp import Preprocessor
from training.lint import (
    MAX_SAMENESS,
    RECOMMENDED_EXAMPLES,
    few_shot_advice,
    near_duplicates,
    sameness,
    top_confusions,
)

VARIED = [
    "where is my order",
    "track my parcel",
    "has my package shipped yet?",
    "any news on the delivery",
    "my stuff hasn't arrived",
    "when will it get here",
    "order status please",
    "is my purchase on its way",
    "it's been a week and nothing came",
    "can you check on my shipment",
    "still waiting for the courier",
    "did you send it already?",
]
TEMPLATE = [f"I want to book a repair for {day}" for day in ("monday", "tuesday", "friday", "saturday", "today")]
VARIED_RU = [
    "где мой заказ",
    "отследить посылку",
    "мой заказ уже отправили?",
    "есть новости о доставке",
    "покупка так и не пришла",
    "когда привезут",
    "статус заказа, пожалуйста",
    "посылка уже в пути?",
    "прошла неделя, а ничего нет",
    "проверьте мою отправку",
    "всё ещё жду курьера",
    "вы уже отправили?",
]
TEMPLATE_RU = [
    f"хочу записаться на ремонт в {day}" for day in ("понедельник", "вторник", "пятницу", "субботу", "среду")
]


def domain_text() -> str:
    def block(name: str, examples: list[str]) -> str:
        lines = "".join(f"      - {e}\n" for e in examples)
        return f"  {name}:\n    examples:\n{lines}    responses: [ok]\n"

    return (
        "intents:\n" + block("order_status", VARIED) + block("book", TEMPLATE) + block("oos", ["tell a joke", "sing"])
    )


def test_too_few_and_too_alike_examples_are_named_per_intent_and_oos_is_left_alone() -> None:
    advice = few_shot_advice(parse_domain(domain_text()), Preprocessor("en"))
    assert [a.intent for a in advice] == ["book"]
    (book,) = advice
    assert book.too_few and book.too_similar and book.examples == len(TEMPLATE) < RECOMMENDED_EXAMPLES
    assert book.sameness > MAX_SAMENESS
    assert "only 5 examples (write at least 12)" in book.message()
    assert "examples too alike" in book.message()


def two_languages(en: dict[str, list[str]], ru: dict[str, list[str]]) -> str:
    def block(name: str) -> str:
        def items(examples: list[str]) -> str:
            return "".join(f"        - {e}\n" for e in examples)

        languages = f"      en:\n{items(en[name])}      ru:\n{items(ru[name])}"
        return f"  {name}:\n    examples:\n{languages}    responses: [ok]\n"

    return "languages: [en, ru]\nintents:\n" + "".join(block(name) for name in en)


def test_every_language_of_a_bot_is_advised_on_its_own_examples() -> None:
    # English is fine for both intents; Russian's booking repeats one template: only that is named.
    text = two_languages(
        {"order_status": VARIED, "book": [f"{e} again" for e in VARIED]},
        {"order_status": VARIED_RU, "book": TEMPLATE_RU},
    )
    advice = few_shot_advice(parse_domain(text), Preprocessor("en"))
    assert [(a.intent, a.language) for a in advice] == [("book", "ru")]
    assert advice[0].too_few and advice[0].too_similar
    assert advice[0].message().startswith("intent 'book': [ru] only 5 examples (write at least 12)")


def test_near_duplicates_are_looked_for_in_every_language() -> None:
    text = two_languages(
        {"order_status": ["where is my order", "track it"], "book": ["book a repair", "make an appointment"]},
        {"order_status": ["где мой заказ", "отследить"], "book": ["записаться на ремонт", "где мои заказы"]},
    )
    assert near_duplicates(parse_domain(text), Preprocessor("en")) == [
        ("order_status", "где мой заказ", "book", "где мои заказы")
    ]


def test_sameness_is_the_mean_word_overlap_of_pairs() -> None:
    assert sameness(["a b", "a b"]) == 1.0
    assert sameness(["a b", "c d", "a c"]) == (0 + 1 / 3 + 1 / 3) / 3
    assert sameness(["alone"]) == 0.0


def test_most_confused_pairs_come_first() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["b", "b", "a", "a", "b", "a"]
    assert top_confusions(truth, predicted, n=2) == [("a", "b", 2), ("b", "a", 1)]
