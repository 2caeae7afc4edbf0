"""Retention (BOT_RETENTION_DAYS): old conversation logs go, in small batches, on a schedule.

Each batch is one short transaction on a worker thread (`batch` rows, 1,000 by default),
followed by a pause, so that the chat's own writes (one writer, SQLite's single write lock)
wait at most one batch. What goes, when older than the cut-off:

- messages (`created_at`): reviewed examples labelled from them keep their text and lose
  the link to the message (and so to the user);
- guest sessions (`last_active`) and users' sessions left without messages;
- auth tokens that expired before the cut-off, and replay records of expired host tokens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, delete, exists, select, update
from sqlmodel import col

from bot.host_identity import forget_spent_tokens
from bot.tables import AuthToken, ChatSession, Message, ReviewedExample, utcnow

log = logging.getLogger(__name__)
BATCH = 1000
PAUSE_SECONDS = 0.05
EVERY = timedelta(hours=1)


@dataclass
class RetentionReport:
    messages: int = 0
    sessions: int = 0
    tokens: int = 0
    batches: int = 0


def _delete_messages(engine: Engine, cutoff: datetime, batch: int) -> int:
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                select(col(Message.id)).where(col(Message.created_at) < cutoff).order_by(col(Message.id)).limit(batch)
            ).scalars()
        )
        if not ids:
            return 0
        conn.execute(update(ReviewedExample).where(col(ReviewedExample.message_id).in_(ids)).values(message_id=None))
        return int(conn.execute(delete(Message).where(col(Message.id).in_(ids))).rowcount)


def _delete_sessions(engine: Engine, cutoff: datetime, batch: int) -> int:
    """Old sessions with no message left: every guest one, and users' emptied ones."""
    has_messages = exists().where(col(Message.session_id) == col(ChatSession.id))
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                select(col(ChatSession.id))
                .where(and_(col(ChatSession.last_active) < cutoff, ~has_messages))
                .limit(batch)
            ).scalars()
        )
        if not ids:
            return 0
        return int(conn.execute(delete(ChatSession).where(col(ChatSession.id).in_(ids))).rowcount)


def _delete_tokens(engine: Engine, cutoff: datetime, now: datetime) -> int:
    with engine.begin() as conn:
        gone = conn.execute(delete(AuthToken).where(col(AuthToken.expires_at) < cutoff)).rowcount
    return int(gone) + forget_spent_tokens(engine, now)


async def run_retention(
    engine: Engine, days: float, now: datetime, batch: int = BATCH, pause: float = PAUSE_SECONDS
) -> RetentionReport:
    """Delete what is older than `days` before `now`, a batch at a time, off the event loop."""
    cutoff = now - timedelta(days=days)
    report = RetentionReport()
    for step, counter in ((_delete_messages, "messages"), (_delete_sessions, "sessions")):
        while True:
            gone = await asyncio.to_thread(step, engine, cutoff, batch)
            if gone:
                report.batches += 1
                setattr(report, counter, getattr(report, counter) + gone)
            if gone < batch:
                break
            await asyncio.sleep(pause)
    report.tokens = await asyncio.to_thread(_delete_tokens, engine, cutoff, now)
    if report.messages or report.sessions or report.tokens:
        log.info(
            "retention (%s days): %d messages, %d sessions, %d tokens deleted",
            days,
            report.messages,
            report.sessions,
            report.tokens,
        )
    return report


async def retention_loop(
    engine: Engine,
    days: float,
    every: timedelta = EVERY,
    clock: Callable[[], datetime] = utcnow,
    batch: int = BATCH,
    pause: float = PAUSE_SECONDS,
) -> None:
    """Run retention now and then every `every`, until cancelled; a failed run is logged and retried."""
    while True:
        try:
            await run_retention(engine, days, clock(), batch, pause)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention run failed; trying again in %s", every)
        await asyncio.sleep(every.total_seconds())
