"""Rasa's protocol without a server: the request body as encoded, the signature, and the answer
read on the fast path exactly as the pydantic schema reads it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bot.actions import TurnView
from bot.actions.http_actions import (
    ActionCallError,
    RasaAnswer,
    RasaEvent,
    RasaResponse,
    Signer,
    read_answer,
    sign,
    to_result,
)
from bot.actions.rasa_request import RasaDomain, encode_request, rasa_domain
from bot.actions.results import ActionMessage, ActionResult, Link
from bot.domain import parse_domain
from bot.understanding import Entity

DOMAIN = parse_domain(
    """
actions:
  hook: {url: 'http://127.0.0.1:9/webhook'}
entities:
  order_number: {regex: '[A-Z]{2}\\d{6}'}
slots:
  order_id: {entity: order_number}
intents:
  order_status:
    examples: [where is my order, track my parcel]
    slots: {order_id: "What's your order number?"}
    action: hook
  greet: {examples: [hi, hello], responses: [Hello!]}
"""
)
VIEW = TurnView(
    text="where is AB123456",
    intent="order_status",
    confidence=0.9,
    session_id="s-1",
    language="en",
    entities=(Entity("order_number", "AB123456", 9, 17, "AB123456"),),
    slots={"order_id": "AB123456"},
    user_id=7,
    requested_slot="order_id",
    active_form="order_status",
    ranking=(("order_status", 0.9), ("greet", 0.05)),
)


def test_the_body_is_rasas_request_with_the_domain_encoded_once() -> None:
    sent = orjson.loads(encode_request("hook", VIEW, RasaDomain.of(DOMAIN), candidate=("order_id", "AB123456")))
    assert set(sent) == {"next_action", "sender_id", "tracker", "domain", "version"}
    assert sent["domain"] == rasa_domain(DOMAIN)
    assert sent["domain"]["forms"] == {"order_status": {"required_slots": ["order_id"]}}
    tracker = sent["tracker"]
    assert (sent["next_action"], sent["sender_id"], tracker["sender_id"], tracker["user_id"]) == (
        "hook",
        "s-1",
        "s-1",
        "7",
    )
    assert tracker["slots"] == {"order_id": "AB123456", "requested_slot": "order_id"}
    assert tracker["active_loop"] == {"name": "order_status"}
    latest = tracker["latest_message"]
    assert latest["intent_ranking"] == [
        {"name": "order_status", "confidence": 0.9},
        {"name": "greet", "confidence": 0.05},
    ]
    assert latest["entities"] == [
        {
            "entity": "order_number",
            "value": "AB123456",
            "start": 9,
            "end": 17,
            "text": "AB123456",
            "confidence_entity": VIEW.entities[0].confidence,
            "extractor": VIEW.entities[0].source,
        }
    ]
    assert [e["event"] for e in tracker["events"]] == ["active_loop", "slot", "action", "user", "slot"]
    assert tracker["events"][-1] | {"timestamp": 0} == {
        "event": "slot",
        "timestamp": 0,
        "name": "order_id",
        "value": "AB123456",
    }


def test_the_prepared_signer_signs_as_sign_does() -> None:
    body = encode_request("hook", VIEW, RasaDomain.of(DOMAIN))
    assert Signer("s3cret")(body) == sign(body, "s3cret") and Signer("s3cret")(b"") == sign(b"", "s3cret")


def by_model(parsed: Any) -> RasaAnswer:
    """What the schema alone makes of an answer."""
    model = RasaResponse.model_validate(parsed)
    return RasaAnswer(
        tuple(RasaEvent(e.event, e.name, e.value) for e in model.events),
        tuple(
            ActionMessage(
                text=m.text or "",
                buttons=tuple((b.title, b.payload or b.title) for b in m.buttons or ()),
                image=m.image,
                custom=m.custom,
            )
            for m in model.responses
            if m.text or m.buttons or m.image or m.custom
        ),
    )


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"events": [], "responses": []},
        {"events": [{"event": "slot", "name": "a", "value": [1, {"b": None}]}, {"event": "reset_slots"}]},
        {"events": [{"event": "followup", "name": "book", "timestamp": None, "extra": 1}]},
        {"responses": [{"text": "hi", "buttons": [{"title": "Yes"}, {"title": "No", "payload": "/deny"}]}]},
        {"responses": [{"text": None, "image": "http://x/y.png"}, {"custom": {"k": 1}}, {"text": ""}]},
        {"responses": [{"buttons": []}, {"response": "utter_x", "template": "t", "text": "t"}]},
        {"events": None, "responses": []},
        {"events": {"event": "slot"}},
        {"events": [{"name": "a"}]},
        {"events": [{"event": 3}]},
        {"events": [{"event": "slot", "name": 5}]},
        {"responses": [{"text": 5}]},
        {"responses": [{"buttons": [{"payload": "/x"}]}]},
        {"responses": [{"buttons": [{"title": "a", "payload": None}]}]},
        {"responses": [{"custom": []}]},
        {"responses": "hello"},
        [],
        "text",
    ],
)
def test_the_fast_path_reads_an_answer_as_the_schema_does(answer: Any) -> None:
    try:
        expected: RasaAnswer | str = by_model(answer)
    except ValueError as exc:  # pydantic's ValidationError
        expected = str(exc).splitlines()[0]
    try:
        got: RasaAnswer | str = read_answer(answer)
    except ActionCallError as exc:
        assert isinstance(expected, str), f"the schema accepts it: {expected}"
        assert str(exc).startswith("response is not Rasa's {events, responses}")
        return
    assert got == expected


def test_a_result_stamped_with_its_call_keeps_everything_else() -> None:
    result = to_result(RasaAnswer((RasaEvent("slot", "a", 1), RasaEvent("followup", "book", None)), ()))
    full = ActionResult(
        messages=(ActionMessage("hi", link=Link("http://x")),),
        set_slots=result.set_slots,
        reset_slots=True,
        followup="book",
        end_session=True,
        handoff="why",
    )
    done = full.with_call(name="hook", outcome="timeout", latency_ms=3.5, error="late")
    assert done == ActionResult(
        messages=full.messages,
        set_slots={"a": 1},
        reset_slots=True,
        followup="book",
        end_session=True,
        handoff="why",
        outcome="timeout",
        latency_ms=3.5,
        error="late",
        name="hook",
    )
