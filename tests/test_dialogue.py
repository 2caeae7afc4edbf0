"""The dialogue policy as tables: (state, prediction, entities) -> (reply, next state)."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.dialogue import Decision, State, decide
from bot.domain import Domain, load_domain, parse_domain
from bot.understanding import Entity, Prediction
from tests.helpers import SHOP

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
"""The moment of every turn here: Tuesday 1 December 2026, 10:00 UTC."""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain(SHOP)


def predict(
    intent: str, confidence: float = 0.9, fallback: bool = False, ambiguous: bool = False, second: str = "hours"
) -> Prediction:
    ranking = [(intent, confidence), (second, round(1 - confidence, 2))]
    return Prediction(intent=intent, confidence=confidence, ranking=ranking, is_fallback=fallback, ambiguous=ambiguous)


def order(value: str = "AB123456") -> Entity:
    return Entity("order_number", value, 0, len(value), value)


def day(value: str = "monday") -> Entity:
    return Entity("day", value, 0, len(value), value)


def run(domain: Domain, text: str, prediction: Prediction, entities: list[Entity], state: State) -> Decision:
    return decide(text, prediction, entities, state, domain, random.Random(0), now=NOW)


FORM_ORDER = State(active_form="order_status", requested_slot="order_id")
FORM_BOOK_NAME = State(active_form="book", requested_slot="name", slots={"day": "monday"})

TABLE = [
    # (name, text, prediction, entities, state, action, reply contains, next form, next requested slot, slots)
    ("plain answer", "hi", predict("greet"), [], State(), "respond", "Hello", None, None, {}),
    (
        "form starts",
        "where is my order",
        predict("order_status"),
        [],
        State(),
        "ask",
        "order number",
        "order_status",
        "order_id",
        {},
    ),
    (
        "form filled at once",
        "track AB123456",
        predict("order_status"),
        [order()],
        State(),
        "respond",
        "AB123456 is on its way",
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "slot from a later message",
        "AB123456",
        predict("greet", 0.2, fallback=True),
        [order()],
        FORM_ORDER,
        "form_done",
        "AB123456",
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "wrong value is asked again",
        "no idea",
        predict("greet", 0.2, fallback=True),
        [],
        FORM_ORDER,
        "reask",
        "What is your order number?",
        "order_status",
        "order_id",
        {},
    ),
    ("cancel the form", "stop", predict("stop"), [], FORM_ORDER, "form_cancelled", "stopped", None, None, {}),
    (
        "digression answered, question repeated",
        "when are you open",
        predict("hours"),
        [],
        FORM_ORDER,
        "reask",
        "9 to 5",
        "order_status",
        "order_id",
        {},
    ),
    (
        "free-text slot takes the reply",
        "Ada Lovelace",
        predict("greet", 0.2, fallback=True),
        [],
        FORM_BOOK_NAME,
        "form_done",
        "Booked for Ada Lovelace on monday",
        None,
        None,
        {"day": "monday", "name": "Ada Lovelace"},
    ),
    (
        "asks slots one at a time",
        "book on tuesday",
        predict("book"),
        [day("tuesday")],
        State(),
        "ask",
        "What name",
        "book",
        "name",
        {"day": "tuesday"},
    ),
    (
        "fallback below threshold",
        "blah",
        predict("hours", 0.2, fallback=True),
        [],
        State(),
        "fallback",
        "didn't get that",
        None,
        None,
        {},
    ),
]


@pytest.mark.parametrize(
    ("text", "prediction", "entities", "state", "action", "reply", "form", "requested", "slots"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_policy(
    domain: Domain,
    text: str,
    prediction: Prediction,
    entities: list[Entity],
    state: State,
    action: str,
    reply: str,
    form: str | None,
    requested: str | None,
    slots: dict[str, str],
) -> None:
    decision = run(domain, text, prediction, entities, state)
    assert decision.action == action
    assert reply in " ".join(m.text for m in decision.messages)
    assert decision.state.active_form == form
    assert decision.state.requested_slot == requested
    assert dict(decision.state.slots) == slots
    assert decision.state.turns == state.turns + 1


def test_digression_sends_answer_then_question(domain: Domain) -> None:
    decision = run(domain, "when are you open", predict("hours"), [], FORM_ORDER)
    assert [m.text for m in decision.messages] == [
        "We are open 9 to 5, Monday to Friday.",
        "What is your order number?",
    ]
    assert decision.intent == "hours" and [m.intent for m in decision.messages] == [None, "order_status"]


def test_ambiguous_fallback_offers_the_two_best_intents(domain: Domain) -> None:
    decision = run(
        domain,
        "order hours?",
        predict("order_status", 0.25, fallback=True, ambiguous=True, second="hours"),
        [],
        State(),
    )
    assert decision.messages[0].buttons == (("Order status", "/order_status"), ("Opening hours", "/hours"))


def test_response_buttons_are_kept(domain: Domain) -> None:
    decision = run(domain, "hi", predict("greet"), [], State())
    assert decision.messages[0].buttons == (("Opening hours", "Opening hours"), ("Order status", "where is my order"))


def test_a_follow_up_uses_the_session_slot_already_known(domain: Domain) -> None:
    """Issue 19: after a finished form, a follow-up about the same order is answered with it
    (the order number is not asked again nor wiped)."""
    done = State(slots={"order_id": "AB123456", "name": "Ada"}, last_form="order_status")
    decision = run(domain, "where is my order", predict("order_status"), [], done)
    assert decision.action == "respond" and dict(decision.state.slots) == {"order_id": "AB123456", "name": "Ada"}
    assert decision.messages[0].text == "Order AB123456 is on its way."


def test_user_slot_is_not_asked_again(domain: Domain) -> None:
    decision = run(domain, "book for monday", predict("book"), [day()], State(slots={"name": "Ada"}))
    assert decision.action == "respond" and decision.messages[0].text == "Booked for Ada on monday."


def test_policy_is_pure(domain: Domain) -> None:
    state = State(slots={"name": "Ada"})
    first = run(domain, "thanks", predict("thanks"), [], state)
    second = run(domain, "thanks", predict("thanks"), [], state)
    assert first == second and dict(state.slots) == {"name": "Ada"}


CONFIRMING = """
language: en
fallback: {threshold: 0.3, responses: ["Sorry?"]}
forms: {cancel_intents: [deny, stop], affirm_intents: [affirm], invalid: "Hmm."}
entities:
  order_number: {regex: '\\b[A-Z]{2}\\d{6}\\b'}
  day: {values: {monday: [], friday: []}}
  time: {regex: '\\b\\d{1,2}(am|pm)\\b'}
slots:
  order_id: {entity: order_number}
  day: {entity: day}
  time: {entity: time}
intents:
  cancel_order:
    examples: [cancel my order, call off the order]
    slots: {order_id: "Which order?"}
    confirm: "Cancel order {order_id} for good?"
    responses: ["Order {order_id} is cancelled."]
  book:
    examples: [book a visit, i need an appointment]
    slots: {day: "Which day?", time: "What time?"}
    responses: ["Booked for {day} at {time}."]
  reschedule:
    examples: [move my appointment, change the day]
    slots: {day: "To which day?"}
    responses: ["Moved to {day}."]
  track:
    examples: [where is my order, track my parcel]
    slots: {order_id: "Which order?"}
    responses: ["Order {order_id} is on its way."]
  affirm: {title: "Yes", examples: ["yes", "yes please"], responses: ["Good."]}
  deny: {title: "No", examples: ["no", "no thanks"], responses: ["Okay, no problem."]}
  stop: {examples: [stop, never mind], responses: ["Okay."]}
  hours: {examples: [when are you open, opening hours], responses: ["9 to 5."]}
"""


def close(first: str, second: str) -> Prediction:
    """Two intents both likely, within the ambiguity margin."""
    return Prediction(
        intent=first, confidence=0.99, ranking=[(first, 0.99), (second, 0.95)], is_fallback=False, ambiguous=True
    )


ASKED_TO_CONFIRM = State(active_form="cancel_order", requested_slot="?confirm", slots={"order_id": "AB123456"})
BOOK_TIME = State(active_form="book", requested_slot="time", slots={"day": "friday"})

CONFIRM_TABLE = [
    # (name, text, prediction, entities, state, action, replies, next form, next requested slot, slots)
    (
        "torn between two ways of cancelling, it cancels",
        "oh, stop, no",
        close("stop", "deny"),
        [],
        BOOK_TIME,
        "form_cancelled",
        ["Okay, I've stopped that. What else can I do for you?"],
        None,
        None,
        {"day": "friday"},
    ),
    (
        "asks before acting",
        "cancel order AB123456",
        predict("cancel_order"),
        [order()],
        State(),
        "confirm",
        ["Cancel order AB123456 for good?"],
        "cancel_order",
        "?confirm",
        {"order_id": "AB123456"},
    ),
    (
        "yes acts",
        "yes",
        predict("affirm"),
        [],
        ASKED_TO_CONFIRM,
        "form_done",
        ["Order AB123456 is cancelled."],
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "no abandons",
        "no",
        predict("deny"),
        [],
        ASKED_TO_CONFIRM,
        "form_cancelled",
        ["Okay, I've stopped that. What else can I do for you?"],
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "neither asks again",
        "blah",
        predict("hours", 0.1, fallback=True),
        [],
        ASKED_TO_CONFIRM,
        "reask",
        ["Hmm. Cancel order AB123456 for good?"],
        "cancel_order",
        "?confirm",
        {"order_id": "AB123456"},
    ),
    (
        "a digression, then the question again",
        "when are you open",
        predict("hours"),
        [],
        ASKED_TO_CONFIRM,
        "reask",
        ["9 to 5.", "Cancel order AB123456 for good?"],
        "cancel_order",
        "?confirm",
        {"order_id": "AB123456"},
    ),
    (
        "another number is confirmed afresh",
        "CD654321",
        predict("hours", 0.1, fallback=True),
        [order("CD654321")],
        ASKED_TO_CONFIRM,
        "confirm",
        ["Cancel order CD654321 for good?"],
        "cancel_order",
        "?confirm",
        {"order_id": "CD654321"},
    ),
    (
        "a slot of the form, whatever the words sound like",
        "monday then",
        predict("reschedule"),
        [day()],
        BOOK_TIME,
        "ask",
        ["Noted: monday. What time?"],  # not word for word: the value given is acknowledged
        "book",
        "time",
        {"day": "monday"},
    ),
    (
        "asking again for the same thing repeats the question",
        "i need an appointment",
        predict("book"),
        [],
        BOOK_TIME,
        "reask",
        ["What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
    (
        "no leaves a form",
        "no thanks",
        predict("deny"),
        [],
        BOOK_TIME,
        "form_cancelled",
        ["Okay, I've stopped that. What else can I do for you?"],
        None,
        None,
        {"day": "friday"},
    ),
    (
        "another form keeps what the abandoned one was told",
        "where is that order",
        predict("track"),
        [],
        ASKED_TO_CONFIRM,
        "respond",
        ['I\'ve left "Cancel order" aside; nothing was done there.', "Order AB123456 is on its way."],
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "a bare number is a wrong answer, not a new request",
        "31/02",
        predict("hours"),
        [],
        BOOK_TIME,
        "reask",
        ["Hmm. What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
    (
        "yes is no value for a slot",
        "yes",
        predict("affirm"),
        [],
        BOOK_TIME,
        "reask",
        ["Hmm. What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
    (
        "a no that names the form is still no",
        "no, don't cancel it",
        close("deny", "cancel_order"),
        [],
        ASKED_TO_CONFIRM,
        "form_cancelled",
        ["Okay, I've stopped that. What else can I do for you?"],
        None,
        None,
        {"order_id": "AB123456"},
    ),
    (
        "an unsure stop asks again",
        "purple elephants",
        close("stop", "hours"),
        [],
        BOOK_TIME,
        "reask",
        ["Hmm. What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
    (
        "a digression that might be the form itself",
        "when are you open",
        close("hours", "book"),
        [],
        BOOK_TIME,
        "reask",
        ["9 to 5.", "What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
    (
        "torn between two others: asked again",
        "hmm",
        close("hours", "reschedule"),
        [],
        BOOK_TIME,
        "reask",
        ["Hmm. What time?"],
        "book",
        "time",
        {"day": "friday"},
    ),
]


@pytest.mark.parametrize(
    ("text", "prediction", "entities", "state", "action", "replies", "form", "requested", "slots"),
    [row[1:] for row in CONFIRM_TABLE],
    ids=[row[0] for row in CONFIRM_TABLE],
)
def test_forms_with_confirmation(
    text: str,
    prediction: Prediction,
    entities: list[Entity],
    state: State,
    action: str,
    replies: list[str],
    form: str | None,
    requested: str | None,
    slots: dict[str, str],
) -> None:
    decision = run(parse_domain(CONFIRMING), text, prediction, entities, state)
    assert (decision.action, [m.text for m in decision.messages]) == (action, replies)
    assert (decision.state.active_form, decision.state.requested_slot, dict(decision.state.slots)) == (
        form,
        requested,
        slots,
    )


def test_the_confirmation_question_has_yes_and_no_buttons() -> None:
    decision = run(parse_domain(CONFIRMING), "cancel AB123456", predict("cancel_order"), [order()], State())
    assert decision.messages[0].buttons == (("Yes", "/affirm"), ("No", "/deny"))


def test_no_did_you_mean_between_two_unlikely_intents(domain: Domain) -> None:
    """Near-zero scores are close to each other without either being meant."""
    unlikely = Prediction(
        intent="order_status",
        confidence=0.006,
        ranking=[("order_status", 0.006), ("hours", 0.004)],
        is_fallback=True,
        ambiguous=True,
    )
    assert run(domain, "tell me a joke", unlikely, [], State()).messages[0].buttons == ()


def test_a_free_text_answer_that_sounds_like_stop_is_the_answer(domain: Domain) -> None:
    unsure = Prediction(
        intent="stop", confidence=0.5, ranking=[("stop", 0.5), ("greet", 0.45)], is_fallback=False, ambiguous=True
    )
    decision = run(domain, "Alice Liddell", unsure, [], FORM_BOOK_NAME)
    assert decision.action == "form_done" and decision.state.slots["name"] == "Alice Liddell"


def test_a_free_text_answer_close_to_the_form_itself_is_the_answer(domain: Domain) -> None:
    """Hesitating between another intent and the form is enough to leave for the other
    intent, but not to refuse a free-text answer."""
    unsure = Prediction(
        intent="stop", confidence=0.6, ranking=[("stop", 0.6), ("book", 0.55)], is_fallback=False, ambiguous=True
    )
    decision = run(domain, "Ada", unsure, [], FORM_BOOK_NAME)
    assert decision.action == "form_done" and decision.state.slots["name"] == "Ada"


def test_a_free_text_question_is_not_answered_by_a_message_torn_between_two_other_requests(domain: Domain) -> None:
    """ "thanks, bye": sure it is one of two other requests, just not which; no name either."""
    torn = Prediction(
        intent="thanks", confidence=0.99, ranking=[("thanks", 0.99), ("greet", 0.97)], is_fallback=False, ambiguous=True
    )
    decision = run(domain, "thanks, hi", torn, [], FORM_BOOK_NAME)
    assert "name" not in decision.state.slots and decision.action != "form_done"


def test_the_policy_loads_without_spacy_or_numpy() -> None:
    """The dialogue and its values stay light: a policy test or a tool never pays for the NLU."""
    code = "import sys, bot.dialogue, bot.understanding; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "spacy" not in loaded
    assert "numpy" not in loaded
