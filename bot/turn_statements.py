"""The two statements every chat turn runs: move the session on, append the log rows.

They are the log writer's whole hot path, so each backend gets the cheapest correct form.
Through SQLAlchemy Core, an INSERT that must return ids in the parameters' order goes one
row at a time on both backends (an integer key is no sort sentinel), and Core spends more
time on generic parameter handling than the database spends storing the row. So both
backends run plain SQL on the driver's cursor inside the SQLAlchemy transaction, with the
columns' own SQLAlchemy converters (JSON, UTC times): SQLite row by row (in-process, a call
costs nothing), PostgreSQL with psycopg 3's `executemany`, which pipelines the batch's
statements in one round trip and returns each row's id in order. `CoreTurnStatements` is
the portable reference the tests compare them with. On PostgreSQL a batch of only turns (the
common case under load) skips these and the transaction altogether: `bot.direct_turns`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import JSON, Connection, DateTime, Dialect, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from bot.rows import MESSAGE_COLUMNS, SESSION_COLUMNS, MessageRow, SessionRow
from bot.tables import ChatSession, Message, UTCDateTime

_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    """Move a session to `state`, provided it is still at `expected_turns` turns."""

    session_id: str
    expected_turns: int
    state: SessionRow

    def params(self) -> dict[str, Any]:
        """The bound parameters of `_SESSION_UPDATE`."""
        return {"b_id": self.session_id, "b_expected": self.expected_turns, **self.state._asdict()}


_SESSION_UPDATE = (
    update(ChatSession)
    .where(col(ChatSession.id) == bindparam("b_id"), col(ChatSession.turns) == bindparam("b_expected"))
    .values(
        {
            # A turn never takes a session away from its user: no user id keeps the one stored.
            name: func.coalesce(bindparam(name), ChatSession.user_id) if name == "user_id" else bindparam(name)
            for name in SESSION_COLUMNS
        }
    )
)


class TurnStatements(Protocol):
    def update_sessions(self, conn: Connection, updates: Sequence[SessionUpdate]) -> int:
        """Apply each update whose session is still at its expected turns; the count applied."""
        ...

    def insert_messages(self, conn: Connection, rows: Sequence[MessageRow]) -> list[int]:
        """Append log rows; their ids in the rows' order."""
        ...

    def write_turns(
        self, conn: Connection, updates: Sequence[SessionUpdate], rows: Sequence[MessageRow]
    ) -> tuple[int, list[int]]:
        """`update_sessions` then `insert_messages`: the count applied and the ids.

        The rows are inserted even when an update is stale: the caller then rolls back.
        """
        ...

    def insert_messages_if_held(self, conn: Connection, rows: Sequence[Held]) -> list[int | None]:
        """Append log rows, each only while its agent holds its session; None for a row not stored."""
        ...


@dataclass(frozen=True, slots=True)
class Held:
    """A log row to store only while agent `held_by` holds its session (None: in any case)."""

    row: MessageRow
    held_by: int | None


_HOLDERS = select(col(ChatSession.id), col(ChatSession.agent_id)).where(
    col(ChatSession.id).in_(bindparam("ids", expanding=True)), col(ChatSession.mode) == "agent"
)


class _Sequential(ABC):
    """The statements one after another, the holders read first (what every backend can do)."""

    @abstractmethod
    def update_sessions(self, conn: Connection, updates: Sequence[SessionUpdate]) -> int: ...

    @abstractmethod
    def insert_messages(self, conn: Connection, rows: Sequence[MessageRow]) -> list[int]: ...

    def write_turns(
        self, conn: Connection, updates: Sequence[SessionUpdate], rows: Sequence[MessageRow]
    ) -> tuple[int, list[int]]:
        count = self.update_sessions(conn, updates)
        return count, (self.insert_messages(conn, rows) if rows and count == len(updates) else [])

    def insert_messages_if_held(self, conn: Connection, rows: Sequence[Held]) -> list[int | None]:
        asked = {h.row.session_id for h in rows if h.held_by is not None}
        holders = dict(conn.execute(_HOLDERS, {"ids": list(asked)}).all()) if asked else {}
        standing = [h.held_by is None or holders.get(h.row.session_id) == h.held_by for h in rows]
        ids = iter(self.insert_messages(conn, [h.row for h, ok in zip(rows, standing, strict=True) if ok]))
        return [next(ids) if ok else None for ok in standing]


class CoreTurnStatements(_Sequential):
    """Any backend, through SQLAlchemy Core."""

    def update_sessions(self, conn: Connection, updates: Sequence[SessionUpdate]) -> int:
        return int(conn.execute(_SESSION_UPDATE, [u.params() for u in updates]).rowcount)

    def insert_messages(self, conn: Connection, rows: Sequence[MessageRow]) -> list[int]:
        values = [row._asdict() for row in rows]
        statement = insert(Message).returning(col(Message.id), sort_by_parameter_order=True)
        return [int(cast(int, i)) for i in conn.execute(statement, values).scalars()]  # ids are never NULL


class _DriverStatements(_Sequential):
    """The turn's statements on the driver's own cursor, inside the SQLAlchemy transaction,
    with each column's own SQLAlchemy converter (JSON to text, times to UTC)."""

    insert_sql: str
    update_sql: str

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.messages: Table = Message.__table__  # type: ignore[attr-defined]  # SQLModel sets it
        self.sessions: Table = ChatSession.__table__  # type: ignore[attr-defined]  # SQLModel sets it
        self.message_converters = [_converter(self.messages.c[name], dialect) for name in MESSAGE_COLUMNS]
        self.session_converters = [_converter(self.sessions.c[name], dialect) for name in SESSION_COLUMNS]

    def update_sessions(self, conn: Connection, updates: Sequence[SessionUpdate]) -> int:
        values = self._session_values(updates)
        cursor = self._cursor(conn)
        self._run(lambda: cursor.executemany(self.update_sql, values), self.update_sql)
        return int(cursor.rowcount)

    def _session_values(self, updates: Sequence[SessionUpdate]) -> list[tuple[Any, ...]]:
        return [(*_convert(u.state, self.session_converters), u.session_id, u.expected_turns) for u in updates]

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        # driver_connection is None only once the pool has closed the connection; this one is open
        return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _run(self, call: Callable[[], _R], sql: str) -> _R:
        """Run one driver call, its errors wrapped as SQLAlchemy's (as Core would have)."""
        try:
            return call()
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, None, exc, self.dialect.loaded_dbapi.Error) from exc


class SqliteTurnStatements(_DriverStatements):
    """SQLite: one INSERT ... RETURNING a row (SQLite does not promise RETURNING's order)."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        names = ", ".join(f'"{c}"' for c in MESSAGE_COLUMNS)
        self.insert_sql = f"INSERT INTO message ({names}) VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))}) RETURNING id"
        assignments = ", ".join(
            f"{name} = coalesce(?, {name})" if name == "user_id" else f"{name} = ?" for name in SESSION_COLUMNS
        )
        self.update_sql = f"UPDATE chat_session SET {assignments} WHERE id = ? AND turns = ?"

    def insert_messages(self, conn: Connection, rows: Sequence[MessageRow]) -> list[int]:
        cursor = self._cursor(conn)

        def insert(row: MessageRow) -> int:
            cursor.execute(self.insert_sql, _convert(row, self.message_converters))
            return int(cursor.fetchone()[0])

        return [self._run(partial(insert, row), self.insert_sql) for row in rows]


class PsycopgTurnStatements(_DriverStatements):
    """PostgreSQL through psycopg 3: a batch's rows as one array per column, one statement for all.

    Each statement of a pipelined `executemany` costs the writer thread a wait on the socket,
    and each wait gives the interpreter away to the busy event loop for up to a thread switch
    interval; so the sessions' UPDATE and the rows' INSERT go as one statement over `unnest`ed
    arrays (prepared once, by psycopg), whatever the batch's size. Ids come from the table's
    sequence in the rows' order (the INSERT reads them `ORDER BY` their position), so the
    returned ids, sorted, are the rows' ids in order.
    """

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        names = ", ".join(f'"{c}"' for c in MESSAGE_COLUMNS)
        arrays = ", ".join(f"%s::{_pg_type(self.messages.c[c], dialect)}[]" for c in MESSAGE_COLUMNS)
        logged = (
            f"logged AS (INSERT INTO message ({names}) SELECT {names} FROM unnest({arrays}) "
            f"WITH ORDINALITY AS r({names}, position) ORDER BY position RETURNING id)"
        )
        ids = "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM logged"
        self.insert_sql = f"WITH {logged} {ids}"
        columns = [self.sessions.c[c] for c in SESSION_COLUMNS]
        session_arrays = ", ".join(f"%s::{_pg_type(c, dialect)}[]" for c in columns)
        assignments = ", ".join(
            f'"{c}" = coalesce(u."{c}", cs."{c}")' if c == "user_id" else f'"{c}" = u."{c}"' for c in SESSION_COLUMNS
        )
        session_names = ", ".join(f'"{c}"' for c in SESSION_COLUMNS)
        moved = (
            f"moved AS (UPDATE chat_session AS cs SET {assignments} "
            f"FROM unnest({session_arrays}, %s::VARCHAR[], %s::INTEGER[]) AS u({session_names}, b_id, b_expected) "
            "WHERE cs.id = u.b_id AND cs.turns = u.b_expected RETURNING 1)"
        )
        self.turns_sql = f"WITH {moved}, {logged} SELECT (SELECT count(*) FROM moved), ({ids})"
        one_by_one = ", ".join(
            f'"{c.name}" = coalesce({_pg_param(c)}, "{c.name}")'
            if c.name == "user_id"
            else f'"{c.name}" = {_pg_param(c)}'
            for c in columns
        )
        self.update_sql = f"UPDATE chat_session SET {one_by_one} WHERE id = %s AND turns = %s"
        """For `update_sessions`: a stale batch is redone a session at a time."""

    def insert_messages(self, conn: Connection, rows: Sequence[MessageRow]) -> list[int]:
        cursor = self._cursor(conn)
        columns = _columns(self._message_values(rows), len(MESSAGE_COLUMNS))
        self._run(lambda: self._pipelined(conn, cursor, self.insert_sql, columns), self.insert_sql)
        return [int(i) for i in cursor.fetchone()[0]]

    def write_turns(
        self, conn: Connection, updates: Sequence[SessionUpdate], rows: Sequence[MessageRow]
    ) -> tuple[int, list[int]]:
        """The sessions' UPDATE and the rows' INSERT in one statement: one wait for the server."""
        cursor = self._cursor(conn)
        sessions = _columns(self._session_values(updates), len(SESSION_COLUMNS) + 2)
        messages = _columns(self._message_values(rows), len(MESSAGE_COLUMNS))
        self._run(lambda: self._pipelined(conn, cursor, self.turns_sql, [*sessions, *messages]), self.turns_sql)
        moved, ids = cursor.fetchone()
        return int(moved), [int(i) for i in ids]

    def _message_values(self, rows: Sequence[MessageRow]) -> list[tuple[Any, ...]]:
        return [_convert(row, self.message_converters) for row in rows]

    @staticmethod
    def _pipelined(conn: Connection, cursor: Any, sql: str, params: list[Any]) -> None:
        """Send the transaction's BEGIN (when it is the first statement) with the statement, not before it."""
        with conn.connection.driver_connection.pipeline():  # type: ignore[union-attr]
            cursor.execute(sql, params)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of values as one list per column (what `unnest` reads back into rows)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _pg_type(column: Any, dialect: Dialect) -> str:
    """The column's SQL type, to cast a parameter's array to (JSON arrives as text from its converter)."""
    return str(column.type.compile(dialect=dialect))


def turn_statements(dialect: Dialect) -> TurnStatements:
    if dialect.name == "sqlite":
        return SqliteTurnStatements(dialect)
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return PsycopgTurnStatements(dialect)
    return CoreTurnStatements()


def _pg_param(column: Any) -> str:
    """A psycopg placeholder; JSON arrives as text from its converter, so it is cast."""
    return "%s::json" if isinstance(column.type, JSON) else "%s"


def _converter(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's own bind processor for this dialect (JSON to text, times to UTC).

    Times remember their last value (a turn's rows and its session share one `now`; SQLite's
    conversion formats a string, about 6 µs), JSON columns their text for None (a reply's
    `action` and `rich` are nearly always None): the same outputs, computed once."""
    # SQLAlchemy types bind_processor's result per column type; here the column is any of them
    convert: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(dialect)
    if convert is None:
        return None
    if isinstance(column.type, JSON):
        return _null_once(convert)
    if isinstance(column.type, DateTime | UTCDateTime):
        return _last_remembered(convert)
    return convert


def _null_once(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    null = convert(None)
    return lambda value: null if value is None else convert(value)


def _last_remembered(convert: Callable[[Any], Any]) -> Callable[[datetime | None], Any]:
    """`convert`, answering again from its last call for the same (immutable) datetime."""
    last: tuple[datetime | None, Any] = (None, convert(None))

    def converted(value: datetime | None) -> Any:
        nonlocal last
        seen = last  # one read and one write of a tuple: safe for the threads that share a converter
        if value is seen[0]:
            return seen[1]
        out = convert(value)
        last = (value, out)
        return out

    return converted


def _convert(row: MessageRow | SessionRow, converters: Sequence[Callable[[Any], Any] | None]) -> tuple[Any, ...]:
    """The row's values (in column order, as the row holds them), each through its column's converter."""
    return tuple(v if convert is None else convert(v) for v, convert in zip(row, converters, strict=True))
