"""Retention with a fake clock: what is older than BOT_RETENTION_DAYS goes, batch by batch; the rest stays."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.auth import create_user, issue_token
from bot.database import make_engine, migrate
from bot.retention import retention_loop, run_retention
from bot.tables import AuthToken, ChatSession, Message, ReviewedExample

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'ret.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def add_session(engine: Engine, sid: str, user_id: int | None, at: datetime, messages: int) -> list[int]:
    with engine.begin() as conn:
        conn.execute(
            ChatSession.__table__.insert().values(  # type: ignore[attr-defined]
                id=sid, user_id=user_id, created_at=at, last_active=at, slots={}, turns=messages
            )
        )
        ids = []
        for i in range(messages):
            result = conn.execute(
                Message.__table__.insert().values(  # type: ignore[attr-defined]
                    session_id=sid,
                    user_id=user_id,
                    direction="in" if i % 2 == 0 else "out",
                    text=f"{sid} message {i}",
                    ranking=[],
                    entities=[],
                    slots={},
                    buttons=[],
                    created_at=at + timedelta(seconds=i),
                )
            )
            ids.append(result.inserted_primary_key[0])
    return ids


def count(engine: Engine, table: type) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_old_logs_and_guest_sessions_go_in_batches_labelled_examples_stay_unlinked(engine: Engine) -> None:
    user = create_user(engine, "frank", "frank-password")
    old = NOW - timedelta(days=40)
    recent = NOW - timedelta(days=3)
    old_ids = add_session(engine, "guest-old", None, old, 25)
    add_session(engine, "guest-new", None, recent, 4)
    add_session(engine, "user-old", user.id, old, 6)
    add_session(engine, "user-mixed", user.id, old, 2)
    with engine.begin() as conn:  # the mixed session went on recently
        conn.execute(
            Message.__table__.insert().values(  # type: ignore[attr-defined]
                session_id="user-mixed",
                user_id=user.id,
                direction="in",
                text="recent",
                ranking=[],
                entities=[],
                slots={},
                buttons=[],
                created_at=recent,
            )
        )
        conn.execute(
            ChatSession.__table__.update().where(ChatSession.id == "user-mixed").values(last_active=recent)  # type: ignore[attr-defined]
        )
        conn.execute(
            ReviewedExample.__table__.insert().values(
                text="guest-old message 0", intent="greet", message_id=old_ids[0], created_at=old
            )  # type: ignore[attr-defined]
        )
    with engine.begin() as conn:
        token = issue_token(engine, user.id or 0, timedelta(hours=1))
        del token
        conn.execute(AuthToken.__table__.update().values(expires_at=old))  # type: ignore[attr-defined]

    report = asyncio.run(run_retention(engine, days=30, now=NOW, batch=10, pause=0))
    assert report.messages == 25 + 6 + 2
    assert report.batches >= 4  # 33 messages 10 at a time, then the sessions
    assert report.sessions == 2  # the old guest one and the user's emptied one
    assert report.tokens == 1
    with engine.connect() as conn:
        sessions = set(conn.execute(select(ChatSession.id)).scalars())
        texts = sorted(conn.execute(select(Message.text)).scalars())
        example = conn.execute(select(ReviewedExample)).one()
    assert sessions == {"guest-new", "user-mixed"}
    assert texts == [
        "guest-new message 0",
        "guest-new message 1",
        "guest-new message 2",
        "guest-new message 3",
        "recent",
    ]
    assert example.text == "guest-old message 0" and example.message_id is None

    # Nothing more is old: a second run deletes nothing; forty days on, everything goes.
    assert asyncio.run(run_retention(engine, days=30, now=NOW, batch=10, pause=0)).messages == 0
    later = asyncio.run(run_retention(engine, days=30, now=NOW + timedelta(days=40), batch=10, pause=0))
    assert later.messages == 5 and count(engine, ChatSession) == 0
    assert count(engine, ReviewedExample) == 1


def test_the_loop_runs_on_its_schedule_with_the_given_clock(engine: Engine) -> None:
    add_session(engine, "s", None, NOW - timedelta(days=2), 3)
    clock = {"now": NOW}

    async def scenario() -> None:
        task = asyncio.create_task(
            retention_loop(engine, days=7, every=timedelta(seconds=0.05), clock=lambda: clock["now"], pause=0)
        )
        await asyncio.sleep(0.2)
        assert count(engine, Message) == 3  # not old enough yet
        clock["now"] = NOW + timedelta(days=6)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if count(engine, Message) == 0 and count(engine, ChatSession) == 0:
                break  # a run deletes the messages, then their sessions: wait for both
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert count(engine, Message) == 0 and count(engine, ChatSession) == 0
