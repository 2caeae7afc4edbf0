"""PostgreSQL's hot path: a batch of chat turns as one statement on the writer's own connection.

Under load nearly every batch the log writer takes holds only turns. Such a batch needs no
SQLAlchemy transaction: the writer keeps one psycopg connection of the engine's pool for
itself, in autocommit, and sends the whole batch as one statement. Its implicit transaction
is committed (and flushed to the WAL under the server's `synchronous_commit`) before the
server says the statement is done, and psycopg returns only then, so a turn is as durable
as before when its reply is sent. A batch thus costs one round trip (no pool checkout and
its ping, no BEGIN, no COMMIT), and its values travel as two JSON documents, serialised by
orjson in one call each, instead of an array per column, each value converted in Python.

Each turn is applied only if its session is still at the turns it was computed from: the
statement moves the sessions that are and inserts only their turns' rows; the others come
back as not applied, for the caller to redo one at a time (a stale turn is then refused).
Two turns of one session in a batch would both be judged against the session as it was, so
such a batch is not taken here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from sqlalchemy import JSON, Column, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.rows import MESSAGE_COLUMNS, SESSION_COLUMNS, MessageRow, SessionRow
from bot.tables import ChatSession, Message

if TYPE_CHECKING:
    from sqlalchemy.pool import PoolProxiedConnection


class DirectFailed(Exception):
    """The statement failed and stored nothing (a duplicate client id, the database gone...)."""


class Turn(Protocol):
    """What the statement reads of a turn (`bot.writes.TurnWrite`)."""

    @property
    def session_id(self) -> str: ...
    @property
    def expected_turns(self) -> int: ...
    @property
    def state(self) -> SessionRow: ...
    @property
    def messages(self) -> list[MessageRow]: ...


class DirectTurns:
    """Batches of turns on a connection of `engine`'s pool kept by the log writer thread.

    Use it from that thread only. `write` raises `DirectFailed` when the statement failed
    (nothing of it is stored, a single statement being atomic); the connection is dropped
    if it was lost, and taken again from the pool on the next batch.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._raw: PoolProxiedConnection | None = None
        messages = Message.__table__  # type: ignore[attr-defined]  # SQLModel sets it
        sessions = ChatSession.__table__  # type: ignore[attr-defined]  # SQLModel sets it
        dialect = engine.dialect

        def record(columns: Sequence[Column[Any]]) -> str:
            return ", ".join(f'"{c.name}" {c.type.compile(dialect=dialect)}' for c in columns)

        def value(alias: str, column: Column[Any]) -> str:
            # JSON null arrives as SQL NULL; SQLAlchemy's JSON type stores None as JSON 'null'
            return (
                f"coalesce({alias}.\"{column.name}\", 'null'::json)"
                if isinstance(column.type, JSON)
                else f'{alias}."{column.name}"'
            )

        session_columns = [sessions.c[name] for name in SESSION_COLUMNS]
        message_columns = [messages.c[name] for name in MESSAGE_COLUMNS]
        assignments = ", ".join(
            f'"{c.name}" = coalesce(u."{c.name}", cs."{c.name}")'
            if c.name == "user_id"
            else f'"{c.name}" = {value("u", c)}'
            for c in session_columns
        )
        names = ", ".join(f'"{name}"' for name in MESSAGE_COLUMNS)
        self.sql = (
            f"WITH moved AS (UPDATE chat_session AS cs SET {assignments} "
            f"FROM json_to_recordset(%s::json) AS u(b_turn INTEGER, b_id VARCHAR, b_expected INTEGER, "
            f"{record(session_columns)}) "
            "WHERE cs.id = u.b_id AND cs.turns = u.b_expected RETURNING u.b_turn), "
            f"logged AS (INSERT INTO message ({names}) "
            f"SELECT {', '.join(value('r', c) for c in message_columns)} "
            f"FROM json_to_recordset(%s::json) AS r(b_turn INTEGER, b_position INTEGER, {record(message_columns)}) "
            "WHERE r.b_turn IN (SELECT b_turn FROM moved) ORDER BY r.b_position RETURNING id) "
            "SELECT ARRAY(SELECT b_turn FROM moved ORDER BY b_turn), ARRAY(SELECT id FROM logged ORDER BY id)"
        )
        """Ids come from the table's sequence in the rows' order (the INSERT reads them sorted by
        position), so the ids sorted are the applied turns' rows in order."""

    @staticmethod
    def takes(turns: Sequence[Turn]) -> bool:
        """Whether the batch can go as one statement: no session twice."""
        return len({t.session_id for t in turns}) == len(turns)

    def write(self, turns: Sequence[Turn]) -> list[list[int] | None]:
        """Store the turns whose sessions are still where they expect; per turn its rows' ids, or None."""
        import psycopg

        try:
            moved, ids = self._execute(turns)
        except (psycopg.Error, SQLAlchemyError, orjson.JSONEncodeError) as exc:
            self._drop_if_lost()
            raise DirectFailed(str(exc)) from exc
        applied = set(moved)
        results: list[list[int] | None] = []
        pos = 0
        for i, turn in enumerate(turns):
            if i in applied:
                results.append(ids[pos : pos + len(turn.messages)])
                pos += len(turn.messages)
            else:
                results.append(None)
        return results

    def _execute(self, turns: Sequence[Turn]) -> tuple[list[int], list[int]]:
        """The applied turns' positions in the batch, and the ids of the rows stored."""
        sessions = orjson.dumps(
            [
                {"b_turn": i, "b_id": t.session_id, "b_expected": t.expected_turns, **t.state._asdict()}
                for i, t in enumerate(turns)
            ]
        )
        rows = orjson.dumps(
            [
                {"b_turn": i, "b_position": p, **row._asdict()}
                for p, (i, row) in enumerate((i, row) for i, t in enumerate(turns) for row in t.messages)
            ]
        )
        cursor = self._connection().cursor()
        cursor.execute(self.sql, (sessions.decode(), rows.decode()), prepare=True)
        moved, ids = cursor.fetchone()
        return moved, ids

    def close(self) -> None:
        """Give the connection up (closed, not returned to the pool: it is in autocommit)."""
        if self._raw is not None:
            self._raw.invalidate()
            self._raw = None

    def _connection(self) -> Any:
        if self._raw is None:
            raw = self.engine.raw_connection()
            try:
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]  # open: just checked out
            except Exception:
                raw.invalidate()
                raise
            self._raw = raw
        return self._raw.driver_connection

    def _drop_if_lost(self) -> None:
        """After a failed statement: keep the connection only if it is open and idle."""
        from psycopg.pq import TransactionStatus

        conn = self._raw.driver_connection if self._raw is not None else None
        if conn is not None and (conn.closed or conn.info.transaction_status != TransactionStatus.IDLE):
            self.close()


def direct_turns(engine: Engine) -> DirectTurns | None:
    """The one-statement path where the driver allows it (psycopg 3), else None."""
    dialect = engine.dialect
    return DirectTurns(engine) if dialect.name == "postgresql" and dialect.driver == "psycopg" else None
