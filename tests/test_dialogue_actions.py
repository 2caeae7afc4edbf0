"""The policy side of actions as tables: what a decision asks the service to run, and what a
result makes of it (messages, slots, follow-ups, failures), with plain `ActionResult` values."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.actions.results import ActionMessage, ActionResult, Link, Validation
from bot.dialogue import Decision, Say, State, after_action, decide
from bot.domain import Domain, parse_domain
from bot.understanding import Entity, Prediction

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
"""The moment of every turn here: Tuesday 1 December 2026, 10:00 UTC."""

ACTIONS = """
language: en
fallback: {threshold: 0.3, responses: ["Sorry?"]}
forms: {cancel_intents: [deny, stop], affirm_intents: [affirm], invalid: "Hmm."}
actions_failed: "Our systems are down, sorry."
actions:  # declared for the domain's checks; these tables hand the policy each result themselves
  lookup_order: {python: "shop_actions:lookup_order"}
  cancel_order: {python: "shop_actions:cancel_order"}
  check_stock: {python: "shop_actions:check_stock"}
  check_order: {python: "shop_actions:check_order"}
entities:
  order_number: {regex: '\\b[A-Z]{2}\\d{6}\\b'}
  day: {values: {monday: [], friday: []}}
slots:
  order_id: {entity: order_number, validate: check_order}
  day: {entity: day}
  status: {type: text}
intents:
  track:
    examples: [where is my order, track my parcel]
    slots: {order_id: "Which order?"}
    action: lookup_order
  cancel_order:
    examples: [cancel my order, call off the order]
    slots: {order_id: "Which order?"}
    confirm: "Cancel order {order_id}?"
    action: cancel_order
    responses: ["I couldn't cancel order {order_id} just now; please try again later."]
  stock:
    examples: [is it in stock, do you have it]
    action: check_stock
  book:
    examples: [book a visit, i need an appointment]
    slots: {day: "Which day?"}
    responses: ["Booked for {day}."]
  affirm: {title: "Yes", examples: ["yes", "yes please"], responses: ["Good."]}
  deny: {title: "No", examples: ["no", "no thanks"], responses: ["Okay."]}
  stop: {examples: [stop, never mind], responses: ["Okay."]}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return parse_domain(ACTIONS)


def sure(intent: str) -> Prediction:
    return Prediction(intent, 0.95, [(intent, 0.95)], False, False)


def order(value: str = "AB123456") -> Entity:
    return Entity("order_number", value, 0, len(value), value)


RNG = random.Random(0)


def test_an_intent_with_an_action_and_no_responses_is_valid(domain: Domain) -> None:
    assert domain.intents["track"].action == "lookup_order" and domain.intents["track"].responses == ()
    assert domain.slots["order_id"].validator == "check_order"
    assert domain.actions_failed == "Our systems are down, sorry."


@pytest.mark.parametrize(
    ("text", "intent", "entities", "state", "run", "messages"),
    [
        ("is it in stock", "stock", [], State(), "check_stock", ()),
        ("where is my order", "track", [], State(), None, ("Which order?",)),
        ("yes", "affirm", [], State("cancel_order", "?confirm", {"order_id": "AB123456"}), "cancel_order", ()),
        (
            "cancel AB123456",
            "cancel_order",
            [],
            State(slots={"order_id": "AB123456"}),
            None,
            ("Cancel order AB123456?",),
        ),
    ],
    ids=["no slots: runs at once", "a form asks first", "after the confirmation", "confirmation before the action"],
)
def test_when_the_action_runs(
    domain: Domain,
    text: str,
    intent: str,
    entities: list[Entity],
    state: State,
    run: str | None,
    messages: tuple[str, ...],
) -> None:
    decision = decide(text, sure(intent), entities, state, domain, random.Random(0), now=NOW)
    assert decision.run == run
    assert tuple(m.text for m in decision.messages) == messages
    if run:
        assert decision.state.active_form is None


def ran(domain: Domain, name: str, slots: dict[str, str] | None = None) -> Decision:
    """The decision that asks for `name`'s action, as `decide` returns it."""
    intent = {"check_stock": "stock", "cancel_order": "cancel_order", "lookup_order": "track"}[name]
    state = State(slots=slots or {})
    if intent == "cancel_order":
        state = State("cancel_order", "?confirm", slots or {"order_id": "AB123456"})
        decision = decide("yes", sure("affirm"), [], state, domain, random.Random(0), now=NOW)
    else:
        decision = decide("x", sure(intent), [], state, domain, random.Random(0), now=NOW)
    assert decision.run == name
    return decision


AFTER = [
    # (name, action, result, messages, slots, active form, end_session, handoff)
    (
        "ok with messages",
        "check_stock",
        ActionResult(
            messages=(ActionMessage("3 in stock."), ActionMessage("Want one?", buttons=(("Yes", "/affirm"),)))
        ),
        [Say("3 in stock."), Say("Want one?", (("Yes", "/affirm"),))],
        {},
        None,
        False,
        None,
    ),
    (
        "ok without messages: the intent's responses, filled with the new slots",
        "cancel_order",
        ActionResult(),
        [Say("I couldn't cancel order AB123456 just now; please try again later.")],
        {"order_id": "AB123456"},
        None,
        False,
        None,
    ),
    (
        "slots set",
        "check_stock",
        ActionResult(messages=(ActionMessage("ok"),), set_slots={"status": "shipped"}),
        [Say("ok")],
        {"status": "shipped"},
        None,
        False,
        None,
    ),
    (
        "slots reset",
        "lookup_order",
        ActionResult(messages=(ActionMessage("Forgot it."),), reset_slots=True),
        [Say("Forgot it.")],
        {},
        None,
        False,
        None,
    ),
    (
        "follow-up form asks its first question",
        "check_stock",
        ActionResult(messages=(ActionMessage("Out of stock."),), followup="book"),
        [Say("Out of stock."), Say("Which day?", intent="book")],
        {},
        "book",
        False,
        None,
    ),
    (
        "image and link",
        "check_stock",
        ActionResult(
            messages=(ActionMessage("Here:", image="https://x.example/a.png", image_alt="a", link=Link("u", "t")),)
        ),
        [Say("Here:", image="https://x.example/a.png", image_alt="a", link=Link("u", "t"))],
        {},
        None,
        False,
        None,
    ),
    (
        "end session and handoff surfaced",
        "check_stock",
        ActionResult(messages=(ActionMessage("Passing you on."),), end_session=True, handoff="angry"),
        [Say("Passing you on.")],
        {},
        None,
        True,
        "angry",
    ),
    (
        "failure: the intent's responses",
        "cancel_order",
        ActionResult(outcome="timeout"),
        [Say("I couldn't cancel order AB123456 just now; please try again later.")],
        {"order_id": "AB123456"},
        None,
        False,
        None,
    ),
    (
        "failure without responses: actions_failed",
        "check_stock",
        ActionResult(outcome="error", error="boom"),
        [Say("Our systems are down, sorry.")],
        {},
        None,
        False,
        None,
    ),
    (
        "a failed action's slots and follow-up are ignored",
        "check_stock",
        ActionResult(outcome="circuit_open", set_slots={"status": "x"}, followup="book"),
        [Say("Our systems are down, sorry.")],
        {},
        None,
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    ("action", "result", "messages", "slots", "form", "end", "handoff"),
    [row[1:] for row in AFTER],
    ids=[row[0] for row in AFTER],
)
def test_after_action(
    domain: Domain,
    action: str,
    result: ActionResult,
    messages: list[Say],
    slots: dict[str, str],
    form: str | None,
    end: bool,
    handoff: str | None,
) -> None:
    decision = ran(domain, action, {"order_id": "AB123456"} if action == "lookup_order" else None)
    after = after_action(decision, result, domain, random.Random(0))
    assert list(after.messages) == messages
    assert dict(after.state.slots) == slots
    assert after.state.active_form == form
    assert (after.end_session, after.handoff, after.run) == (end, handoff, None)
    assert after.action_call is not None and after.action_call["name"] == action
    assert after.action_call["outcome"] == result.outcome


def test_the_session_stays_usable_after_a_failure(domain: Domain) -> None:
    decision = ran(domain, "cancel_order")
    after = after_action(decision, ActionResult(outcome="timeout"), domain, RNG)
    nxt = decide("book a visit", sure("book"), [], after.state, domain, random.Random(0), now=NOW)
    assert nxt.messages[-1].text == "Which day?" and nxt.state.active_form == "book"


def test_action_call_lists_the_slots_it_changed(domain: Domain) -> None:
    decision = ran(domain, "lookup_order", {"order_id": "AB123456"})
    after = after_action(decision, ActionResult(set_slots={"status": "lost"}), domain, RNG)
    assert after.action_call == {
        "name": "lookup_order",
        "kind": "run",
        "outcome": "ok",
        "latency_ms": 0.0,
        "slots": {"status": "lost"},
    }


VALIDATE = [
    # (name, verdict, messages, slots, requested, run)
    ("accepted, normalised", Validation(True, "AB123456"), (), {"order_id": "AB123456"}, None, "lookup_order"),
    ("accepted as given", Validation(True), (), {"order_id": "ab123456"}, None, "lookup_order"),
    (
        "rejected: asked again with the validator's message",
        Validation(False, message="No order ab123456 here."),
        ("No order ab123456 here. Which order?",),
        {},
        "order_id",
        None,
    ),
    ("rejected without a message", Validation(False), ("Hmm. Which order?",), {}, "order_id", None),
]


@pytest.mark.parametrize(
    ("verdict", "messages", "slots", "requested", "run"),
    [row[1:] for row in VALIDATE],
    ids=[row[0] for row in VALIDATE],
)
def test_slot_validation(
    domain: Domain,
    verdict: Validation,
    messages: tuple[str, ...],
    slots: dict[str, str],
    requested: str | None,
    run: str | None,
) -> None:
    state = State("track", "order_id")
    fallback = Prediction("track", 0.1, [("track", 0.1)], True, False)
    first = decide("ab123456", fallback, [order("ab123456")], state, domain, random.Random(0), now=NOW)
    assert first.action == "validate" and first.validate == (("order_id", "ab123456", "check_order"),)
    assert first.messages == () and first.state == state
    second = decide(
        "ab123456", fallback, [order("ab123456")], state, domain, random.Random(0), {"order_id": verdict}, now=NOW
    )
    assert tuple(m.text for m in second.messages) == messages
    assert dict(second.state.slots) == slots
    assert second.state.requested_slot == requested and second.run == run


def test_a_rejected_correction_keeps_the_old_value(domain: Domain) -> None:
    state = State("cancel_order", "?confirm", {"order_id": "AB123456"})
    fallback = Prediction("track", 0.1, [("track", 0.1)], True, False)
    verdicts = {"order_id": Validation(False, message="No such order.")}
    decision = decide("ZZ999999", fallback, [order("ZZ999999")], state, domain, random.Random(0), verdicts, now=NOW)
    assert decision.state.slots["order_id"] == "AB123456"


def test_a_new_request_with_a_refused_value_asks_for_it_instead_of_using_the_old_one(domain: Domain) -> None:
    state = State(slots={"order_id": "AB123456"}, last_form="track")
    asked = Prediction("track", 0.9, [("track", 0.9)], False, False)
    verdicts = {"order_id": Validation(False, message="No such order.")}
    decision = decide(
        "where is ZZ999999", asked, [order("ZZ999999")], state, domain, random.Random(0), verdicts, now=NOW
    )
    assert decision.run is None and "order_id" not in decision.state.slots
    assert decision.state.requested_slot == "order_id" and decision.messages[-1].text.startswith("No such order.")


def test_a_validators_refusal_is_a_wrong_answer_that_counts(domain: Domain) -> None:
    """As a broken constraint's: refused twice in a row, the question comes with the ways out."""
    fallback = Prediction("track", 0.1, [("track", 0.1)], True, False)
    verdicts = {"order_id": Validation(False, message="No order ab123456 here.")}
    state = State("track", "order_id")
    texts, failures, buttons = [], [], []
    for _ in range(3):
        decision = decide("ab123456", fallback, [order("ab123456")], state, domain, random.Random(0), verdicts, now=NOW)
        state = decision.state
        texts.append(decision.messages[-1].text)
        failures.append(state.failures)
        buttons.append([title for title, _ in decision.messages[-1].buttons])
    assert failures == [1, 2, 3]
    assert texts == [
        "No order ab123456 here. Which order?",
        "I need this to go on. No order ab123456 here. Which order?",
        "I need this to go on. No order ab123456 here. Which order?",
    ]
    assert buttons[0] == [] and buttons[1] == buttons[2] == ["Stop"]
    assert state.requested_slot == "order_id" and "order_id" not in state.slots


def test_a_refusal_then_another_wrong_answer_offers_the_ways_out(domain: Domain) -> None:
    fallback = Prediction("track", 0.1, [("track", 0.1)], True, False)
    refused = decide(
        "ab123456",
        fallback,
        [order("ab123456")],
        State("track", "order_id"),
        domain,
        random.Random(0),
        {"order_id": Validation(False)},
        now=NOW,
    )
    assert refused.state.failures == 1
    gibberish = decide("blah", fallback, [], refused.state, domain, random.Random(0), now=NOW)
    assert gibberish.state.failures == 2
    assert gibberish.messages[-1].text == "I need this to go on. Which order?"
