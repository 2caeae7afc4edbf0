"""Property tests: random frames over the WebSocket, and schemathesis over the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import WebSocketTestSession

from bot.app import create_app
from bot.config import Settings
from bot.protocol import ProtocolError, parse_frame
from tests.helpers import LiveServer, make_settings

pytestmark = pytest.mark.slow

MAX_CHARS = Settings.model_fields["max_message_chars"].default
PARSE_CODES = {"bad_json", "bad_frame", "unknown_type", "empty_text", "too_long"}  # what parse_frame may raise

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
frames = st.dictionaries(
    st.sampled_from(["type", "text", "id", "session_id", "token", "message_id", "value", "extra"]),
    json_values | st.sampled_from(["message", "hello", "feedback", "ping", "", "MESSAGE"]),
    max_size=5,
)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("fuzz")
    settings = make_settings(folder, models_dir, rate_per_second=10_000, rate_burst=10_000, max_bad_frames=10_000)
    with TestClient(create_app(settings)) as client:
        yield client


def answer(ws: WebSocketTestSession, sent: object = None) -> dict[str, object]:
    """The frame that settles the last one sent (of type `sent`): an error, a reply, a pong, or
    a hello's session. A message that starts a session gets that session frame before its reply."""
    settling = {"error", "reply", "pong"} | ({"session"} if sent == "hello" else set())
    while True:
        frame = ws.receive_json()
        if frame["type"] in settling:
            return dict(frame)


def still_alive(ws: WebSocketTestSession) -> None:
    ws.send_text('{"type": "ping"}')
    assert answer(ws) == {"type": "pong"}


def expected_answer(raw: str) -> str:
    """What the protocol promises for one frame on a fresh connection: `error:<code>` or the answer's type."""
    try:
        frame = parse_frame(raw, max_chars=MAX_CHARS)
    except ProtocolError as exc:
        return f"error:{exc.code}"
    return {"ping": "pong", "message": "reply", "feedback": "error:no_session", "hello": "session"}[frame.type]


def check_answer(raw: str, got: dict[str, object]) -> None:
    want = expected_answer(raw)
    if want == "session":  # a hello with a token the server does not know is refused, with a reason
        assert got["type"] == "session" or (got["type"] == "error" and got["code"] not in PARSE_CODES), (raw, got)
    else:
        assert (f"error:{got['code']}" if got["type"] == "error" else got["type"]) == want, (raw, got)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames)
def test_random_json_frames(fuzz_client: TestClient, frame: dict[str, object]) -> None:
    raw = json.dumps(frame)
    with fuzz_client.websocket_connect("/ws") as ws:
        ws.send_text(raw)
        check_answer(raw, answer(ws, frame.get("type")))
        still_alive(ws)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_random_text_frames(fuzz_client: TestClient, text: str) -> None:
    with fuzz_client.websocket_connect("/ws") as ws:
        try:
            sent = json.loads(text).get("type") if isinstance(json.loads(text), dict) else None
        except ValueError:
            sent = None
        ws.send_text(text)
        check_answer(text, answer(ws, sent))
        still_alive(ws)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes(fuzz_client: TestClient, data: bytes) -> None:
    with fuzz_client.websocket_connect("/ws") as ws:
        ws.send_bytes(data)
        assert answer(ws) == {
            "type": "error",
            "code": "binary_frame",
            "detail": "binary frames are not supported; send JSON text frames",
            "reply_to": None,
        }
        still_alive(ws)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=300).filter(str.strip))
def test_random_messages_are_answered(fuzz_client: TestClient, text: str) -> None:
    with fuzz_client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "message", "text": text}))
        got = answer(ws, "message")
        assert got["type"] == "reply", got


def test_http_api_never_answers_5xx(shared_server: LiveServer) -> None:
    """schemathesis cases drawn from the app's OpenAPI document, sent to a real server."""
    schema = schemathesis.openapi.from_url(f"{shared_server.url}/openapi.json")

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy())
    def check(case: schemathesis.Case) -> None:
        response = case.call()
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        )

    check()
