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
        raise DataError(f"{path}: expected .jsonl (one {{\"text\", \"intent\"}} a line) or .yaml")
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
            raise DataError(f"{path}:{number}: expected {{\"text\": ..., \"intent\": ...}} ({exc})") from None
    return examples
