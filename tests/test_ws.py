"""The WebSocket protocol through TestClient: turns, sessions, and every kind of bad frame."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.config import Settings
from tests.helpers import app_state, replies, say


def test_first_message_opens_a_guest_session(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        frames = say(ws, "hello", "c1")
    assert [f["type"] for f in frames] == ["session", "reply"]  # quick: no typing frame
    assert frames[0]["resumed"] is False and frames[0]["user"] is None
    reply = frames[1]
    assert reply["intent"] == "greet" and reply["reply_to"] == "c1" and reply["message_id"] > 0
    assert [b["title"] for b in reply["buttons"]] == ["Opening hours", "Order status"]


def test_typing_goes_out_first_when_a_reply_is_slow(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    nlu = app_state(client).services.nlu
    understand_all = nlu.understand_all

    async def slow_understand(texts: Any, now: Any = None, language: Any = None) -> Any:
        await asyncio.sleep(app_state(client).settings.typing_after_ms / 1000 + 0.3)
        return await understand_all(texts, now, language)

    monkeypatch.setattr(nlu, "understand_all", slow_understand)
    with client.websocket_connect("/ws") as ws:
        frames = say(ws, "hello", "c1")
    assert [f["type"] for f in frames] == ["session", "typing", "reply"]
    assert frames[1]["reply_to"] == "c1"


def test_typing_for_every_message_when_asked(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"typing_after_ms": 0}))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert [f["type"] for f in say(ws, "hello", "c1")] == ["session", "typing", "reply"]
        assert [f["type"] for f in say(ws, "thanks", "c2")] == ["typing", "reply"]
        assert [f["type"] for f in say(ws, "thanks", "c2")] == ["reply"]  # a resend is answered at once


def test_form_over_several_turns_and_history(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello"}))
        session_id = ws.receive_json()["session_id"]
        assert replies(say(ws, "where is my order", "1")) == ["What is your order number?"]
        assert replies(say(ws, "purple elephants", "2")) == [
            "Sorry, that doesn't look right. What is your order number?"
        ]
        (done,) = [f for f in say(ws, "it is AB123456", "3") if f["type"] == "reply"]
    assert done["text"] == "Order AB123456 is on its way." and done["slots"] == {"order_id": "AB123456"}
    page = client.get(f"/api/sessions/{session_id}/messages").json()
    assert page["total"] == 6
    assert [m["direction"] for m in page["items"]] == ["in", "out"] * 3
    assert page["items"][4]["text"] == "it is AB123456" and page["items"][4]["intent"] is not None


def test_a_digression_with_a_client_id_gets_both_replies_and_a_resend_both_again(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        say(ws, "where is my order", "1")
        ws.send_text(json.dumps({"type": "message", "text": "when are you open", "id": "2"}))
        answer, question = ws.receive_json(), ws.receive_json()
        assert answer["intent"] == "hours" and question["text"] == "What is your order number?"
        assert question["intent"] == "order_status"  # the repeated question serves the form
        assert answer["reply_to"] == question["reply_to"] == "2" and answer["message_id"] < question["message_id"]
        ws.send_text(json.dumps({"type": "message", "text": "when are you open", "id": "2"}))
        again = [ws.receive_json(), ws.receive_json()]
    assert [(f["message_id"], f["duplicate"]) for f in again] == [
        (answer["message_id"], True),
        (question["message_id"], True),
    ]


def test_resume_keeps_form_and_slots(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        session_id = say(ws, "where is my order", "a")[0]["session_id"]
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "session_id": session_id}))
        info = ws.receive_json()
        assert info == {
            "type": "session",
            "session_id": session_id,
            "resumed": True,
            "user": None,
            "slots": {},
            "mode": "bot",
            "agent": None,
            "language": "en",  # the bot's one language
        }
        assert replies(say(ws, "AB123456", "b")) == ["Order AB123456 is on its way."]


def test_unknown_session_starts_a_new_one(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "session_id": "nope"}))
        info = ws.receive_json()
    assert info["resumed"] is False and info["session_id"] != "nope"


def test_resent_client_id_is_answered_once(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        first = say(ws, "thanks", "same")
        session_id = first[0]["session_id"]
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "session_id": session_id}))
        ws.receive_json()
        again = say(ws, "thanks", "same")
    assert [f["type"] for f in again] == ["reply"]
    assert again[0]["duplicate"] is True and again[0]["message_id"] == first[-1]["message_id"]
    assert client.get(f"/api/sessions/{session_id}/messages").json()["total"] == 2


def test_button_payload_triggers_intent(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        (reply,) = [f for f in say(ws, "/hours") if f["type"] == "reply"]
    assert reply["intent"] == "hours" and reply["confidence"] == 1.0


def test_feedback_is_stored(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        frames = say(ws, "thanks", "t")
        session_id, message_id = frames[0]["session_id"], frames[-1]["message_id"]
        ws.send_text(json.dumps({"type": "feedback", "message_id": message_id, "value": -1}))
        ws.send_text(json.dumps({"type": "feedback", "message_id": 999999, "value": 1}))
        assert ws.receive_json()["code"] == "not_found"
    items = client.get(f"/api/sessions/{session_id}/messages").json()["items"]
    assert [m["feedback"] for m in items] == [None, -1]


BAD_FRAMES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_frame"),
    ('"text"', "bad_frame"),
    ('{"text": "no type"}', "bad_frame"),  # a missing field, as docs/protocol.md says
    ('{"type": 7, "text": "hi"}', "bad_frame"),
    ('{"type": "shout", "text": "hi"}', "unknown_type"),
    ('{"type": "message"}', "bad_frame"),
    ('{"type": "message", "text": 42}', "bad_frame"),
    ('{"type": "message", "text": "   \\n\\t "}', "empty_text"),
    ('{"type": "message", "text": ""}', "empty_text"),
    ('{"type": "message", "text": "\u200b\u200d\ufeff "}', "empty_text"),  # only invisible characters
    (json.dumps({"type": "message", "text": "x" * 2001}), "too_long"),
    ('{"type": "message", "text": "hi", "extra": 1}', "bad_frame"),
    ('{"type": "feedback", "message_id": "x", "value": 1}', "bad_frame"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_FRAMES)
def test_bad_frame_gets_error_and_connection_stays(client: TestClient, raw: str, code: str) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(raw)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code and error["detail"]
        assert replies(say(ws, "thanks"))  # still answering


def test_binary_frame_and_huge_frame(client: TestClient, settings: Settings) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_json()["code"] == "binary_frame"
        ws.send_text(json.dumps({"type": "message", "text": "y" * (settings.max_frame_bytes + 10)}))
        assert ws.receive_json()["code"] == "frame_too_large"
        assert replies(say(ws, "thanks"))


def test_too_long_keeps_client_id(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "message", "text": "x" * 5000, "id": "long-1"}))
        assert ws.receive_json()["reply_to"] == "long-1"


def test_persistent_bad_client_is_closed_with_1008(client: TestClient, settings: Settings) -> None:
    with client.websocket_connect("/ws") as ws:
        for _ in range(settings.max_bad_frames):
            ws.send_text("garbage")
            assert ws.receive_json()["code"] == "bad_json"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008


def test_rate_limit(settings: Settings) -> None:
    from bot.app import create_app

    limited = settings.model_copy(update={"rate_per_second": 0.001, "rate_burst": 2})
    with TestClient(create_app(limited)) as client, client.websocket_connect("/ws") as ws:
        assert replies(say(ws, "hi"))
        assert replies(say(ws, "thanks"))
        ws.send_text(json.dumps({"type": "message", "text": "again", "id": "r"}))
        assert ws.receive_json() == {
            "type": "error",
            "code": "rate_limited",
            "detail": "too many messages; slow down",
            "reply_to": "r",
        }


def test_chat_commands(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        say(ws, "where is my order")
        assert "guest" in replies(say(ws, "/whoami"))[0]
        assert replies(say(ws, "/reset")) == ["Starting over: I've forgotten this conversation's details."]
        assert replies(say(ws, "/logout")) == ["You are not logged in."]
        # the form was forgotten: a bad value is no longer asked again
        assert not replies(say(ws, "purple elephants"))[0].startswith("Sorry, that doesn't look right")


def test_ping(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text('{"type": "ping"}')
        assert ws.receive_json() == {"type": "pong"}


def test_metrics(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        say(ws, "/hours")
        ws.send_text("nope")
        ws.receive_json()
        text = client.get("/metrics").text
    assert 'bot_messages_total{intent="hours"} 1.0' in text
    assert "bot_open_connections 1.0" in text
    assert 'bot_error_frames_total{code="bad_json"} 1.0' in text
    assert "bot_reply_latency_seconds_count 1.0" in text
    assert "bot_model_info{version=" in text


def test_metrics_report_each_workers_cpu_time_and_batches(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        say(ws, "what are your opening hours")  # classified on the nlu thread, logged by the writer
        text = client.get("/metrics").text
    cpu = {name: float(value) for name, value in re.findall(r'bot_worker_cpu_seconds\{worker="([^"]+)"\} (\S+)', text)}
    assert set(cpu) == {"nlu", "log-writer"}
    assert all(seconds > 0 for seconds in cpu.values())
    batches = dict(re.findall(r'bot_worker_batches\{worker="([^"]+)"\} (\S+)', text))
    items = dict(re.findall(r'bot_worker_items\{worker="([^"]+)"\} (\S+)', text))
    assert set(batches) == set(items) == {"nlu", "log-writer"}
    assert all(float(items[name]) >= float(batches[name]) >= 1 for name in batches)


def test_two_connections_on_one_session_apply_turns_in_order(client: TestClient) -> None:
    """B's copy of the state is stale after A's turn: B's turn is decided on the stored state."""
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        a.send_text(json.dumps({"type": "hello"}))
        session_id = a.receive_json()["session_id"]
        b.send_text(json.dumps({"type": "hello", "session_id": session_id}))
        assert b.receive_json()["resumed"] is True
        assert replies(say(a, "book an appointment on monday")) == ["What name should I put it under?"]
        assert replies(say(b, "Ada")) == ["Booked for Ada on monday."]
    items = client.get(f"/api/sessions/{session_id}/messages").json()["items"]
    assert [m["text"] for m in items] == [
        "book an appointment on monday",
        "What name should I put it under?",
        "Ada",
        "Booked for Ada on monday.",
    ]


def test_resent_command_is_not_run_twice(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        say(ws, "book an appointment on monday", "f1")
        assert replies(say(ws, "/reset", "cmd")) == ["Starting over: I've forgotten this conversation's details."]
        say(ws, "book an appointment on tuesday", "f2")
        assert replies(say(ws, "/reset", "cmd")) == ["Starting over: I've forgotten this conversation's details."]
        # the resend did not reset again: the form started after it is still waiting for a name
        assert replies(say(ws, "Ada", "f3")) == ["Booked for Ada on tuesday."]


def test_a_hello_with_an_unknown_time_zone_is_a_bad_frame(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "timezone": "Mars/Olympus"})
        error = ws.receive_json()
    assert error["type"] == "error" and error["code"] == "bad_frame"
    assert "unknown time zone 'Mars/Olympus'" in error["detail"]
