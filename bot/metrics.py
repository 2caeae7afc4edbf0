"""Prometheus metrics, one registry per app (no module-level collectors)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.actions.metrics import ActionMetrics
from bot.batching import BatchWorker

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """What an operator graphs: traffic by intent, latency, connections, fallbacks, model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter("bot_messages", "User messages answered, by intent", ["intent"], registry=self.registry)
        self.fallbacks = Counter("bot_fallbacks", "Messages answered with the fallback", registry=self.registry)
        self.latency = Histogram(
            "bot_reply_latency_seconds",
            "From a message's arrival to its logged reply",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.connections = Gauge("bot_open_connections", "Open WebSocket connections", registry=self.registry)
        self.errors = Counter("bot_error_frames", "Error frames sent, by code", ["code"], registry=self.registry)
        self._by_intent: dict[str, Counter] = {}
        self.model = Gauge("bot_model_info", "The model version being served", ["version"], registry=self.registry)
        self.worker_cpu = Gauge(
            "bot_worker_cpu_seconds",
            "CPU time used by each worker thread; the event loop has the rest of the process's",
            ["worker"],
            registry=self.registry,
        )
        self.worker_batches = Gauge(
            "bot_worker_batches", "Batches each worker thread has handled so far", ["worker"], registry=self.registry
        )
        self.worker_items = Gauge(
            "bot_worker_items",
            "Items in those batches (over the batches: the mean batch size)",
            ["worker"],
            registry=self.registry,
        )
        self.actions = ActionMetrics(self.registry)
        """Action calls by outcome, failures and latency, per action (docs/actions.md)."""

    def watch_workers(self, workers: Iterable[BatchWorker[Any, Any]]) -> None:
        """Report each worker's CPU time (with the process's, what a turn costs where) and batches."""
        for worker in workers:
            self.worker_cpu.labels(worker=worker.name).set_function(_cpu_of(worker))
            self.worker_batches.labels(worker=worker.name).set_function(_count_of(worker, "batches"))
            self.worker_items.labels(worker=worker.name).set_function(_count_of(worker, "items"))

    def serve_model(self, version: str) -> None:
        self.model.clear()
        self.model.labels(version=version).set(1)

    def answered(self, intent: str | None, fallback: bool, seconds: float) -> None:
        name = intent or "fallback"
        counter = self._by_intent.get(name)
        if counter is None:  # `labels` validates and locks: once per intent, not per message
            counter = self._by_intent[name] = self.messages.labels(intent=name)
        counter.inc()
        if fallback:
            self.fallbacks.inc()
        self.latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _cpu_of(worker: BatchWorker[Any, Any]) -> Callable[[], float]:
    """A reader of the worker's CPU seconds, for a gauge that asks at every scrape."""
    return lambda: worker.cpu_seconds


def _count_of(worker: BatchWorker[Any, Any], counter: str) -> Callable[[], float]:
    """A reader of the worker's `batches` or `items` so far."""
    return lambda: float(getattr(worker, counter))
