"""The service's database: its writes queued to one writer thread, and its reads.

Writes go through one writer thread that commits whatever is queued in one transaction
(`bot.writes`), so each turn is durable before its reply is sent without paying one commit
per message. Reads are plain functions run on the thread pool. Connecting and migrating are
in `bot.database`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.batching import BatchWorker
from bot.direct_turns import direct_turns
from bot.rows import MessageRow
from bot.tables import ChatSession, Message, User, utcnow
from bot.turn_statements import turn_statements
from bot.writes import BatchCommit, Op, Write


class Store:
    """The database behind the service; call `start()` before writing."""

    def __init__(self, engine: Engine, *, batch_max: int = 512, linger: float = 0.0) -> None:
        self.engine = engine
        self.statements = turn_statements(engine.dialect)
        self.direct = direct_turns(engine)
        self.writer: BatchWorker[Write, Any] = BatchWorker(
            BatchCommit(engine, self.statements, self.direct),
            name="log-writer",
            max_batch=batch_max,
            linger=linger,
        )

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        if self.direct is not None:
            self.direct.close()

    # -- writes -------------------------------------------------------------------------

    async def write(self, item: Write) -> Any:
        return await self.writer.run(item)

    def submit(self, item: Write) -> asyncio.Future[Any]:
        """Queue a write now (writes are applied in the order queued); await the future for its result."""
        return self.writer.submit(item)

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
