"""Events between connections, on this instance or any other: ids, and a new message's row.

A message is stored before its event is published (on PostgreSQL the event is sent in the
row's own transaction, so it leaves only when the row is committed), and the receiver shows
the row the event carries or reads it by id, so an event lost with an instance costs nothing
the other side cannot see again in the history on reconnect. On SQLite (one process) events
stay in-process; on PostgreSQL they travel by `LISTEN/NOTIFY` on one channel per schema, so
that instances sharing a database share events and nothing else does. Each subscription
receives an event once however it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from bot.rows import MessageRow

if TYPE_CHECKING:
    from psycopg import AsyncConnection

log = logging.getLogger(__name__)

EventKind = Literal["message", "typing", "mode", "queue", "ticket", "revoked"]
QUEUE = "queue"
"""The channel of every inbox: sessions entering or leaving the queue, tickets left."""
RECONNECT_SECONDS = 1.0
PAYLOAD_BYTES = 7900
"""PostgreSQL's NOTIFY payload limit is 8,000 bytes; events are ids, about 100 bytes each."""
_NOTIFY = text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload")


def session_channel(session_id: str) -> str:
    return f"s:{session_id}"


def agent_channel(agent_id: int) -> str:
    """An agent's own channel: conversations transferred to them."""
    return f"a:{agent_id}"


def user_channel(user_id: int) -> str:
    """A user's own channel: tokens of theirs revoked, the account erased (`revoked` events)."""
    return f"u:{user_id}"


@dataclass(frozen=True, slots=True)
class Event:
    """Something happened to a session; what exactly is read from the database by id.

    A message's event may carry the row as stored (`message`), so that the other side
    shows it without reading the log; it is sent only once the row is committed.
    """

    kind: EventKind
    session_id: str | None = None
    message_id: int | None = None
    user_id: int | None = None
    """Who did it: the agent for an agent's message, typing or a take; None for the user."""
    message: MessageRow | None = None
    """The logged row of `message_id`, when it fits in a notification (else read it by id)."""

    @staticmethod
    def decode(payload: str) -> list[tuple[str, Event]]:
        """The events of one notification (see `payloads`)."""
        return [(channel, _event(data)) for channel, data in orjson.loads(payload)]


def _event(data: dict[str, Any]) -> Event:
    row = data.pop("message", None)
    if row is not None:
        row = MessageRow(**{**row, "created_at": datetime.fromisoformat(row["created_at"])})
    return Event(**data, message=row)


def _row_as_dict(value: Any) -> dict[str, Any]:
    """An event's row as a JSON object, by column name (orjson writes no named tuple by itself)."""
    if isinstance(value, MessageRow):
        return value._asdict()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def payloads(events: Sequence[tuple[str, Event]]) -> list[str]:
    """Events as few notifications as fit: JSON lists of `[channel, event]`, `PAYLOAD_BYTES` at most each."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 2
    for channel, event in events:
        item = orjson.dumps([channel, event], default=_row_as_dict)
        if len(item) + 2 > PAYLOAD_BYTES and event.message is not None:  # a long text: read by id
            item = orjson.dumps([channel, replace(event, message=None)])
        if chunk and size + len(item) + 1 > PAYLOAD_BYTES:
            out.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        out.append(b"[" + b",".join(chunk) + b"]")
    return [p.decode() for p in out]


Handler = Callable[[Event], Awaitable[None]]


class Subscription:
    """One connection's channels; its events are handled in order, one at a time."""

    def __init__(self, bus: LocalBus, handler: Handler) -> None:
        self.bus = bus
        self.handler = handler
        self.channels: set[str] = set()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    def add(self, channel: str) -> None:
        self.channels.add(channel)
        self.bus.listeners.setdefault(channel, set()).add(self)

    def remove(self, channel: str) -> None:
        self.channels.discard(channel)
        listeners = self.bus.listeners.get(channel)
        if listeners is not None:
            listeners.discard(self)
            if not listeners:
                del self.bus.listeners[channel]

    def close(self) -> None:
        for channel in list(self.channels):
            self.remove(channel)
        if self._pump is not None:
            self._pump.cancel()

    def put(self, event: Event) -> None:
        self._queue.put_nowait(event)
        if self._pump is None:  # started on the first event: idle connections cost no task
            self._pump = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.handler(event)
            except Exception:  # a closed socket or a bug must not stop the connection's other events
                log.exception("event %s on session %s not delivered", event.kind, event.session_id)


class LocalBus:
    """Events within this process (SQLite: one process serves everything)."""

    database_announces_revocations = False
    """Whether the database itself sends `revoked` events (a trigger, migration 0007)."""

    def __init__(self) -> None:
        self.listeners: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def subscribe(self, handler: Handler, *channels: str) -> Subscription:
        sub = Subscription(self, handler)
        for channel in channels:
            sub.add(channel)
        return sub

    async def publish(self, channel: str, event: Event) -> None:
        self.deliver(channel, event)

    def deliver(self, channel: str, event: Event) -> None:
        for sub in list(self.listeners.get(channel, ())):
            sub.put(event)


class PostgresBus(LocalBus):
    """Events across instances by PostgreSQL `LISTEN/NOTIFY`, one listening connection per instance.

    Published events come back through the listener to this instance's subscribers as to
    everyone else's, so there is one path and each subscriber gets an event once.
    """

    database_announces_revocations = True

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.channel = "bot_events"
        self._publisher: AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            schema = (await (await conn.execute("SELECT current_schema()")).fetchone() or ["public"])[0]
        self.channel = f"bot_events_{schema}"[:63]
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._listening.wait(), 30)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.close()

    def notify_in(self, conn: Connection, events: Sequence[tuple[str, Event]]) -> None:
        """Send events from inside a write's transaction: they go out when it commits, and only then.

        One statement for all of them, however many writes of the batch they announce.
        """
        if events:
            conn.execute(_NOTIFY, {"channel": self.channel, "payloads": payloads(events)})

    async def publish(self, channel: str, event: Event) -> None:
        import psycopg

        async with self._lock:
            for attempt in range(2):
                try:
                    if self._publisher is None or self._publisher.closed:
                        self._publisher = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                    (payload,) = payloads([(channel, event)])
                    await self._publisher.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    return
                except psycopg.OperationalError:
                    self._publisher = None
                    if attempt:
                        raise

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await conn.execute(f'LISTEN "{self.channel}"')
                    self._listening.set()
                    async for notify in conn.notifies():
                        self.receive(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Events sent meanwhile are lost to this instance; clients find them in the history.
                log.warning("event listener lost its connection (%s); reconnecting", exc.__class__.__name__)
                await asyncio.sleep(RECONNECT_SECONDS)

    def receive(self, payload: str) -> None:
        try:
            events = Event.decode(payload)
        except (ValueError, TypeError, KeyError, AttributeError):  # not ours, or from an incompatible version
            log.warning("event payload not understood, ignored: %.200s", payload)
            return
        for channel, event in events:
            self.deliver(channel, event)


def make_bus(database_url: str) -> LocalBus:
    return PostgresBus(database_url) if database_url.startswith("postgresql") else LocalBus()
