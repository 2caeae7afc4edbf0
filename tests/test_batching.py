"""bot.batching.BatchWorker: items queued while a batch runs form the next batch; one result each."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from bot.batching import BatchWorker, WorkerStopped


class Gated:
    """A batch handler that holds each batch until `gate` is set, keeping every batch it saw."""

    def __init__(self, factor: int = 1) -> None:
        self.batches: list[list[int]] = []
        self.started, self.gate = threading.Event(), threading.Event()
        self.factor = factor

    def __call__(self, items: list[int]) -> Sequence[int]:
        self.started.set()
        self.gate.wait(5)  # the first batch holds the thread while the rest queue up
        self.batches.append(items)
        return [i * self.factor for i in items]


async def _first_alone_then(worker: BatchWorker[int, int], handle: Gated, rest: Sequence[int]) -> list[int]:
    """Item 0 alone (the thread holds it until the gate opens), then `rest`, queued meanwhile."""
    first = asyncio.ensure_future(worker.run(0))
    await asyncio.to_thread(handle.started.wait, 5)
    queued = [asyncio.ensure_future(worker.run(i)) for i in rest]
    await asyncio.sleep(0)  # the run() calls have queued their items
    handle.gate.set()
    return await asyncio.gather(first, *queued)


def test_each_caller_gets_its_own_result_and_waiting_items_share_a_batch() -> None:
    handle = Gated(factor=10)

    async def main() -> list[int]:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="test-worker")
        worker.start()
        try:
            return await _first_alone_then(worker, handle, range(1, 6))
        finally:
            worker.stop()

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50]
    assert handle.batches == [[0], [1, 2, 3, 4, 5]]


def test_batches_are_capped_at_max_batch() -> None:
    handle = Gated()

    async def main() -> None:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="capped", max_batch=2)
        worker.start()
        try:
            await _first_alone_then(worker, handle, range(1, 6))
        finally:
            worker.stop()

    asyncio.run(main())
    assert handle.batches == [[0], [1, 2], [3, 4], [5]]


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


def test_after_a_batch_with_company_the_next_waits_for_more_items() -> None:
    handle = Gated()

    async def main() -> list[int]:
        # a linger far longer than the test: the batch closes only because it is full
        worker: BatchWorker[int, int] = BatchWorker(handle, name="lingering", max_batch=3, linger=60.0)
        worker.start()
        try:
            assert await _first_alone_then(worker, handle, (1, 2)) == [0, 1, 2]
            third = asyncio.ensure_future(worker.run(3))
            await asyncio.sleep(0.05)  # the thread has item 3 and waits for company
            later = [asyncio.ensure_future(worker.run(i)) for i in (4, 5)]
            return await asyncio.wait_for(asyncio.gather(third, *later), 10)
        finally:
            worker.stop()

    assert asyncio.run(main()) == [3, 4, 5]
    assert handle.batches == [[0], [1, 2], [3, 4, 5]]


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
    handle = Gated(factor=10)

    async def main() -> int:
        worker: BatchWorker[int, int] = BatchWorker(handle, name="stopping", linger=60.0)
        worker.start()
        assert await _first_alone_then(worker, handle, (1, 2)) == [0, 10, 20]
        waiting = asyncio.ensure_future(worker.run(3))
        await asyncio.sleep(0.05)  # the thread has item 3 and waits for company
        await asyncio.to_thread(worker.stop, 10)
        assert not worker._thread.is_alive()
        return await asyncio.wait_for(waiting, 10)

    assert asyncio.run(main()) == 30
