"""End to end: a real uvicorn on loopback (`python -m bot`), a real WebSocket client."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.helpers import Chat, LiveServer


def history(server: LiveServer, session_id: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/api/sessions/{session_id}/messages?limit=500").json()["items"])


def test_form_filled_over_several_turns(shared_server: LiveServer) -> None:
    chat = Chat(shared_server.ws_url)
    assert chat.say("hello there")["intent"] == "greet"
    assert chat.say("I want to book an appointment")["text"] == "Which day suits you?"
    assert chat.say("on tuesday please")["text"] == "What name should I put it under?"
    done = chat.say("Grace Hopper")
    chat.close()
    assert done["text"] == "Booked for Grace Hopper on tuesday."
    assert done["slots"] == {"day": "tuesday", "name": "Grace Hopper"}
    assert len(history(shared_server, chat.session_id)) == 8


def test_reconnect_resumes_the_session(shared_server: LiveServer) -> None:
    chat = Chat(shared_server.ws_url)
    assert chat.say("where is my order", "q1")["text"] == "What is your order number?"
    chat.close()
    again = Chat(shared_server.ws_url, session_id=chat.session_id)
    assert again.session["resumed"] is True and again.session_id == chat.session_id
    assert again.say("AB123456", "q2")["text"] == "Order AB123456 is on its way."
    again.close()


def test_restart_keeps_session_and_slots(live_server: LiveServer) -> None:
    chat = Chat(live_server.ws_url)
    chat.say("book an appointment for monday", "r1")
    chat.close()
    live_server.restart()
    again = Chat(live_server.ws_url, session_id=chat.session_id)
    assert again.session["resumed"] is True and again.session["slots"] == {"day": "monday"}
    assert again.say("Ada", "r2")["text"] == "Booked for Ada on monday."
    again.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{oops", "bad_json"),
        ("[]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message"}', "bad_frame"),
        ('{"type": "message", "text": ["a"]}', "bad_frame"),
        ('{"type": "message", "text": "  "}', "empty_text"),
        (json.dumps({"type": "message", "text": "z" * 2001}), "too_long"),
        (b"\x89PNG", "binary_frame"),
    ],
)
def test_bad_input_over_a_real_connection(shared_server: LiveServer, raw: str | bytes, code: str) -> None:
    chat = Chat(shared_server.ws_url)
    chat.ws.send(raw)
    assert chat.recv()["code"] == code
    assert chat.say("thanks")["type"] == "reply"
    chat.close()


def test_flood_of_bad_frames_closes_with_1008(shared_server: LiveServer) -> None:
    chat = Chat(shared_server.ws_url)
    for _ in range(10):
        chat.ws.send("nope")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            chat.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert httpx.get(f"{shared_server.url}/healthz").status_code == 200


def test_a_frame_over_the_limit_gets_an_error_frame_on_a_real_server(shared_server: LiveServer) -> None:
    chat = Chat(shared_server.ws_url)
    chat.ws.send(json.dumps({"type": "message", "text": "x" * 100_000}))  # over 64 KiB, under 1 MiB
    frame = chat.reply()
    assert (frame["type"], frame["code"]) == ("error", "frame_too_large")
    assert chat.say("thanks")["type"] == "reply"
    chat.close()


def test_oversized_frame_closes_with_1009_and_server_lives(shared_server: LiveServer) -> None:
    """The frame's header announces 2 MiB: refused at once, before any of it is read.

    Only the header and a few bytes are sent: a server closing with unread data in its
    socket makes the kernel reset the connection, which can drop the close frame.
    """
    chat = Chat(shared_server.ws_url)
    size = 2 * 1024 * 1024
    header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big") + bytes(4)  # a masked text frame, zero mask
    chat.ws.socket.sendall(header + b"x" * 16)
    with pytest.raises(ConnectionClosed) as closed:
        chat.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    fresh = Chat(shared_server.ws_url)
    assert fresh.say("thanks")["type"] == "reply"
    fresh.close()


def test_sigterm_closes_with_1012_and_loses_nothing(live_server: LiveServer) -> None:
    """A turn in flight at shutdown is logged; the client resends its id and gets that reply."""
    chat = Chat(live_server.ws_url)
    chat.ws.send(json.dumps({"type": "message", "text": "where is my order", "id": "inflight"}))
    stopper = threading.Thread(target=live_server.stop)
    stopper.start()
    codes = []
    try:
        while True:
            chat.recv()
    except ConnectionClosed as closed:
        codes.append(closed.rcvd.code if closed.rcvd else None)
    stopper.join()
    assert codes == [1012]
    live_server.start()
    again = Chat(live_server.ws_url, session_id=chat.session_id)
    reply = again.say("where is my order", "inflight")
    again.close()
    assert reply["text"] == "What is your order number?"
    inbound = [m for m in history(live_server, chat.session_id) if m["direction"] == "in"]
    assert [m["client_id"] for m in inbound] == ["inflight"]


def test_sigkill_loses_no_acknowledged_message(live_server: LiveServer) -> None:
    db = live_server.env["BOT_DATABASE_URL"].removeprefix("sqlite:///")
    chats = [Chat(live_server.ws_url) for _ in range(5)]
    acknowledged: list[tuple[str, str]] = []
    for turn in range(6):
        for i, chat in enumerate(chats):
            reply = chat.say(f"when are you open {i}-{turn}", f"{i}-{turn}")
            if reply["type"] == "reply":
                acknowledged.append((chat.session_id, f"{i}-{turn}"))
    chats[0].ws.send(json.dumps({"type": "message", "text": "thanks", "id": "last"}))
    live_server.kill()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {(s, c) for s, c in conn.execute("SELECT session_id, client_id FROM message WHERE direction = 'out'")}
    assert set(acknowledged) <= stored and len(acknowledged) == 30
    live_server.start()
    again = Chat(live_server.ws_url, session_id=chats[1].session_id)
    assert again.session["resumed"] is True
    again.close()
