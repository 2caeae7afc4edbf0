"""Times of day in English and Russian: "half past ten", "around 2 in the afternoon", "noon",
"half 4", "5.30pm", "3ish", "в три часа дня", "часа в три дня", "в 17.30", "в 11"; ranges
("between 2 and 4pm", "с 10 до 12") and parts of the day ("this afternoon", "после обеда").

An hour from 1 to 7 with nothing to say morning or evening ("at 3", "в три часа") is read
as afternoon: people book shops, not 3 a.m.

A number is an hour only when something says so: minutes after a colon ("10:30"), am/pm,
"o'clock", "-ish" or a part of the day ("3 in the afternoon", "9 вечера"); "часов" after a
preposition ("к 14 часам"); in English "at", "around", "about" or "by" ("at 3"). Minutes after
a dot need an hour past 12 or a preposition ("17.30", "at 5.30", "в 10.30"). A bare Russian hour
after в/во/к/около ("в 11", "в одиннадцать"), and minutes after a space in either language ("в
17 30", "at 5 30"), are read only where the phrase ends: at the end of the text or before
punctuation, "или"/"or", or a word of a day or a part of the day ("в 11 завтра", "в 11 в
пятницу"); so "в 2 раза" and "в 3 магазинах" are no times. "3 дня" and "2 ночи" alone are
days and nights; a preposition makes them hours ("в 3 дня"), but not after "раз" ("раз в два
дня" says how often). In Russian "hh.mm" with mm from 01 to 12 is a date ("12.01") unless
в/во/около comes before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import cache

from bot.values.lexicon import HOUR_ORDINALS_RU, HOUR_WORDS, PARTS_OF_DAY, RELATIVE_DAYS, WEEKDAYS, alternation

_PM = ("p", "afternoon", "evening", "tonight", "дня", "вечера")
"""Words after an hour (their endings) that put it after noon."""
_MINUTE_WORDS = {"half": 30, "quarter": 15, "five": 5, "ten": 10, "twenty": 20, "twenty five": 25, "twenty-five": 25}
_LESS_RU = {"четверти": 15, "пятнадцати": 15, "десяти": 10, "пяти": 5, "двадцати": 20}
_MINUTES = r"(?:(?::(?P<m>\d{2})(?::(?P<sec>[0-5]\d))?|\.(?P<dm>[0-5]\d)|\s+(?P<sm>[0-5]\d))(?![.,]?\d))?"
"""Minutes after an hour: "10:30", "10:30:15", "10.30", "10 30"."""
_FREQUENCY = re.compile(r"\bраза?\s+$")
_PREPOSITIONS = {"en": ("at", "around", "about", "by"), "ru": ("в", "во", "к", "около", "примерно в")}
"""Before a number these make it an hour ("at 3", "в 3 дня") where nothing else does."""


@dataclass(frozen=True)
class TimeSpan:
    """A time (or, with `last`, a range of times) found at text[start:end]."""

    start: int
    end: int
    first: time
    last: time | None = None


@cache
def _core(language: str) -> str:
    """One time of day as a regular expression (named groups; used once per pattern)."""
    hours = alternation(HOUR_WORDS[language])
    if language == "en":
        minutes = alternation(_MINUTE_WORDS)
        return (
            rf"(?:(?P<noon>noon|midday|midnight)"
            rf"|(?P<rel>{minutes}|\d{{1,2}})\s+(?:minutes\s+)?(?P<dir>past|to|after)\s+(?P<rh>{hours}|\d{{1,2}})"
            rf"|half\s+(?P<bh>{hours}|\d{{1,2}})"  # British "half 4": half past
            rf"|(?P<h>\d{{1,2}}|{hours}){_MINUTES}(?P<oclock>\s*o'?clock)?)"
            rf"(?:\s*(?P<ampm>[ap])\.?m(?:\b\.?|(?=-?ish))|\s+(?P<pod>in\s+the\s+(?:morning|afternoon|evening)|at\s+night|tonight))?"
            rf"(?P<ish>-?ish\b)?"
        )
    ordinals = alternation(HOUR_ORDINALS_RU)
    less = alternation(_LESS_RU)
    return (
        rf"(?:(?P<noon>полдень|полночь)"
        rf"|(?:половин[аеуы]\s+|пол\s*)(?P<half>{ordinals})"
        rf"|четверть\s+(?P<quarter>{ordinals})"
        rf"|без\s+(?P<less>{less}|\d{{1,2}})(?:\s+минут)?\s+(?P<lh>{hours}|\d{{1,2}})"
        rf"|(?P<inv>часа|часов|часу)\s+в\s+(?P<ih>{hours}|\d{{1,2}})"
        rf"|(?P<h>\d{{1,2}}|{hours}){_MINUTES}(?:\s+(?P<hw>часа|часов|часам|час|ч\b\.?))?"
        rf"(?:\s+(?P<mw>\d{{1,2}})\s+минут\w*)?)"
        rf"(?:\s+(?P<pod>утра|дня|вечера|ночи))?"
    )


_PREFIX = {
    "en": r"(?P<pre>(?:at|around|about|approximately|by|after|before|until|till)\s+)?",
    "ru": r"(?P<pre>(?:в|во|к|около|примерно\s+в|после|до|с)\s+)?",
}
_BETWEEN = {
    "en": (r"(?:between|from)\s+", r"\s+(?:and|to|till|until|-|–)\s+", r"\s*(?:-|–|till|until)\s*"),
    "ru": (r"(?:с|со|от|между)\s+", r"\s+(?:до|по|и|-|–)\s+", r"\s*(?:-|–)\s*"),
}


@cache
def patterns(language: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """A single time, a range with words, a range with a dash, a part of the day."""
    core = _core(language)
    opening, joint, dash = _BETWEEN[language]
    single = re.compile(rf"(?<![\w:])(?<!\d[.,]){_PREFIX[language]}(?P<t>{core})(?![\w:]|[.,]\d)")
    side = re.sub(r"\?P<\w+>", "?:", core)  # the same expression, groups unnamed
    ranged = re.compile(rf"(?<![\w:]){opening}(?P<a>{side}){joint}(?P<b>{side})(?![\w:])")
    dashed = re.compile(
        rf"(?<![\w:])(?<!\d-)(?P<a>\d{{1,2}}(?::\d{{2}})?(?:\s*[ap]\.?m\.?)?){dash}(?P<b>{side})(?![\w:]|-\d)"
    )  # not two numbers of a date ("12-04-2026") or a phone number
    parts = alternation(PARTS_OF_DAY[language], any_space=True)
    if language == "en":
        days = alternation([*RELATIVE_DAYS[language], *WEEKDAYS[language]], any_space=True)
        pod = re.compile(
            rf"\b(?:this|in\s+the|{days}|\w+day)\s+(?P<pod>{parts})\b|\b(?P<alone>tonight)\b"
        )  # "tmrw morning", "fri afternoon"
    else:
        pod = re.compile(rf"\b(?P<alone>{parts})\b")
    return single, ranged, dashed, pod


def _hour_value(text: str, language: str) -> int:
    return int(text) if text.isdigit() else HOUR_WORDS[language][" ".join(text.split())]


def _parse(m: re.Match[str], language: str, lenient: bool) -> tuple[time, bool] | None:
    """The time a match of `_core` names, and whether it said morning or evening itself."""
    g = m.groupdict()
    hour, minute, second = 0, 0, int(m.groupdict().get("sec") or 0)
    if g.get("noon"):
        return time(0 if g["noon"] in ("midnight", "полночь") else 12), True
    if g.get("rh"):
        offset = _MINUTE_WORDS.get(" ".join(g["rel"].split())) or int(g["rel"])
        hour, minute = _hour_value(g["rh"], language), offset
        if g["dir"] == "to":
            hour, minute = hour - 1, 60 - offset
    elif g.get("half") or g.get("quarter"):
        hour, minute = HOUR_ORDINALS_RU[g["half"] or g["quarter"]] - 1, 30 if g["half"] else 15
    elif g.get("lh"):
        less = _LESS_RU.get(g["less"]) or int(g["less"])
        hour, minute = _hour_value(g["lh"], language) - 1, 60 - less
    elif g.get("ih"):
        hour = _hour_value(g["ih"], language)
    elif g.get("bh"):  # "half 4" is half past four
        hour, minute = _hour_value(g["bh"], language), 30
    else:
        hour = _hour_value(g["h"], language)
        if hour > 24:  # "31-12" is no hour ("24:00" is midnight)
            return None
        if not (lenient or _said(m, hour, language)) or _a_date(g, language):
            return None
        minute = int(g.get("m") or g.get("dm") or g.get("sm") or g.get("mw") or 0)
    hour %= 24
    marker = g.get("ampm") or g.get("pod") or ""
    if hour > 23 or minute > 59:
        return None
    if marker:
        night = marker in ("at night", "ночи")
        if marker.endswith(_PM) or (night and 6 <= hour < 12):
            hour = hour + 12 if hour < 12 else hour
        elif hour == 12 and (night or marker in ("a", "утра", "in the morning")):
            hour = 0
        return time(hour, minute, second), True
    return time(hour, minute, second), False


def _said(m: re.Match[str], hour: int, language: str) -> bool:
    """Whether an hour written as a number is a time, not a count (the module's docstring says when)."""
    g = m.groupdict()
    pre = _preposition(g)
    if pre and _FREQUENCY.search(m.string, 0, m.start()):
        return False  # "раз в два дня", "раз в час": how often, not when
    if g.get("m") or g.get("ampm") or g.get("oclock") or g.get("mw") or g.get("ish"):
        return True
    # a part of the day, but "3 дня", "2 ночи" alone are days and nights
    if g.get("pod") and (language == "en" or g["pod"] in ("утра", "вечера") or pre or g.get("hw")):
        return True
    if g.get("hw") and pre not in ("", "до", "с"):
        return True
    if g.get("dm"):  # "17.30", "at 5.30", "в 10.30"
        return hour > 12 or pre in _PREPOSITIONS[language]
    if pre not in _PREPOSITIONS[language]:
        return False
    if language == "en" and not g.get("sm"):
        return True  # "at 3"
    return _phrase_end(language).match(m.string, m.end()) is not None


def _preposition(g: dict[str, str | None]) -> str:
    """The word before the time ("at", "в", "примерно в"), its spaces made single."""
    return " ".join((g.get("pre") or "").split())


def _a_date(g: dict[str, str | None], language: str) -> bool:
    """Russian "12.01" (also in "с 12.01 до 14.01") is a date, "в 12.01" a time."""
    month = language == "ru" and g.get("dm") is not None and 1 <= int(g["dm"] or 0) <= 12
    return month and _preposition(g) not in ("в", "во", "около", "примерно в")


@cache
def _phrase_end(language: str) -> re.Pattern[str]:
    """What may follow a bare hour after a preposition ("в 11", "at 5 30") for it to be a time:
    the end of the text, punctuation, "or", or a word of a day or a part of the day."""
    days = alternation([*RELATIVE_DAYS[language], *WEEKDAYS[language], *PARTS_OF_DAY[language]], any_space=True)
    if language == "en":
        words = rf"(?:or|please|on|this|next|in\s+the|{days})"
    else:
        words = rf"(?:или|либо|пожалуйста|(?:(?:в|во|на)\s+)?(?:{days}|эт\w+|следующ\w+|ближайш\w+|будущ\w+))"
    return re.compile(rf"\s*(?:$|[^\w\s]|{words}\b)")


def _afternoon(value: time, written: str) -> time:
    """An unmarked hour from 1 to 7 (not written '07:00') is in the afternoon."""
    if 1 <= value.hour <= 7 and not written.startswith("0"):
        return value.replace(hour=value.hour + 12)
    return value


def _end(first: time, last: time, written: str, marked: bool) -> time | None:
    """The end of a range that starts at `first`: as read, or an unmarked hour's evening reading
    ("11-9" is 11:00-21:00); None when it still comes first: "12-04" (a date) and "10pm-2am"
    are no range of hours."""
    if last < first and not marked and last.hour < 12 and not written.startswith("0"):
        last = last.replace(hour=last.hour + 12)
    return last if last >= first else None


def _side(text: str, language: str) -> tuple[time, bool] | None:
    single = patterns(language)[0]
    m = single.fullmatch(text)
    return _parse(m, language, lenient=True) if m else None


def find_times(text: str, language: str) -> list[TimeSpan]:
    """Every time expression in `text` (lower-cased, `ё` as `е`); overlapping ones all kept."""
    single, ranged, dashed, pod = patterns(language)
    found: list[TimeSpan] = []
    for m in single.finditer(text):
        parsed = _parse(m, language, lenient=False)
        if parsed is not None:
            value, marked = parsed
            found.append(TimeSpan(m.start("t"), m.end(), value if marked else _afternoon(value, m["t"])))
    for pattern in (ranged, dashed):
        for m in pattern.finditer(text):
            a, b = _side(m["a"], language), _side(m["b"], language)
            if a is None or b is None:
                continue
            (first, first_marked), (last, last_marked) = a, b
            if not last_marked:
                last = _afternoon(last, m["b"])
            if not first_marked:  # the reading of the first hour, as written or after noon, that precedes the last
                readings = [
                    c for c in (first, first.replace(hour=first.hour + 12) if first.hour < 12 else first) if c <= last
                ]
                first = max(readings) if readings else _afternoon(first, m["a"])
            end = _end(first, last, m["b"], last_marked)
            if end is not None:
                found.append(TimeSpan(m.start(), m.end(), first, end))
    for m in pod.finditer(text):
        name = " ".join((m.groupdict().get("pod") or m["alone"]).split())
        start = m.start() if (m["alone"] or m.group().startswith(("this", "in"))) else m.start("pod")
        first_text, last_text = PARTS_OF_DAY[language][name]
        found.append(TimeSpan(start, m.end(), time.fromisoformat(first_text), time.fromisoformat(last_text)))
    return found
