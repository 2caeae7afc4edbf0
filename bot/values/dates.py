# ruff: noqa: E501  (each date pattern reads best on one line)
"""Calendar dates in English and Russian resolved against today: "tomorrow", "next friday",
"the 14th", "14/12", "5 декабря", "в следующий вторник", "this weekend" (a range).

Relative words are read as a booking assistant would: a bare weekday or "this friday" is the
coming one (today if it is that day), "next friday" the one in next week (weeks start on
Monday), a date without a year the next one that is not past.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from bot.values.lexicon import MONTHS, RELATIVE_DAYS, WEEKDAYS, alternation
from bot.values.numbers import _vocabulary
from bot.values.times import find_times

MONTH_FIRST_REGIONS = frozenset({"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "UM", "VI"})
"""Regions that write 12/05 for December 5; elsewhere it is 12 May."""


@dataclass(frozen=True)
class DateSpan:
    """A date (or, with `last`, a range of dates) found at text[start:end]."""

    start: int
    end: int
    first: date
    last: date | None = None


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
    months = MONTHS["en"] | MONTHS["ru"]
    return _absolute(today, int(m["d"]), months[m["mon"]], _year(m["y"]))


def _day_only(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    found = _next_monthly(today, int(m["d"]))
    return (found, None) if found else None


def _relative(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    words = RELATIVE_DAYS["en"] | RELATIVE_DAYS["ru"]
    return today + timedelta(days=words[" ".join(m["rel"].split())]), None


_NEXT = ("next", "следующ", "будущ")
_LAST = ("last", "прошл")


def _weekday(m: re.Match[str], today: date, month_first: bool) -> tuple[date, date | None] | None:
    weekday = (WEEKDAYS["en"] | WEEKDAYS["ru"])[m["wd"]]
    modifier = m["mod"] or ""
    if modifier.startswith(_NEXT):
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
        return monday + timedelta(days=weekday), None
    if modifier.startswith(_LAST):
        return today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1), None
    return today + timedelta(days=(weekday - today.weekday()) % 7), None


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
        base = today + timedelta(days=1) if m.groupdict().get("base") in ("tomorrow", "завтра") else today
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
def patterns(language: str) -> tuple[tuple[re.Pattern[str], Resolver], ...]:
    """The date patterns of a language, each with the function that resolves its match."""
    months = alternation(MONTHS[language])
    weekdays = alternation(WEEKDAYS[language])
    relative = alternation(RELATIVE_DAYS[language]).replace(r"\ ", r"\s+")
    numbers = alternation(_vocabulary(language)[0])
    iso = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:\b|(?=t\d))")  # also 2026-12-14T10:00
    if language == "en":
        return (
            (iso, _iso),
            (re.compile(r"(?<![\d/.])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"), _numeric),
            (re.compile(r"(?<![\d.])(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<y>\d{4}|\d{2})(?![\d.])"), _numeric),
            (re.compile(r"(?<![\w/.:-])(?P<a>\d{1,2})-(?P<b>\d{1,2})(?:-(?P<y>\d{4}))?(?![\w/:-])"), _dashed(language)),
            (re.compile(rf"\b(?:the\s+)?(?P<d>{_DAY})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{months})\b\.?(?:,?\s+(?P<y>\d{{4}})\b)?"), _day_month),
            (re.compile(rf"\b(?P<mon>{months})\.?\s+(?:the\s+)?(?P<d>{_DAY})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}})\b)?"), _day_month),
            (re.compile(rf"\bthe\s+(?P<d>{_DAY})(?:st|nd|rd|th)\b"), _day_only),
            (re.compile(rf"\b(?:the\s+)?(?P<rel>{relative})\b"), _relative),
            (re.compile(rf"\b(?:(?P<mod>this\s+coming|this|next|coming|last)\s+)?(?P<wd>{weekdays})\b"), _weekday),
            (re.compile(r"\b(?:(?P<mod>this|next)\s+)?weekend\b"), _weekend),
            (re.compile(r"\b(?P<mod>this|next)\s+week\b"), _week),
            (re.compile(rf"\bin\s+(?:(?P<n>\d+|{numbers})|an?)\s+(?P<unit>days?|weeks?)\b"), _in_days(language)),
            (re.compile(rf"\b(?:(?P<n>\d+|{numbers})|an?)\s+(?P<unit>days?|weeks?)\s+(?:from|after)\s+(?P<base>today|now|tomorrow)\b"), _in_days(language)),
            (re.compile(rf"\bin\s+(?:(?P<n>\d+|{numbers})|an?)\s+months?\b"), _in_months(language)),
            (re.compile(r"\b(?P<mod>this|next)\s+month\b"), _month),
        )  # fmt: skip
    return (
        (iso, _iso),
        (re.compile(r"(?<![\d/.])(?P<a>\d{1,2})[./](?P<b>\d{2})(?:[./](?P<y>\d{4}|\d{2}))?(?![\d/]|[.,]\d)"), _numeric),
        (re.compile(r"(?<![\w/.:-])(?P<a>\d{1,2})-(?P<b>\d{2})(?:-(?P<y>\d{4}))?(?![\w/:-])"), _dashed(language)),
        (re.compile(rf"\b(?P<d>{_DAY})(?:-?(?:го|е|ое))?\s+(?P<mon>{months})\b\.?(?:\s+(?P<y>\d{{4}})(?:\s*(?:года|г\b\.?))?)?"), _day_month),
        (re.compile(rf"(?<![\d.])(?P<d>{_DAY})(?:-?(?:го|е)\b|\s+числа\b)"), _day_only),
        (re.compile(rf"\b(?P<rel>{relative})\b"), _relative),
        (re.compile(rf"\b(?:(?P<mod>следующ\w*|ближайш\w*|эт[оау]т?|будущ\w*|прошл\w*)\s+)?(?P<wd>{weekdays})\b"), _weekday),
        (re.compile(r"\b(?:(?P<mod>эти|этих|следующие|следующих|ближайшие|ближайших|будущие|будущих)\s+)?выходн(?:ые|ых)\b"), _weekend),
        (re.compile(r"\b(?:на\s+)?(?P<mod>этой|следующей|будущей)\s+неделе\b"), _week),
        (re.compile(rf"\bчерез\s+(?:(?P<n>\d+|{numbers})\s+)?(?P<unit>день|дня|дней|неделю|недели|недель|сутки)(?:\s+после\s+(?P<base>завтра))?\b"), _in_days(language)),
        (re.compile(rf"\bчерез\s+(?:(?P<n>\d+|{numbers})\s+)?(?:месяц|месяца|месяцев)\b"), _in_months(language)),
        (re.compile(r"\b(?:в\s+)?(?P<mod>этом|следующем|будущем)\s+месяце\b"), _month),
    )  # fmt: skip


def find_dates(text: str, today: date, language: str, month_first: bool) -> list[DateSpan]:
    """Every date expression in `text` (lower-cased, `ё` as `е`); overlapping ones all kept."""
    found: list[DateSpan] = []
    for pattern, resolve in patterns(language):
        for m in pattern.finditer(text):
            resolved = resolve(m, today, month_first)
            if resolved is not None:
                found.append(DateSpan(m.start(), m.end(), *resolved))
    return found
