"""`python -m training.simulate` fills a database with conversations, in-process or over a real WebSocket."""

from __future__ import annotations

import random
from datetime import timedelta
from difflib import get_close_matches
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.database import make_engine
from bot.domain import load_domain
from bot.tables import ChatSession, Message, utcnow
from tests.helpers import SHOP, LiveServer
from training.simulate import main as simulate
from training.simulated_users import OUT_OF_SCOPE, Speaker, perturb


def log_of(url: str) -> tuple[list[Message], int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        messages = [
            Message.model_validate(r) for r in conn.execute(select(Message).order_by(col(Message.id))).mappings()
        ]
        sessions = conn.execute(select(func.count()).select_from(ChatSession)).scalar_one()
    engine.dispose()
    return messages, sessions


@pytest.mark.slow
def test_in_process_fills_a_database_reproducibly(
    tmp_path: Path, models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("one.db", "two.db")]
    for url in urls:
        args = [
            "--database-url",
            url,
            "--intents",
            str(SHOP),
            "--models",
            str(models_dir),
            "--conversations",
            "20",
            "--seed",
            "3",
        ]
        assert simulate(args) == 0
    printed = capsys.readouterr().out
    assert "20 conversations" in printed

    messages, sessions = log_of(urls[0])
    assert sessions == 20
    inbound = [m for m in messages if m.direction == "in"]
    outbound = [m for m in messages if m.direction == "out"]
    assert len(inbound) >= 20 and len(outbound) >= len(inbound)
    assert f"{len(inbound)} messages sent" in printed
    assert any(m.feedback == -1 for m in outbound), "some replies get a thumbs down"
    off_topic = [m.text for m in inbound if get_close_matches(m.text, OUT_OF_SCOPE["en"], n=1, cutoff=0.8)]
    assert off_topic, "some messages are out of scope"
    assert any(m.slots.get("order_id") or m.slots.get("day") for m in outbound), "forms get answered"
    assert len({m.intent for m in inbound if not m.fallback}) >= 4
    days = [m.created_at for m in messages]
    assert min(days) < utcnow() - timedelta(days=3) and max(days) <= utcnow()  # spread over the last week

    again, _ = log_of(urls[1])
    assert [(m.direction, m.text) for m in again] == [(m.direction, m.text) for m in messages]  # same seed, same talk


@pytest.mark.slow
def test_over_a_real_websocket(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = live_server.env["BOT_DATABASE_URL"]
    args = [
        "--url",
        live_server.ws_url,
        "--intents",
        str(SHOP),
        "--conversations",
        "4",
        "--seed",
        "1",
        "--spread-days",
        "0",
    ]
    assert simulate(args) == 0
    assert "4 conversations" in capsys.readouterr().out
    messages, sessions = log_of(url)
    assert sessions == 4
    assert sum(m.direction == "in" for m in messages) >= 4
    assert max(m.created_at for m in messages) > utcnow() - timedelta(minutes=5)  # --spread-days 0: real times


def test_unreachable_server_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate(["--url", "ws://127.0.0.1:9/ws", "--intents", str(SHOP), "--conversations", "1"]) == 1
    assert "error:" in capsys.readouterr().err


def test_users_speak_from_the_domain() -> None:
    domain = load_domain(SHOP)
    rng = random.Random(0)
    texts = [perturb("what are your opening hours", rng) for _ in range(200)]
    assert "what are your opening hours" in texts and len(set(texts)) > 5
    assert all(abs(len(t.split()) - 5) <= 1 for t in texts)
    speaker = Speaker(domain, random.Random(1))
    book = domain.intents["book"]
    values = {"monday", "mon", "tuesday", "tue", "tues", "tomorrow"}
    assert all(values & set(speaker.answer(book, "day").split()) for _ in range(50))
    assert speaker.answer(book, "name")  # a free-text slot gets a name
    order = domain.intents["order_status"]
    assert any(
        "AB123456" in speaker.answer(order, "order_id") or "CD654321" in speaker.answer(order, "order_id")
        for _ in range(10)
    )
    assert speaker.asked([{"text": "Sorry, that doesn't look right. Which day suits you?"}]) == (book, "day")
    assert speaker.asked([{"text": "Booked."}]) is None


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_log_for_analysts(postgres_url: str, models_dir: Path, tmp_path: Path) -> None:
    """The same tools on PostgreSQL: simulate, read the log into pandas, export and import the queue."""
    from training import analysis
    from training.review import main as review

    args = [
        "--database-url",
        postgres_url,
        "--intents",
        str(SHOP),
        "--models",
        str(models_dir),
        "--conversations",
        "6",
        "--seed",
        "2",
    ]
    assert simulate(args) == 0
    messages, sessions = log_of(postgres_url)
    frame = analysis.load_messages(postgres_url)
    assert len(frame) == len(messages) and len(analysis.load_sessions(postgres_url)) == sessions == 6
    assert isinstance(frame["slots"].iloc[0], dict) and str(frame["created_at"].dt.tz) == "UTC"
    assert analysis.daily_counts(frame)["messages_in"].sum() == sum(m.direction == "in" for m in messages)

    queue = tmp_path / "q.csv"
    assert review(["export", "--database-url", postgres_url, "--out", str(queue)]) == 0
    queue.write_text("text,label\nwhat is the meaning of life,oos\n", encoding="utf-8")
    assert review(["import", str(queue), "--intents", str(SHOP), "--database-url", postgres_url]) == 0
