"""The numbers behind the notebooks: the bot's log as pandas frames, and summaries of it.

Notebooks only call these and plot, so every figure can be tested and reused in a script.
Functions take the frames `load_messages` and `load_sessions` return; nothing here prints.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from bot.domain import Domain
from bot.store import make_engine
from bot.tables import ChatSession, Message
from training.review import DEFAULT_LOW_CONFIDENCE, DEFAULT_MARGIN, database_url, find_candidates

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_LABEL = "(fallback)"


def bot_database_url(url: str | None = None) -> str:
    """`url`, else `BOT_DATABASE_URL`, else the bot's default; relative SQLite paths from the repo root."""
    return database_url(url or os.environ.get("BOT_DATABASE_URL"), base=ROOT)


def _read(table: Any, url: str | None, order: Any, since: datetime | None = None, time_column: Any = None) -> pd.DataFrame:
    engine = make_engine(bot_database_url(url))
    query = select(table).order_by(order)
    if since is not None:
        query = query.where(time_column >= since)
    try:
        with engine.connect() as conn:
            result = conn.execute(query)  # through SQLAlchemy, so JSON and times decode alike on every backend
            frame = pd.DataFrame(result.mappings().all(), columns=list(result.keys()))
    finally:
        engine.dispose()
    return frame


def _times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def load_messages(url: str | None = None, since: datetime | None = None) -> pd.DataFrame:
    """Every logged message (both directions), oldest first, with a `day` column (UTC date)."""
    table = Message.__table__  # type: ignore[attr-defined]
    frame = _times(_read(table, url, table.c.id, since, table.c.created_at), "created_at")
    frame["day"] = frame["created_at"].dt.floor("D")
    frame["fallback"] = frame["fallback"].astype(bool)
    frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce")
    return frame


def load_sessions(url: str | None = None) -> pd.DataFrame:
    """Every chat session with its final form state, oldest first, with a `day` column."""
    table = ChatSession.__table__  # type: ignore[attr-defined]
    frame = _times(_read(table, url, table.c.created_at), "created_at", "last_active", "ended_at")
    frame["day"] = frame["created_at"].dt.floor("D")
    return frame


def inbound(messages: pd.DataFrame) -> pd.DataFrame:
    """The users' messages: what the classifier saw."""
    return messages[messages["direction"] == "in"]


def daily_counts(messages: pd.DataFrame, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per day: user messages, bot replies and sessions (started that day, or active if no sessions given)."""
    counts = pd.DataFrame({
        "messages_in": inbound(messages).groupby("day").size(),
        "messages_out": messages[messages["direction"] == "out"].groupby("day").size(),
    })
    if sessions is not None:
        counts["sessions"] = sessions.groupby("day").size()
    else:
        counts["sessions"] = messages.groupby("day")["session_id"].nunique()
    counts = counts.fillna(0).astype(int).sort_index()
    counts.index.name = "day"
    return counts


def intent_distribution(messages: pd.DataFrame) -> pd.Series:
    """How often each intent was predicted for users' messages; fallbacks counted apart."""
    rows = inbound(messages)
    labels = rows["intent"].where(~rows["fallback"], FALLBACK_LABEL).fillna(FALLBACK_LABEL)
    distribution = labels.value_counts()
    distribution.index.name = "intent"
    return distribution.rename("messages")


def confidences(messages: pd.DataFrame) -> pd.Series:
    """The classifier's confidence on each user message (for a histogram)."""
    return inbound(messages)["confidence"].dropna().rename("confidence")


def fallback_rate_by_day(messages: pd.DataFrame) -> pd.DataFrame:
    """Per day: user messages, how many fell back, and the rate."""
    rows = inbound(messages)
    by_day = rows.groupby("day")["fallback"].agg(messages="size", fallbacks="sum")
    by_day["fallbacks"] = by_day["fallbacks"].astype(int)
    by_day["rate"] = (by_day["fallbacks"] / by_day["messages"]).where(by_day["messages"] > 0, 0.0)
    return by_day


def misunderstood(
    messages: pd.DataFrame,
    top: int = 20,
    *,
    low_confidence: float = DEFAULT_LOW_CONFIDENCE,
    margin: float = DEFAULT_MARGIN,
    reviewed: list[str] | None = None,
) -> pd.DataFrame:
    """The most frequent messages the bot likely misunderstood, as `training.review export` picks them."""
    columns = ["text", "count", "reason", "predicted", "confidence", "message_id"]
    if messages.empty:
        return pd.DataFrame(columns=columns)
    rows = messages.sort_values(["session_id", "id"]).to_dict("records")
    candidates = find_candidates(rows, reviewed=reviewed or [], low_confidence=low_confidence, margin=margin)[:top]
    frame = pd.DataFrame([{c: getattr(cand, c) for c in columns} for cand in candidates], columns=columns)
    return frame


def _sessions_with(replies: pd.DataFrame, names: list[str]) -> int:
    """Sessions where one of the replies carries a value for every slot in `names`."""
    mask = [isinstance(s, dict) and all(s.get(n) not in (None, "") for n in names) for s in replies["slots"]]
    return int(replies.loc[pd.Series(mask, index=replies.index, dtype=bool), "session_id"].nunique())


def form_funnel(messages: pd.DataFrame, sessions: pd.DataFrame, domain: Domain) -> pd.DataFrame:
    """How far each form gets, slot by slot, counted in sessions.

    For each form intent and each of its required slots (in the order they are asked):
    `reached` sessions got to that slot (the ones before it were given), `given` also gave
    it, `waiting` sessions ended with the form still asking for it (from chat_session).
    The last row of a form, `(completed)`, counts sessions where all slots were given.
    """
    rows: list[dict[str, Any]] = []
    replies = messages[messages["direction"] == "out"]
    for name, intent in domain.intents.items():
        slots = list(intent.slots)
        if not slots:
            continue
        of_form = replies[replies["intent"] == name]
        stuck = sessions[sessions["active_form"] == name] if not sessions.empty else sessions
        for k, slot in enumerate(slots):
            reached = _sessions_with(of_form, slots[:k])
            given = _sessions_with(of_form, slots[: k + 1])
            waiting = int((stuck["requested_slot"] == slot).sum()) if not stuck.empty else 0
            rows.append({"form": name, "step": slot, "reached": reached, "given": given, "waiting": waiting})
        completed = _sessions_with(of_form, slots)
        rows.append({"form": name, "step": "(completed)", "reached": completed, "given": completed, "waiting": 0})
    funnel = pd.DataFrame(rows, columns=["form", "step", "reached", "given", "waiting"])
    starts = funnel.groupby("form")["reached"].transform("first")
    funnel["share_of_started"] = (funnel["given"] / starts).where(starts > 0, 0.0).round(3)
    return funnel


def compare_versions(messages: pd.DataFrame) -> pd.DataFrame:
    """Per model version: traffic, fallback rate, mean confidence and the users' thumbs."""
    rows = inbound(messages)
    replies = messages[messages["direction"] == "out"]
    versions = rows.groupby("model_version", dropna=False).agg(
        messages=("id", "size"),
        sessions=("session_id", "nunique"),
        fallback_rate=("fallback", "mean"),
        mean_confidence=("confidence", "mean"),
        first_seen=("created_at", "min"),
        last_seen=("created_at", "max"),
    )
    thumbs = replies.groupby("model_version", dropna=False)["feedback"].agg(
        replies="size", thumbs_up=lambda f: int((f == 1).sum()), thumbs_down=lambda f: int((f == -1).sum())
    )
    table = versions.join(thumbs, how="outer")
    for column in ("messages", "sessions", "replies", "thumbs_up", "thumbs_down"):
        table[column] = table[column].fillna(0).astype(int)
    table["thumbs_down_rate"] = (table["thumbs_down"] / table["replies"]).where(table["replies"] > 0, 0.0)
    table[["fallback_rate", "mean_confidence", "thumbs_down_rate"]] = table[["fallback_rate", "mean_confidence", "thumbs_down_rate"]].astype(float).round(3)
    return table.sort_values("first_seen")
