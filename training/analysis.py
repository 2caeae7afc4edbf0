"""The numbers behind the notebooks: the bot's log as pandas frames, and summaries of it.

Notebooks only call these and plot, so every figure can be tested and reused in a script.
Functions take the frames `load_messages` and `load_sessions` return; nothing here prints.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from bot.database import make_engine
from bot.domain import Domain
from bot.tables import ChatSession, Message
from training.action_log import FAILING, ActionCall, calls_in
from training.data import database_url, missing_sqlite_file
from training.review import DEFAULT_LOW_CONFIDENCE, DEFAULT_MARGIN, find_candidates

if TYPE_CHECKING:
    from bot.classifier import Kind  # scikit-learn: loaded only when an evaluation runs

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_LABEL = "(fallback)"


def bot_database_url(url: str | None = None) -> str:
    """`url`, else `BOT_DATABASE_URL`, else the bot's default; relative SQLite paths from the repo root."""
    return database_url(url or os.environ.get("BOT_DATABASE_URL"), base=ROOT)


def _read(
    table: Any, url: str | None, order: Any, since: datetime | None = None, time_column: Any = None
) -> pd.DataFrame:
    url = bot_database_url(url)
    missing = missing_sqlite_file(url)
    if missing:
        raise FileNotFoundError(f"no bot database at {missing}: set BOT_DATABASE_URL (see notebooks/README.md)")
    engine = make_engine(url)
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
    table = Message.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on a table class; its type does not declare it
    frame = _times(_read(table, url, table.c.id, since, table.c.created_at), "created_at")
    frame["day"] = frame["created_at"].dt.floor("D")
    frame["fallback"] = frame["fallback"].astype(bool)
    frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce")
    return frame


def load_sessions(url: str | None = None) -> pd.DataFrame:
    """Every chat session with its final form state, oldest first, with a `day` column."""
    table = ChatSession.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on a table class; its type does not declare it
    frame = _times(_read(table, url, table.c.created_at), "created_at", "last_active", "ended_at")
    frame["day"] = frame["created_at"].dt.floor("D")
    return frame


def inbound(messages: pd.DataFrame) -> pd.DataFrame:
    """The users' messages: what the classifier saw."""
    return messages[messages["direction"] == "in"]


def daily_counts(messages: pd.DataFrame, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per day: user messages, bot replies and sessions (started that day, or active if no sessions given)."""
    counts = pd.DataFrame(
        {
            "messages_in": inbound(messages).groupby("day").size(),
            "messages_out": messages[messages["direction"] == "out"].groupby("day").size(),
        }
    )
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
    table[["fallback_rate", "mean_confidence", "thumbs_down_rate"]] = (
        table[["fallback_rate", "mean_confidence", "thumbs_down_rate"]].astype(float).round(3)
    )
    return table.sort_values("first_seen")


def action_calls(messages: pd.DataFrame) -> pd.DataFrame:
    """Every action and validator call in the log, one row each (`training.action_log.ActionCall`),
    oldest first, with `day` and `failed` (rejected, timeout, error, circuit_open)."""
    ordered = messages.sort_values(["session_id", "id"]).to_dict("records")
    calls = [asdict(c) for c in calls_in(ordered)]
    frame = pd.DataFrame(calls, columns=[f.name for f in fields(ActionCall)])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["latency_ms"] = pd.to_numeric(frame["latency_ms"], errors="coerce")
    frame["day"] = frame["created_at"].dt.floor("D")
    frame["failed"] = frame["outcome"].isin(FAILING)
    return frame.sort_values(["created_at", "message_id"]).reset_index(drop=True)


def action_calls_by_day(calls: pd.DataFrame) -> pd.DataFrame:
    """Per day (rows) and action (columns): `calls` and `failures`, zero where there were none."""
    table = calls.groupby(["day", "action"]).agg(calls=("outcome", "size"), failures=("failed", "sum"))
    return table.unstack("action", fill_value=0).astype(int)


def action_summary(calls: pd.DataFrame) -> pd.DataFrame:
    """Per action: calls, failures and their rate, the count of each outcome, latency p50 and p95 (ms)."""
    outcomes = pd.crosstab(calls["action"], calls["outcome"]) if not calls.empty else pd.DataFrame()
    table = calls.groupby("action").agg(
        calls=("outcome", "size"),
        failures=("failed", "sum"),
        p50_ms=("latency_ms", lambda v: v.quantile(0.5)),
        p95_ms=("latency_ms", lambda v: v.quantile(0.95)),
    )
    table["failure_rate"] = (table["failures"] / table["calls"]).round(3)
    table[["p50_ms", "p95_ms"]] = table[["p50_ms", "p95_ms"]].astype(float).round(1)
    return table.join(outcomes).fillna(0).sort_values("failures", ascending=False)


# -- model evaluation (notebooks/model_evaluation.ipynb) --------------------------------------------


@dataclass(frozen=True)
class EvaluationSetup:
    """What to train and test on, as the evaluation notebook's environment variables say."""

    train: list[tuple[str, str]]
    test: list[tuple[str, str]]
    language: str
    threshold: float | None
    """The domain's fixed fallback threshold, or None to let training pick one (as `training.fit`)."""
    entities: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Evaluation:
    report: Any
    """A `training.evaluate.Report`."""
    test: list[tuple[str, str]]
    predicted: list[str]
    """Per test example: the predicted intent, or `oos` for a fallback."""
    confidence: list[float]


def _path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else ROOT / path


def split_examples(
    examples: list[tuple[str, str]], test_size: float, seed: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A train/test split, stratified by intent when every intent has two examples."""
    from bot.held_out import held_out_split  # scikit-learn: loaded only when a split is made

    labels = [label for _, label in examples]
    train, test = held_out_split(labels, max(1, round(test_size * len(examples))), seed)
    return [examples[i] for i in train], [examples[i] for i in test]


def evaluation_setup(
    train: str | None = None, test: str | None = None, *, test_size: float | None = None, seed: int | None = None
) -> EvaluationSetup:
    """Training and test examples from arguments, else `EVAL_TRAIN`, `EVAL_TEST`, `EVAL_TEST_SIZE`, `EVAL_SEED`.

    Training defaults to intents.yaml; without a test file a stratified share of the
    training file (default 20%) is held out. Paths are relative to the repository. A YAML
    training file brings its language, entities and fixed threshold, as `training.fit` uses them.
    """
    from bot.domain import load_domain
    from training.data import load_examples

    train_path = _path(train or os.environ.get("EVAL_TRAIN") or "intents.yaml")
    test_value = test or os.environ.get("EVAL_TEST") or None
    test_size = test_size if test_size is not None else float(os.environ.get("EVAL_TEST_SIZE", "0.2"))
    seed = seed if seed is not None else int(os.environ.get("EVAL_SEED", "0"))
    language, threshold, entities = os.environ.get("EVAL_LANGUAGE", "en"), None, {}
    if train_path.suffix in {".yaml", ".yml"}:
        domain = load_domain(train_path)
        language, threshold, entities = domain.language, domain.fallback.threshold, dict(domain.entities)
    examples = load_examples(train_path)
    if test_value:
        test_path = _path(test_value)
        return EvaluationSetup(
            examples,
            load_examples(test_path),
            language,
            threshold,
            entities,
            f"train on {train_path.name} ({len(examples)}), test on {test_path.name}",
        )
    fit_on, held_out = split_examples(examples, test_size, seed)
    return EvaluationSetup(
        fit_on,
        held_out,
        language,
        threshold,
        entities,
        f"{train_path.name}: train on {len(fit_on)}, test on a held-out {test_size:.0%} ({len(held_out)})",
    )


def run_evaluation(setup: EvaluationSetup, pipeline: Kind = "light", seed: int = 0) -> Evaluation:
    """Train and score with `training.evaluate.evaluate`, keeping every test prediction."""
    from bot.classifier import OOS
    from bot.nlp import Preprocessor
    from training.evaluate import evaluate

    pre = Preprocessor(setup.language, setup.entities)
    report, clf = evaluate(setup.train, setup.test, pipeline, threshold=setup.threshold, seed=seed, preprocessor=pre)
    texts = [t for t, _ in setup.test]
    predictions = clf.predict(texts, pre.normalize_many(texts))
    predicted = [OOS if p.is_fallback else p.intent for p in predictions]
    return Evaluation(report, setup.test, predicted, [p.confidence for p in predictions])


def headline(evaluation: Evaluation) -> pd.Series:
    """The overall scores in one column."""
    r = evaluation.report
    fields = [
        "n_train",
        "n_test",
        "threshold",
        "accuracy",
        "macro_f1",
        "in_scope_accuracy",
        "oos_recall",
        "fit_seconds",
        "predict_us",
    ]
    values = {f: getattr(r, f) for f in fields}
    return pd.Series(
        {f: round(v, 4) if isinstance(v, float) else v for f, v in values.items()}, name=r.pipeline, dtype=object
    )


def confusion_matrix(evaluation: Evaluation) -> pd.DataFrame:
    """Counts of expected (rows) by predicted (columns) labels; `oos` is the fallback."""
    expected = pd.Series([label for _, label in evaluation.test], name="expected")
    predicted = pd.Series(evaluation.predicted, name="predicted")
    labels = sorted(set(expected) | set(predicted))
    return pd.crosstab(expected, predicted).reindex(index=labels, columns=labels, fill_value=0)


def worst_intents(evaluation: Evaluation, top: int | None = None) -> pd.DataFrame:
    """Per-intent precision, recall and F1, worst F1 first."""
    frame = pd.DataFrame([vars(s) for s in evaluation.report.per_intent]).set_index("intent")
    frame = frame[frame["support"] > 0].sort_values(["f1", "support"], ascending=[True, False])
    return frame.head(top) if top else frame


def errors(evaluation: Evaluation) -> pd.DataFrame:
    """Every misclassified test example, least confident first."""
    rows = [
        (t, e, p, c)
        for (t, e), p, c in zip(evaluation.test, evaluation.predicted, evaluation.confidence, strict=False)
        if e != p
    ]
    return (
        pd.DataFrame(rows, columns=["text", "expected", "predicted", "confidence"])
        .sort_values("confidence")
        .reset_index(drop=True)
    )


def confidence_by_outcome(evaluation: Evaluation) -> pd.DataFrame:
    """The top confidence of each test example, and whether the prediction was right."""
    right = [e == p for (_, e), p in zip(evaluation.test, evaluation.predicted, strict=False)]
    return pd.DataFrame({"confidence": evaluation.confidence, "right": right})
