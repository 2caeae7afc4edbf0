"""What handoff reads from and writes to SQL: session modes, the queue, tickets, agents online.

Writes go through the store's writer (in order with the turns, durable before anyone is told);
reads are plain functions for the thread pool. A mode change is one conditional UPDATE, so two
agents taking the same conversation, on one instance or two, cannot both win.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.batching import BatchWorker
from bot.events import Event, LocalBus, PostgresBus
from bot.rows import MESSAGE_COLUMNS, MessageRow
from bot.store import Store
from bot.tables import AgentPresence, ChatSession, Message, Ticket, User
from bot.turn_statements import Held
from bot.writes import Grouped, Op

AGENT_ROLES = ("agent", "admin")


@dataclass(frozen=True)
class QueueItem:
    session_id: str
    reason: str | None
    since: datetime
    last_messages: list[Message]


Announce = Callable[[list[int]], list[tuple[str, Event]]]
"""The events that tell others about rows just logged, given their ids."""


@dataclass(frozen=True, slots=True)
class _Append:
    rows: Sequence[MessageRow]
    announce: Announce | None
    held_by: int | None
    """Log the rows only while this agent holds the session (None: in any case)."""


async def _first(stored: Awaitable[list[int] | None]) -> int | None:
    ids = await stored
    return ids[0] if ids else None


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
        """Log rows, then tell others; their ids in order. A reused client id is DuplicateMessage."""
        ids = await self._queue(_Append(rows, announce, None))
        assert ids is not None  # only a holder check refuses
        return ids

    def append_if_held(
        self, row: MessageRow, announce: Announce | None, *, held_by: int | None
    ) -> Awaitable[int | None]:
        """Queue a row now, to be logged only while agent `held_by` holds its session (any time for None).

        Await the result for its id, or None when the session was not held (checked in the
        same transaction). Rows queued one after another are stored in that order, so a
        connection may queue its next message before the last one is stored.
        """
        return _first(self._queue(_Append([row], announce, held_by)))

    def _queue(self, append: _Append) -> Awaitable[list[int] | None]:
        """Queue an append on the writer now: the writes queued together share one INSERT and one NOTIFY."""
        return self._announced(self.store.submit(Grouped(self._append_all, append)), append.announce)

    async def _announced(self, stored: Awaitable[list[int] | None], announce: Announce | None) -> list[int] | None:
        """Await the rows' ids; in-process, publish their events once they are stored.

        On PostgreSQL the events went out in the rows' own transaction (never before the
        rows are stored, no extra round trip).
        """
        ids = await stored
        if ids is not None and announce is not None and not isinstance(self.bus, PostgresBus):
            for channel, event in announce(ids):
                await self.bus.publish(channel, event)
        return ids

    def _append_all(self, conn: Connection, appends: list[_Append]) -> list[list[int] | None]:
        """Many callers' appends in one statement (holders checked in it), their events in one NOTIFY."""
        ids = iter(
            self.store.statements.insert_messages_if_held(conn, [Held(r, a.held_by) for a in appends for r in a.rows])
        )
        results: list[list[int] | None] = []
        events: list[tuple[str, Event]] = []
        for append in appends:
            mine = [next(ids) for _ in append.rows]
            if None in mine:  # one row each when a holder is asked
                results.append(None)
                continue
            stored = [int(cast(int, i)) for i in mine]
            results.append(stored)
            if append.announce is not None:
                events += append.announce(stored)
        if isinstance(self.bus, PostgresBus):
            self.bus.notify_in(conn, events)
        return results

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

    async def message(self, message_id: int, row: MessageRow | None = None) -> Message | None:
        """The logged message: from the row its event carried, else read by id (a burst in one query)."""
        if row is not None:
            return Message(id=message_id, **{name: getattr(row, name) for name in MESSAGE_COLUMNS})
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
