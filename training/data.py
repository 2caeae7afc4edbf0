"""Labelled utterances from the files a bot author or a benchmark provides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from bot.domain import Domain, load_domain


class DataError(Exception):
    """A data file cannot be read as labelled utterances."""


def database_url(url: str | None = None, base: Path | None = None) -> str:
    """The given URL or `BOT_DATABASE_URL` (Settings' default), in the form SQLAlchemy wants.

    A relative SQLite path is taken relative to `base` when given (notebooks run in notebooks/).
    """
    from bot.config import Settings

    resolved = Settings(database_url=url).database_url if url else Settings().database_url
    prefix = "sqlite:///"
    if base is not None and resolved.startswith(prefix) and not resolved.startswith(prefix + "/"):
        path = resolved.removeprefix(prefix)
        if path and path != ":memory:":
            resolved = prefix + str((base / path).resolve())
    return resolved


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL whose file does not exist (reading it would create an empty one)."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" and not Path(path).is_file():
        return path
    return None


def load_examples(path: str | Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from JSON Lines `{"text", "intent"}` or an intents.yaml-style file."""
    path = Path(path)
    if path.suffix in {".yaml", ".yml"}:
        return load_domain(path).training_examples()
    examples: list[tuple[str, str]] = []
    for number, row in _json_rows(path):
        try:
            examples.append((str(row["text"]), str(row["intent"])))
        except (KeyError, TypeError) as exc:
            raise DataError(f'{path}:{number}: expected {{"text": ..., "intent": ...}} ({exc})') from None
    return examples


def _json_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's number and parsed JSON."""
    if path.suffix not in {".jsonl", ".json"}:
        raise DataError(f'{path}: expected .jsonl (one {{"text", "intent"}} a line) or .yaml')
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f'{path}:{number}: expected {{"text": ..., "intent": ...}} ({exc})') from None


def load_reviewed(database_url: str, known: set[str]) -> list[tuple[str, str]]:
    """Messages an analyst labelled (`python -m training.review import`), checked against the domain."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session
    from sqlmodel import col

    from bot.database import make_engine
    from bot.tables import ReviewedExample

    missing = missing_sqlite_file(database_url)
    if missing:  # reading it would leave an empty database file behind
        raise DataError(
            f"no database at {missing}: the bot creates it when it first runs (`make run`); "
            "give the URL of the bot's database, or leave out --database-url"
        )
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


@dataclass(frozen=True)
class GoldEntity:
    """An annotated entity, as in the JSON Lines rows' `entities`: `text[start:end] == value`."""

    start: int
    end: int
    entity: str
    value: str


@dataclass(frozen=True)
class AnnotatedExample:
    """A labelled utterance with its annotated entities (none when the data marks none)."""

    text: str
    intent: str
    entities: tuple[GoldEntity, ...] = ()


def load_annotated(path: str | Path) -> list[AnnotatedExample]:
    """Utterances with their entities, from intents.yaml `[text](entity)` marks or JSON Lines
    `{"text", "intent", "entities": [{"start", "end", "entity", "value"}]}` (`entities` optional)."""
    path = Path(path)
    if path.suffix in {".yaml", ".yml"}:
        return domain_examples(load_domain(path))
    examples: list[AnnotatedExample] = []
    for number, row in _json_rows(path):
        try:
            text = str(row["text"])
            entities = tuple(
                GoldEntity(int(e["start"]), int(e["end"]), str(e["entity"]), str(e.get("value", "")))
                for e in row.get("entities", ())
            )
            examples.append(AnnotatedExample(text, str(row["intent"]), entities))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f'{path}:{number}: expected {{"text", "intent", "entities": [{{"start", "end", "entity", "value"}}]}}'
                f" ({exc})"
            ) from None
        for e in entities:
            if not 0 <= e.start < e.end <= len(text):
                raise DataError(f"{path}:{number}: entity {e.entity} spans {e.start}-{e.end}, outside the text")
    return examples


def domain_examples(domain: Domain) -> list[AnnotatedExample]:
    """intents.yaml's examples, of every language, with the entities their `[text](entity)` marks annotate."""
    return [
        AnnotatedExample(ex.text, name, tuple(GoldEntity(a.start, a.end, a.entity, a.text) for a in ex.entities))
        for speaking in (domain, *domain.translations.values())
        for name, intent in speaking.intents.items()
        for ex in intent.examples
    ]


def example_languages(domain: Domain) -> list[str]:
    """The language of each of `domain_examples(domain)`, in the same order."""
    return [
        speaking.language
        for speaking in (domain, *domain.translations.values())
        for intent in speaking.intents.values()
        for _ in intent.examples
    ]
