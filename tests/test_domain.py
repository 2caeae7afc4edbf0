"""intents.yaml validation: every problem names the file, the line and the intent."""

from pathlib import Path

import pytest

from bot.domain import DomainError, load_domain, parse_domain
from bot.markup import Example

DATA = Path(__file__).parent / "data"

VALID = """\
language: en
entities:
  city:
    values: {Paris: [paname]}
slots:
  dest: {entity: city}
intents:
  greet:
    examples: [hi, hello]
    responses: ["Hello!"]
  fly:
    examples:
      - fly to [Paris](city)
      - book a flight
    responses: ["Flying to {dest}."]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DomainError) as info:
        parse_domain(text, source="intents.yaml")
    return str(info.value).splitlines()


def test_valid_domain_parses_examples_and_entities() -> None:
    domain = parse_domain(VALID)
    fly = domain.intents["fly"]
    assert fly.examples[0] == Example.parse("fly to [Paris](city)")
    assert fly.examples[0].text == "fly to Paris"
    (ann,) = fly.examples[0].entities
    assert (ann.start, ann.end, ann.entity, ann.text) == (7, 12, "city", "Paris")
    assert fly.title == "Fly"
    assert domain.entities["city"].values == {"Paris": ["paname"]}
    assert len(domain.sha256) == 64


def test_yaml_syntax_error_names_line() -> None:
    """An unclosed bracket is reported where it opened, not at the end of the file."""
    (message,) = problems("intents:\n  greet:\n    examples: [hi, hello\n")
    assert (
        message.startswith("intents.yaml:3: intent 'greet': YAML syntax error") and "flow sequence on line 3" in message
    )


def test_an_unclosed_quote_is_reported_where_it_opened() -> None:
    text = (
        VALID.replace("      - book a flight", "      - 'book a flight")
        + "  third:\n    examples: [a, b]\n    responses: [c]\n"
    )
    (message,) = problems(text)
    assert message.startswith("intents.yaml:14: intent 'fly': YAML syntax error: found unexpected end of stream")


def test_a_misplaced_line_names_its_intent() -> None:
    (message,) = problems(VALID.replace("      - book a flight", "    - book a flight"))
    assert message.startswith("intents.yaml:14: intent 'fly': YAML syntax error")


def test_unknown_key_names_line_and_intent() -> None:
    text = VALID.replace('    responses: ["Hello!"]', '    responses: ["Hello!"]\n    respones: ["typo"]')
    (message,) = problems(text)
    assert message == "intents.yaml:11: intent 'greet': intents.greet.respones: unknown key"


def test_too_few_examples() -> None:
    (message,) = problems(VALID.replace("examples: [hi, hello]", "examples: [hi]"))
    assert message == "intents.yaml:9: intent 'greet': needs at least 2 examples, has 1"


def test_same_example_under_two_intents() -> None:
    (message,) = problems(VALID.replace("- book a flight", "- Hello"))
    assert message == "intents.yaml:14: intent 'fly': example 'Hello' is also an example of intent 'greet' (line 9)"


def test_annotation_of_undeclared_entity() -> None:
    (message,) = problems(VALID.replace("- book a flight", "- go to [Rome](town)"))
    assert message == "intents.yaml:14: intent 'fly': example 'go to [Rome](town)' marks undeclared entity 'town'"


def test_a_learned_entity_needs_no_values_but_marks() -> None:
    learned = VALID.replace("    values: {Paris: [paname]}", "    learned: true")
    assert parse_domain(learned).entities["city"].learned
    (message,) = problems(learned.replace("fly to [Paris](city)", "fly to Paris"))
    assert message == (
        "intents.yaml:3: entity 'city' is `learned: true` but no example marks it; mark it as [text](city) in examples"
    )
    (message,) = problems(VALID.replace("    values: {Paris: [paname]}", "    values: {}"))
    assert message == "intents.yaml:3: entity 'city' needs `values`, `regex`, `builtin` or `learned: true`"


def test_response_slot_not_declared() -> None:
    (message,) = problems(VALID.replace("Flying to {dest}.", "Flying to {destination}."))
    assert message == (
        "intents.yaml:15: intent 'fly': response 'Flying to {destination}.' uses {destination} "
        "but no slot 'destination' is declared"
    )


def test_invalid_regex() -> None:
    text = VALID.replace("    values: {Paris: [paname]}", "    regex: '([A-Z'")
    (message,) = problems(text)
    assert message.startswith("intents.yaml:4: entity 'city': invalid regex '([A-Z'")


def test_no_responses() -> None:
    (message,) = problems(VALID.replace('    responses: ["Hello!"]\n', ""))
    assert message == "intents.yaml:8: intent 'greet': has no responses; add `responses:` with at least one"


def test_oos_intent_needs_no_responses() -> None:
    domain = parse_domain(VALID + "  oos:\n    examples: [what is the weather, tell me a joke]\n")
    assert "oos" in domain.intents and "oos" not in domain.answerable


def test_unsupported_language_and_duplicate_key() -> None:
    text = VALID.replace("language: en", "language: xx") + "  greet:\n    examples: [a, b]\n    responses: [c]\n"
    messages = problems(text)
    assert any("language 'xx' is not supported" in m for m in messages)
    assert any("intent 'greet': duplicate key 'greet'" in m for m in messages)


def test_every_problem_is_reported_at_once() -> None:
    text = VALID.replace("examples: [hi, hello]", "examples: [hi]").replace("Flying to {dest}.", "To {nowhere}.")
    assert len(problems(text)) == 2


def test_missing_file() -> None:
    with pytest.raises(DomainError, match=r"nope\.yaml: file not found"):
        load_domain("nope.yaml")


@pytest.mark.parametrize("path", [DATA / "shop.yaml", Path("intents.yaml"), Path("examples/ru/intents.yaml")])
def test_shipped_domains_are_valid(path: Path) -> None:
    domain = load_domain(path)
    assert len(domain.answerable) >= 6


def test_a_confirmation_needs_declared_slots_and_a_yes_intent() -> None:
    confirming = VALID.replace(
        '    responses: ["Flying to {dest}."]',
        '    confirm: "Fly to {dest} on {day}?"\n    responses: ["Flying to {dest}."]',
    )
    lines = problems(confirming)
    assert lines == [
        "intents.yaml:15: intent 'fly': confirm question 'Fly to {dest} on {day}?' uses {day} "
        "but no slot 'day' is declared",
        "intents.yaml:15: intent 'fly': asks to confirm, "
        "but none of forms.affirm_intents (affirm) is an intent to answer yes with",
    ]
    with_yes = confirming.replace("{day}", "{dest}").replace(
        "intents:\n", 'intents:\n  affirm:\n    examples: ["yes", sure]\n    responses: [Good.]\n'
    )
    assert parse_domain(with_yes).intents["fly"].confirm == "Fly to {dest} on {dest}?"


def test_the_documented_example_is_valid() -> None:
    """docs/intents.md's full example, as a bot author would copy it."""
    doc = (Path(__file__).parent.parent / "docs" / "intents.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    domain = parse_domain(example)
    assert domain.intents["cancel_order"].confirm and {"affirm", "deny", "oos"} <= domain.intents.keys()


def test_an_unknown_key_does_not_hide_the_other_problems() -> None:
    text = VALID.replace('    responses: ["Hello!"]', '    respones: ["Hello!"]').replace("      - book a flight\n", "")
    assert problems(text) == [
        "intents.yaml:8: intent 'greet': has no responses; add `responses:` with at least one",
        "intents.yaml:10: intent 'greet': intents.greet.respones: unknown key",
        "intents.yaml:12: intent 'fly': needs at least 2 examples, has 1",
    ]


def test_a_quote_closed_lines_later_is_pointed_at() -> None:
    """The next example's quote ends the string, so YAML fails two lines further on."""
    text = VALID.replace("      - book a flight", '      - "book a flight\n      - "fly me"')
    (message,) = problems(text)
    assert (
        message.startswith("intents.yaml:14: intent 'fly': YAML syntax error")
        and "is the quote on line 14 closed?" in message
    )


BOOKING = """\
language: en
entities:
  day: {builtin: date}
  hour: {builtin: time}
  guests: {builtin: number}
  colour: {values: [red, blue]}
slots:
  date:
    entity: day
    future: true
    weekdays: [mon, tue, wed, thu, fri, sat]
    messages:
      weekdays: "We're closed on Sundays. Which other day suits you?"
  time: {entity: hour, between: "09:00-18:00"}
  guests: {entity: guests, min: 1, max: 8}
  colour: {entity: colour, choices: [red]}
intents:
  book:
    examples: [book a table, i want to book]
    slots: {date: "Which day?", time: "What time?", guests: "How many?", colour: "Which colour?"}
    responses: ["Booked."]
"""


def test_slot_constraints_parse() -> None:
    slots = parse_domain(BOOKING).slots
    assert slots["date"].constraints == ("future", "weekdays")
    assert slots["date"].messages == {"weekdays": "We're closed on Sundays. Which other day suits you?"}
    assert slots["time"].between == "09:00-18:00"
    assert (slots["guests"].min, slots["guests"].max) == (1, 8)
    assert slots["colour"].choices == ("red",)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'time: {entity: hour, between: "09:00-18:00"}',
            'time: {entity: hour, between: "18:00-09:00"}',
            "intents.yaml:14: slot 'time': between '18:00-09:00' must be two times, such as \"09:00-18:00\"",
        ),
        (
            'time: {entity: hour, between: "09:00-18:00"}',
            'time: {entity: hour, between: "9am to 6pm"}',
            "intents.yaml:14: slot 'time': between '9am to 6pm' must be two times, such as \"09:00-18:00\"",
        ),
        (
            "guests: {entity: guests, min: 1, max: 8}",
            "guests: {entity: guests, min: 9, max: 8}",
            "intents.yaml:15: slot 'guests': min 9 is greater than max 8",
        ),
        (
            "guests: {entity: guests, min: 1, max: 8}",
            "guests: {entity: day, min: 1}",
            "intents.yaml:15: slot 'guests': `min` needs an entity with `builtin:`"
            " number or amount_of_money or ordinal",
        ),
        (
            'time: {entity: hour, between: "09:00-18:00"}',
            "time: {entity: hour, future: true}",
            "intents.yaml:14: slot 'time': `future` needs an entity with `builtin:` date or datetime",
        ),
        (
            "colour: {entity: colour, choices: [red]}",
            "colour: {entity: colour, choices: [red, green]}",
            "intents.yaml:16: slot 'colour': choice 'green' is not a value of entity 'colour' (red, blue)",
        ),
        (
            "      weekdays: \"We're",
            "      between: \"We're",
            "intents.yaml:13: slot 'date': a message for `between`, which the slot does not set",
        ),
        (
            "weekdays: [mon, tue, wed, thu, fri, sat]",
            "weekdays: [mon, tue, caturday]",
            "intents.yaml:11: slots.date.weekdays.2: Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'",
        ),
        (
            "  day: {builtin: date}",
            "  day: {builtin: calendar}",
            "intents.yaml:3: entities.day.builtin: Input should be 'number', 'email', 'date', 'time', 'datetime',"
            " 'duration', 'amount_of_money', 'phone', 'url' or 'ordinal'",
        ),
    ],
)
def test_slot_constraint_problems_name_their_line(old: str, new: str, expected: str) -> None:
    assert old in BOOKING
    assert expected in problems(BOOKING.replace(old, new))


def test_the_domain_knows_exactly_the_builtins_that_values_resolves() -> None:
    from typing import get_args

    from bot.domain import Builtin
    from bot.values import BUILTINS

    assert set(get_args(Builtin)) == BUILTINS
