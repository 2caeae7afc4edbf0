"""Reading an analyst's labels back from a review file, and storing them (`training.review import`).

A labelled row names the right intent (or `oos`) for a logged message; labels are upserted by
text into the `reviewed_example` table, which `training.fit --database-url` adds to the examples.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from bot.tables import ReviewedExample, utcnow
from bot.understanding import OOS, same_text


class ReviewError(Exception):
    """The labelled file cannot be imported; `problems` lists every line at fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Label:
    line: int
    text: str
    intent: str
    message_id: int | None


def read_labels(path: Path, known: set[str]) -> tuple[list[Label], int]:
    """The labelled rows of a review file and how many were left unlabelled.

    Raises `ReviewError` naming every line with an unknown label (not an intent of the
    domain, nor `oos`), an empty text or a text labelled two different ways.
    """
    problems: list[str] = []
    labels: dict[str, Label] = {}
    skipped = 0
    with path.open(encoding="utf-8-sig", newline="") as f:  # -sig: spreadsheets like a BOM
        reader = csv.reader(f)
        header = next(reader, None)
        columns = [c.strip().lower() for c in header or []]
        missing = [c for c in ("text", "label") if c not in columns]
        if missing:
            raise ReviewError(
                [
                    f"{path}:1: the header needs the column(s) {', '.join(missing)}; "
                    f"it has {', '.join(columns) or 'none'}"
                ]
            )
        index = {name: columns.index(name) for name in columns}
        while True:
            line = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            if not any(cell.strip() for cell in record):
                continue
            cell = {name: (record[i].strip() if i < len(record) else "") for name, i in index.items()}
            label, text = cell["label"], cell["text"]
            if not label:
                skipped += 1
                continue
            if not text:
                problems.append(f"{path}:{line}: the text is empty but labelled '{label}'")
                continue
            if label not in known:
                close = difflib.get_close_matches(label, sorted(known), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f" (use an intent of the domain or '{OOS}')"
                problems.append(f"{path}:{line}: unknown label '{label}'{hint}")
                continue
            message_id = cell.get("message_id") or ""
            if message_id and not message_id.isdigit():
                problems.append(f"{path}:{line}: message_id must be a number, not '{message_id}'")
                continue
            earlier = labels.get(same_text(text))
            if earlier is not None and earlier.intent != label:
                problems.append(
                    f"{path}:{line}: '{text}' is labelled '{label}' here but '{earlier.intent}' on line {earlier.line}"
                )
                continue
            labels[same_text(text)] = Label(line, text, label, int(message_id) if message_id else None)
    if problems:
        raise ReviewError(problems)
    return list(labels.values()), skipped


@dataclass(frozen=True)
class ImportCounts:
    added: int
    updated: int
    unchanged: int


def store_labels(engine: Engine, labels: Iterable[Label]) -> ImportCounts:
    """Upsert the labels into `reviewed_example` by text, in one transaction."""
    added = updated = unchanged = 0
    table = ReviewedExample.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on a table class; its type does not declare it
    with engine.begin() as conn:
        for label in labels:
            existing = conn.execute(select(table.c.id, table.c.intent).where(table.c.text == label.text)).first()
            if existing is None:
                conn.execute(
                    table.insert().values(
                        text=label.text, intent=label.intent, message_id=label.message_id, created_at=utcnow()
                    )
                )
                added += 1
            elif existing.intent != label.intent:
                conn.execute(
                    table.update()
                    .where(table.c.id == existing.id)
                    .values(intent=label.intent, message_id=label.message_id)
                )
                updated += 1
            else:
                unchanged += 1
    return ImportCounts(added, updated, unchanged)
