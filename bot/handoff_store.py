"""What handoff reads from and writes to SQL: session modes, the queue, tickets, agents online.

Writes go through the store's writer (in order with the turns, durable before anyone is told);
reads are plain functions for the thread pool. A mode change is one conditional UPDATE, so two
agents taking the same conversation, on one instance or two, cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.rows import Direction, MessageRow
from bot.store import Op, Store
from bot.tables import AgentPresence, ChatSession, Message, Ticket, User

AGENT_ROLES = ("agent", "admin")


@dataclass(frozen=True)
class QueueItem:
    session_id: str
    reason: str | None
    since: datetime
    last_messages: list[Message]


def note(
    session_id: str,
    user_id: int | None,
    direction: Direction,
    text: str,
    now: datetime,
    *,
    client_id: str | None = None,
    intent: str | None = None,
    buttons: Sequence[tuple[str, str]] = (),
) -> MessageRow:
    """A log row outside a classified turn: a message held for a person, a person's, a notice."""
    return MessageRow(
        session_id=session_id,
        user_id=user_id,
        direction=direction,
        text=text,
        client_id=client_id,
        intent=intent,
        confidence=None,
        ranking=[],
        entities=[],
        slots={},
        buttons=[[t, p] for t, p in buttons],
        fallback=False,
        model_version=None,
        latency_ms=None,
        created_at=now,
    )


class HandoffStore:
    """Handoff's SQL, on the service's store (its engine, its writer, its statements)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # -- writes --------------------------------------------------------------------------

    async def append(self, rows: Sequence[MessageRow]) -> list[int]:
        """Log rows; their ids in order. A client id the session used already is DuplicateMessage."""

        def run(conn: Connection) -> list[int]:
            return self.store.statements.insert_messages(conn, rows)

        result: list[int] = await self.store.write(Op(run))
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
            values |= {"handoff_reason": reason, "handoff_at": now, "ticket_email": None}
        elif mode == "bot":
            values |= {"handoff_reason": None, "ticket_email": None}
        query = update(ChatSession).where(ChatSession.id == session_id, ChatSession.mode.in_(only_from))  # type: ignore[arg-type,attr-defined]
        if held_by is not None:
            query = query.where(ChatSession.agent_id == held_by)  # type: ignore[arg-type]

        def run(conn: Connection) -> list[int] | None:
            if conn.execute(query.values(values)).rowcount != 1:
                return None
            return self.store.statements.insert_messages(conn, rows) if rows else []

        result: list[int] | None = await self.store.write(Op(run))
        return result

    async def set_ticket_email(self, session_id: str, email: str, rows: Sequence[MessageRow]) -> list[int]:
        def run(conn: Connection) -> list[int]:
            conn.execute(update(ChatSession).where(ChatSession.id == session_id).values(ticket_email=email))  # type: ignore[arg-type]
            return self.store.statements.insert_messages(conn, rows)

        result: list[int] = await self.store.write(Op(run))
        return result

    async def file_ticket(self, ticket: Ticket, rows: Sequence[MessageRow]) -> tuple[int, list[int]]:
        """Store the ticket and send the session back to the bot, with the rows, in one transaction."""
        values = ticket.model_dump(exclude={"id"})

        def run(conn: Connection) -> tuple[int, list[int]]:
            ticket_id = conn.execute(insert(Ticket).values(values).returning(Ticket.id)).scalar_one()  # type: ignore[arg-type]
            conn.execute(
                update(ChatSession)
                .where(ChatSession.id == ticket.session_id)  # type: ignore[arg-type]
                .values(mode="bot", ticket_email=None, handoff_reason=None)
            )
            return int(ticket_id), self.store.statements.insert_messages(conn, rows)

        result: tuple[int, list[int]] = await self.store.write(Op(run))
        return result

    async def close_ticket(self, ticket_id: int, now: datetime) -> bool:
        def run(conn: Connection) -> bool:
            query = update(Ticket).where(Ticket.id == ticket_id, Ticket.closed_at.is_(None))  # type: ignore[arg-type,union-attr]
            return bool(conn.execute(query.values(closed_at=now)).rowcount)

        result: bool = await self.store.write(Op(run))
        return result

    async def seen(self, user_id: int, now: datetime) -> None:
        """The agent has the inbox open (a heartbeat)."""

        def run(conn: Connection) -> None:
            if not conn.execute(
                update(AgentPresence).where(AgentPresence.user_id == user_id).values(seen_at=now)
            ).rowcount:  # type: ignore[arg-type]
                conn.execute(insert(AgentPresence).values(user_id=user_id, seen_at=now))

        await self.store.write(Op(run))

    async def gone(self, user_id: int) -> None:
        def run(conn: Connection) -> None:
            conn.execute(delete(AgentPresence).where(AgentPresence.user_id == user_id))  # type: ignore[arg-type]

        await self.store.write(Op(run))

    # -- reads (blocking: run them on the thread pool) -----------------------------------

    def agents_online(self, since: datetime) -> int:
        with Session(self.engine) as db:
            query = select(func.count()).select_from(AgentPresence).where(AgentPresence.seen_at >= since)  # type: ignore[arg-type]
            return int(db.execute(query).scalar_one())

    def position(self, session_id: str) -> int:
        """1 for the conversation waiting longest; 0 when this one is not waiting."""
        with Session(self.engine) as db:
            mine = db.execute(
                select(ChatSession.handoff_at).where(ChatSession.id == session_id, ChatSession.mode == "waiting")  # type: ignore[arg-type,call-overload]
            ).scalar_one_or_none()
            if mine is None:
                return 0
            ahead = select(func.count()).where(ChatSession.mode == "waiting", ChatSession.handoff_at <= mine)  # type: ignore[arg-type,operator]
            return int(db.execute(ahead.select_from(ChatSession)).scalar_one())

    def queue(self, last: int = 3) -> list[QueueItem]:
        """Waiting conversations, longest first, each with its last few messages."""
        with Session(self.engine) as db:
            waiting = (
                db.execute(select(ChatSession).where(ChatSession.mode == "waiting").order_by(ChatSession.handoff_at))  # type: ignore[arg-type]
                .scalars()
                .all()
            )
            items = []
            for row in waiting:
                recent = (
                    db.execute(
                        select(Message).where(Message.session_id == row.id).order_by(Message.id.desc()).limit(last)  # type: ignore[arg-type,union-attr]
                    )
                    .scalars()
                    .all()
                )
                items.append(QueueItem(row.id, row.handoff_reason, row.handoff_at or row.last_active, recent[::-1]))
        return items

    def held_by(self, agent_id: int) -> list[ChatSession]:
        with Session(self.engine) as db:
            query = select(ChatSession).where(ChatSession.mode == "agent", ChatSession.agent_id == agent_id)  # type: ignore[arg-type]
            return list(db.execute(query.order_by(ChatSession.handoff_at)).scalars())  # type: ignore[arg-type]

    def message(self, message_id: int) -> Message | None:
        with Session(self.engine) as db:
            return db.get(Message, message_id)

    def inbound_id(self, session_id: str, client_id: str | None) -> int:
        """The id of the user message stored under a client id (answering a resend)."""
        query = select(Message.id).where(
            Message.session_id == session_id,  # type: ignore[arg-type]
            Message.client_id == client_id,  # type: ignore[arg-type]
            Message.direction == "in",  # type: ignore[arg-type]
        )
        with Session(self.engine) as db:
            return int(db.execute(query).scalar_one())

    def user(self, user_id: int) -> User | None:
        with Session(self.engine) as db:
            return db.get(User, user_id)

    def agents(self, since: datetime) -> list[tuple[User, bool]]:
        """Every user who may take conversations, and whether they have the inbox open now."""
        with Session(self.engine) as db:
            rows = db.execute(
                select(User, AgentPresence.seen_at)
                .outerjoin(AgentPresence, AgentPresence.user_id == User.id)  # type: ignore[arg-type]
                .where(User.role.in_(AGENT_ROLES))  # type: ignore[attr-defined]
                .order_by(User.username)
            ).all()
        return [(user, seen is not None and seen >= since) for user, seen in rows]

    def tickets(self, *, open_only: bool = True, limit: int = 200) -> list[Ticket]:
        query = select(Ticket).order_by(Ticket.created_at.desc()).limit(limit)  # type: ignore[attr-defined]
        if open_only:
            query = query.where(Ticket.closed_at.is_(None))  # type: ignore[union-attr]
        with Session(self.engine) as db:
            return list(db.execute(query).scalars())


def presence_cutoff(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)
