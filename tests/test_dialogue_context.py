"""Ways out of a form, context after it, corrections and several requests in one message, as tables."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.dialogue import Decision, State, decide, decide_parts
from bot.domain import Domain, parse_domain
from bot.understanding import Entity, Prediction

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
"""The moment of every turn here: Tuesday 1 December 2026, 10:00 UTC."""

SHOP = """
language: en
fallback: {threshold: 0.3, responses: ["Sorry?"]}
forms:
  cancel_intents: [deny, stop]
  affirm_intents: [affirm]
  invalid: "Hmm."
entities:
  order_number: {regex: '\\b[A-Z]{2}\\d{6}\\b'}
  day: {values: {monday: [], friday: [], saturday: []}}
  time: {regex: '\\b\\d{1,2}(am|pm)\\b'}
slots:
  order_id: {entity: order_number}
  day: {entity: day, scope: form}
  time: {entity: time, scope: form}
intents:
  track:
    title: "Track an order"
    examples: [where is my order, track my parcel]
    slots: {order_id: "Which order?"}
    on_missing: "You'll find it in your confirmation email."
    responses: ["Order {order_id} is on its way."]
  refund_time:
    examples: [how long will the refund take, when do i get my money]
    slots: {order_id: "Which order?"}
    responses: ["The refund for {order_id} takes 5 days."]
  cancel_order:
    title: "Cancel an order"
    examples: [cancel my order, call off the order]
    slots: {order_id: "Which order?"}
    confirm: "Cancel order {order_id}?"
    on_missing: handoff
    responses: ["Order {order_id} is cancelled."]
  book:
    title: "Book a visit"
    examples: [book a visit, i need an appointment]
    slots: {day: "Which day?", time: "What time?"}
    on_missing: hours
    responses: ["Booked for {day} at {time}."]
  hours: {examples: [when are you open, opening hours], responses: ["9 to 5."]}
  thanks: {examples: [thanks, thank you], responses: ["You're welcome."]}
  goodbye: {examples: [bye, goodbye], responses: ["Bye!"]}
  greet: {examples: [hi, hello], responses: ["Hello!"]}
  affirm: {title: "Yes", examples: ["yes", "yes please"], responses: ["Good."]}
  deny: {title: "No", examples: ["no", "no thanks"], responses: ["Okay."]}
  stop: {title: "Cancel", examples: [stop, never mind], responses: ["Okay."]}
  no_info: {title: "I don't have it", examples: ["i don't have it", "no number"], responses: ["Look in your email."]}
  correct: {examples: ["actually make it friday", "change it to monday"], responses: ["What should I change?"]}
  talk_to_human: {title: "Talk to a person", examples: [a human please, agent], responses: ["Call 0100."]}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return parse_domain(SHOP)


def sure(intent: str, confidence: float = 0.95) -> Prediction:
    return Prediction(intent, confidence, [(intent, confidence)], False, False)


UNSURE = Prediction("hours", 0.1, [("hours", 0.1)], True, False)


def value(entity: str, text: str, start: int = 0, canonical: str | None = None) -> Entity:
    return Entity(entity, canonical or text, start, start + len(text), text)


def run(domain: Domain, text: str, p: Prediction, entities: list[Entity], state: State) -> Decision:
    return decide(text, p, entities, state, domain, random.Random(0), now=NOW)


ASKING_ORDER = State("track", "order_id")
CONFIRMING = State("cancel_order", "?confirm", {"order_id": "AB123456"})
BOOKING_DAY = State("book", "day")
TRACKED = State(slots={"order_id": "AB123456"}, last_form="track")
BOOKED = State(slots={"order_id": "AB123456", "day": "monday", "time": "3pm"}, last_form="book")

TABLE = [
    # (name, text, prediction, entities, state, replies, form, requested, slots)
    (
        "first wrong answer: asked again",
        "dunno",
        UNSURE,
        [],
        ASKING_ORDER,
        ["Hmm. Which order?"],
        "track",
        "order_id",
        {},
    ),
    (
        "second wrong answer: what it needs, with ways out",
        "dunno",
        UNSURE,
        [],
        State("track", "order_id", failures=1),
        ["I need this to go on. Which order?"],
        "track",
        "order_id",
        {},
    ),
    (
        "I don't have it: the form's on_missing reply",
        "i don't have the number",
        sure("no_info"),
        [],
        ASKING_ORDER,
        ["You'll find it in your confirmation email."],
        None,
        None,
        {},
    ),
    (
        "I don't have it: on_missing names another intent",
        "i don't have it",
        sure("no_info"),
        [],
        BOOKING_DAY,
        ["9 to 5."],
        None,
        None,
        {},
    ),
    (
        "a task switch with a value leaves the form and says so",
        "never mind, cancel order CD654321 instead",
        sure("cancel_order"),
        [value("order_number", "CD654321", 25)],
        ASKING_ORDER,
        ['I\'ve left "Track an order" aside; nothing was done there.', "Cancel order CD654321?"],
        "cancel_order",
        "?confirm",
        {"order_id": "CD654321"},
    ),
    (
        "a value with a word is still the answer",
        "CD654321 please",
        sure("cancel_order"),
        [value("order_number", "CD654321")],
        ASKING_ORDER,
        ["Order CD654321 is on its way."],
        None,
        None,
        {"order_id": "CD654321"},
    ),
    (
        "a pending confirmation is not dropped silently",
        "book a visit",
        sure("book"),
        [],
        CONFIRMING,
        ['I\'ve left "Cancel an order" aside; nothing was done there.', "Which day?"],
        "book",
        "day",
        {"order_id": "AB123456"},
    ),
    (
        "a sure question keeps its value out of the form",
        "are you open on saturday?",
        sure("hours"),
        [value("day", "saturday", 17)],
        BOOKING_DAY,
        ["9 to 5.", "Which day?"],
        "book",
        "day",
        {},
    ),
    (
        "a follow-up after a form is answered with its slot",
        "how long will the refund take",
        sure("refund_time"),
        [],
        TRACKED,
        ["The refund for AB123456 takes 5 days."],
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "thanks after a form gets no question",
        "thanks",
        sure("thanks"),
        [],
        TRACKED,
        ["You're welcome."],
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "a correction right after the form finished",
        "actually make it friday",
        sure("correct"),
        [value("day", "friday", 17)],
        BOOKED,
        ["Booked for friday at 3pm."],
        None,
        None,
        {"order_id": "AB123456", "day": "friday", "time": "3pm"},
    ),
    (
        "a correction the classifier did not get",
        "friday instead",
        UNSURE,
        [value("day", "friday")],
        BOOKED,
        ["Booked for friday at 3pm."],
        None,
        None,
        {"order_id": "AB123456", "day": "friday", "time": "3pm"},
    ),
    (
        "a correction inside the form",
        "actually make it friday",
        sure("correct"),
        [value("day", "friday", 17)],
        State("book", "time", {"day": "monday"}),
        ["Noted: friday. What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
    (
        "a new form asks its own form-scoped values again",
        "book a visit",
        sure("book"),
        [],
        BOOKED,
        ["Which day?"],
        "book",
        "day",
        {"order_id": "AB123456"},
    ),
    (
        "a correction with nothing to correct",
        "actually, change it",
        sure("correct"),
        [],
        TRACKED,
        ["What should I change?"],
        None,
        None,
        {"order_id": "AB123456"},
    ),
]


@pytest.mark.parametrize(
    ("text", "prediction", "entities", "state", "replies", "form", "requested", "slots"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_context_and_escapes(
    domain: Domain,
    text: str,
    prediction: Prediction,
    entities: list[Entity],
    state: State,
    replies: list[str],
    form: str | None,
    requested: str | None,
    slots: dict[str, str],
) -> None:
    decision = run(domain, text, prediction, entities, state)
    assert [m.text for m in decision.messages] == replies
    assert (decision.state.active_form, decision.state.requested_slot) == (form, requested)
    assert dict(decision.state.slots) == slots


def test_only_a_correction_of_the_form_just_finished_asks_its_action_to_correct_itself(domain: Domain) -> None:
    corrected = run(domain, "actually make it friday", sure("correct"), [value("day", "friday", 17)], BOOKED)
    assert corrected.correcting and corrected.intent == "book"
    unsure = run(domain, "friday instead", UNSURE, [value("day", "friday")], BOOKED)
    assert unsure.correcting
    friday = [value("day", "friday", 17)]
    inside = run(domain, "actually make it friday", sure("correct"), friday, State("book", "time"))
    assert not inside.correcting
    again = run(domain, "book a visit", sure("book"), [], BOOKED)
    assert not again.correcting


def test_only_new_values_for_the_form_just_finished_change_it(domain: Domain) -> None:
    """ "and friday?" right after the booking, whatever the classifier makes of two words, is
    that booking again with the new day; a request in words of its own is a new one."""
    moved = run(domain, "and friday?", sure("hours", 0.7), [value("day", "friday", 4)], BOOKED)
    assert moved.correcting and [m.text for m in moved.messages] == ["Booked for friday at 3pm."]
    again = run(domain, "I'd like another visit on friday", sure("book"), [value("day", "friday", 26)], BOOKED)
    assert not again.correcting
    unchanged = run(domain, "and monday?", sure("hours", 0.7), [value("day", "monday", 4)], BOOKED)
    assert not unchanged.correcting


def test_the_ways_out_are_buttons(domain: Domain) -> None:
    decision = run(domain, "dunno", UNSURE, [], State("track", "order_id", failures=1))
    assert decision.messages[0].buttons == (
        ("I don't have it", "/no_info"),
        ("Cancel", "/stop"),
        ("Talk to a person", "/talk_to_human"),
    )


def test_wrong_answers_are_counted_and_reset_by_a_value(domain: Domain) -> None:
    first = run(domain, "dunno", UNSURE, [], ASKING_ORDER)
    assert first.state.failures == 1
    answered = run(domain, "monday", UNSURE, [value("day", "monday")], State("book", "day", failures=1))
    assert answered.state.failures == 0 and answered.state.requested_slot == "time"


def test_on_missing_handoff_is_surfaced(domain: Domain) -> None:
    decision = run(domain, "i don't have it", sure("no_info"), [], State("cancel_order", "order_id"))
    assert decision.handoff == "cancel_order: no order_id" and decision.messages[0].text == "Call 0100."
    assert decision.state.active_form is None


def part(text: str, intent: str, entities: list[Entity] | None = None) -> tuple[str, Prediction, list[Entity]]:
    return (text, sure(intent), entities or [])


def test_several_requests_are_answered_in_order(domain: Domain) -> None:
    decision, _ = decide_parts(
        [part("thanks", "thanks"), part("bye", "goodbye")], State(), domain, random.Random(0), now=NOW
    )
    assert [(m.text, m.intent) for m in decision.messages] == [("You're welcome.", "thanks"), ("Bye!", "goodbye")]
    assert decision.state.turns == 1


def test_a_greeting_then_a_form(domain: Domain) -> None:
    decision, _ = decide_parts(
        [part("hi", "greet"), part("where is my order", "track")], State(), domain, random.Random(0), now=NOW
    )
    assert [m.text for m in decision.messages] == ["Hello!", "Which order?"]
    assert decision.state.active_form == "track"


def test_a_form_then_a_question_repeats_the_form_question(domain: Domain) -> None:
    parts = [part("where is my order", "track"), part("when are you open", "hours")]
    decision, _ = decide_parts(parts, State(), domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == ["Which order?", "9 to 5.", "Which order?"]


def test_at_most_three_parts(domain: Domain) -> None:
    parts = [part("hi", "greet"), part("thanks", "thanks"), part("hours", "hours"), part("bye", "goodbye")]
    decision, _ = decide_parts(parts, State(), domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == ["Hello!", "You're welcome.", "9 to 5."]


def test_a_free_text_answer_does_not_leave_the_form() -> None:
    """Torn between another task and a cancel, an answer to a free-text question is still the answer."""
    domain = parse_domain(SHOP.replace("  day: {entity: day, scope: form}", "  day: {type: text}"))
    torn = Prediction("track", 0.45, [("track", 0.45), ("stop", 0.33)], False, True)
    decision = run(domain, "<img src=x onerror=alert(1)> and more words", torn, [], BOOKING_DAY)
    assert decision.state.active_form == "book" and decision.state.slots["day"].startswith("<img")


def test_torn_between_a_task_and_a_cancel_leaves_only_when_likely(domain: Domain) -> None:
    torn = Prediction("cancel_order", 0.4, [("cancel_order", 0.4), ("stop", 0.35)], False, True)
    order = [value("order_number", "CD654321", 25)]
    decision = run(domain, "never mind, cancel order CD654321 instead", torn, order, ASKING_ORDER)
    assert decision.state.active_form is None and decision.state.last_form == "track"  # the value answered


def test_an_address_is_an_answer_even_when_it_sounds_like_something() -> None:
    domain = parse_domain(SHOP.replace("  day: {entity: day, scope: form}", "  day: {type: text}"))
    weak = Prediction("track", 0.43, [("track", 0.43), ("hours", 0.3)], False, False)
    decision = run(domain, "42 Oak Road, Leeds LS1 2AB", weak, [], BOOKING_DAY)
    assert decision.state.slots["day"] == "42 Oak Road, Leeds LS1 2AB"
    strong = Prediction("stop", 0.9, [("stop", 0.9), ("hours", 0.3)], False, False)
    assert run(domain, "never mind", strong, [], BOOKING_DAY).action == "form_cancelled"


def test_a_goodbye_inside_a_form_closes_it(domain: Domain) -> None:
    decision = run(domain, "bye", sure("goodbye"), [], ASKING_ORDER)
    assert [m.text for m in decision.messages] == ['I\'ve left "Track an order" aside; nothing was done there.', "Bye!"]
    assert decision.state.active_form is None
