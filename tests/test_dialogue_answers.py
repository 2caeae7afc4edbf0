"""What counts as the answer to a form's question: a value for the asked slot stays in the form
however much the words sound like another request, and a free-text answer is taken whole."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.dialogue import State, decide
from bot.domain import Domain, parse_domain
from bot.understanding import Entity, Prediction

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
"""The moment of every turn here: Tuesday 1 December 2026, 10:00 UTC."""

SHOP = """
language: en
fallback: {threshold: 0.3, responses: ["Sorry?"]}
forms:
  cancel_intents: [stop]
  invalid: "Hmm."
entities:
  order_number: {regex: '\\\\b[A-Z]{2}\\\\d{6}\\\\b'}
  return_reason: {values: {damaged: [scratched, cracked]}}
  day: {values: {friday: []}}
slots:
  order_id: {entity: order_number}
  return_reason: {type: text, entity: return_reason, scope: form}
  address: {type: text, scope: form}
  day: {entity: day}
intents:
  track:
    examples: [where is my order, it has not arrived]
    slots: {order_id: "Which order?"}
    responses: ["Order {order_id} is on its way."]
  return_item:
    title: "Return an item"
    examples: [i want to return an item, send it back]
    slots: {order_id: "Which order?", return_reason: "Why?"}
    responses: ["Return of {order_id} registered: {return_reason}."]
  cancel_order:
    examples: [cancel my order, call off the order]
    slots: {order_id: "Which order?"}
    responses: ["Order {order_id} is cancelled."]
  change_address:
    examples: [change my address, new delivery address]
    slots: {order_id: "Which order?", address: "The new address?"}
    responses: ["Order {order_id} goes to {address}."]
  stop: {examples: [stop, never mind], responses: ["Okay."]}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return parse_domain(SHOP)


def sure(intent: str, confidence: float = 0.9) -> Prediction:
    return Prediction(intent, confidence, [(intent, confidence)], False, False)


def unsure(intent: str, confidence: float = 0.4) -> Prediction:
    return Prediction(intent, confidence, [(intent, confidence)], False, False)


def test_a_value_for_the_asked_slot_answers_even_if_it_sounds_like_tracking(domain: Domain) -> None:
    state = State(slots={"order_id": "PL330912"}, active_form="return_item", requested_slot="return_reason")
    text = "it arrived scratched"
    reason = Entity("return_reason", "damaged", 11, 20, "scratched")
    decision = decide(text, sure("track", 0.77), [reason], state, domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == ["Return of PL330912 registered: damaged."]
    assert decision.state.active_form is None


def test_a_value_the_other_request_takes_too_leaves_the_form_for_it(domain: Domain) -> None:
    state = State(active_form="track", requested_slot="order_id")
    text = "never mind, cancel order AB123456 instead"
    order = Entity("order_number", "AB123456", 24, 32, "AB123456", source="regex")
    decision = decide(text, sure("cancel_order"), [order], state, domain, random.Random(0), now=NOW)
    assert decision.intent == "cancel_order"
    assert decision.messages[-1].text == "Order AB123456 is cancelled."


def test_a_free_text_answer_is_taken_whole_without_the_taggers_guesses(domain: Domain) -> None:
    state = State(slots={"order_id": "AB123456"}, active_form="change_address", requested_slot="address")
    text = "12 Baker Street, Leeds LS1 2AB"
    guesses = [
        Entity("day", "12 Baker Street", 0, 15, "12 Baker Street", 0.6, source="model"),
        Entity("order_number", "LS1", 23, 26, "LS1", 0.7, source="model"),
    ]
    decision = decide(text, unsure("track"), guesses, state, domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == [f"Order AB123456 goes to {text}."]
    assert decision.state.slots["order_id"] == "AB123456"
    assert "day" not in decision.state.slots


def test_a_declared_value_inside_a_free_text_answer_still_fills_its_slot(domain: Domain) -> None:
    state = State(slots={"order_id": "AB123456"}, active_form="change_address", requested_slot="address")
    text = "5 Oak Road, from friday"
    day = Entity("day", "friday", 17, 23, "friday")
    decision = decide(text, unsure("track"), [day], state, domain, random.Random(0), now=NOW)
    assert decision.state.slots["day"] == "friday"
    assert decision.state.slots["address"] == text
