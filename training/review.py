"""`python -m training.review`: a review queue of logged messages the bot may have misunderstood.

    python -m training.review export --out review.csv      # 1. the messages worth a look
    (edit review.csv: fill `label` with the right intent, or `oos`; leave it empty to skip)
    python -m training.review import review.csv            # 2. store the labels
    python -m training.fit --database-url URL              # 3. retrain with them

`export` also writes the failing action calls (rejected, timeout, error, circuit_open) beside
the queue, to review-actions.csv (`--actions-out`): when and in which session, the action,
its outcome, latency and error, and the user's message that led to it.

The queue is a CSV file (columns text, predicted, confidence, reason, count, message_id,
label) because every spreadsheet opens it and a diff shows what an analyst changed. Labels
are stored in the `reviewed_example` table (one row per text); `training.fit --database-url`
adds them to the examples of intents.yaml.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from bot.database import make_engine, migrate
from bot.domain import DomainError, load_domain
from bot.tables import Message, ReviewedExample
from bot.understanding import OOS, same_text
from training.action_log import read_calls, summary, write_calls_csv
from training.data import database_url, missing_sqlite_file
from training.review_labels import ReviewError, read_labels, store_labels

COLUMNS = ("text", "predicted", "confidence", "reason", "count", "message_id", "label")
REASONS = ("thumbs_down", "fallback", "low_confidence", "close_top2")
"""Why a message is in the queue, most telling first."""
DEFAULT_LOW_CONFIDENCE = 0.5
DEFAULT_MARGIN = 0.1
_PAYLOAD = re.compile(r"^/\w+$")
"""A button's `/intent` payload: it names its intent, the classifier is not involved."""


# -- choosing the messages --------------------------------------------------------------------


@dataclass
class Candidate:
    """One text in the queue, standing for every flagged message with the same text (`same_text`)."""

    text: str
    predicted: str | None
    confidence: float | None
    message_id: int | None
    reasons: set[str] = field(default_factory=set)
    count: int = 0

    @property
    def reason(self) -> str:
        return "+".join(r for r in REASONS if r in self.reasons)

    def row(self) -> dict[str, Any]:
        confidence = "" if self.confidence is None else f"{self.confidence:.4f}"
        return {
            "text": self.text,
            "predicted": self.predicted or "",
            "confidence": confidence,
            "reason": self.reason,
            "count": self.count,
            "message_id": self.message_id if self.message_id is not None else "",
            "label": "",
        }


def _by_session(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    """Consecutive rows of one session (rows come ordered by session, then id)."""
    batch: list[Mapping[str, Any]] = []
    for row in rows:
        if batch and row["session_id"] != batch[0]["session_id"]:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def _replies(
    session: list[Mapping[str, Any]],
) -> tuple[dict[int, Mapping[str, Any]], dict[int, Mapping[str, Any]], set[int]]:
    """For each user message: the bot's reply before it and its first reply, and which got a thumbs down.

    A reply answers the user message of the same session with its client id, or else the
    nearest earlier user message (replies without a client id, or to a resend).
    """
    before: dict[int, Mapping[str, Any]] = {}
    first_reply: dict[int, Mapping[str, Any]] = {}
    thumbs_down: set[int] = set()
    last_in: Mapping[str, Any] | None = None
    last_out: Mapping[str, Any] | None = None
    by_client: dict[str, Mapping[str, Any]] = {}
    for m in session:
        if m["direction"] == "in":
            last_in = m
            if last_out is not None:
                before[m["id"]] = last_out
            if m.get("client_id"):
                by_client[m["client_id"]] = m
            continue
        last_out = m
        asked = by_client.get(m.get("client_id") or "") or last_in
        if asked is None:
            continue
        first_reply.setdefault(asked["id"], m)
        if m.get("feedback") == -1:
            thumbs_down.add(asked["id"])
    return before, first_reply, thumbs_down


def reasons_for(
    message: Mapping[str, Any],
    reply: Mapping[str, Any] | None,
    thumbs_down: bool,
    *,
    before: Mapping[str, Any] | None = None,
    low_confidence: float,
    margin: float,
) -> set[str]:
    """Why one user message deserves a look (empty: it does not).

    Close scores only count when the bot answered: after a fallback they add nothing. A
    message the dialogue took as a form answer was understood, so only thumbs count: one
    that filled a slot of the form the bot was in (like a name), or a fallback or another
    intent's prediction the form answered anyway (like an order number).
    """
    reasons = {"thumbs_down"} if thumbs_down else set()
    if _PAYLOAD.match(message["text"].strip()):
        return reasons
    if reply is not None and not reply.get("fallback"):
        gave_slot = (
            before is not None
            and reply.get("intent") is not None
            and before.get("intent") == reply.get("intent")
            and (message.get("slots") or {}) != (before.get("slots") or {})
        )
        if gave_slot or message.get("fallback") or reply.get("intent") != message.get("intent"):
            return reasons
    fell_back = bool(message.get("fallback") or (reply is not None and reply.get("fallback")))
    if fell_back:
        reasons.add("fallback")
    confidence = message.get("confidence")
    if confidence is not None and not math.isnan(confidence) and confidence < low_confidence:  # NaN: pandas' no value
        reasons.add("low_confidence")
    ranking = message.get("ranking") or []
    if not fell_back and len(ranking) >= 2 and float(ranking[0][1]) - float(ranking[1][1]) < margin:
        reasons.add("close_top2")  # the bot answered one of two near-equal intents: a coin toss
    return reasons


def find_candidates(
    rows: Iterable[Mapping[str, Any]],
    *,
    reviewed: Iterable[str] = (),
    low_confidence: float = DEFAULT_LOW_CONFIDENCE,
    margin: float = DEFAULT_MARGIN,
) -> list[Candidate]:
    """The review queue from log rows ordered by (session_id, id), most frequent first.

    Texts the same (`same_text`) as one in `reviewed` were labelled already and are left out.
    """
    done = {same_text(t) for t in reviewed}
    found: dict[str, Candidate] = {}
    for session in _by_session(rows):
        before, first_reply, thumbs_down = _replies(session)
        for m in session:
            if m["direction"] != "in":
                continue
            reasons = reasons_for(
                m,
                first_reply.get(m["id"]),
                m["id"] in thumbs_down,
                before=before.get(m["id"]),
                low_confidence=low_confidence,
                margin=margin,
            )
            key = same_text(m["text"])
            if not reasons or not key or key in done:
                continue
            candidate = found.get(key)
            if candidate is None:
                candidate = found[key] = Candidate(m["text"].strip(), m.get("intent"), m.get("confidence"), m["id"])
            elif m["id"] > (candidate.message_id or 0):  # describe it by its latest occurrence
                candidate.predicted, candidate.confidence, candidate.message_id = (
                    m.get("intent"),
                    m.get("confidence"),
                    m["id"],
                )
            candidate.reasons |= reasons
            candidate.count += 1
    return sorted(
        found.values(), key=lambda c: (-c.count, c.confidence if c.confidence is not None else -1.0, c.message_id or 0)
    )


_COLUMNS_READ = (
    col(Message.id),
    col(Message.session_id),
    col(Message.direction),
    col(Message.text),
    col(Message.client_id),
    col(Message.intent),
    col(Message.confidence),
    col(Message.ranking),
    col(Message.slots),
    col(Message.fallback),
    col(Message.feedback),
)


def log_rows(engine: Engine, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The conversation log as dicts ordered by session and id, streamed."""
    query = select(*_COLUMNS_READ).order_by(col(Message.session_id), col(Message.id))
    if since is not None:
        query = query.where(col(Message.created_at) >= since)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(query).mappings():
            yield dict(row)


def reviewed_texts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(col(ReviewedExample.text))).scalars())


def export_queue(
    engine: Engine,
    since: datetime | None = None,
    *,
    low_confidence: float = DEFAULT_LOW_CONFIDENCE,
    margin: float = DEFAULT_MARGIN,
) -> list[Candidate]:
    """Read the log and return the review queue (see `find_candidates`)."""
    return find_candidates(
        log_rows(engine, since), reviewed=reviewed_texts(engine), low_confidence=low_confidence, margin=margin
    )


def write_csv(candidates: list[Candidate], out: Any) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(c.row() for c in candidates)


# -- the command line ---------------------------------------------------------------------


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date such as 2026-05-01 or 2026-05-01T12:00, not {value!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _fraction(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError("expected a number between 0 and 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.review", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{export,import}")
    url_help = "the bot's database (default: BOT_DATABASE_URL, else sqlite:///bot.db)"

    export = commands.add_parser(
        "export",
        help="write the messages worth a look to a CSV file to label",
        description="Write user messages that fell back, were classified with low confidence, had a close "
        "second intent or whose reply got a thumbs down; one row per distinct text "
        "(case and spacing ignored), texts already reviewed left out.",
    )
    export.add_argument(
        "--since",
        type=_since,
        metavar="ISO_DATE",
        help="only messages from this date/time on (UTC unless it says otherwise)",
    )
    export.add_argument(
        "--out",
        default="review.csv",
        metavar="FILE",
        help="the CSV file to write; - for standard output (default: review.csv)",
    )
    export.add_argument(
        "--actions-out",
        metavar="FILE",
        help="where to write the failing action calls; - for standard output "
        "(default: beside --out, its name ending in -actions.csv; none when --out is -)",
    )
    export.add_argument("--database-url", metavar="URL", help=url_help)
    export.add_argument(
        "--low-confidence",
        type=_fraction,
        default=DEFAULT_LOW_CONFIDENCE,
        metavar="P",
        help=f"flag predictions less confident than this (default {DEFAULT_LOW_CONFIDENCE})",
    )
    export.add_argument(
        "--margin",
        type=_fraction,
        default=DEFAULT_MARGIN,
        metavar="D",
        help=f"flag messages whose top two intents score closer than this (default {DEFAULT_MARGIN})",
    )

    imp = commands.add_parser(
        "import",
        help="store the labels of an edited CSV file as reviewed examples",
        description="Store each row with a `label` (an intent of the domain, or `oos`) in reviewed_example, "
        "replacing an earlier label of the same text. Any unknown label stops the import: "
        "nothing is stored and every bad line is listed.",
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="the CSV file written by `export`, with `label` filled in")
    imp.add_argument(
        "--intents",
        type=Path,
        default=Path("intents.yaml"),
        metavar="PATH",
        help="the domain whose intents the labels must name (default: intents.yaml)",
    )
    imp.add_argument("--database-url", metavar="URL", help=url_help)
    return parser


def run_export(args: argparse.Namespace) -> int:
    url = database_url(args.database_url)
    missing = missing_sqlite_file(url)
    if missing:
        print(f"error: no database at {missing} (give --database-url or set BOT_DATABASE_URL)", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        candidates = export_queue(engine, args.since, low_confidence=args.low_confidence, margin=args.margin)
        failing = read_calls(engine, args.since, failing=True)
    except SQLAlchemyError as exc:
        print(
            f"error: cannot read the conversation log from {engine.url.render_as_string()}: {exc.__class__.__name__} "
            "(is this the bot's database?)",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    if args.out == "-":
        write_csv(candidates, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            write_csv(candidates, f)
    reasons = {r: sum(r in c.reasons for c in candidates) for r in REASONS}
    flagged = sum(c.count for c in candidates)
    print(
        f"{len(candidates)} distinct texts ({flagged} messages) to review -> {args.out}; "
        + ", ".join(f"{k} {v}" for k, v in reasons.items()),
        file=sys.stderr if args.out == "-" else sys.stdout,
    )
    actions_out = args.actions_out or (None if args.out == "-" else _beside(Path(args.out), "-actions.csv"))
    if actions_out is not None:
        if actions_out == "-":
            write_calls_csv(failing, sys.stdout)
        else:
            with open(actions_out, "w", encoding="utf-8", newline="") as f:
                write_calls_csv(failing, f)
    print(
        f"{len(failing)} failing action calls"
        + (f" -> {actions_out}" if actions_out else "")
        + (f": {summary(failing)}" if failing else ""),
        file=sys.stderr if "-" in (args.out, actions_out) else sys.stdout,
    )
    return 0


def _beside(path: Path, suffix: str) -> str:
    """`review.csv` -> `review-actions.csv`, in the same folder."""
    return str(path.with_name(path.stem + suffix))


def run_import(args: argparse.Namespace) -> int:
    try:
        domain = load_domain(args.intents)
    except DomainError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"error: {args.file}: file not found", file=sys.stderr)
        return 2
    try:
        labels, skipped = read_labels(args.file, set(domain.intents) | {OOS})
    except ReviewError as exc:
        print(exc, file=sys.stderr)
        print(f"nothing stored: fix the {len(exc.problems)} line(s) above and import again", file=sys.stderr)
        return 1
    engine = make_engine(database_url(args.database_url))
    try:
        migrate(engine)
        counts = store_labels(engine, labels)
    except SQLAlchemyError as exc:
        print(
            f"error: cannot store the labels in {engine.url.render_as_string()}: {exc.__class__.__name__}",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    print(
        f"{len(labels)} labelled: {counts.added} added, {counts.updated} relabelled, {counts.unchanged} unchanged; "
        f"{skipped} rows without a label skipped"
    )
    print(f"retrain with them: python -m training.fit --database-url {engine.url.render_as_string(hide_password=True)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_export(args) if args.command == "export" else run_import(args)


if __name__ == "__main__":
    sys.exit(main())
