"""The event bus: in-process, and across instances by PostgreSQL LISTEN/NOTIFY (one channel per schema)."""

from __future__ import annotations

import asyncio

import pytest

from bot.events import QUEUE, Event, LocalBus, PostgresBus, session_channel


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
