"""The review loop: export what the bot misunderstood, label it, import, retrain, and it is understood."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.config import Settings
from bot.database import make_engine, migrate
from bot.domain import load_domain
from bot.model import load_model
from bot.tables import ReviewedExample
from bot.understanding import same_text
from tests.helpers import SHOP
from training.fit import main as fit
from training.review import COLUMNS, find_candidates
from training.review import main as review

UNKNOWN = "who mans the store on holidays"
"""Nothing like it is in the shop domain's examples: the model guesses, with a close second.
(The text this test used before, "is the shop staffed at weekends", now gets a confident,
wrong answer, which the queue does not look for.)"""
JOKE = "tell me a joke"
"""Out of scope, yet the shop model (trained without `oos` examples) answers it confidently."""


def chat(client: TestClient, *texts: str, thumbs_down_on: int | None = None) -> list[list[dict[str, Any]]]:
    """Send texts in one session; every reply frame per text. Thumbs down on one text's reply."""
    answers: list[list[dict[str, Any]]] = []
    with client.websocket_connect("/ws") as ws:
        for i, text in enumerate(texts):
            ws.send_json({"type": "message", "text": text, "id": f"m{i}"})
            ws.send_json({"type": "ping"})
            frames = []
            while (frame := ws.receive_json())["type"] != "pong":
                frames.append(frame)
            replies = [f for f in frames if f["type"] == "reply"]
            answers.append(replies)
            if i == thumbs_down_on:
                ws.send_json({"type": "feedback", "message_id": replies[-1]["message_id"], "value": -1})
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
    return answers


def read_queue(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def write_queue(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.slow
def test_labels_change_predictions_after_retraining(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    url = settings.database_url
    first = chat(client, UNKNOWN, "where is my order", "AB123456", JOKE, thumbs_down_on=3)
    assert first[0][0]["intent"] != "hours" and first[3][0]["fallback"] is False
    assert first[2][0]["fallback"] is False  # the order number answered the form: not a misunderstanding
    chat(client, "  WHO mans the   store on HOLIDAYS ")  # the same text, typed differently

    queue = tmp_path / "review.csv"
    assert review(["export", "--database-url", url, "--out", str(queue)]) == 0
    rows = {same_text(r["text"]): r for r in read_queue(queue)}
    assert "ab123456" not in rows and "where is my order" not in rows
    assert rows[UNKNOWN]["count"] == "2" and rows[UNKNOWN]["reason"]
    # the classifier's top intent, which the reply names unless it fell back
    assert rows[UNKNOWN]["predicted"] in load_domain(SHOP).answerable
    assert first[0][0]["fallback"] or rows[UNKNOWN]["predicted"] == first[0][0]["intent"]
    assert rows[JOKE]["reason"] == "thumbs_down"
    assert all(r["label"] == "" for r in rows.values())

    rows[UNKNOWN]["label"] = "hours"
    rows[JOKE]["label"] = "oos"
    write_queue(queue, list(rows.values()))
    assert review(["import", str(queue), "--intents", str(SHOP), "--database-url", url]) == 0
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(ReviewedExample.text, ReviewedExample.intent)).all()
    engine.dispose()
    assert sorted((same_text(t), i) for t, i in stored) == sorted([(UNKNOWN, "hours"), (JOKE, "oos")])

    again = tmp_path / "again.csv"
    assert review(["export", "--database-url", url, "--out", str(again)]) == 0
    assert not {UNKNOWN, JOKE} & {same_text(r["text"]) for r in read_queue(again)}  # reviewed texts leave the queue

    out = tmp_path / "models"
    assert fit(["--intents", str(SHOP), "--out", str(out), "--quick", "--database-url", url]) == 0
    before = [u.prediction for u in load_model(settings.models_dir).understand([UNKNOWN, JOKE])]
    after = [u.prediction for u in load_model(out).understand([UNKNOWN, JOKE])]
    assert before[0].intent != "hours" and (after[0].intent, after[0].is_fallback) == ("hours", False)
    assert not before[1].is_fallback and after[1].is_fallback


def test_import_refuses_unknown_labels_with_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    path = tmp_path / "review.csv"
    path.write_text(
        "text,predicted,confidence,reason,count,message_id,label\n"
        "when do you open,hours,0.4,low_confidence,1,3,hours\n"
        "bananas,,0.1,fallback,2,5,fruit\n"
        "skip me,,0.1,fallback,1,7,\n"
        "what's the weather,,0.1,fallback,1,9,oos\n"
        "see you,greet,0.3,low_confidence,1,11,thankz\n",
        encoding="utf-8",
    )
    assert review(["import", str(path), "--intents", str(SHOP), "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3: unknown label 'fruit'" in err
    assert f"{path}:6: unknown label 'thankz'; did you mean 'thanks'?" in err
    assert "nothing stored" in err
    engine = make_engine(url)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(select(ReviewedExample)).all() == []  # not even the good lines

    path.write_text(
        path.read_text(encoding="utf-8").replace("fruit", "oos").replace("thankz", "greet"), encoding="utf-8"
    )
    assert review(["import", str(path), "--intents", str(SHOP), "--database-url", url]) == 0
    assert "4 labelled: 4 added, 0 relabelled, 0 unchanged; 1 rows without a label skipped" in capsys.readouterr().out
    path.write_text(path.read_text(encoding="utf-8").replace(",greet\n", ",thanks\n"), encoding="utf-8")
    assert review(["import", str(path), "--intents", str(SHOP), "--database-url", url]) == 0  # upsert by text
    assert "0 added, 1 relabelled, 3 unchanged" in capsys.readouterr().out
    with engine.connect() as conn:
        assert dict(conn.execute(select(ReviewedExample.text, ReviewedExample.intent)).all())["see you"] == "thanks"
    engine.dispose()


def test_import_refuses_a_text_labelled_two_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "review.csv"
    path.write_text("text,label\nWhen do you open,hours\nwhen do  you open,greet\n", encoding="utf-8")
    assert (
        review(["import", str(path), "--intents", str(SHOP), "--database-url", f"sqlite:///{tmp_path / 'bot.db'}"]) == 1
    )
    assert f"{path}:3: 'when do  you open' is labelled 'greet' here but 'hours' on line 2" in capsys.readouterr().err


def row(
    id: int, session: str, direction: str, text: str, client_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    base = {
        "id": id,
        "session_id": session,
        "direction": direction,
        "text": text,
        "client_id": client_id,
        "intent": None,
        "confidence": None,
        "ranking": [],
        "fallback": False,
        "feedback": None,
    }
    return {**base, **fields}


def test_candidates_reasons_thumbs_and_dedup() -> None:
    rows = [
        row(1, "a", "in", "Hi", "c1", intent="greet", confidence=0.95, ranking=[["greet", 0.95], ["hours", 0.03]]),
        row(2, "a", "out", "Hello!", "c1", intent="greet", feedback=-1),  # thumbs down by client id
        row(
            3,
            "a",
            "in",
            "opening   time",
            "c2",
            intent="hours",
            confidence=0.45,
            ranking=[["hours", 0.45], ["book", 0.40]],
        ),
        row(4, "a", "out", "9 to 5", "c2", intent="hours"),
        row(5, "a", "in", "where is my order", None, intent="order_status", confidence=0.9),
        row(6, "a", "out", "What is your order number?", None, intent="order_status"),
        row(7, "a", "in", "AB123456", None, intent="greet", confidence=0.2, fallback=True),  # a form answer
        row(
            8, "a", "out", "Order AB123456 is on its way.", None, intent="order_status", feedback=-1
        ),  # nearest earlier IN
        row(
            9,
            "b",
            "in",
            "Opening Time",
            "c1",
            intent="hours",
            confidence=0.42,
            ranking=[["hours", 0.42], ["book", 0.41]],
        ),
        row(10, "b", "out", "9 to 5", "c1", intent="hours"),
        row(
            11,
            "b",
            "in",
            "blorp",
            "c2",
            intent="greet",
            confidence=0.1,
            fallback=True,
            ranking=[["greet", 0.1], ["hours", 0.09]],
        ),
        row(12, "b", "out", "Sorry?", "c2", fallback=True),
        row(13, "b", "in", "/hours", "c3", intent="hours", confidence=1.0),
        row(14, "b", "out", "9 to 5", "c3", intent="hours"),
        row(15, "b", "in", "already done", "c4", intent="greet", confidence=0.1, fallback=True),
        row(16, "b", "out", "Sorry?", "c4", fallback=True),
        row(17, "b", "in", "book a visit", "c5", intent="book", confidence=0.9),
        row(18, "b", "out", "What name should I put it under?", "c5", intent="book", slots={"day": "monday"}),
        row(
            19, "b", "in", "Ada", "c6", intent="book", confidence=0.3, slots={"day": "monday", "name": "Ada"}
        ),  # a name
        row(20, "b", "out", "Booked for Ada on monday.", "c6", intent="book", slots={"day": "monday", "name": "Ada"}),
    ]
    found = {c.text: c for c in find_candidates(rows, reviewed=["ALREADY  done"])}
    assert set(found) == {"Hi", "opening   time", "AB123456", "blorp"}
    assert found["Hi"].reason == "thumbs_down"
    assert found["AB123456"].reason == "thumbs_down"
    assert (found["opening   time"].count, found["opening   time"].reason) == (2, "low_confidence+close_top2")
    assert (found["opening   time"].message_id, found["opening   time"].confidence) == (9, 0.42)  # latest occurrence
    assert found["blorp"].reason == "fallback+low_confidence"  # close scores say nothing more after a fallback
    assert next(iter(find_candidates(rows))).text == "opening   time"  # most frequent first
    assert not find_candidates(
        rows, low_confidence=0.0, margin=0.0, reviewed=["hi", "ab123456", "blorp", "already done"]
    )


def test_export_since_and_empty_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate(make_engine(url))
    out = tmp_path / "q.csv"
    assert review(["export", "--database-url", url, "--out", str(out), "--since", "2020-01-01"]) == 0
    assert read_queue(out) == []
    assert "0 distinct texts" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        review(["export", "--since", "last tuesday"])
    missing = tmp_path / "missing.db"
    assert review(["export", "--database-url", f"sqlite:///{missing}", "--out", str(out)]) == 2
    assert f"no database at {missing}" in capsys.readouterr().err and not missing.exists()
