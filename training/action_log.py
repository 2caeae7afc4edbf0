"""Action calls in the conversation log: every call a turn made, and the failing ones to review.

A turn's calls (actions and slot validators) are kept on its user message, in the `action`
column as `{"calls": [...]}`; each reply also names the action it came from. Logs written
before the calls were kept on the user message have only the replies' records: those are
read instead, once a turn.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Engine, select
from sqlmodel import col

from bot.tables import Message

FAILING = ("rejected", "timeout", "error", "circuit_open")
"""Outcomes worth a look: the action refused, did not answer in time, broke, or was not tried."""
CALL_COLUMNS = (
    "created_at",
    "session_id",
    "action",
    "kind",
    "outcome",
    "latency_ms",
    "error",
    "text",
    "intent",
    "slot",
    "message_id",
)


@dataclass(frozen=True)
class ActionCall:
    """One call of an action or validator, with the user's message whose turn made it."""

    message_id: int
    session_id: str
    created_at: datetime
    action: str
    kind: str
    """`run` (an intent's action) or `validate` (a slot's validator)."""
    outcome: str
    latency_ms: float | None
    error: str
    text: str
    intent: str | None
    slot: str | None = None
    """The slot a validator judged."""

    @property
    def failed(self) -> bool:
        return self.outcome in FAILING

    def row(self) -> dict[str, Any]:
        """The call as a CSV row (`CALL_COLUMNS`)."""
        return {
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "session_id": self.session_id,
            "action": self.action,
            "kind": self.kind,
            "outcome": self.outcome,
            "latency_ms": "" if self.latency_ms is None else f"{self.latency_ms:.1f}",
            "error": self.error,
            "text": self.text,
            "intent": self.intent or "",
            "slot": self.slot or "",
            "message_id": self.message_id,
        }


def _call(record: Mapping[str, Any], asked: Mapping[str, Any], intent: str | None) -> ActionCall:
    latency = record.get("latency_ms")
    return ActionCall(
        message_id=asked["id"],
        session_id=asked["session_id"],
        created_at=asked["created_at"],
        action=str(record.get("name", "")),
        kind=str(record.get("kind", "run")),
        outcome=str(record.get("outcome", "")),
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        error=str(record.get("error") or ""),
        text=asked["text"],
        intent=intent,
        slot=record.get("slot"),
    )


def calls_in(rows: Iterable[Mapping[str, Any]]) -> Iterator[ActionCall]:
    """Every call in log rows ordered by (session_id, id), each once, in the order made.

    A reply's record is only read when its user message keeps no calls (an older log); the
    replies of one turn that name the same call count it once.
    """
    for _, session in itertools.groupby(rows, key=lambda r: r["session_id"]):
        by_client: dict[str, Mapping[str, Any]] = {}
        last_in: Mapping[str, Any] | None = None
        covered: set[int] = set()
        seen: set[tuple[int, str, Any]] = set()
        for m in session:
            action = m.get("action")
            action = action if isinstance(action, dict) else {}  # None, or NaN from a pandas frame
            client_id = m.get("client_id")
            client_id = client_id if isinstance(client_id, str) else ""
            if m["direction"] == "in":
                last_in = m
                if client_id:
                    by_client[client_id] = m
                if action.get("calls"):
                    covered.add(m["id"])
                    yield from (_call(c, m, m.get("intent")) for c in action["calls"])
                continue
            asked = by_client.get(client_id) or last_in
            if m["direction"] != "out" or not action.get("name") or asked is None or asked["id"] in covered:
                continue
            key = (asked["id"], action["name"], m.get("created_at"))
            if key not in seen:
                seen.add(key)
                yield _call(action, asked, m.get("intent"))


_COLUMNS_READ = (
    col(Message.id),
    col(Message.session_id),
    col(Message.direction),
    col(Message.text),
    col(Message.client_id),
    col(Message.intent),
    col(Message.action),
    col(Message.created_at),
)


def read_calls(engine: Engine, since: datetime | None = None, *, failing: bool = False) -> list[ActionCall]:
    """The action calls in the log (only the failing ones if asked), oldest first."""
    query = select(*_COLUMNS_READ).order_by(col(Message.session_id), col(Message.id))
    if since is not None:
        query = query.where(col(Message.created_at) >= since)
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=1000).execute(query).mappings()
        calls = [c for c in calls_in(dict(r) for r in rows) if c.failed or not failing]
    return sorted(calls, key=lambda c: (c.created_at, c.message_id))


def write_calls_csv(calls: Iterable[ActionCall], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CALL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(c.row() for c in calls)


def summary(calls: Iterable[ActionCall]) -> str:
    """`lookup_order: timeout 2, error 1; check_order: error 1`, most failing action first."""
    counts = Counter((c.action, c.outcome) for c in calls)
    by_action: dict[str, list[tuple[str, int]]] = {}
    for (action, outcome), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        by_action.setdefault(action, []).append((outcome, n))
    ordered = sorted(by_action.items(), key=lambda kv: -sum(n for _, n in kv[1]))
    return "; ".join(f"{a}: " + ", ".join(f"{o} {n}" for o, n in outcomes) for a, outcomes in ordered)
