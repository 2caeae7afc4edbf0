"""The dialogue policy as tables: (state, prediction, entities) -> (reply, next state)."""

from __future__ import annotations

import random

import pytest

from bot.dialogue import Decision, State, decide
from bot.domain import Domain, load_domain
from bot.inference import Prediction
from bot.nlp import Entity
from tests.conftest import SHOP


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain(SHOP)


def predict(intent: str, confidence: float = 0.9, fallback: bool = False, ambiguous: bool = False, second: str = "hours") -> Prediction:
    ranking = [(intent, confidence), (second, round(1 - confidence, 2))]
    return Prediction(intent=intent, confidence=confidence, ranking=ranking, is_fallback=fallback, ambiguous=ambiguous)


def order(value: str = "AB123456") -> Entity:
    return Entity("order_number", value, 0, len(value), value)


def day(value: str = "monday") -> Entity:
    return Entity("day", value, 0, len(value), value)


def run(domain: Domain, text: str, prediction: Prediction, entities: list[Entity], state: State) -> Decision:
    return decide(text, prediction, entities, state, domain, random.Random(0))


FORM_ORDER = State(active_form="order_status", requested_slot="order_id")
FORM_BOOK_NAME = State(active_form="book", requested_slot="name", slots={"day": "monday"})

TABLE = [
    # (name, text, prediction, entities, state, action, reply contains, next form, next requested slot, slots)
    ("plain answer", "hi", predict("greet"), [], State(), "respond", "Hello", None, None, {}),
    ("form starts", "where is my order", predict("order_status"), [], State(), "ask", "order number", "order_status", "order_id", {}),
    ("form filled at once", "track AB123456", predict("order_status"), [order()], State(), "respond", "AB123456 is on its way", None, None, {"order_id": "AB123456"}),
    ("slot from a later message", "AB123456", predict("greet", 0.2, fallback=True), [order()], FORM_ORDER, "form_done", "AB123456", None, None, {"order_id": "AB123456"}),
    ("wrong value is asked again", "no idea", predict("greet", 0.2, fallback=True), [], FORM_ORDER, "reask", "What is your order number?", "order_status", "order_id", {}),
    ("cancel the form", "stop", predict("stop"), [], FORM_ORDER, "form_cancelled", "stopped", None, None, {}),
    ("digression answered, question repeated", "when are you open", predict("hours"), [], FORM_ORDER, "reask", "9 to 5", "order_status", "order_id", {}),
    ("free-text slot takes the reply", "Ada Lovelace", predict("greet", 0.2, fallback=True), [], FORM_BOOK_NAME, "form_done", "Booked for Ada Lovelace on monday", None, None, {"day": "monday", "name": "Ada Lovelace"}),
    ("asks slots one at a time", "book on tuesday", predict("book"), [day("tuesday")], State(), "ask", "What name", "book", "name", {"day": "tuesday"}),
    ("fallback below threshold", "blah", predict("hours", 0.2, fallback=True), [], State(), "fallback", "didn't get that", None, None, {}),
]


@pytest.mark.parametrize(
    ("text", "prediction", "entities", "state", "action", "reply", "form", "requested", "slots"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_policy(domain: Domain, text: str, prediction: Prediction, entities: list[Entity], state: State, action: str, reply: str, form: str | None, requested: str | None, slots: dict[str, str]) -> None:
    decision = run(domain, text, prediction, entities, state)
    assert decision.action == action
    assert reply in " ".join(m.text for m in decision.messages)
    assert decision.state.active_form == form
    assert decision.state.requested_slot == requested
    assert dict(decision.state.slots) == slots
    assert decision.state.turns == state.turns + 1


def test_digression_sends_answer_then_question(domain: Domain) -> None:
    decision = run(domain, "when are you open", predict("hours"), [], FORM_ORDER)
    assert [m.text for m in decision.messages] == ["We are open 9 to 5, Monday to Friday.", "What is your order number?"]


def test_ambiguous_fallback_offers_the_two_best_intents(domain: Domain) -> None:
    decision = run(domain, "order hours?", predict("order_status", 0.25, fallback=True, ambiguous=True, second="hours"), [], State())
    assert decision.messages[0].buttons == (("Order status", "/order_status"), ("Opening hours", "/hours"))


def test_response_buttons_are_kept(domain: Domain) -> None:
    decision = run(domain, "hi", predict("greet"), [], State())
    assert decision.messages[0].buttons == (("Opening hours", "Opening hours"), ("Order status", "where is my order"))


def test_starting_a_form_again_asks_session_slots_again(domain: Domain) -> None:
    done = State(slots={"order_id": "AB123456", "name": "Ada"})
    decision = run(domain, "where is my order", predict("order_status"), [], done)
    assert decision.action == "ask" and dict(decision.state.slots) == {"name": "Ada"}


def test_user_slot_is_not_asked_again(domain: Domain) -> None:
    decision = run(domain, "book for monday", predict("book"), [day()], State(slots={"name": "Ada"}))
    assert decision.action == "respond" and decision.messages[0].text == "Booked for Ada on monday."


def test_policy_is_pure(domain: Domain) -> None:
    state = State(slots={"name": "Ada"})
    first = run(domain, "thanks", predict("thanks"), [], state)
    second = run(domain, "thanks", predict("thanks"), [], state)
    assert first == second and dict(state.slots) == {"name": "Ada"}
