"""bot.batching.BatchWorker: items queued while a batch runs form the next batch; one result each."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from bot.batching import BatchWorker, WorkerStopped


def test_each_caller_gets_its_own_result_and_waiting_items_share_a_batch() -> None:
    batches: list[list[int]] = []
    started, gate = threading.Event(), threading.Event()

    def handle(items: list[int]) -> Sequence[int]:
        started.set()
        gate.wait(5)  # the first batch holds the thread while the rest queue up
        batches.append(items)
        return [i * 10 for i in items]

    async def main() -> list[int]:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="test-worker")
        worker.start()
        try:
            first = asyncio.ensure_future(worker.run(0))
            await asyncio.to_thread(started.wait, 5)  # the thread has taken item 0 alone
            rest = [asyncio.ensure_future(worker.run(i)) for i in range(1, 6)]
            await asyncio.sleep(0)  # the run() calls have queued their items
            gate.set()
            return await asyncio.gather(first, *rest)
        finally:
            worker.stop()

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_batches_are_capped_at_max_batch() -> None:
    batches: list[list[int]] = []
    started, gate = threading.Event(), threading.Event()

    def handle(items: list[int]) -> Sequence[int]:
        started.set()
        gate.wait(5)
        batches.append(items)
        return items

    async def main() -> None:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="capped", max_batch=2)
        worker.start()
        try:
            first = asyncio.ensure_future(worker.run(0))
            await asyncio.to_thread(started.wait, 5)
            rest = [asyncio.ensure_future(worker.run(i)) for i in range(1, 6)]
            await asyncio.sleep(0)  # the run() calls have queued their items
            gate.set()
            await asyncio.gather(first, *rest)
        finally:
            worker.stop()

    asyncio.run(main())
    assert batches == [[0], [1, 2], [3, 4], [5]]


def test_an_item_can_fail_alone_and_a_failed_batch_fails_every_caller() -> None:
    def handle(items: list[int]) -> Sequence[int | BaseException]:
        if 99 in items:
            raise RuntimeError("the whole batch")
        return [ValueError(f"bad {i}") if i < 0 else i for i in items]

    async def main() -> None:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="failing")
        worker.start()
        try:
            assert await worker.run(3) == 3
            with pytest.raises(ValueError, match="bad -1"):
                await worker.run(-1)
            with pytest.raises(RuntimeError, match="the whole batch"):
                await worker.run(99)
            assert await worker.run(4) == 4  # the thread survived
            assert worker.cpu_seconds > 0
        finally:
            worker.stop()

    asyncio.run(main())


def test_a_stopped_worker_refuses_work() -> None:
    async def main() -> None:
        worker: BatchWorker[int, int] = BatchWorker(lambda items: items, name="stopped")
        with pytest.raises(WorkerStopped, match="stopped is not running"):
            await worker.run(1)
        worker.start()
        assert await worker.run(1) == 1
        worker.stop()
        with pytest.raises(WorkerStopped):
            await worker.run(2)

    asyncio.run(main())


async def _first_alone_then_a_pair(
    worker: BatchWorker[int, int], started: threading.Event, gate: threading.Event
) -> list[int]:
    """Items 0 (alone: the thread holds it until `gate`), then 1 and 2 together: a batch with company."""
    first = asyncio.ensure_future(worker.run(0))
    await asyncio.to_thread(started.wait, 5)
    pair = [asyncio.ensure_future(worker.run(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(first, *pair)


def test_after_a_batch_with_company_the_next_waits_for_more_items() -> None:
    batches: list[list[int]] = []
    started, gate = threading.Event(), threading.Event()

    def handle(items: list[int]) -> Sequence[int]:
        started.set()
        gate.wait(5)
        batches.append(items)
        return items

    async def main() -> list[int]:
        # a linger far longer than the test: the batch closes only because it is full
        worker: BatchWorker[int, int] = BatchWorker(handle, name="lingering", max_batch=3, linger=60.0)
        worker.start()
        try:
            assert await _first_alone_then_a_pair(worker, started, gate) == [0, 1, 2]
            third = asyncio.ensure_future(worker.run(3))
            await asyncio.sleep(0.05)  # the thread has item 3 and waits for company
            later = [asyncio.ensure_future(worker.run(i)) for i in (4, 5)]
            return await asyncio.wait_for(asyncio.gather(third, *later), 10)
        finally:
            worker.stop()

    assert asyncio.run(main()) == [3, 4, 5]
    assert batches == [[0], [1, 2], [3, 4, 5]]


def test_a_lone_caller_never_waits_for_company() -> None:
    batches: list[list[int]] = []

    def handle(items: list[int]) -> Sequence[int]:
        batches.append(items)
        return items

    async def main() -> list[int]:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="alone", linger=60.0)
        worker.start()
        try:
            # one caller at a time: each batch has one item, so none waits the 60 s
            return [await asyncio.wait_for(worker.run(i), 10) for i in range(3)]
        finally:
            worker.stop()

    assert asyncio.run(main()) == [0, 1, 2]
    assert batches == [[0], [1], [2]]


def test_stopping_ends_a_wait_for_company_and_answers_what_it_held() -> None:
    started, gate = threading.Event(), threading.Event()

    def handle(items: list[int]) -> Sequence[int]:
        started.set()
        gate.wait(5)
        return [i * 10 for i in items]

    async def main() -> int:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="stopping", linger=60.0)
        worker.start()
        assert await _first_alone_then_a_pair(worker, started, gate) == [0, 10, 20]
        waiting = asyncio.ensure_future(worker.run(3))
        await asyncio.sleep(0.05)  # the thread has item 3 and waits for company
        await asyncio.to_thread(worker.stop, 10)
        assert not worker._thread.is_alive()
        return await asyncio.wait_for(waiting, 10)

    assert asyncio.run(main()) == 30
