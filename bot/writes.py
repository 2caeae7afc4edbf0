"""The writes the log writer thread applies, and how one batch of them is committed.

A batch is one transaction: ops and grouped writes in the order queued, then every turn's
session state and rows in one statement each. A batch that fails (a stale turn, a duplicate
client id, a database error) is redone one write at a time so the others still land.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bot.direct_turns import DirectFailed, DirectTurns
from bot.errors import ClientError
from bot.rows import MessageRow, SessionRow
from bot.turn_statements import SessionUpdate, TurnStatements

log = logging.getLogger(__name__)
T = TypeVar("T")


class DatabaseUnavailable(ClientError):
    """The database cannot be reached or written; the turn was not stored."""

    code = "unavailable"


class StaleSession(ClientError):
    """The session changed since its state was read; read it again and redo the turn."""

    code = "conflict"


class DuplicateMessage(ClientError):
    """A message with this client id was already stored for the session."""

    code = "duplicate"


class _Stale(Exception):
    """A batch met a stale turn: redo it one write at a time."""


@dataclass
class TurnWrite:
    """One turn: the session's new state and the messages in and out, stored together.

    `expected_turns` is the turn count the state was computed from: if another connection
    or instance moved the session on meanwhile, the write is refused with `StaleSession`
    and nothing of it is stored (optimistic concurrency: turns apply in order).
    """

    session_id: str
    expected_turns: int
    state: SessionRow
    messages: list[MessageRow]
    """Rows for `Message`; the ids come back in the same order."""


@dataclass
class Op:
    """Any other write: a function run inside the writer's transaction."""

    run: Callable[[Connection], Any]


@dataclass
class Grouped(Generic[T]):
    """A write run together with the queued writes of the same `group` next to it, in one call.

    `group(conn, items)` returns one result per item: many callers' writes cost one statement.
    """

    group: Callable[[Connection, list[T]], list[Any]]
    item: T


Write = TurnWrite | Op | Grouped[Any]


@dataclass
class BatchCommit:
    """Commits one batch of writes; one result (or the exception for it) per write, in order."""

    engine: Engine
    statements: TurnStatements
    direct: DirectTurns | None = None
    """PostgreSQL: a batch of only turns as one statement on the writer's own connection."""

    def __call__(self, items: list[Write]) -> list[Any]:
        if self.direct is not None and all(isinstance(i, TurnWrite) for i in items):
            turns: list[TurnWrite] = items  # type: ignore[assignment]  # checked just above
            if self.direct.takes(turns):
                return self._direct(turns)
        return self._in_transaction(items)

    def _direct(self, turns: list[TurnWrite]) -> list[Any]:
        """One statement; a turn it did not apply is redone alone, where a stale one is refused.

        A failed statement stored nothing: the batch then takes the transaction's path, which
        isolates a duplicate client id or reports the database unavailable.
        """
        assert self.direct is not None
        try:
            results: list[Any] = self.direct.write(turns)
        except DirectFailed as exc:
            log.debug("one-statement batch failed (%s); taking the transaction's path", exc.__class__.__name__)
            return self._in_transaction(list(turns))
        for i, result in enumerate(results):
            if result is None:
                (results[i],) = self._one_by_one([turns[i]])
        return results

    def _in_transaction(self, items: list[Write]) -> list[Any]:
        try:
            with self.engine.begin() as conn:
                return self._apply(conn, items)
        except _Stale:
            return self._one_by_one(items)
        except (SQLAlchemyError, DBAPIError) as exc:
            if len(items) == 1:
                return [_domain_error(exc)]
        return self._one_by_one(items)

    def _one_by_one(self, items: list[Write]) -> list[Any]:
        """Isolate what failed the batch (a stale turn, a duplicate) so the others still land."""
        results: list[Any] = []
        for item in items:
            try:
                with self.engine.begin() as conn:
                    results += self._apply(conn, [item], one_by_one=True)
            except (SQLAlchemyError, DBAPIError) as exc:
                results.append(_domain_error(exc))
        return results

    def _apply(self, conn: Connection, items: list[Write], one_by_one: bool = False) -> list[Any]:
        """Ops and groups in the order queued (a run of one group's writes in one call), then the turns.

        Turns go last, after every op of the batch, all of them written together.
        """
        results: list[Any] = [None] * len(items)
        turns: list[tuple[int, TurnWrite]] = []
        run: list[tuple[int, Grouped[Any]]] = []
        for i, item in enumerate(items):
            if run and (isinstance(item, Op) or (isinstance(item, Grouped) and item.group != run[0][1].group)):
                _run_group(conn, run, results)
                run = []
            if isinstance(item, TurnWrite):
                turns.append((i, item))
            elif isinstance(item, Grouped):
                run.append((i, item))
            else:
                results[i] = item.run(conn)
        if run:
            _run_group(conn, run, results)
        if turns:
            self._write_turns(conn, turns, results, one_by_one)
        return results

    def _write_turns(
        self, conn: Connection, turns: list[tuple[int, TurnWrite]], results: list[Any], one_by_one: bool
    ) -> None:
        """Store each turn's session state and rows unless the session moved on.

        One statement each for all the sessions and all the rows when no turn is stale (the
        common case); when one is, the transaction is abandoned and redone `one_by_one` to
        find the stale ones.
        """
        params = [SessionUpdate(t.session_id, t.expected_turns, t.state) for _, t in turns]
        if not one_by_one:
            applied, ids = self.statements.write_turns(conn, params, [row for _, t in turns for row in t.messages])
            if applied != len(turns):
                raise _Stale
            current = turns
        else:
            current = []
            for (i, turn), update in zip(turns, params, strict=True):
                if self.statements.update_sessions(conn, [update]) == 1:
                    current.append((i, turn))
                else:
                    results[i] = StaleSession(f"session {turn.session_id} moved on; read it again")
            rows = [row for _, t in current for row in t.messages]
            ids = self.statements.insert_messages(conn, rows) if rows else []
        pos = 0
        for i, turn in current:
            results[i] = ids[pos : pos + len(turn.messages)]
            pos += len(turn.messages)


def _run_group(conn: Connection, run: list[tuple[int, Grouped[Any]]], results: list[Any]) -> None:
    for (i, _), result in zip(run, run[0][1].group(conn, [g.item for _, g in run]), strict=True):
        results[i] = result


def _domain_error(exc: Exception) -> Exception:
    if isinstance(exc, IntegrityError):
        return DuplicateMessage(str(exc.orig))
    log.warning("database write failed: %s", exc.__class__.__name__)
    return DatabaseUnavailable(f"the database is unavailable ({exc.__class__.__name__}); try again shortly")
