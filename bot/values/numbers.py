"""Numbers in digits and in words ("twenty one", "двадцать пять") and ordinals ("the second one").

Number words come from number-parser's per-language tables, and a run of several words is
valued by its `parse_number`; single words, the common case, are looked up directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from number_parser import parse_number
from number_parser.data import en as number_words_en
from number_parser.data import ru as number_words_ru

from bot.understanding import Entity
from bot.values.lexicon import ORDINAL_WORDS

_TABLES = ("UNIT_NUMBERS", "DIRECT_NUMBERS", "TENS", "HUNDREDS", "BIG_POWERS_OF_TEN")
_WORD = re.compile(r"[^\W\d_]+")
_DIGITS = {
    "en": re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?![\d])"),
    # Russian groups thousands with a space, often a no-break one: "1 500", "2\u00a0990,50".
    "ru": re.compile(r"(?<![\w.,])(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d+)?(?![\d])"),
}
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_GROUP_SPACES = str.maketrans("", "", " \u00a0\u202f")
_PRONOUN_BEFORE_ONE = re.compile(
    r"\b(?:the|this|that|which|another|other|any|each|every|no|a|same|next|new|old|right|wrong|"
    + "|".join(ORDINAL_WORDS["en"])
    + r")\s+$"
)
_RU_ORDINAL_ENDINGS = (
    "ый|ий|ой|ая|яя|ья|ое|ее|ье|ую|юю|ью|ого|его|ьего|ому|ему|ьему|ом|ем|ьем|ые|ие|ьи|ых|их|ьих|ым|им|ьим|ей|ьей"
)
_ORDINALS = {
    "en": re.compile(
        r"\b(?:(?P<tens>twenty|thirty)[- ])?(?P<word>"
        + "|".join(sorted(ORDINAL_WORDS["en"], key=len, reverse=True))
        + r")\b|\b(?P<digits>\d+)(?:st|nd|rd|th)\b"
    ),
    "ru": re.compile(
        r"\b(?P<word>"
        + "|".join(ORDINAL_WORDS["ru"])
        + rf")(?:{_RU_ORDINAL_ENDINGS})\b|(?<![\w.,])(?P<digits>\d+)-?(?:й|я|е|го|ый|ой|ая|ое|ую|ого|ому|ом)\b"
    ),
}
_TENS_VALUE = {"twenty": 20, "thirty": 30}


@dataclass(frozen=True)
class NumberSpan:
    """A number found in text: its span, value and whether it was written in words."""

    start: int
    end: int
    value: int | float
    words: bool


@cache
def _vocabulary(language: str) -> tuple[dict[str, int], frozenset[str]]:
    """Single number words with their values, and the words that may join them ("and", "-")."""
    info = (number_words_en if language == "en" else number_words_ru).info
    words = {word: value for table in _TABLES for word, value in info[table].items()}
    return words, frozenset(info["SKIP_TOKENS"])


@lru_cache(maxsize=4096)
def _value_of_words(words: str, language: str) -> int | None:
    value = parse_number(words, language=language)
    return int(value) if value is not None else None


def _as_number(text: str, language: str) -> int | float:
    if language == "en" and _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    elif language == "ru":
        text = text.translate(_GROUP_SPACES)
    number = float(text.replace(",", "."))
    return int(number) if number.is_integer() else number


def find_numbers(text: str, language: str) -> list[NumberSpan]:
    """Every number in `text` (lower-cased), in digits or words, in order of position."""
    found = [
        NumberSpan(m.start(), m.end(), _as_number(m.group(), language), False) for m in _DIGITS[language].finditer(text)
    ]
    vocabulary, joiners = _vocabulary(language)
    run: list[re.Match[str]] = []
    for match in [*_WORD.finditer(text), None]:
        if match is not None and run and match.group() in joiners:
            continue
        if match is not None and match.group() in vocabulary:
            if run and not _joined(text[run[-1].end() : match.start()], joiners):
                found += _words_span(text, run, language)
                run = []
            run.append(match)
        elif run:
            found += _words_span(text, run, language)
            run = []
    return sorted(found, key=lambda n: n.start)


def _joined(gap: str, joiners: frozenset[str]) -> bool:
    gap = gap.strip()
    return gap == "" or gap in joiners


def _words_span(text: str, run: list[re.Match[str]], language: str) -> list[NumberSpan]:
    vocabulary, _ = _vocabulary(language)
    if not run:
        return []
    if len(run) == 1:
        word = run[0]
        if language == "en" and word.group() == "one" and _PRONOUN_BEFORE_ONE.search(text, 0, word.start()):
            return []
        return [NumberSpan(word.start(), word.end(), vocabulary[word.group()], True)]
    for size in range(len(run), 1, -1):  # the longest run from the first word that is one number
        start, end = run[0].start(), run[size - 1].end()
        value = _value_of_words(text[start:end], language)
        if value is not None:
            return [NumberSpan(start, end, value, True), *_words_span(text, run[size:], language)]
    return [*_words_span(text, run[:1], language), *_words_span(text, run[1:], language)]


def number_entities(text: str, original: str, language: str) -> list[Entity]:
    return [
        Entity("number", n.value, n.start, n.end, original[n.start : n.end], source="builtin")
        for n in find_numbers(text, language)
    ]


def ordinal_entities(text: str, original: str, language: str) -> list[Entity]:
    """Ordinals ("second", "2nd", "вторую"); "last" is -1, counted from the end."""
    found: list[Entity] = []
    for m in _ORDINALS[language].finditer(text):
        if m["digits"]:
            value = int(m["digits"])
        else:
            value = ORDINAL_WORDS[language][m["word"]] + _TENS_VALUE.get(m.groupdict().get("tens") or "", 0)
        found.append(Entity("ordinal", value, m.start(), m.end(), original[m.start() : m.end()], source="builtin"))
    return found
