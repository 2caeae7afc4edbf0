"""A thread that handles queued work in batches, for callers on an event loop.

Two hot paths use it: the NLP worker (one vectorised predict for all waiting messages) and
the log writer (one commit for all waiting turns). Whatever is queued while a batch runs
forms the next batch, so batches grow with load and latency stays low when idle.
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
        self, handle: Callable[[list[T]], Sequence[R | BaseException]], *, name: str, max_batch: int = 512
    ) -> None:
        self.handle = handle
        self.name = name
        self.max_batch = max_batch
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
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            # the queue holds items and the _STOP sentinel, which never joins a batch
            self._handle(batch)  # type: ignore[arg-type]
            self.cpu_seconds = time.thread_time()
            self.batches += 1
            self.items += len(batch)

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
