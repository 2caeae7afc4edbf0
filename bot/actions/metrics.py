"""Prometheus metrics for action calls, registered on the app's registry (see bot/metrics.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.actions.results import FAILED

ACTION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ActionMetrics:
    """Calls by action and outcome, failures by action, and latency per action."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "bot_action_calls",
            "Action calls, by action, kind and outcome",
            ["action", "kind", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "bot_action_failures",
            "Action calls that timed out, failed or met an open breaker",
            ["action"],
            registry=registry,
        )
        self.latency = Histogram(
            "bot_action_latency_seconds",
            "Time an action call took, failures included",
            ["action"],
            buckets=ACTION_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Counter, Counter | None, Histogram]] = {}
        """The label children of each (action, kind, outcome), looked up once (a look-up costs
        more than the increment)."""

    def observe(self, action: str, kind: str, outcome: str, latency_ms: float) -> None:
        key = (action, kind, outcome)
        children = self._children.get(key)
        if children is None:
            failures = self.failures.labels(action=action) if outcome in FAILED else None
            children = self._children[key] = (
                self.calls.labels(action=action, kind=kind, outcome=outcome),
                failures,
                self.latency.labels(action=action),
            )
        calls, failures, latency = children
        calls.inc()
        if failures is not None:
            failures.inc()
        latency.observe(latency_ms / 1000)
