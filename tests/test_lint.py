"""Few-shot advice for bot authors (`training.lint`)."""

from __future__ import annotations

from bot.domain import parse_domain
from bot.nlp import Preprocessor
from training.lint import MAX_SAMENESS, RECOMMENDED_EXAMPLES, few_shot_advice, sameness, top_confusions

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


def test_sameness_is_the_mean_word_overlap_of_pairs() -> None:
    assert sameness(["a b", "a b"]) == 1.0
    assert sameness(["a b", "c d", "a c"]) == (0 + 1 / 3 + 1 / 3) / 3
    assert sameness(["alone"]) == 0.0


def test_most_confused_pairs_come_first() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["b", "b", "a", "a", "b", "a"]
    assert top_confusions(truth, predicted, n=2) == [("a", "b", 2), ("b", "a", 1)]
