"""A whole turn without I/O: understanding, several requests, validation and actions, driven by
plain functions (`play_turn`) and by awaits (`play_turn_async`) in the same order."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from bot.actions.results import ActionMessage, ActionResult, Validation
from bot.actions.view import TurnView
from bot.dialogue import State
from bot.dialogue_turn import TurnOutcome, play_turn, play_turn_async
from bot.domain import parse_domain
from bot.understanding import Entity, Prediction, Understanding
from tests.test_dialogue_actions import ACTIONS

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
"""The moment of every turn here: Tuesday 1 December 2026, 10:00 UTC."""

DOMAIN = parse_domain(ACTIONS)
TABLE = {
    "where is my order": ("track", 0.95),
    "book a visit": ("book", 0.95),
    "yes": ("affirm", 0.95),
    "stop": ("stop", 0.95),
}


def understand(texts: list[str]) -> list[Understanding]:
    out = []
    for text in texts:
        intent, confidence = TABLE.get(text, ("stock", 0.1))
        entities = [Entity("order_number", text, 0, len(text), text)] if text.startswith("AB") else []
        prediction = Prediction(intent, confidence, [(intent, confidence)], confidence < 0.3, False)
        out.append(Understanding(text, text, entities, prediction))
    return out


def run_action(name: str, view: TurnView) -> ActionResult:
    return ActionResult(messages=(ActionMessage(f"{name} for {view.slots.get('order_id')}"),))


def validate(check: str, value: Any, view: TurnView) -> Validation:
    return Validation(value != "AB000000", str(value).upper(), "No such order.")


def test_a_turn_validates_then_runs_the_action() -> None:
    state = State("track", "order_id")
    outcome = play_turn("AB123456", state, DOMAIN, understand, random.Random(0), run_action, validate, now=NOW)
    assert [m.text for m in outcome.decision.messages] == ["lookup_order for AB123456"]
    assert [name for name, _ in outcome.actions] == ["lookup_order"]
    assert [(slot, v.accepted) for slot, _, v in outcome.validations] == [("order_id", True)]
    assert outcome.decision.run is None and outcome.decision.state.active_form is None


def test_a_rejected_value_runs_nothing() -> None:
    outcome = play_turn(
        "AB000000", State("track", "order_id"), DOMAIN, understand, random.Random(0), run_action, validate, now=NOW
    )
    assert [m.text for m in outcome.decision.messages] == ["No such order. Which order?"]
    assert outcome.actions == ()


def test_a_button_payload_names_its_intent() -> None:
    outcome = play_turn("/book", State(), DOMAIN, understand, random.Random(0), run_action, validate, now=NOW)
    assert outcome.understanding.prediction.intent == "book" and outcome.decision.state.active_form == "book"


def test_the_async_driver_takes_the_same_steps() -> None:
    async def a_understand(texts: list[str]) -> list[Understanding]:
        return understand(texts)

    async def a_run(name: str, view: TurnView) -> ActionResult:
        return run_action(name, view)

    async def a_validate(check: str, value: Any, view: TurnView) -> Validation:
        return validate(check, value, view)

    state = State("track", "order_id")
    sync: TurnOutcome = play_turn(
        "AB123456", state, DOMAIN, understand, random.Random(0), run_action, validate, now=NOW
    )
    done = asyncio.run(
        play_turn_async("AB123456", state, DOMAIN, a_understand, random.Random(0), a_run, a_validate, now=NOW)
    )
    assert done == sync


def test_an_action_is_told_when_its_run_corrects_the_form_just_finished() -> None:
    seen: list[tuple[str, bool, Any]] = []

    def record(name: str, view: TurnView) -> ActionResult:
        seen.append((name, view.correcting, view.slots.get("order_id")))
        return run_action(name, view)

    finished = State(slots={"order_id": "AB123456"}, last_form="track")
    play_turn("AB654321", finished, DOMAIN, understand, random.Random(0), record, validate, now=NOW)
    asked = State("track", "order_id")
    play_turn("AB123456", asked, DOMAIN, understand, random.Random(0), record, validate, now=NOW)
    assert seen == [("lookup_order", True, "AB654321"), ("lookup_order", False, "AB123456")]


def test_the_requests_after_one_with_an_action_are_answered_too() -> None:
    """ "where is my order AB123456, and is it in stock": the order's action runs, then the stock's."""
    table = {"where is my order AB123456": ("track", 0.95), "and is it in stock": ("stock", 0.95)}

    def several(texts: list[str]) -> list[Understanding]:
        out = []
        for text in texts:
            intent, confidence = table.get(text, ("book", 0.4))
            found = [Entity("order_number", "AB123456", 18, 26, "AB123456")] if "AB123456" in text else []
            prediction = Prediction(intent, confidence, [(intent, confidence)], False, intent == "book")
            out.append(Understanding(text, text, found, prediction))
        return out

    text = "where is my order AB123456, and is it in stock"
    outcome = play_turn(text, State(), DOMAIN, several, random.Random(0), run_action, validate, now=NOW)
    assert [u.prediction.intent for u in outcome.parts] == ["track", "stock"]
    assert [name for name, _ in outcome.actions] == ["lookup_order", "check_stock"]
    assert [m.text for m in outcome.decision.messages] == ["lookup_order for AB123456", "check_stock for AB123456"]
    assert outcome.decision.messages[0].intent == "track"  # each part's reply is its own intent's


def test_inside_a_form_never_mind_then_a_question_drops_the_form_and_answers_it() -> None:
    hours = '  hours: {examples: [when are you open, opening hours], responses: ["9 to 5."]}\n'
    domain = parse_domain(ACTIONS.rstrip("\n") + "\n" + hours)
    table = {"never mind": ("stop", 0.95), "when are you open": ("hours", 0.95), "is it in stock": ("stock", 0.95)}

    def clauses(texts: list[str]) -> list[Understanding]:
        out = []
        for text in texts:
            intent, confidence = table.get(text, ("track", 0.4))
            prediction = Prediction(intent, confidence, [(intent, confidence)], False, intent == "track")
            out.append(Understanding(text, text, [], prediction))
        return out

    def turn(text: str, state: State) -> TurnOutcome:
        return play_turn(text, state, domain, clauses, random.Random(0), run_action, validate, now=NOW)

    dropped = turn("never mind, when are you open", State("track", "order_id"))
    assert [m.text for m in dropped.decision.messages] == [domain.forms.cancelled, "9 to 5."]
    assert dropped.decision.state.active_form is None
    task = turn("never mind, is it in stock", State("track", "order_id"))
    assert [m.text for m in task.decision.messages] == [domain.forms.cancelled, "check_stock for None"]
    # Read whole, this one leaves the form by itself (the form set aside, the task begun): as it was.
    table["forget it, is it in stock"] = ("stock", 0.95)
    table["forget it"] = ("stop", 0.95)
    whole = turn("forget it, is it in stock", State("track", "order_id"))
    assert whole.parts == () and [n for n, _ in whole.actions] == ["check_stock"]
