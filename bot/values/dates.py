# ruff: noqa: E501  (each date pattern reads best on one line)
"""Calendar dates in English and Russian resolved against today: "tomorrow", "next friday",
"the 14th", "14/12", "5 декабря", "в следующий вторник", "this weekend" (a range), "Monday
week", "first monday of january", "второй вторник января".

Relative words are read as a booking assistant would: a bare weekday or "this friday" is the
coming one (today if it is that day), "next friday" the one in next week (weeks start on
Monday), a date without a year the next one that is not past. A weekday beside a day of the
month or a week is one date with it ("thursday the 10th", "в среду на следующей неделе").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from bot.values.lexicon import MONTHS, ORDINAL_WORDS, RELATIVE_DAYS, WEEKDAYS, alternation
from bot.values.numbers import _RU_ORDINAL_ENDINGS, _vocabulary
from bot.values.times import find_times

_WEEKDAYS = WEEKDAYS["en"] | WEEKDAYS["ru"]
_MONTHS = MONTHS["en"] | MONTHS["ru"]
_RELATIVE_DAYS = RELATIVE_DAYS["en"] | RELATIVE_DAYS["ru"]
_ORDINAL_WORDS = ORDINAL_WORDS["en"] | ORDINAL_WORDS["ru"]
"""Both languages' words in one table each: a pattern of either language resolves through them."""

MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "UM", "VI"})
"""Regions that write 12/05 for December 5; elsewhere it is 12 May."""


@dataclass(frozen=True)
class DateSpan:
    """A date (or, with `last`, a range of dates) found at text[start:end]."""

    start: int
    end: int
    first: date
    last: date | None = None
    kind: str = ""
    """DAY for a date naming its day of the month, WEEKDAY for a weekday ("friday", "next
    friday"), WEEK for a week, RANGE for another range; "" for the others ("tomorrow")."""


DAY, WEEKDAY, WEEK, RANGE = "day", "weekday", "week", "range"

Resolver = Callable[[re.Match[str], date, bool], tuple[date, date | None] | None]


_DAY = r"(?:[12]\d|3[01]|0?[1-9])"


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_yearly(today: date, month: int, day: int) -> date | None:
    """The date with this month and day that is today or after."""
    for year in (today.year, today.year + 1, today.year + 4):
        found = _valid(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _next_monthly(today: date, day: int) -> date | None:
    """The next date with this day of the month, today included."""
    year, month = today.year, today.month
    for _ in range(13):
        found = _valid(year, month, day)
        if found is not None and found >= today:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _absolute(today: date, day: int, month: int, year: int | None) -> tuple[date, None] | None:
    found = _valid(year, month, day) if year else _next_yearly(today, month, day)
    return (found, None) if found else None


def _iso(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    found = _valid(int(m["y"]), int(m["m"]), int(m["d"]))
    return (found, None) if found else None


def _numeric(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    first, second = int(m["a"]), int(m["b"])
    day, month = (second, first) if month_first and second <= 31 and first <= 12 else (first, second)
    if month > 12 and day <= 12:
        day, month = month, day
    if m.group() == "24/7":
        return None
    return _absolute(today, day, month, _year(m["y"]))


_TIME_PREPOSITION = re.compile(r"(?:\bв|\bво|\bоколо)\s+$")


def _dotted_ru(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    """Russian "12.01" is 12 January, the day first; "17.30" and "в 10.10" are times of day."""
    dotted = m["y"] is None and m.group()[len(m["a"])] == "."
    if dotted and (int(m["b"]) > 12 or _TIME_PREPOSITION.search(m.string, 0, m.start())):
        return None
    return _numeric(m, today, month_first)


def _dashed(language: str) -> Resolver:
    """A dashed day and month ("12-04") in the region's order, as 12/04 is, unless it reads as
    a range of hours ("10-12", "9-5"): one that would end before it starts ("12-04", "31-12")
    is a date. With a year ("12-04-2026") it is always one."""

    def resolve(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
        hours = [t for t in find_times(m.group(), language) if t.last and (t.start, t.end) == (0, len(m.group()))]
        if hours and m["y"] is None:
            return None
        return _numeric(m, today, month_first)

    return resolve


def _day_month(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    return _absolute(today, int(m["d"]), _MONTHS[m["mon"]], _year(m["y"]))


def _day_only(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    found = _next_monthly(today, int(m["d"]))
    return (found, None) if found else None


def _relative(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    return today + timedelta(days=_RELATIVE_DAYS[" ".join(m["rel"].split())]), None


_NEXT = ("next", "следующ", "будущ")
_LAST = ("last", "прошл")


def _coming(today: date, weekday: int) -> date:
    """The next day of this weekday, today included."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _weekday(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    weekday = _WEEKDAYS[m["wd"]]
    modifier = m["mod"] or ""
    if modifier.startswith(_NEXT):
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
        return monday + timedelta(days=weekday), None
    if modifier.startswith(_LAST):
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1), None
    return _coming(today, weekday), None


def _week_after(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    """British "Monday week", "tomorrow week": a week after that day."""
    if m["wd"]:
        return _coming(today, _WEEKDAYS[m["wd"]]) + timedelta(weeks=1), None
    return today + timedelta(days=_RELATIVE_DAYS[m["rel"]] + 7), None


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The n-th day of this weekday in a month (n = -1: the last), or None when it has no n-th."""
    if n < 0:
        last = add_months(date(year, month, 1), 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    found = _coming(date(year, month, 1), weekday) + timedelta(weeks=n - 1)
    return found if found.month == month else None


def _ordinal(word: str) -> int:
    if word[0].isdigit():
        return int(word[0])
    return next(n for stem, n in _ORDINAL_WORDS.items() if word.startswith(stem))


def _nth_weekday(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    """ "the first monday of january", "last friday of the month", "второй вторник января": the
    next one not past, unless a year or "this month" is said."""
    weekday, n = _WEEKDAYS[m["wd"]], _ordinal(m["ord"])
    if m["mon"]:
        month = _MONTHS[m["mon"]]
        years = [int(m["y"])] if m["y"] else [today.year + i for i in range(8)]
        months = [(year, month) for year in years]
    else:
        first = add_months(today.replace(day=1), 1 if (m["mod"] or "").startswith(_NEXT) else 0)
        ahead = [add_months(first, i) for i in range(1 if m["mod"] else 12)]
        months = [(d.year, d.month) for d in ahead]
    found = [d for year, month in months if (d := nth_weekday(year, month, weekday, n)) is not None]
    coming = [d for d in found if d >= today or m["y"] or m["mod"]]
    return (coming[0], None) if coming else None


def _weekend(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    if today.weekday() == 6:  # on a Sunday, this weekend is what is left of it
        saturday = today - timedelta(days=1)
    if (m["mod"] or "").startswith(_NEXT):
        saturday += timedelta(weeks=1)
    return max(saturday, today), saturday + timedelta(days=1)


def _week(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    monday = today - timedelta(days=today.weekday())
    if (m["mod"] or "").startswith(_NEXT):
        monday += timedelta(weeks=1)
    return max(monday, today), monday + timedelta(days=6)


_UNIT_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "день": 1, "дня": 1, "дней": 1, "неделю": 7, "недели": 7}
_UNIT_DAYS |= {"недель": 7, "сутки": 1}


def _count(language: str, count: str | None) -> int:
    """A count written in digits or a word ("3", "three", "три"); none written is one."""
    if not count:
        return 1
    return int(count) if count.isdigit() else _vocabulary(language)[0].get(count, 1)


def _in_days(language: str) -> Resolver:
    def resolve(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
        base, named = today, " ".join((m.groupdict().get("base") or "").split())
        if named in WEEKDAYS[language]:  # "a week on monday"
            base = _coming(today, WEEKDAYS[language][named])
        elif named in RELATIVE_DAYS[language]:
            base = today + timedelta(days=RELATIVE_DAYS[language][named])
        return base + timedelta(days=_count(language, m["n"]) * _UNIT_DAYS[m["unit"]]), None

    return resolve


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day when it is shorter."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    for last in (day.day, 30, 29, 28):
        if (found := _valid(year, month, min(day.day, last))) is not None:
            return found
    raise AssertionError("every month has a 28th")


def _in_months(language: str) -> Resolver:
    def resolve(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
        return add_months(today, _count(language, m["n"])), None

    return resolve


def _month(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    """This month (what is left of it) or the next one, as a range of dates."""
    first = today.replace(day=1)
    if (m["mod"] or "").startswith(_NEXT):
        first = add_months(first, 1)
    return max(first, today), add_months(first, 1) - timedelta(days=1)


@cache
def patterns(language: str) -> tuple[tuple[re.Pattern[str], Resolver, str], ...]:
    """The date patterns of a language, each with the function that resolves its match and its kind."""
    months = alternation(MONTHS[language])
    weekdays = alternation(WEEKDAYS[language])
    relative = alternation(RELATIVE_DAYS[language], any_space=True)
    coming = alternation((w for w, days in RELATIVE_DAYS[language].items() if days >= 0), any_space=True)
    numbers = alternation(_vocabulary(language)[0])
    iso = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:\b|(?=t\d))")  # also 2026-12-14T10:00
    if language == "en":
        return (
            (iso, _iso, DAY),
            (re.compile(r"(?<![\d/.])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"), _numeric, DAY),
            (re.compile(r"(?<![\d.])(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<y>\d{4}|\d{2})(?![\d.])"), _numeric, DAY),
            (re.compile(r"(?<![\w/.:-])(?P<a>\d{1,2})-(?P<b>\d{1,2})(?:-(?P<y>\d{4}))?(?![\w/:-])"), _dashed(language), DAY),
            (re.compile(rf"\b(?:the\s+)?(?P<d>{_DAY})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{months})\b\.?(?:,?\s+(?P<y>\d{{4}})\b)?"), _day_month, DAY),
            (re.compile(rf"\b(?P<mon>{months})\.?\s+(?:the\s+)?(?P<d>{_DAY})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}})\b)?"), _day_month, DAY),
            (re.compile(rf"\bthe\s+(?P<d>{_DAY})(?:st|nd|rd|th)\b"), _day_only, DAY),
            (re.compile(rf"\b(?:the\s+)?(?P<rel>{relative})\b"), _relative, ""),
            (re.compile(rf"\b(?:(?P<mod>this\s+coming|this|next|coming|last)\s+)?(?P<wd>{weekdays})\b"), _weekday, WEEKDAY),
            (re.compile(rf"\b(?:the\s+)?(?P<ord>first|second|third|fourth|fifth|last|[1-5](?:st|nd|rd|th))\s+(?P<wd>{weekdays})\s+(?:of|in)\s+(?:(?P<mon>{months})(?:,?\s+(?P<y>\d{{4}}))?|(?:(?P<mod>this|next)|the)\s+month)\b"), _nth_weekday, ""),
            (re.compile(rf"\b(?:(?P<wd>{weekdays})|(?P<rel>{coming}))\s+week\b"), _week_after, ""),
            (re.compile(r"\b(?:(?P<mod>this|next)\s+)?weekend\b"), _weekend, RANGE),
            (re.compile(r"\b(?P<mod>this|next)\s+week\b"), _week, WEEK),
            (re.compile(rf"\bin\s+(?:(?P<n>\d+|{numbers})|an?)\s+(?P<unit>days?|weeks?)\b"), _in_days(language), ""),
            (re.compile(rf"(?<!\bfor\s)\b(?:(?P<n>\d+|{numbers})|an?)\s+(?P<unit>days?|weeks?)\s+(?:from|after|on)\s+(?P<base>now|{coming}|{weekdays})\b"), _in_days(language), ""),
            (re.compile(rf"\bin\s+(?:(?P<n>\d+|{numbers})|an?)\s+months?\b"), _in_months(language), ""),
            (re.compile(r"\b(?P<mod>this|next)\s+month\b"), _month, RANGE),
        )  # fmt: skip
    return (
        (iso, _iso, DAY),
        (re.compile(r"(?<![\d/.])(?P<a>\d{1,2})[./](?P<b>\d{2})(?:[./](?P<y>\d{4}|\d{2}))?(?![\d/]|[.,]\d)"), _dotted_ru, DAY),
        (re.compile(r"(?<![\w/.:-])(?P<a>\d{1,2})-(?P<b>\d{2})(?:-(?P<y>\d{4}))?(?![\w/:-])"), _dashed(language), DAY),
        (re.compile(rf"\b(?P<d>{_DAY})(?:-?(?:го|е|ое))?\s+(?P<mon>{months})\b\.?(?:\s+(?P<y>\d{{4}})(?:\s*(?:года|г\b\.?))?)?"), _day_month, DAY),
        (re.compile(rf"(?<![\d.])(?P<d>{_DAY})(?:-?(?:го|е)\b|\s+числа\b)"), _day_only, DAY),
        (re.compile(rf"\b(?P<rel>{relative})\b"), _relative, ""),
        (re.compile(rf"\b(?:(?P<mod>следующ\w*|ближайш\w*|эт[оау]т?|будущ\w*|прошл\w*)\s+)?(?P<wd>{weekdays})\b"), _weekday, WEEKDAY),
        (re.compile(rf"\b(?P<ord>(?:перв|втор|трет|четверт|пят|последн)(?:{_RU_ORDINAL_ENDINGS}))\s+(?P<wd>{weekdays})\s+(?:(?P<mon>{months})(?:\s+(?P<y>\d{{4}})(?:\s*(?:года|г\b\.?))?)?|(?:(?P<mod>этого|текущего|следующего|будущего)\s+)?месяца)\b"), _nth_weekday, ""),
        (re.compile(r"\b(?:(?P<mod>эти|этих|следующие|следующих|ближайшие|ближайших|будущие|будущих)\s+)?выходн(?:ые|ых)\b"), _weekend, RANGE),
        (re.compile(r"\b(?:на\s+)?(?P<mod>этой|следующей|будущей)\s+неделе\b"), _week, WEEK),
        (re.compile(rf"\bчерез\s+(?:(?P<n>\d+|{numbers})\s+)?(?P<unit>день|дня|дней|неделю|недели|недель|сутки)(?:\s+после\s+(?P<base>завтра))?\b"), _in_days(language), ""),
        (re.compile(rf"\bчерез\s+(?:(?P<n>\d+|{numbers})\s+)?(?:месяц|месяца|месяцев)\b"), _in_months(language), ""),
        (re.compile(r"\b(?:в\s+)?(?P<mod>этом|следующем|будущем)\s+месяце\b"), _month, RANGE),
    )  # fmt: skip


_BESIDE = re.compile(r"\s*,?\s*(?:(?:on|в|во)\s+)?")
"""What may stand between a weekday and the date or the week it is in."""


def _weekday_in(other: DateSpan, weekday: int) -> date | None:
    """The day of this weekday in a week (past or not: "this week on monday"), or the first in
    another range of dates ("saturday this weekend", "friday next month"), if it has one."""
    last = other.last or other.first
    if other.kind == WEEK:
        return last - timedelta(days=6 - weekday)
    found = _coming(other.first, weekday)
    return found if found <= last else None


def weekdays_beside(text: str, found: list[DateSpan]) -> list[DateSpan]:
    """A weekday next to a date or a range of dates is one date with it: beside a day of the
    month it is that day ("thursday the 10th", "понедельник, 4 января"; the day of the month
    wins when they disagree), beside a week or another range it is that weekday there
    ("wednesday next week", "на следующей неделе в среду")."""
    joined: list[DateSpan] = []
    for weekday in (d for d in found if d.kind == WEEKDAY):
        for other in (d for d in found if d.kind in (DAY, WEEK, RANGE)):
            left, right = (weekday, other) if weekday.end <= other.start else (other, weekday)
            if right.start < left.end or not _BESIDE.fullmatch(text, left.end, right.start):
                continue
            day = other.first if other.kind == DAY else _weekday_in(other, weekday.first.weekday())
            if day is not None:
                joined.append(DateSpan(left.start, right.end, day))
    return found + joined


def find_dates(text: str, today: date, language: str, month_first: bool) -> list[DateSpan]:
    """Every date expression in `text` (lower-cased, `ё` as `е`); overlapping ones all kept."""
    found: list[DateSpan] = []
    for pattern, resolve, kind in patterns(language):
        for m in pattern.finditer(text):
            resolved = resolve(m, today, month_first)
            if resolved is not None:
                found.append(DateSpan(m.start(), m.end(), *resolved, kind=kind))
    return weekdays_beside(text, found)
