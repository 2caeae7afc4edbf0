"""Labelled utterances from the files a bot author or a benchmark provides."""

from __future__ import annotations

import json
from pathlib import Path

from bot.domain import load_domain


class DataError(Exception):
    """A data file cannot be read as labelled utterances."""


def load_examples(path: str | Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from JSON Lines `{"text", "intent"}` or an intents.yaml-style file."""
    path = Path(path)
    if path.suffix in {".yaml", ".yml"}:
        return load_domain(path).training_examples()
    if path.suffix not in {".jsonl", ".json"}:
        raise DataError(f'{path}: expected .jsonl (one {{"text", "intent"}} a line) or .yaml')
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    examples: list[tuple[str, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append((str(row["text"]), str(row["intent"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f'{path}:{number}: expected {{"text": ..., "intent": ...}} ({exc})') from None
    return examples


def load_reviewed(database_url: str, known: set[str]) -> list[tuple[str, str]]:
    """Messages an analyst labelled (`python -m training.review import`), checked against the domain."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session
    from sqlmodel import col

    from bot.store import make_engine
    from bot.tables import ReviewedExample

    engine = make_engine(database_url)
    try:
        with Session(engine) as db:
            rows = db.execute(
                select(col(ReviewedExample.text), col(ReviewedExample.intent)).order_by(col(ReviewedExample.id))
            ).all()
    except SQLAlchemyError as exc:
        raise DataError(f"cannot read reviewed examples from {database_url}: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()
    unknown = sorted({intent for _, intent in rows if intent not in known})
    if unknown:
        raise DataError(f"reviewed examples name intents that intents.yaml does not have: {', '.join(unknown)}")
    return [(text, intent) for text, intent in rows]
