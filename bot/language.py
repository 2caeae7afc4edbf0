"""Which of a bot's languages a message is written in, from its alphabet alone.

A bot speaks the few languages it declares (`languages:` in intents.yaml), so the question is
never "which of a hundred languages" but "which of these": between English and Russian the
script decides, in microseconds and with nothing to load. Language-identification models are
less sure than the script on two-word chat messages ("привет", "ok") and would be one more
download. Languages that share a script cannot be told apart this way: then nothing is
decided and the caller keeps its default.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

SCRIPTS: dict[str, str] = {"en": "LATIN", "ru": "CYRILLIC"}
"""The alphabet each supported language is written in (`unicodedata` name prefixes)."""
LATIN_WEIGHT = 0.5
"""A Latin letter counts half: Russian messages borrow Latin names and codes ("хочу iphone 15",
"заказ AB123456"), where English ones hardly ever hold a Cyrillic word."""


def script_counts(text: str) -> Counter[str]:
    """Letters of `text` per script: LATIN, CYRILLIC, ..."""
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            counts[unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]] += 1
    return counts


def detect_language(text: str, languages: Sequence[str]) -> str | None:
    """The one language among `languages` whose script most of the letters are in (Latin ones
    counting half); None when no letter decides ("12:30", "👍"), the script is none of theirs,
    or several of the languages share it."""
    counts = script_counts(text)
    if not counts:
        return None
    weights = {script: n * (LATIN_WEIGHT if script == "LATIN" else 1.0) for script, n in counts.items()}
    ranked = sorted(weights.items(), key=lambda item: -item[1])
    script, weight = ranked[0]
    if len(ranked) > 1 and ranked[1][1] == weight:
        return None
    matches = [language for language in languages if SCRIPTS.get(language) == script]
    return matches[0] if len(matches) == 1 else None


def language_code(asked: str | None) -> str | None:
    """The primary subtag of a client's language tag, lower-cased: "ru-RU" -> "ru"; None for none."""
    code = (asked or "").split("-")[0].split("_")[0].strip().lower()
    return code or None
