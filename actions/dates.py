"""Reading a day and a time from what a slot holds: words ("tomorrow", "Friday", "3pm"),
UK dates (12/05), ISO dates, or a built-in entity's typed value."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SHORT_DAYS = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4}
_SHORT_DAYS |= {"sat": 5, "saturdays": 5, "sun": 6}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_DAY_MONTH = re.compile(rf"^(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:\s+(\d{{4}}))?$")
_MONTH_DAY = re.compile(rf"^{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_ISO_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?$")
_TYPED_KEYS = ("value", "date", "time", "start", "iso", "text")


def parse_day(value: Any, today: date) -> date | None:
    """The day meant, the next one on or after `today` when the words leave the year open."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, dict):
        return next((d for k in _TYPED_KEYS if k in value and (d := parse_day(value[k], today))), None)
    if not isinstance(value, str):
        return None
    text = " ".join(value.casefold().replace(",", " ").split()).removeprefix("next ").removeprefix("this ")
    relative = {"today": 0, "tonight": 0, "later today": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "tomorow": 1}
    relative |= {"day after tomorrow": 2, "the day after tomorrow": 2}
    if text in relative:
        return today + timedelta(days=relative[text])
    weekday = WEEKDAYS.index(text) if text in WEEKDAYS else _SHORT_DAYS.get(text)
    if weekday is not None:
        return today + timedelta(days=(weekday - today.weekday()) % 7)
    try:
        if match := _ISO.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _SLASHED.match(text):
            year = int(match[3]) if match[3] else None
            return _upcoming(int(match[1]), int(match[2]), (year + 2000 if year and year < 100 else year), today)
        if match := _DAY_MONTH.match(text):
            return _upcoming(int(match[1]), MONTHS.index(match[2]) + 1, int(match[3]) if match[3] else None, today)
        if match := _MONTH_DAY.match(text):
            return _upcoming(int(match[2]), MONTHS.index(match[1]) + 1, int(match[3]) if match[3] else None, today)
    except ValueError:  # 31/02 and the like
        return None
    return None


def _upcoming(day: int, month: int, year: int | None, today: date) -> date:
    if year is not None:
        return date(year, month, day)
    candidate = date(today.year, month, day)
    return candidate if candidate >= today else date(today.year + 1, month, day)


def parse_time(value: Any) -> time | None:
    """The time of day meant: 10:30, 3pm, 2:30 pm, 9 a.m., noon."""
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value
    if isinstance(value, dict):
        return next((t for k in _TYPED_KEYS if k in value and (t := parse_time(value[k]))), None)
    if not isinstance(value, str):
        return None
    text = value.casefold().strip().rstrip(".")
    if text in ("noon", "midday", "lunchtime", "12 noon"):
        return time(12, 0)
    if _ISO_TIME.match(text):  # the time built-in's value: 15:00:00
        return time.fromisoformat(text).replace(second=0, microsecond=0)
    if "t" in text and _ISO.match(text):
        try:
            return datetime.fromisoformat(value).time().replace(second=0, microsecond=0)
        except ValueError:
            return None
    match = _CLOCK.match(text)
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if match[3]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match[3].startswith("p") else 0)
    return time(hour, minute) if hour < 24 and minute < 60 else None


def say_day(day: date) -> str:
    """Friday 5 December."""
    return f"{day:%A} {day.day} {day:%B}"


def say_time(at: time) -> str:
    return f"{at:%H:%M}"
