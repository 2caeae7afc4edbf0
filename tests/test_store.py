"""Sessions, slots and the conversation log round-tripped on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from bot.database import MIGRATIONS, SCHEMA_HEAD, SchemaTooNew, make_engine, migrate, schema_revision
from bot.rows import MESSAGE_COLUMNS, Direction, MessageRow, Rich, SessionRow
from bot.store import Store
from bot.tables import utcnow
from bot.turn_statements import PsycopgTurnStatements, SqliteTurnStatements
from bot.writes import DatabaseUnavailable, DuplicateMessage, StaleSession, TurnWrite


def row(
    session_id: str,
    direction: Direction,
    text: str,
    client_id: str | None = None,
    intent: str | None = None,
    confidence: float | None = None,
) -> MessageRow:
    return MessageRow(
        session_id=session_id,
        user_id=None,
        direction=direction,
        text=text,
        client_id=client_id,
        intent=intent,
        confidence=confidence,
        ranking=[["greet", 0.9]],
        entities=[{"entity": "day", "value": "monday", "start": 0, "end": 6, "text": "Monday"}],
        slots={"day": "monday"},
        buttons=[],
        fallback=False,
        model_version="v1",
        latency_ms=1.5,
        created_at=utcnow(),
    )


def state(turns: int, **slots: object) -> SessionRow:
    return SessionRow(
        active_form="book", requested_slot="name", slots=dict(slots), turns=turns, user_id=None, last_active=utcnow()
    )


def test_migrations_create_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"user", "auth_token", "chat_session", "message", "reviewed_example", "alembic_version"} <= tables
    migrate(store.engine)  # idempotent
    assert schema_revision(store.engine) == SCHEMA_HEAD


def test_a_newer_schema_is_refused_with_a_clear_error(store: Store) -> None:
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaTooNew, match="revision 9999, newer than this version"):
        migrate(store.engine)


def test_schema_head_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_upgrade_from_0001_keeps_the_log_and_allows_two_replies_to_one_client_id(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        # The log as a version at 0001 wrote it: only the columns that schema has.
        session_id = "s0001"
        now = utcnow().isoformat()
        connection.execute(
            text(
                "INSERT INTO chat_session (id, created_at, last_active, slots, turns) VALUES (:id, :now, :now, '{}', 1)"
            ),
            {"id": session_id, "now": now},
        )
        for direction, said in (("in", "hi"), ("out", "Hello!")):
            connection.execute(
                text(
                    "INSERT INTO message (session_id, direction, text, client_id, ranking, entities, slots, buttons,"
                    " fallback, created_at) VALUES (:s, :d, :t, 'c1', '[]', '[]', '{}', '[]', false, :now)"
                ),
                {"s": session_id, "d": direction, "t": said, "now": now},
            )
    migrate(engine)
    store = Store(engine)
    store.start()
    try:
        two = asyncio.run(
            store.write(
                TurnWrite(
                    session_id,
                    1,
                    state(2),
                    [
                        row(session_id, "in", "hours?", "c2"),
                        row(session_id, "out", "9 to 5.", "c2"),
                        row(session_id, "out", "Name?", "c2"),
                    ],
                )
            )
        )
        assert len(two) == 3
        with pytest.raises(DuplicateMessage):
            asyncio.run(store.write(TurnWrite(session_id, 2, state(3), [row(session_id, "in", "hours?", "c2")])))
        assert [m.text for m in store.history(session_id)[0]] == ["hi", "Hello!", "hours?", "9 to 5.", "Name?"]
    finally:
        store.stop()
        engine.dispose()


def test_upgrade_from_0005_stores_rich_replies_and_keeps_the_log(database_url: str) -> None:
    """0006 adds `message.rich`; the log written at 0005 stays, and a downgrade gives the column back."""
    from alembic import command
    from alembic.config import Config

    engine = make_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        now = utcnow().isoformat()
        connection.execute(
            text(
                "INSERT INTO chat_session (id, created_at, last_active, slots, turns)"
                " VALUES ('s5', :now, :now, '{}', 1)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO message (session_id, direction, text, client_id, ranking, entities, slots, buttons,"
                " fallback, created_at) VALUES ('s5', 'out', 'Hello!', 'c1', '[]', '[]', '{}', '[]', false, :now)"
            ),
            {"now": now},
        )
    migrate(engine)
    assert schema_revision(engine) == SCHEMA_HEAD
    assert "rich" in {c["name"] for c in inspect(engine).get_columns("message")}
    rich: Rich = {
        "image": {"url": "https://example.com/map.png", "alt": "A map of the store"},
        "link": {"url": "https://example.com/stores?id=1", "title": "Find a store", "description": "Opening hours"},
    }
    store = Store(engine)
    store.start()
    try:
        rows = [row("s5", "in", "map?", "c2"), row("s5", "out", "Here:", "c2")._replace(rich=rich)]
        asyncio.run(store.write(TurnWrite("s5", 1, state(2), rows)))
        messages = store.history("s5")[0]
        assert [(m.text, m.rich) for m in messages] == [("Hello!", None), ("map?", None), ("Here:", rich)]
    finally:
        store.stop()

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert "rich" not in {c["name"] for c in inspect(engine).get_columns("message")}
    with engine.connect() as connection:
        assert list(connection.execute(text("SELECT text FROM message ORDER BY id")).scalars()) == [
            "Hello!",
            "map?",
            "Here:",
        ]
    migrate(engine)  # and up again
    assert schema_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_turns_round_trip(store: Store) -> None:
    async def scenario() -> tuple[str, list[int], list[int]]:
        session = await store.create_session(None)
        first = await store.write(
            TurnWrite(
                session.id,
                0,
                state(1, day="monday"),
                [
                    row(session.id, "in", "Monday", "c1", intent="book", confidence=0.8),
                    row(session.id, "out", "Name?", "c1"),
                ],
            )
        )
        second = await store.write(
            TurnWrite(
                session.id,
                1,
                state(2, day="monday", name="Ada"),
                [row(session.id, "in", "Ada", "c2"), row(session.id, "out", "Booked.", "c2")],
            )
        )
        return session.id, first, second

    session_id, first, second = asyncio.run(scenario())
    assert first[1] == first[0] + 1 and second[0] > first[1]
    loaded = store.get_session(session_id)
    assert loaded is not None
    assert (loaded.active_form, loaded.requested_slot, loaded.turns, loaded.slots) == (
        "book",
        "name",
        2,
        {"day": "monday", "name": "Ada"},
    )
    assert loaded.last_active.tzinfo is not None
    messages, total = store.history(session_id)
    assert total == 4 and [m.text for m in messages] == ["Monday", "Name?", "Ada", "Booked."]
    assert messages[0].entities[0]["value"] == "monday" and messages[0].ranking == [["greet", 0.9]]
    assert messages[0].confidence == 0.8 and messages[0].model_version == "v1"
    page, _ = store.history(session_id, offset=1, limit=2)
    assert [m.text for m in page] == ["Name?", "Ada"]
    answered = store.replies_by_client_id(session_id)
    assert {k: [m.text for m in v] for k, v in answered.items()} == {"c1": ["Name?"], "c2": ["Booked."]}


def test_concurrent_turns_are_batched_and_each_gets_its_ids(store: Store) -> None:
    async def scenario() -> list[list[int]]:
        sessions = [await store.create_session(None) for _ in range(20)]
        writes = [
            store.write(
                TurnWrite(s.id, 0, state(1), [row(s.id, "in", f"hi {i}", "x"), row(s.id, "out", f"hello {i}", "x")])
            )
            for i, s in enumerate(sessions)
        ]
        return list(await asyncio.gather(*writes))

    ids = asyncio.run(scenario())
    flat = [i for pair in ids for i in pair]
    assert len(set(flat)) == 40
    with store.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, text FROM message")).all())
    for i, (inbound, outbound) in enumerate(ids):
        assert rows[inbound] == f"hi {i}" and rows[outbound] == f"hello {i}"


def test_duplicate_client_id_fails_alone(store: Store) -> None:
    async def scenario() -> list[object]:
        session = await store.create_session(None)
        await store.write(TurnWrite(session.id, 0, state(1), [row(session.id, "in", "a", "dup")]))
        other = await store.create_session(None)
        return await asyncio.gather(
            store.write(TurnWrite(session.id, 1, state(2), [row(session.id, "in", "b", "dup")])),
            store.write(TurnWrite(other.id, 0, state(1), [row(other.id, "in", "c", "dup")])),
            return_exceptions=True,
        )

    duplicate, fine = asyncio.run(scenario())
    assert isinstance(duplicate, DuplicateMessage)
    assert isinstance(fine, list) and len(fine) == 1


def test_expired_sessions_are_closed(store: Store) -> None:
    async def scenario() -> tuple[str, int]:
        session = await store.create_session(None)
        with store.engine.begin() as conn:
            conn.execute(
                text("UPDATE chat_session SET last_active = :t WHERE id = :id"),
                {"t": utcnow() - timedelta(hours=2), "id": session.id},
            )
        return session.id, await store.close_expired(timedelta(minutes=30))

    session_id, closed = asyncio.run(scenario())
    assert closed == 1
    loaded = store.get_session(session_id)
    assert loaded is not None and loaded.ended_at is not None


def test_unreachable_database_is_a_domain_error() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    store = Store(engine)
    store.start()
    try:
        with pytest.raises(DatabaseUnavailable, match="database is unavailable"):
            asyncio.run(store.create_session(None))
        assert store.ping() is False
    finally:
        store.stop()


def test_a_stale_turn_is_refused_whole(store: Store) -> None:
    """Two writers computed turn 2 from turn 1: the second is refused and stores nothing."""

    async def scenario() -> tuple[str, list[object]]:
        session = await store.create_session(None)
        await store.write(TurnWrite(session.id, 0, state(1), [row(session.id, "in", "a", "1")]))
        results = await asyncio.gather(
            store.write(TurnWrite(session.id, 1, state(2, day="monday"), [row(session.id, "in", "b", "2")])),
            store.write(TurnWrite(session.id, 1, state(2, day="tuesday"), [row(session.id, "in", "c", "3")])),
            return_exceptions=True,
        )
        return session.id, list(results)

    session_id, (first, second) = asyncio.run(scenario())
    assert isinstance(first, list) and isinstance(second, StaleSession)
    loaded = store.get_session(session_id)
    assert loaded is not None and loaded.turns == 2 and loaded.slots == {"day": "monday"}
    assert [m.text for m in store.history(session_id)[0]] == ["a", "b"]


def test_each_backend_writes_on_its_driver_cursor(store: Store) -> None:
    """The hot path is the driver's own (psycopg pipelined on PostgreSQL), ids still in order."""
    expected = {"sqlite": SqliteTurnStatements, "postgresql": PsycopgTurnStatements}
    assert isinstance(store.statements, expected[store.engine.dialect.name])

    async def scenario() -> tuple[list[str], list[int]]:
        session = await store.create_session(None)
        texts = [f"line {i}" for i in range(150)]
        rows = [row(session.id, "in" if i % 2 == 0 else "out", t, f"c{i // 2}") for i, t in enumerate(texts)]
        return texts, await store.write(TurnWrite(session.id, 0, state(1), rows))

    texts, ids = asyncio.run(scenario())
    assert ids == sorted(ids) and len(set(ids)) == 150
    with store.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, text FROM message")).all())
    assert [stored[i] for i in ids] == texts


def test_the_drivers_converters_give_the_columns_own_values(store: Store) -> None:
    """What the hot path remembers (a time's last conversion, JSON's text for None) changes
    no value it binds: each column's own SQLAlchemy bind processor gives the same."""
    statements = store.statements
    assert isinstance(statements, SqliteTurnStatements | PsycopgTurnStatements)
    dialect = store.engine.dialect
    now, later = utcnow(), utcnow() + timedelta(seconds=1)
    values = {
        "created_at": [now, now, later, now, None, later],
        "action": [None, {"calls": []}, None, None],
        "rich": [None, None],
        "slots": [{}, {"day": "monday"}, {}],
        "confidence": [0.5, None],
    }
    for name, converter in zip(MESSAGE_COLUMNS, statements.message_converters, strict=True):
        own = statements.messages.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for value in values.get(name, []):
            assert _plain((converter or _same)(value)) == _plain((own or _same)(value)), (name, value)


def _same(value: object) -> object:
    return value


def _plain(bound: object) -> tuple[type, object]:
    """A bound value comparable by ==: psycopg's `Json` wrapper has no equality, its `obj` has."""
    return type(bound), getattr(bound, "obj", bound)
