"""The two statements every chat turn runs: move the session on, append the log rows.

They are the log writer's whole hot path, so each backend gets the cheapest correct form.
PostgreSQL goes through SQLAlchemy Core, which sends one multi-row INSERT that returns the
ids in order. For SQLite, Core would send one INSERT per row (SQLite does not promise the
order of RETURNING rows) and spend more time on generic parameter handling than SQLite
spends storing the row; `SqliteTurnStatements` runs the same SQL on the driver's cursor
with the columns' own SQLAlchemy converters (JSON, UTC times). What remains per row is
SQLite's own work (the table and its five indexes) and the conversions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Dialect, Table, bindparam, func, insert, update
from sqlalchemy.exc import DBAPIError

from bot.tables import ChatSession, Message

MESSAGE_COLUMNS = (
    "session_id",
    "user_id",
    "direction",
    "text",
    "client_id",
    "intent",
    "confidence",
    "ranking",
    "entities",
    "slots",
    "buttons",
    "fallback",
    "model_version",
    "latency_ms",
    "created_at",
)
"""The keys of a log row (`TurnWrite.messages`); the id is the database's."""
SESSION_COLUMNS = ("active_form", "requested_slot", "slots", "turns", "user_id", "last_active")
"""The keys of a turn's session state (`TurnWrite.state`)."""

_SESSION_UPDATE = (
    update(ChatSession)
    .where(ChatSession.id == bindparam("b_id"), ChatSession.turns == bindparam("b_expected"))  # type: ignore[arg-type]
    .values(
        active_form=bindparam("active_form"),
        requested_slot=bindparam("requested_slot"),
        slots=bindparam("slots"),
        turns=bindparam("turns"),
        user_id=func.coalesce(bindparam("user_id"), ChatSession.user_id),
        last_active=bindparam("last_active"),
    )
)


class TurnStatements(Protocol):
    def update_sessions(self, conn: Connection, params: Sequence[dict[str, Any]]) -> int:
        """Apply each `{"b_id", "b_expected", **state}` whose session is still at `b_expected` turns; the count applied."""
        ...

    def insert_messages(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Append log rows; their ids in the rows' order."""
        ...


class CoreTurnStatements:
    """Any backend, through SQLAlchemy Core."""

    def update_sessions(self, conn: Connection, params: Sequence[dict[str, Any]]) -> int:
        return conn.execute(_SESSION_UPDATE, list(params)).rowcount

    def insert_messages(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
        return list(
            conn.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), list(rows)).scalars()
        )


class SqliteTurnStatements:
    """SQLite, through the driver's cursor inside the SQLAlchemy transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        messages: Table = Message.__table__  # type: ignore[attr-defined]
        sessions: Table = ChatSession.__table__  # type: ignore[attr-defined]
        names = ", ".join(f'"{c}"' for c in MESSAGE_COLUMNS)
        self.insert_sql = f"INSERT INTO message ({names}) VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))}) RETURNING id"
        self.update_sql = (
            "UPDATE chat_session SET active_form = ?, requested_slot = ?, slots = ?, turns = ?, "
            "user_id = coalesce(?, user_id), last_active = ? WHERE id = ? AND turns = ?"
        )
        self.message_converters = [_converter(messages.c[name], dialect) for name in MESSAGE_COLUMNS]
        self.session_converters = [_converter(sessions.c[name], dialect) for name in SESSION_COLUMNS]

    def update_sessions(self, conn: Connection, params: Sequence[dict[str, Any]]) -> int:
        values = [(*_convert(p, SESSION_COLUMNS, self.session_converters), p["b_id"], p["b_expected"]) for p in params]
        cursor = self._cursor(conn)
        self._run(cursor.executemany, self.update_sql, values)
        return cursor.rowcount

    def insert_messages(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
        cursor = self._cursor(conn)
        ids = []
        for row in rows:
            self._run(cursor.execute, self.insert_sql, _convert(row, MESSAGE_COLUMNS, self.message_converters))
            ids.append(cursor.fetchone()[0])
        return ids

    @staticmethod
    def _cursor(conn: Connection) -> Any:
        return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def _run(self, call: Callable[[str, Any], Any], sql: str, values: Any) -> None:
        """Run one driver call, its errors wrapped as SQLAlchemy's (as Core would have)."""
        try:
            call(sql, values)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, None, exc, self.dialect.loaded_dbapi.Error) from exc


def turn_statements(dialect: Dialect) -> TurnStatements:
    return SqliteTurnStatements(dialect) if dialect.name == "sqlite" else CoreTurnStatements()


def _converter(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's own bind processor for this dialect (JSON to text, times to UTC)."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


def _convert(
    row: dict[str, Any], names: Sequence[str], converters: Sequence[Callable[[Any], Any] | None]
) -> tuple[Any, ...]:
    return tuple(
        row[name] if convert is None else convert(row[name]) for name, convert in zip(names, converters, strict=False)
    )
