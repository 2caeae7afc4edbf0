"""Action calls in the log, read back: the review export's failing calls and the notebook's tables,
from turns a real service logged in a real SQLite file (actions that work, refuse, raise, time
out and meet an open breaker, and a validator that raises)."""

from __future__ import annotations

import csv
import json
import re
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
from fastapi.testclient import TestClient
from nbclient import NotebookClient
from sqlalchemy import select

from bot.app import create_app
from bot.database import make_engine
from bot.tables import Message
from tests.helpers import ROOT, make_settings
from training import analysis
from training.action_log import CALL_COLUMNS, calls_in, read_calls
from training.review import main as review

MODULE = """
import asyncio
from bot.actions import Reject, Reply

def lookup(view):
    return Reply(f"Order {view.slot('order_id')} is on its way.")

def check_order(value, view):
    raise RuntimeError("the order book is down")

def stock(view):
    raise ConnectionError("the warehouse did not answer")

async def wait(view):
    await asyncio.sleep(5)

def refuse(view):
    return Reject("I can't change that order.")
"""

DOMAIN = """
language: en
fallback: {threshold: 0.2, responses: ["Sorry?"]}
actions_failed: "Our systems are down, sorry."
actions:
  lookup: {python: "MODULE:lookup", timeout: 30}
  check_order: {python: "MODULE:check_order", timeout: 30}
  stock: {python: "MODULE:stock", timeout: 30, failures: 2, cooldown: 600}
  wait: {python: "MODULE:wait", timeout: 0.2}
  refuse: {python: "MODULE:refuse", timeout: 30}
entities:
  order_number: {regex: '\\b[A-Z]{2}\\d{6}\\b'}
slots:
  order_id: {entity: order_number, validate: check_order}
intents:
  greet:
    examples: [hi, hello, good morning, hey there]
    responses: ["Hello!"]
  order:
    examples: [where is my order, track my parcel, order status please, has my order shipped]
    slots: {order_id: "Which order?"}
    action: lookup
  stock:
    examples: [is it in stock, do you have laptops, any phones left, is the kettle available]
    action: stock
    responses: ["I can't see the stock just now."]
  slow:
    examples: [when will it be delivered, delivery date please, how long is delivery, when does it come]
    action: wait
  change:
    examples: [change my order, edit the order, swap an item, update my order]
    action: refuse
"""

TURNS = ("/greet", "/order", "AB123456", "/stock", "/stock", "/stock", "/slow", "/change")
"""Each a button's `/intent` payload, so the classifier plays no part in which action runs."""


def chat(client: TestClient, *texts: str) -> list[list[str]]:
    """One session: every reply's text to each message."""
    answers = []
    with client.websocket_connect("/ws") as ws:
        for i, text in enumerate(texts):
            ws.send_json({"type": "message", "text": text, "id": f"m{i}"})
            ws.send_json({"type": "ping"})
            frames = []
            while (frame := ws.receive_json())["type"] != "pong":
                frames.append(frame)
            answers.append([f["text"] for f in frames if f["type"] == "reply"])
    return answers


@dataclass(frozen=True)
class Logged:
    url: str
    intents: Path
    answers: list[list[str]]
    """What the bot said to each of `TURNS`."""
    metrics: str
    """`/metrics` after the turns."""


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    """A bot's log after `TURNS`, and its metrics."""
    from training.fit import main as fit

    folder = tmp_path_factory.mktemp("action-log")
    module = f"logged_actions_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(textwrap.dedent(MODULE))
    intents = folder / "intents.yaml"
    intents.write_text(DOMAIN.replace("MODULE", module))
    models = folder / "models"
    assert fit(["--intents", str(intents), "--out", str(models), "--quick"]) == 0
    settings = make_settings(folder, models, intents_path=intents)
    with TestClient(create_app(settings)) as client:
        answers = chat(client, *TURNS)
        metrics = client.get("/metrics").text
    yield Logged(settings.database_url, intents, answers, metrics)


def test_every_call_is_on_its_turn_and_each_failure_got_an_answer(logged: Logged) -> None:
    url, answers = logged.url, logged.answers
    assert answers == [
        ["Hello!"],
        ["Which order?"],
        ["Order AB123456 is on its way."],  # the validator failed: the value was kept, the action ran
        ["I can't see the stock just now."],
        ["I can't see the stock just now."],
        ["I can't see the stock just now."],
        ["Our systems are down, sorry."],
        ["I can't change that order."],
    ]
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(Message.text, Message.direction, Message.action).order_by(Message.id)).all()
    engine.dispose()
    calls = {text: action for text, direction, action in rows if direction == "in"}
    assert calls["/greet"] is None
    assert [(c["name"], c["kind"], c["outcome"]) for c in calls["AB123456"]["calls"]] == [
        ("check_order", "validate", "error"),
        ("lookup", "run", "ok"),
    ]
    assert calls["AB123456"]["calls"][0]["slot"] == "order_id"
    assert "the order book is down" in calls["AB123456"]["calls"][0]["error"]
    reply = next(a for text, d, a in rows if d == "out" and text.startswith("Order AB123456"))
    assert reply["name"] == "lookup" and reply["outcome"] == "ok"  # a reply names the action it came from


def test_the_review_export_lists_the_failing_calls(
    logged: Logged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = logged.url
    queue = tmp_path / "review.csv"
    assert review(["export", "--database-url", url, "--out", str(queue)]) == 0
    with (tmp_path / "review-actions.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CALL_COLUMNS
        failing = list(reader)
    assert [(r["action"], r["kind"], r["outcome"], r["text"]) for r in failing] == [
        ("check_order", "validate", "error", "AB123456"),
        ("stock", "run", "error", "/stock"),
        ("stock", "run", "error", "/stock"),
        ("stock", "run", "circuit_open", "/stock"),
        ("wait", "run", "timeout", "/slow"),
        ("refuse", "run", "rejected", "/change"),
    ]
    assert len({r["session_id"] for r in failing}) == 1 and all(r["session_id"] for r in failing)
    assert "ConnectionError: the warehouse did not answer" in failing[1]["error"]
    assert float(failing[4]["latency_ms"]) >= 200  # the timeout's 0.2 s
    assert float(failing[3]["latency_ms"]) < float(failing[4]["latency_ms"])
    assert all(r["slot"] == "" for r in failing[1:]) and failing[0]["slot"] == "order_id"
    out = capsys.readouterr().out
    assert "6 failing action calls -> " in out and "stock: error 2, circuit_open 1" in out

    assert review(["export", "--database-url", url, "--out", "-", "--actions-out", "-", "--since", "2999-01-01"]) == 0
    assert "0 failing action calls" in capsys.readouterr().err


def test_the_notebook_tables_count_calls_and_failures_per_action(logged: Logged) -> None:
    url = logged.url
    calls = analysis.action_calls(analysis.load_messages(url))
    assert list(calls["action"]) == ["check_order", "lookup", "stock", "stock", "stock", "wait", "refuse"]
    assert len(read_calls(make_engine(url))) == len(calls)

    by_day = analysis.action_calls_by_day(calls)
    assert by_day["calls"].sum().to_dict() == {"check_order": 1, "lookup": 1, "refuse": 1, "stock": 3, "wait": 1}
    assert by_day["failures"].sum().to_dict() == {"check_order": 1, "lookup": 0, "refuse": 1, "stock": 3, "wait": 1}

    summary = analysis.action_summary(calls)
    assert summary.index[0] == "stock" and summary.loc["stock", "failure_rate"] == 1.0
    assert (summary.loc["stock", "error"], summary.loc["stock", "circuit_open"]) == (2, 1)
    assert summary.loc["lookup", "failures"] == 0 and summary.loc["wait", "timeout"] == 1


def test_older_logs_count_each_replys_call_once() -> None:
    """Before calls were kept on the user's message only replies named them, each reply of a turn
    the same call: it counts once a turn."""
    now = datetime(2026, 5, 1, tzinfo=UTC)
    record = {"name": "lookup", "kind": "run", "outcome": "timeout", "latency_ms": 2000.0}
    rows: list[dict[str, Any]] = [
        {"id": 1, "session_id": "s", "direction": "in", "text": "where", "client_id": "a", "intent": "order"},
        {"id": 2, "session_id": "s", "direction": "out", "text": "x", "client_id": "a", "created_at": now},
        {"id": 3, "session_id": "s", "direction": "out", "text": "y", "client_id": "a", "created_at": now},
    ]
    for row in rows:
        row.setdefault("created_at", now)
        row["action"] = dict(record) if row["direction"] == "out" else None
    (call,) = calls_in(rows)
    assert (call.action, call.outcome, call.text, call.message_id) == ("lookup", "timeout", "where", 1)
    assert call.failed


@pytest.mark.slow
def test_the_analyst_notebook_shows_the_failing_actions(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    url, intents = logged.url, logged.intents
    monkeypatch.setenv("BOT_DATABASE_URL", url)
    monkeypatch.setenv("BOT_INTENTS_PATH", str(intents))
    notebooks = ROOT / "notebooks"
    nb = nbformat.read(notebooks / "review_logs.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(notebooks)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = json.dumps([o.get("data", {}).get("text/plain", "") for o in outputs])
    assert "circuit_open" in shown and "the warehouse did not answer" in shown


def test_metrics_count_each_actions_calls_failures_and_latency(logged: Logged) -> None:
    calls = {
        (action, kind, outcome): float(n)
        for action, kind, outcome, n in re.findall(
            r'bot_action_calls_total\{action="(\w+)",kind="(\w+)",outcome="(\w+)"\} (\S+)', logged.metrics
        )
    }
    assert calls == {
        ("check_order", "validate", "error"): 1,
        ("lookup", "run", "ok"): 1,
        ("stock", "run", "error"): 2,
        ("stock", "run", "circuit_open"): 1,
        ("wait", "run", "timeout"): 1,
        ("refuse", "run", "rejected"): 1,
    }
    failures = dict(re.findall(r'bot_action_failures_total\{action="(\w+)"\} (\S+)', logged.metrics))
    assert failures == {"check_order": "1.0", "stock": "3.0", "wait": "1.0"}  # a refusal is an answer
    assert 'bot_action_latency_seconds_count{action="stock"} 3.0' in logged.metrics
    assert 'bot_action_latency_seconds_bucket{action="wait",le="0.1"} 0.0' in logged.metrics  # it took its 0.2 s
