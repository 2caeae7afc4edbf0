"""Everything the service reads from and writes to SQL.

Writes go through one writer thread that commits whatever is queued in one transaction, so
each turn is durable before its reply is sent without paying one commit per message. Reads
are plain functions run on the thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.batching import BatchWorker
from bot.errors import ClientError
from bot.rows import MessageRow, SessionRow
from bot.tables import ChatSession, Message, User, utcnow
from bot.turn_statements import SessionUpdate, turn_statements

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6368617462  # an arbitrary constant key for pg_advisory_xact_lock
T = TypeVar("T")
SCHEMA_HEAD = "0006"
"""The newest revision in `migrations/versions` (a test keeps the two equal)."""


class DatabaseUnavailable(ClientError):
    """The database cannot be reached or written; the turn was not stored."""

    code = "unavailable"


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of the bot (a rolling upgrade half done)."""


class StaleSession(ClientError):
    """The session changed since its state was read; read it again and redo the turn."""

    code = "conflict"


class _Stale(Exception):
    """A batch met a stale turn: redo it one write at a time."""


class DuplicateMessage(ClientError):
    """A message with this client id was already stored for the session."""

    code = "duplicate"


def make_engine(url: str) -> Engine:
    """An engine tuned per backend: SQLite in WAL mode with full fsync, PostgreSQL pooled."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=_json_dumps
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=_json_dumps)


def _json_dumps(value: Any) -> str:
    """JSON columns (slots, entities, ranking) through orjson: the log writer's hot path."""
    return orjson.dumps(value).decode()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creating it on an empty database).

    A database already at `SCHEMA_HEAD` costs one query: Alembic is imported only when there
    is something to do, which keeps it out of a server's start-up time and memory.
    """
    revision = schema_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if revision is not None and revision not in {
        s.revision for s in ScriptDirectory.from_config(config).walk_revisions()
    }:
        raise SchemaTooNew(
            f"the database schema is at revision {revision}, newer than this version of the bot ({SCHEMA_HEAD}); "
            "run the newer version"
        )
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Instances starting together: one migrates, the others wait and find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


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


class Store:
    """The database behind the service; call `start()` before writing."""

    def __init__(self, engine: Engine, *, batch_max: int = 512) -> None:
        self.engine = engine
        self.statements = turn_statements(engine.dialect)
        self.writer: BatchWorker[Write, Any] = BatchWorker(self._commit, name="log-writer", max_batch=batch_max)

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()

    # -- writes -------------------------------------------------------------------------

    async def write(self, item: Write) -> Any:
        return await self.writer.run(item)

    def submit(self, item: Write) -> asyncio.Future[Any]:
        """Queue a write now (writes are applied in the order queued); await the future for its result."""
        return self.writer.submit(item)

    def _commit(self, items: list[Write]) -> list[Any]:
        try:
            with self.engine.begin() as conn:
                return self._apply(conn, items)
        except _Stale:
            return self._commit_one_by_one(items)
        except (SQLAlchemyError, DBAPIError) as exc:
            if len(items) == 1:
                return [_domain_error(exc)]
        return self._commit_one_by_one(items)

    def _commit_one_by_one(self, items: list[Write]) -> list[Any]:
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
                self._run_group(conn, run, results)
                run = []
            if isinstance(item, TurnWrite):
                turns.append((i, item))
            elif isinstance(item, Grouped):
                run.append((i, item))
            else:
                results[i] = item.run(conn)
        if run:
            self._run_group(conn, run, results)
        if turns:
            self._write_turns(conn, turns, results, one_by_one)
        return results

    @staticmethod
    def _run_group(conn: Connection, run: list[tuple[int, Grouped[Any]]], results: list[Any]) -> None:
        for (i, _), result in zip(run, run[0][1].group(conn, [g.item for _, g in run]), strict=True):
            results[i] = result

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

    async def create_session(
        self, user_id: int | None, slots: dict[str, Any] | None = None, language: str | None = None
    ) -> ChatSession:
        session = ChatSession(id=uuid.uuid4().hex, user_id=user_id, slots=slots or {}, language=language)
        row = session.model_dump()

        def run(conn: Connection) -> None:
            conn.execute(insert(ChatSession), [row])

        await self.write(Op(run))
        return session

    async def append(self, rows: Sequence[MessageRow]) -> list[int]:
        """Log messages outside a turn (a new session's welcome); their ids, in order."""

        def run(conn: Connection) -> list[int]:
            return self.statements.insert_messages(conn, rows)

        ids: list[int] = await self.write(Op(run))
        return ids

    async def set_session_language(self, session_id: str, language: str) -> None:
        """The language a session is answered in, once it is known (told by its first message)."""

        def run(conn: Connection) -> None:
            conn.execute(update(ChatSession).where(col(ChatSession.id) == session_id).values(language=language))

        await self.write(Op(run))

    async def end_session(self, session_id: str) -> None:
        def run(conn: Connection) -> None:
            conn.execute(update(ChatSession).where(col(ChatSession.id) == session_id).values(ended_at=utcnow()))

        await self.write(Op(run))

    async def close_expired(self, idle: timedelta) -> int:
        """Give every session idle for longer than `idle` its end time."""
        now = utcnow()

        def run(conn: Connection) -> int:
            result = conn.execute(
                update(ChatSession)
                .where(col(ChatSession.ended_at).is_(None), col(ChatSession.last_active) < now - idle)
                .values(ended_at=now)
            )
            return int(result.rowcount)

        closed: int = await self.write(Op(run))
        return closed

    async def set_feedback(self, session_ids: Sequence[str], message_id: int, value: int) -> bool:
        """Store thumbs on a bot reply that belongs to one of the given sessions."""

        def run(conn: Connection) -> bool:
            result = conn.execute(
                update(Message)
                .where(
                    col(Message.id) == message_id,
                    col(Message.direction) == "out",
                    col(Message.session_id).in_(session_ids),
                )
                .values(feedback=value or None)
            )
            return int(result.rowcount) > 0

        stored: bool = await self.write(Op(run))
        return stored

    async def set_user_slots(self, user_id: int, slots: dict[str, Any]) -> None:
        def run(conn: Connection) -> None:
            conn.execute(update(User).where(col(User.id) == user_id).values(slots=slots))

        await self.write(Op(run))

    async def adopt_session(self, session_id: str, user_id: int) -> None:
        """A guest who logs in keeps the conversation: the session becomes the user's."""

        def run(conn: Connection) -> None:
            conn.execute(
                update(ChatSession)
                .where(col(ChatSession.id) == session_id, col(ChatSession.user_id).is_(None))
                .values(user_id=user_id)
            )
            conn.execute(update(Message).where(col(Message.session_id) == session_id).values(user_id=user_id))

        await self.write(Op(run))

    # -- reads (blocking: run them on the thread pool) -------------------------------------

    def get_session(self, session_id: str) -> ChatSession | None:
        with Session(self.engine) as db:
            return db.get(ChatSession, session_id)

    def replies_by_client_id(self, session_id: str, limit: int = 200) -> dict[str, list[Message]]:
        """The bot's replies to the session's latest client ids, to answer a resend again."""
        with Session(self.engine) as db:
            inbound = (
                db.execute(
                    select(Message)
                    .where(
                        col(Message.session_id) == session_id,
                        col(Message.direction) == "in",
                        col(Message.client_id).is_not(None),
                    )
                    .order_by(col(Message.id).desc())
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if not inbound:
                return {}
            outbound = (
                db.execute(
                    select(Message)
                    .where(
                        col(Message.session_id) == session_id,
                        col(Message.direction) == "out",
                        col(Message.client_id).in_([m.client_id for m in inbound]),
                    )
                    .order_by(col(Message.id))
                )
                .scalars()
                .all()
            )
        replies: dict[str, list[Message]] = {m.client_id: [] for m in inbound if m.client_id}
        for m in outbound:
            replies.setdefault(m.client_id or "", []).append(m)
        return replies

    def history(self, session_id: str, *, offset: int = 0, limit: int = 50) -> tuple[list[Message], int]:
        with Session(self.engine) as db:
            total = db.execute(
                select(func.count()).select_from(Message).where(col(Message.session_id) == session_id)
            ).scalar_one()
            rows = (
                db.execute(
                    select(Message)
                    .where(col(Message.session_id) == session_id)
                    .order_by(col(Message.id))
                    .offset(offset)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        return list(rows), total

    def sessions(self, *, user_id: int | None = None, offset: int = 0, limit: int = 50) -> list[ChatSession]:
        """Sessions, most recently active first; only the user's when `user_id` is given."""
        query = select(ChatSession).order_by(col(ChatSession.last_active).desc()).offset(offset).limit(limit)
        if user_id is not None:
            query = query.where(col(ChatSession.user_id) == user_id)
        with Session(self.engine) as db:
            return list(db.execute(query).scalars())

    def messages_since(self, since: datetime | None = None) -> list[Message]:
        """The conversation log, oldest first (for the admin's export)."""
        query = select(Message).order_by(col(Message.id))
        if since is not None:
            query = query.where(col(Message.created_at) >= since)
        with Session(self.engine) as db:
            return list(db.execute(query).scalars())

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except (SQLAlchemyError, DBAPIError):
            return False


def _domain_error(exc: Exception) -> Exception:
    if isinstance(exc, IntegrityError):
        return DuplicateMessage(str(exc.orig))
    log.warning("database write failed: %s", exc.__class__.__name__)
    return DatabaseUnavailable(f"the database is unavailable ({exc.__class__.__name__}); try again shortly")
