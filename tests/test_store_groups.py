"""Writes that share one statement: grouped writes in the writer's batch, rows stored only while held."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import Connection, text, update
from sqlmodel import col

from bot.store import Store
from bot.tables import ChatSession
from bot.turn_statements import CoreTurnStatements, Held, SessionUpdate
from bot.writes import Grouped, Op, StaleSession, TurnWrite
from tests.test_store import row, state


def test_a_run_of_grouped_writes_is_one_call_and_ops_keep_their_place(store: Store) -> None:
    """Writes queued together form one batch; an op between grouped writes splits them, in order."""
    done: list[Any] = []
    release = threading.Event()

    def hold_the_writer(conn: Connection) -> None:
        release.wait(10)

    def group(conn: Connection, items: list[str]) -> list[str]:
        done.append(list(items))
        return [item.upper() for item in items]

    def op(name: str) -> Op:
        def run(conn: Connection) -> str:
            done.append(name)
            return name

        return Op(run)

    async def scenario() -> list[Any]:
        first = store.submit(Op(hold_the_writer))
        await asyncio.sleep(0.1)  # the writer is inside the first batch: the rest queue up
        queued = [
            store.submit(op("op1")),
            *(store.submit(Grouped(group, x)) for x in "abc"),
            store.submit(op("op2")),
            *(store.submit(Grouped(group, x)) for x in "de"),
        ]
        release.set()
        await first
        return list(await asyncio.gather(*queued))

    results = asyncio.run(scenario())
    assert results == ["op1", "A", "B", "C", "op2", "D", "E"]
    assert done == ["op1", ["a", "b", "c"], "op2", ["d", "e"]]


def test_rows_are_stored_only_while_their_agent_holds_the_session(store: Store) -> None:
    """The backend's statement (psycopg: the holder checked inside one pipelined INSERT) and Core agree."""

    async def sessions() -> tuple[str, str]:
        held, other = (await store.create_session(None)).id, (await store.create_session(None)).id

        def take(conn: Connection) -> None:
            conn.execute(update(ChatSession).where(col(ChatSession.id) == held).values(mode="agent", agent_id=7))

        await store.write(Op(take))
        return held, other

    held, other = asyncio.run(sessions())
    asked = [
        Held(row(held, "agent", "from the holder"), 7),
        Held(row(held, "agent", "from someone else"), 8),
        Held(row(held, "in", "from the user"), None),
        Held(row(other, "agent", "to a session nobody holds"), 7),
    ]
    for statements in (store.statements, CoreTurnStatements()):
        with store.engine.connect() as conn:
            ids = statements.insert_messages_if_held(conn, asked)
            stored = dict(conn.execute(text("SELECT id, text FROM message")).all())
            conn.rollback()
        assert [i is not None for i in ids] == [True, False, True, False], statements
        assert [stored[i] for i in ids if i is not None] == ["from the holder", "from the user"]


def test_turns_are_written_in_one_go_and_a_stale_one_is_still_refused_alone(store: Store) -> None:
    async def scenario() -> tuple[list[object], str, str]:
        one, two = (await store.create_session(None)).id, (await store.create_session(None)).id
        results = await asyncio.gather(
            store.write(TurnWrite(one, 0, state(1), [row(one, "in", "a", "c1"), row(one, "out", "b", "c1")])),
            store.write(TurnWrite(two, 5, state(6), [row(two, "in", "stale", "c1")])),  # two is at 0 turns
            return_exceptions=True,
        )
        return list(results), one, two

    (fine, stale), one, two = asyncio.run(scenario())
    assert isinstance(fine, list) and len(fine) == 2 and isinstance(stale, StaleSession)
    with store.engine.begin() as conn:
        count, ids = store.statements.write_turns(conn, [SessionUpdate(one, 1, state(2))], [row(one, "in", "c", "c2")])
        assert count == 1 and len(ids) == 1
        count, _ = store.statements.write_turns(conn, [SessionUpdate(two, 3, state(4))], [])
        assert count == 0
    assert [m.text for m in store.history(one)[0]] == ["a", "b", "c"]
    assert store.history(two)[0] == []
