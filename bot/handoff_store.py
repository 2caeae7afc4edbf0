"""What handoff reads from and writes to SQL: session modes, the queue, tickets, agents online.

Writes go through the store's writer (in order with the turns, durable before anyone is told);
reads are plain functions for the thread pool. A mode change is one conditional UPDATE, so two
agents taking the same conversation, on one instance or two, cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.batching import BatchWorker
from bot.events import Event, LocalBus, PostgresBus
from bot.rows import MessageRow
from bot.store import Op, Store
from bot.tables import AgentPresence, ChatSession, Message, Ticket, User

AGENT_ROLES = ("agent", "admin")


@dataclass(frozen=True)
class QueueItem:
    session_id: str
    reason: str | None
    since: datetime
    last_messages: list[Message]


Announce = Callable[[list[int]], list[tuple[str, Event]]]
"""The events that tell others about rows just logged, given their ids."""


class HandoffStore:
    """Handoff's SQL, on the service's store (its engine, its writer, its statements)."""

    def __init__(self, store: Store, bus: LocalBus) -> None:
        self.store = store
        self.engine = store.engine
        self.bus = bus
        self.reader: BatchWorker[int, Message | None] = BatchWorker(self._messages, name="message-reader")
        """Messages read by id for delivery: a burst of events costs one query."""

    # -- writes --------------------------------------------------------------------------

    async def append(self, rows: Sequence[MessageRow], announce: Announce | None = None) -> list[int]:
        ids = await self.append_if_held(rows, announce, held_by=None)
        assert ids is not None  # only a holder check refuses
        return ids

    async def append_if_held(
        self, rows: Sequence[MessageRow], announce: Announce | None, *, held_by: int | None
    ) -> list[int] | None:
        """Log rows, then tell others; their ids in order. A reused client id is DuplicateMessage.

        With `held_by`, only while that agent holds the session (checked in the same
        transaction; None when not). On PostgreSQL the events are sent in the rows' own
        transaction (no extra round trip, never before the rows are stored); in-process,
        right after it commits.
        """
        session_id = rows[0].session_id
        holder = select(col(ChatSession.agent_id)).where(
            col(ChatSession.id) == session_id, col(ChatSession.mode) == "agent"
        )

        def run(conn: Connection) -> list[int] | None:
            if held_by is not None and conn.execute(holder).scalar_one_or_none() != held_by:
                return None
            ids = self.store.statements.insert_messages(conn, rows)
            if announce is not None and isinstance(self.bus, PostgresBus):
                self.bus.notify_in(conn, announce(ids))
            return ids

        result: list[int] | None = await self.store.write(Op(run))
        if result is not None and announce is not None and not isinstance(self.bus, PostgresBus):
            for channel, event in announce(result):
                await self.bus.publish(channel, event)
        return result

    async def set_mode(
        self,
        session_id: str,
        mode: str,
        *,
        only_from: Sequence[str],
        agent_id: int | None = None,
        held_by: int | None = None,
        reason: str | None = None,
        now: datetime | None = None,
        rows: Sequence[MessageRow] = (),
    ) -> list[int] | None:
        """Move a session to `mode` if it is in one of `only_from` (and held by `held_by`, if given).

        The rows are logged in the same transaction; their ids, or None when the session was not
        in a state to move (someone else moved it first).
        """
        values: dict[str, Any] = {"mode": mode, "agent_id": agent_id}
        if mode in ("waiting", "ticket"):
            values |= {"handoff_reason": reason[:200] if reason else None, "handoff_at": now, "ticket_email": None}
        elif mode == "bot":
            values |= {"handoff_reason": None, "ticket_email": None}
        query = update(ChatSession).where(col(ChatSession.id) == session_id, col(ChatSession.mode).in_(only_from))
        if held_by is not None:
            query = query.where(col(ChatSession.agent_id) == held_by)

        def run(conn: Connection) -> list[int] | None:
            if conn.execute(query.values(values)).rowcount != 1:
                return None
            return self.store.statements.insert_messages(conn, rows) if rows else []

        result: list[int] | None = await self.store.write(Op(run))
        return result

    async def set_ticket_email(self, session_id: str, email: str, rows: Sequence[MessageRow]) -> list[int]:
        def run(conn: Connection) -> list[int]:
            conn.execute(update(ChatSession).where(col(ChatSession.id) == session_id).values(ticket_email=email))
            return self.store.statements.insert_messages(conn, rows)

        result: list[int] = await self.store.write(Op(run))
        return result

    async def file_ticket(self, ticket: Ticket, rows: Sequence[MessageRow]) -> tuple[int, list[int]]:
        """Store the ticket and send the session back to the bot, with the rows, in one transaction."""
        values = ticket.model_dump(exclude={"id"})

        def run(conn: Connection) -> tuple[int, list[int]]:
            ticket_id = conn.execute(insert(Ticket).values(values).returning(col(Ticket.id))).scalar_one()
            assert ticket_id is not None  # a stored row has its id
            conn.execute(
                update(ChatSession)
                .where(col(ChatSession.id) == ticket.session_id)
                .values(mode="bot", ticket_email=None, handoff_reason=None)
            )
            return ticket_id, self.store.statements.insert_messages(conn, rows)

        result: tuple[int, list[int]] = await self.store.write(Op(run))
        return result

    async def close_ticket(self, ticket_id: int, now: datetime) -> bool:
        def run(conn: Connection) -> bool:
            query = update(Ticket).where(col(Ticket.id) == ticket_id, col(Ticket.closed_at).is_(None))
            return bool(conn.execute(query.values(closed_at=now)).rowcount)

        result: bool = await self.store.write(Op(run))
        return result

    async def seen(self, user_id: int, now: datetime) -> None:
        """The agent has the inbox open (a heartbeat)."""

        def run(conn: Connection) -> None:
            if not conn.execute(
                update(AgentPresence).where(col(AgentPresence.user_id) == user_id).values(seen_at=now)
            ).rowcount:
                conn.execute(insert(AgentPresence).values(user_id=user_id, seen_at=now))

        await self.store.write(Op(run))

    async def gone(self, user_id: int) -> None:
        def run(conn: Connection) -> None:
            conn.execute(delete(AgentPresence).where(col(AgentPresence.user_id) == user_id))

        await self.store.write(Op(run))

    # -- reads (blocking: run them on the thread pool) -----------------------------------

    def agents_online(self, since: datetime) -> int:
        with Session(self.engine) as db:
            query = select(func.count()).select_from(AgentPresence).where(col(AgentPresence.seen_at) >= since)
            return int(db.execute(query).scalar_one())

    def position(self, session_id: str) -> int:
        """1 for the conversation waiting longest; 0 when this one is not waiting."""
        with Session(self.engine) as db:
            mine = db.execute(
                select(col(ChatSession.handoff_at)).where(
                    col(ChatSession.id) == session_id, col(ChatSession.mode) == "waiting"
                )
            ).scalar_one_or_none()
            if mine is None:
                return 0
            ahead = select(func.count()).where(col(ChatSession.mode) == "waiting", col(ChatSession.handoff_at) <= mine)
            return int(db.execute(ahead.select_from(ChatSession)).scalar_one())

    def queue(self, last: int = 3, limit: int = 200) -> list[QueueItem]:
        """Waiting conversations, longest first, each with its last few messages (two queries)."""
        with Session(self.engine) as db:
            waiting = list(
                db.execute(
                    select(ChatSession)
                    .where(col(ChatSession.mode) == "waiting")
                    .order_by(col(ChatSession.handoff_at))
                    .limit(limit)
                ).scalars()
            )
            if not waiting:
                return []
            rank = (
                func.row_number()
                .over(partition_by=col(Message.session_id), order_by=col(Message.id).desc())
                .label("rank")
            )
            recent = (
                select(col(Message.id), rank).where(col(Message.session_id).in_([row.id for row in waiting])).subquery()
            )
            ids = select(recent.c.id).where(recent.c.rank <= last)
            messages = db.execute(select(Message).where(col(Message.id).in_(ids)).order_by(col(Message.id))).scalars()
            by_session: dict[str, list[Message]] = {}
            for m in messages:
                by_session.setdefault(m.session_id, []).append(m)
        return [
            QueueItem(row.id, row.handoff_reason, row.handoff_at or row.last_active, by_session.get(row.id, []))
            for row in waiting
        ]

    def held_by(self, agent_id: int) -> list[ChatSession]:
        with Session(self.engine) as db:
            query = select(ChatSession).where(col(ChatSession.mode) == "agent", col(ChatSession.agent_id) == agent_id)
            return list(db.execute(query.order_by(col(ChatSession.handoff_at))).scalars())

    async def message(self, message_id: int) -> Message | None:
        self.reader.start()
        return await self.reader.run(message_id)

    def _messages(self, ids: list[int]) -> list[Message | None]:
        with Session(self.engine, expire_on_commit=False) as db:
            found = {m.id: m for m in db.execute(select(Message).where(col(Message.id).in_(set(ids)))).scalars()}
            db.expunge_all()
        return [found.get(i) for i in ids]

    def inbound_id(self, session_id: str, client_id: str | None) -> int:
        """The id of the user message stored under a client id (answering a resend)."""
        query = select(col(Message.id)).where(
            col(Message.session_id) == session_id,
            col(Message.client_id) == client_id,
            col(Message.direction) == "in",
        )
        with Session(self.engine) as db:
            found = db.execute(query).scalar_one()
        assert found is not None  # a stored row has its id
        return found

    def user(self, user_id: int) -> User | None:
        with Session(self.engine) as db:
            return db.get(User, user_id)

    def agents(self, since: datetime) -> list[tuple[User, bool]]:
        """Every user who may take conversations, and whether they have the inbox open now."""
        with Session(self.engine) as db:
            rows = db.execute(
                select(User, col(AgentPresence.seen_at))
                .outerjoin(AgentPresence, col(AgentPresence.user_id) == User.id)
                .where(col(User.role).in_(AGENT_ROLES))
                .order_by(User.username)
            ).all()
        return [(user, seen is not None and seen >= since) for user, seen in rows]

    def tickets(self, *, open_only: bool = True, limit: int = 200) -> list[Ticket]:
        query = select(Ticket).order_by(col(Ticket.created_at).desc()).limit(limit)
        if open_only:
            query = query.where(col(Ticket.closed_at).is_(None))
        with Session(self.engine) as db:
            return list(db.execute(query).scalars())


def presence_cutoff(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)
