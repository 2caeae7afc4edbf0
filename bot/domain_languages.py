"""Per-language values in intents.yaml: the plain data of one language out of a bot that
declares `languages:` (see docs/intents.md, "One bot in several languages").

Kept apart from `bot.domain`, which validates the plain data of each language as if it were
a file of its own; here only the choosing, with the line of every key carried along.
"""

from __future__ import annotations

from typing import Any

Path_ = tuple[str | int, ...]
"""Where a value sits in the parsed YAML: keys and list indices from the top."""

LOCALIZED: tuple[Path_, ...] = (
    ("intents", "*", "title"),
    ("intents", "*", "examples"),
    ("intents", "*", "responses"),
    ("intents", "*", "confirm"),
    ("intents", "*", "slots", "*"),
    ("fallback", "responses"),
    ("forms", "cancelled"),
    ("forms", "invalid"),
)
"""Where a value may be given per language, as a mapping `{en: ..., ru: ...}`."""


def _localizable(path: Path_) -> bool:
    return any(len(p) == len(path) and all(a in ("*", b) for a, b in zip(p, path, strict=True)) for p in LOCALIZED)


def _pick(
    data: Any, path: Path_, language: str, languages: tuple[str, ...], lines: dict[Path_, int], out: dict[Path_, int]
) -> Any:
    """`data` with every per-language mapping at a `LOCALIZED` place replaced by its `language`
    value (absent: the place is left out); `out` gets the lines of the new paths."""
    if path in lines:
        out[path] = lines[path]
    if isinstance(data, dict) and _localizable(path) and data and set(data) <= set(languages):
        if language not in data:
            return _MISSING
        return _pick(data[language], path, language, languages, _shifted(lines, (*path, language), path), out)
    if isinstance(data, dict):
        picked = {k: _pick(v, (*path, k), language, languages, lines, out) for k, v in data.items()}
        return {k: v for k, v in picked.items() if v is not _MISSING}
    if isinstance(data, list):
        return [_pick(v, (*path, i), language, languages, lines, out) for i, v in enumerate(data)]
    return data


_MISSING = object()


def _shifted(lines: dict[Path_, int], old: Path_, new: Path_) -> dict[Path_, int]:
    """Lines of the paths under `old`, as if they were under `new`."""
    shifted = {new + p[len(old) :]: n for p, n in lines.items() if p[: len(old)] == old}
    return lines | shifted


def in_language(
    data: Any, language: str, languages: tuple[str, ...], lines: dict[Path_, int], out: dict[Path_, int]
) -> Any:
    """The top-level `data` as `language` speaks it; `out` gets the line of every kept path."""
    return _pick(data, (), language, languages, lines, out)


__all__ = ["LOCALIZED", "Path_", "in_language"]
