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
