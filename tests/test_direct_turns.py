"""PostgreSQL's one-statement batches of turns, on the real server: what they store, when, and after failures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event, insert, text

from bot.database import make_engine, migrate
from bot.direct_turns import DirectTurns
from bot.rows import MESSAGE_COLUMNS, SESSION_COLUMNS, MessageRow
from bot.tables import ChatSession, User, utcnow
from bot.turn_statements import CoreTurnStatements, SessionUpdate
from bot.writes import BatchCommit, DuplicateMessage, StaleSession, TurnWrite
from tests.test_store import row, state

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def direct(engine: Engine) -> Iterator[DirectTurns]:
    direct = DirectTurns(engine)
    yield direct
    direct.close()


def new_sessions(engine: Engine, count: int, user_id: int | None = None) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(count)]
    with engine.begin() as conn:
        conn.execute(insert(ChatSession), [ChatSession(id=i, user_id=user_id, slots={}).model_dump() for i in ids])
    return ids


def awkward(session_id: str, n: int) -> list[MessageRow]:
    """Rows with every kind of value a turn logs, and text that needs escaping."""
    when = datetime(2026, 12, 1, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=2)))
    said = f'quote " back\\slash\nnew line, tab\t, {{braces}}, [brackets], comma, ünïcödé 🤖 {n}'
    return [
        row(session_id, "in", said, f"c{n}", intent="book", confidence=0.123456789012345)._replace(
            ranking=[["book", 0.1234], ["greet", 1e-05]],
            slots={"day": "monday", "nested": {"list": [1, 2.5, None, True], "empty": {}}},
            latency_ms=0.1,
            created_at=when,
            action={"calls": [{"name": "look_up", "outcome": "ok", "latency_ms": 12.5}]},
        ),
        row(session_id, "out", "Name?", f"c{n}")._replace(
            buttons=[["Yes", "/yes"], ["No", "/no"]],
            rich={"image": {"url": "https://example.com/a.png", "alt": "a"}},
            latency_ms=None,
            created_at=when,
        ),
        row(session_id, "out", "", f"c{n}")._replace(
            entities=[], slots={}, ranking=[], model_version=None, created_at=when.replace(tzinfo=None)
        ),
    ]


def as_stored(engine: Engine, table: str, key: str, value: str) -> list[tuple[str | None, ...]]:
    """A table's turn columns as PostgreSQL prints them (JSON exactly as stored, times, floats)."""
    columns = MESSAGE_COLUMNS if table == "message" else SESSION_COLUMNS
    listed = ", ".join(f'"{c}"::text' for c in columns if c != "session_id")
    with engine.connect() as conn:
        query = text(f"SELECT {listed} FROM {table} WHERE {key} = :v ORDER BY {'id'}")
        return [tuple(r) for r in conn.execute(query, {"v": value})]


def test_a_batch_stores_exactly_what_sqlalchemy_core_stores(engine: Engine, direct: DirectTurns) -> None:
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(User)
            .values(username="ada", username_key="ada", password_hash="x", slots={}, created_at=utcnow())
            .returning(User.id)
        ).scalar_one()
    ours, theirs = new_sessions(engine, 3, user_id), new_sessions(engine, 3, user_id)
    moved = state(1, day="monday", nested={"a": [1, None]})._replace(failures=2, last_form="f")
    results = direct.write([TurnWrite(s, 0, moved, awkward(s, n)) for n, s in enumerate(ours)])
    with engine.begin() as conn:
        for n, s in enumerate(theirs):
            assert CoreTurnStatements().write_turns(conn, [SessionUpdate(s, 0, moved)], awkward(s, n))[0] == 1
    for mine, core in zip(ours, theirs, strict=True):
        assert as_stored(engine, "message", "session_id", mine) == as_stored(engine, "message", "session_id", core)
        assert as_stored(engine, "chat_session", "id", mine) == as_stored(engine, "chat_session", "id", core)
    assert as_stored(engine, "chat_session", "id", ours[0])[0][6] == str(user_id)  # no user id keeps the stored one
    ids = [i for r in results for i in r or []]
    assert ids == sorted(ids) and len(set(ids)) == 9
    with engine.connect() as conn:
        texts = dict(conn.execute(text("SELECT id, text FROM message")).all())
    assert [texts[i] for i in results[1] or []] == [r.text for r in awkward(ours[1], 1)]


def test_a_batch_is_one_statement_off_sqlalchemy_and_committed_when_it_returns(
    engine: Engine, direct: DirectTurns
) -> None:
    through_sqlalchemy: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: through_sqlalchemy.append(args[2]))
    ids = new_sessions(engine, 40)
    through_sqlalchemy.clear()
    commit = BatchCommit(engine, CoreTurnStatements(), direct)
    results = commit([TurnWrite(s, 0, state(1), [row(s, "in", "hi", "c1"), row(s, "out", "hello", "c1")]) for s in ids])
    assert through_sqlalchemy == []
    assert all(isinstance(r, list) and len(r) == 2 for r in results)
    other = make_engine(str(engine.url.render_as_string(hide_password=False)))
    try:  # another connection sees every row at once: acknowledged means committed
        with other.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM message")).scalar_one() == 80
            assert conn.execute(text("SELECT count(*) FROM chat_session WHERE turns = 1")).scalar_one() == 40
    finally:
        other.dispose()


def test_a_stale_turn_is_refused_alone_and_the_others_are_stored(engine: Engine, direct: DirectTurns) -> None:
    one, two, three = new_sessions(engine, 3)
    results = BatchCommit(engine, CoreTurnStatements(), direct)(
        [
            TurnWrite(one, 0, state(1), [row(one, "in", "a", "c1")]),
            TurnWrite(two, 4, state(5), [row(two, "in", "stale", "c1")]),  # two is at 0 turns
            TurnWrite(three, 0, state(1), [row(three, "in", "c", "c1"), row(three, "out", "d", "c1")]),
        ]
    )
    assert isinstance(results[1], StaleSession)
    assert len(results[0]) == 1 and len(results[2]) == 2 and results[0][0] < results[2][0] < results[2][1]
    assert [r[2] for r in as_stored(engine, "message", "session_id", two)] == []
    assert as_stored(engine, "chat_session", "id", two)[0][3] == "0"


def test_a_duplicate_client_id_fails_alone(engine: Engine, direct: DirectTurns) -> None:
    one, two = new_sessions(engine, 2)
    commit = BatchCommit(engine, CoreTurnStatements(), direct)
    assert isinstance(commit([TurnWrite(one, 0, state(1), [row(one, "in", "a", "dup")])])[0], list)
    again, fine = commit(
        [
            TurnWrite(one, 1, state(2), [row(one, "in", "b", "dup")]),
            TurnWrite(two, 0, state(1), [row(two, "in", "c", "dup")]),
        ]
    )
    assert isinstance(again, DuplicateMessage) and isinstance(fine, list)
    assert [r[2] for r in as_stored(engine, "message", "session_id", one)] == ["a"]


def test_two_turns_of_one_session_in_a_batch_apply_in_order(engine: Engine, direct: DirectTurns) -> None:
    (one,) = new_sessions(engine, 1)
    first, second = BatchCommit(engine, CoreTurnStatements(), direct)(
        [
            TurnWrite(one, 0, state(1, day="monday"), [row(one, "in", "a", "c1")]),
            TurnWrite(one, 1, state(2, day="tuesday"), [row(one, "in", "b", "c2")]),
        ]
    )
    assert isinstance(first, list) and isinstance(second, list) and first[0] < second[0]
    assert as_stored(engine, "chat_session", "id", one)[0][2:4] == ('{"day":"tuesday"}', "2")


def test_the_writer_takes_a_new_connection_when_its_own_is_lost(engine: Engine, direct: DirectTurns) -> None:
    one, two = new_sessions(engine, 2)
    commit = BatchCommit(engine, CoreTurnStatements(), direct)
    assert isinstance(commit([TurnWrite(one, 0, state(1), [row(one, "in", "a", "c1")])])[0], list)
    lost = direct._connection().info.backend_pid
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": lost}).scalar_one()
    # the batch that meets the dead connection is still stored (by the transaction's path)
    assert isinstance(commit([TurnWrite(two, 0, state(1), [row(two, "in", "b", "c1")])])[0], list)
    assert isinstance(commit([TurnWrite(one, 1, state(2), [row(one, "in", "c", "c2")])])[0], list)
    assert direct._connection().info.backend_pid != lost
    assert [r[2] for r in as_stored(engine, "message", "session_id", one)] == ["a", "c"]
