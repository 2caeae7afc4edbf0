"""A thread that handles queued work in batches, for callers on an event loop.

Two hot paths use it: the NLP worker (one vectorised predict for all waiting messages) and
the log writer (one commit for all waiting turns). Whatever is queued while a batch runs
forms the next batch, so batches grow with load and latency stays low when idle.

A batch has a fixed cost (waking the thread and the event loop, a transaction's commit, a
vectorised call's set-up), so under load fewer, larger batches cost less CPU a message. With
`linger`, a worker whose last batch had company (more than one item: other callers are
active) waits up to that long for more items before it starts the next; a lone caller's item,
after a batch of one, never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)
_STOP = object()


class WorkerStopped(Exception):
    """The worker was stopped; the service is shutting down."""


class BatchWorker(Generic[T, R]):
    """Run `handle(batch) -> results` on a thread; one result (or exception) per item.

    Callers await asyncio futures; the thread wakes each event loop once per batch rather
    than once per item, which matters when a batch holds hundreds of chat turns.
    """

    def __init__(
        self,
        handle: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        name: str,
        max_batch: int = 512,
        linger: float = 0.0,
    ) -> None:
        self.handle = handle
        self.name = name
        self.max_batch = max_batch
        self.linger = linger
        """Seconds a batch may wait for more items once the queue is empty, only after a batch of
        several (0: never)."""
        self._queue: queue.SimpleQueue[tuple[T, asyncio.Future[R]] | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self.cpu_seconds = 0.0
        """CPU time the thread has used, as of its last batch (for /metrics)."""
        self.batches = 0
        """Batches handled so far, and `items` in them: the mean batch size (for /metrics)."""
        self.items = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then end the thread."""
        if self._started:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._started = False

    async def run(self, item: T) -> R:
        return await self.submit(item)

    def submit(self, item: T) -> asyncio.Future[R]:
        """Queue `item` at once and return the future of its result: callers with several items
        submit them all before awaiting any, so that they share a batch, without a task each."""
        if not self._started:
            raise WorkerStopped(f"{self.name} is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put((item, future))
        return future

    def _run(self) -> None:
        stopping = False
        company = False  # the last batch had more than one item: other callers are active
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            stopping = self._drain(batch)
            if company and self.linger > 0 and not stopping:
                stopping = self._gather(batch, time.monotonic() + self.linger)
            # the queue holds items and the _STOP sentinel, which never joins a batch
            self._handle(batch)  # type: ignore[arg-type]
            company = len(batch) > 1
            self.cpu_seconds = time.thread_time()
            self.batches += 1
            self.items += len(batch)

    def _drain(self, batch: list[object]) -> bool:
        """Add what is queued to `batch`, up to `max_batch`; True when the stop sentinel came."""
        while len(batch) < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return False
            if nxt is _STOP:
                return True
            batch.append(nxt)
        return False

    def _gather(self, batch: list[object], deadline: float) -> bool:
        """Wait until `deadline` for more items (the thread sleeps meanwhile, so the callers' loop
        runs and queues them); True when the stop sentinel came."""
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                nxt = self._queue.get(timeout=remaining)
            except queue.Empty:
                return False
            if nxt is _STOP:
                return True
            batch.append(nxt)
            if self._drain(batch):
                return True
        return False

    def _handle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results: Sequence[R | BaseException] = self.handle(items)
        except Exception as exc:  # the whole batch failed: every caller hears why
            log.exception("%s: batch of %d failed", self.name, len(items))
            results = [exc] * len(items)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], R | BaseException]]] = {}
        for (_, future), result in zip(batch, results, strict=True):
            by_loop.setdefault(future.get_loop(), []).append((future, result))
        for loop, pairs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, pairs)


def _settle(pairs: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, result in pairs:
        if future.done():  # the caller gave up (cancelled)
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
