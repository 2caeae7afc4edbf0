"""The event bus: in-process, and across instances by PostgreSQL LISTEN/NOTIFY (one channel per schema)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.events import PAYLOAD_BYTES, QUEUE, Event, LocalBus, PostgresBus, payloads, session_channel, user_channel
from bot.rows import MessageRow


def test_local_events_reach_each_subscriber_once_in_order() -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        bus = LocalBus()
        first: list[Event] = []
        second: list[Event] = []

        async def keep_first(e: Event) -> None:
            first.append(e)

        async def keep_second(e: Event) -> None:
            second.append(e)

        a = bus.subscribe(keep_first, session_channel("s1"), QUEUE)
        bus.subscribe(keep_second, QUEUE)
        for i in range(5):
            await bus.publish(session_channel("s1"), Event("message", "s1", i))
        await bus.publish(QUEUE, Event("queue", "s1"))
        await bus.publish(session_channel("s2"), Event("message", "s2", 99))  # nobody listens
        await asyncio.sleep(0.05)
        a.close()
        await bus.publish(QUEUE, Event("queue", "s3"))
        await asyncio.sleep(0.05)
        return first, second

    first, second = asyncio.run(scenario())
    assert [e.message_id for e in first if e.kind == "message"] == [0, 1, 2, 3, 4]
    assert [e.session_id for e in first if e.kind == "queue"] == ["s1"]
    assert [e.session_id for e in second] == ["s1", "s3"]


@pytest.mark.postgres
def test_postgres_events_cross_instances_and_stay_in_their_schema(postgres_url: str) -> None:
    """Two buses on one schema are two instances; a bus on another schema hears nothing."""

    async def scenario() -> tuple[list[Event], list[Event]]:
        here, there = PostgresBus(postgres_url), PostgresBus(postgres_url)
        elsewhere = PostgresBus(postgres_url.split("?", maxsplit=1)[0])  # the public schema
        heard: list[Event] = []
        stray: list[Event] = []

        async def keep(e: Event) -> None:
            heard.append(e)

        async def keep_stray(e: Event) -> None:
            stray.append(e)

        for bus in (here, there, elsewhere):
            await bus.start()
        there.subscribe(keep, session_channel("s1"))
        elsewhere.subscribe(keep_stray, session_channel("s1"))
        for i in range(3):
            await here.publish(session_channel("s1"), Event("message", "s1", i, 7))
        for _ in range(100):
            if len(heard) == 3:
                break
            await asyncio.sleep(0.05)
        for bus in (here, there, elsewhere):
            await bus.stop()
        return heard, stray

    heard, stray = asyncio.run(scenario())
    assert heard == [Event("message", "s1", i, 7) for i in range(3)]
    assert stray == []


def _row(text: str) -> MessageRow:
    return MessageRow(
        session_id="s1",
        user_id=7,
        direction="agent",
        text=text,
        client_id="a1",
        intent=None,
        confidence=None,
        ranking=[],
        entities=[],
        slots={},
        buttons=[["Yes please", "yes please"]],
        fallback=False,
        model_version=None,
        latency_ms=None,
        created_at=datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC),
    )


def test_events_travel_as_few_notifications_as_fit_with_the_rows_they_announce() -> None:
    events = [(session_channel(f"s{i}"), Event("message", f"s{i}", i, 7, _row(f"reply {i}"))) for i in range(200)]
    events.append((QUEUE, Event("queue", "s1")))
    sent = payloads(events)
    assert 1 < len(sent) < 20 and all(len(p.encode()) <= PAYLOAD_BYTES for p in sent)
    assert [e for p in sent for e in Event.decode(p)] == events


def test_a_long_message_goes_by_id_alone() -> None:
    """Its event would not fit in a notification: the receiver reads the row from the log."""
    long = Event("message", "s1", 5, 7, _row("x" * 9000))
    (sent,) = payloads([(session_channel("s1"), long)])
    assert Event.decode(sent) == [(session_channel("s1"), Event("message", "s1", 5, 7))]


@pytest.mark.postgres
def test_a_payload_not_understood_is_skipped_and_the_listener_goes_on(postgres_url: str) -> None:
    async def scenario() -> list[Event]:
        sender, receiver = PostgresBus(postgres_url), PostgresBus(postgres_url)
        heard: list[Event] = []

        async def keep(e: Event) -> None:
            heard.append(e)

        for bus in (sender, receiver):
            await bus.start()
        receiver.subscribe(keep, session_channel("s1"))
        async with await psycopg.AsyncConnection.connect(sender.conninfo, autocommit=True) as conn:
            await conn.execute("SELECT pg_notify(%s, %s)", (sender.channel, '{"not": "a list of events"}'))
        await sender.publish(session_channel("s1"), Event("message", "s1", 1, 7, _row("after")))
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.05)
        for bus in (sender, receiver):
            await bus.stop()
        return heard

    assert asyncio.run(scenario()) == [Event("message", "s1", 1, 7, _row("after"))]


@pytest.mark.postgres
def test_postgres_itself_announces_a_token_revoked_or_deleted_when_it_commits(postgres_url: str) -> None:
    """A trigger (migration 0007) sends `revoked` for the token's user from the revoking
    transaction: plain SQL, no bot code, is enough; a rolled-back revocation sends nothing, and
    one event a user goes out however many of their tokens a statement touches."""
    from bot.auth import create_user, issue_token
    from bot.database import make_engine, migrate

    engine = make_engine(postgres_url)
    migrate(engine)
    ann = create_user(engine, "anna", "anna-password-1")
    bo = create_user(engine, "boris", "boris-password-1")
    for user in (ann, ann, bo):
        issue_token(engine, user.id or 0, timedelta(hours=1))

    async def scenario() -> list[Event]:
        bus = PostgresBus(postgres_url)
        heard: list[Event] = []

        async def keep(e: Event) -> None:
            heard.append(e)

        await bus.start()
        bus.subscribe(keep, user_channel(ann.id or 0), user_channel(bo.id or 0))
        async with await psycopg.AsyncConnection.connect(bus.conninfo) as conn:
            revoke = "UPDATE auth_token SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL"
            await conn.execute(revoke, (bo.id,))
            await conn.rollback()  # never committed: nothing announced
            await conn.execute(revoke, (ann.id,))  # both of ann's tokens: one event
            await conn.commit()
            await conn.execute(revoke, (ann.id,))  # none left to revoke: nothing
            await conn.commit()
            await conn.execute("DELETE FROM auth_token WHERE user_id = %s", (bo.id,))
            await conn.commit()
        for _ in range(100):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # and nothing more arrives
        await bus.stop()
        return heard

    try:
        assert asyncio.run(scenario()) == [Event("revoked", user_id=ann.id), Event("revoked", user_id=bo.id)]
    finally:
        engine.dispose()
