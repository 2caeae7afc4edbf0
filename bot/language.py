"""Which of a bot's languages a message is written in, from its alphabet alone.

A bot speaks a few languages it declares (`languages:` in intents.yaml), so the question is
never "which of 100 languages" but "which of these": between English and Russian the script
decides, in microseconds and with nothing to load. Language-identification packages answer
the bigger question with a model (fastText's `lid.176` is downloaded at run time, which a
server here may not do) and are less sure than the script on 2-word chat messages
("привет", "ok"). Languages that share a script (en and de) cannot be told apart this way:
the message is then taken to be in the session's language, or the bot's first.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

SCRIPTS: dict[str, str] = {"en": "LATIN", "ru": "CYRILLIC"}
"""The alphabet each supported language is written in (`unicodedata` name prefixes)."""
LATIN_WEIGHT = 0.5
"""A Latin letter counts half: Russian messages borrow Latin names ("хочу iphone 15 pro"), order
numbers and codes, where English ones hardly ever hold a Cyrillic word."""


def script_counts(text: str) -> Counter[str]:
    """Letters of `text` per script: LATIN, CYRILLIC, ..."""
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            counts[unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]] += 1
    return counts


def detect_language(text: str, languages: Sequence[str], default: str | None = None) -> str:
    """The language among `languages` whose script most of the letters are in (Latin ones
    counting half); `default` (or the first language) when no letter decides, or two
    candidates share the winning script."""
    fallback = default if default is not None else languages[0]
    counts = script_counts(text)
    if not counts:
        return fallback
    weighted = {name: n * (LATIN_WEIGHT if name == "LATIN" else 1.0) for name, n in counts.items()}
    script = max(weighted, key=lambda name: weighted[name])
    matches = [language for language in languages if SCRIPTS.get(language) == script]
    if len(matches) != 1:
        return fallback if fallback in matches or not matches else matches[0]
    return matches[0]


def normalize_in_languages(
    texts: list[str], normalizers: Mapping[str, Callable[[list[str]], list[str]]], languages: Sequence[str]
) -> list[str]:
    """Each text normalised by its own language's normaliser (one batch per language), in order."""
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(detect_language(text, languages), []).append(i)
    out = [""] * len(texts)
    for language, rows in groups.items():
        for i, norm in zip(rows, normalizers[language]([texts[i] for i in rows]), strict=True):
            out[i] = norm
    return out


__all__ = ["SCRIPTS", "detect_language", "normalize_in_languages", "script_counts"]
