"""Built-in value entities for English and Russian: dates, times, amounts, phones and more,
resolved in-process to ISO 8601 strings or typed JSON, relative to an injectable "now".

`extract_values` finds them, `humanize` writes a value back for a reply. See docs/values.md.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.understanding import Entity
from bot.values.contacts import email_entities, phone_entities, url_entities
from bot.values.dates import MONTH_FIRST_REGIONS, find_dates
from bot.values.durations import duration_entities
from bot.values.humanize import humanize
from bot.values.money import money_entities
from bot.values.numbers import find_numbers, number_entities, ordinal_entities
from bot.values.temporal import date_entities, datetime_entities, iso_moments, longest, time_entities
from bot.values.times import find_times

BUILTINS = frozenset(
    {"date", "time", "datetime", "duration", "amount_of_money", "phone", "url", "email", "ordinal", "number"}
)
LANGUAGES = ("en", "ru")

__all__ = ["BUILTINS", "UnknownBuiltinError", "extract_values", "humanize", "prepare"]


class UnknownBuiltinError(ValueError):
    """A built-in or language that this package does not know was asked for."""


def prepare(text: str) -> str:
    """Lower-case text with `ё` as `е`, position for position, so spans index the original."""
    lowered = text.lower().replace("ё", "е")
    return lowered if len(lowered) == len(text) else "".join(c.lower()[:1] or c for c in text).replace("ё", "е")


def extract_values(
    text: str,
    language: str,
    now: datetime,
    *,
    region: str = "US",
    wanted: frozenset[str] | None = None,
    timezone: str | None = None,
) -> list[Entity]:
    """The built-in values in `text`, each with its span, sorted by position.

    `now` must be aware; with `timezone` (a zoneinfo name) it is first moved to that zone, so
    "tomorrow" is tomorrow there. `region` (ISO 3166 alpha-2) reads national phone numbers and
    the order of 12/05. Of overlapping values of one built-in the longest is kept.
    """
    if language not in LANGUAGES:
        raise UnknownBuiltinError(f"language '{language}' has no built-in values; use one of {', '.join(LANGUAGES)}")
    wanted = BUILTINS if wanted is None else wanted
    if unknown := wanted - BUILTINS:
        raise UnknownBuiltinError(
            f"unknown built-in(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(BUILTINS))}"
        )
    if now.tzinfo is None:
        raise UnknownBuiltinError("`now` needs a time zone: pass datetime.now(ZoneInfo(...))")
    if timezone is not None:
        now = now.astimezone(ZoneInfo(timezone))
    lowered = prepare(text)
    asked, wanted = wanted, BUILTINS if wanted & _PARTS else wanted  # and what may hold one of them
    found: list[Entity] = []
    if wanted & {"number", "amount_of_money", "duration"}:
        numbers = find_numbers(lowered, language)
        if "number" in wanted:
            found += number_entities(lowered, text, language)
        if "amount_of_money" in wanted:
            found += money_entities(lowered, text, language, numbers)
        if "duration" in wanted:
            found += duration_entities(lowered, text, language, numbers)
    if "ordinal" in wanted:
        found += ordinal_entities(lowered, text, language)
    if wanted & {"date", "time", "datetime"}:
        found += _temporal(lowered, text, language, now, region, wanted)
    if "phone" in wanted:
        found += phone_entities(text, region)
    if "url" in wanted:
        found += url_entities(text)
    if "email" in wanted:
        found += email_entities(text)
    return [e for e in longest(without_covered(found)) if e.entity in asked]


_PARTS = frozenset({"number", "date", "time", "datetime", "duration"})
"""Built-ins whose words another built-in's wider value may hold as a part of it."""


def without_covered(found: list[Entity]) -> list[Entity]:
    """A value inside a wider value of another built-in is part of that value, not one of its own.

    A number overlapped by one: none in "2026-12-24", "$20", "+1 415 555 2671" or "tomorrow at
    3pm". A date, time, datetime or duration held in one: no duration "3 days" in the date "in 3
    days", no time in "2026-12-14" or in the date "через 3 дня". A `datetime` is made of the date
    and the time it holds, which stay ("tomorrow at 3pm" is also "tomorrow" and "3pm"); others
    stay too: "the 3rd" is the ordinal 3rd as well as a date.
    """
    return [e for e in found if not any(_holds(o, e) for o in found)]


def _holds(wider: Entity, part: Entity) -> bool:
    if wider.entity == part.entity or part.entity not in _PARTS or wider.end - wider.start <= part.end - part.start:
        return False
    if part.entity == "number":
        return wider.overlaps(part)
    if wider.entity == "datetime" and part.entity in ("date", "time"):
        return False
    return wider.start <= part.start and part.end <= wider.end


def _temporal(
    lowered: str, text: str, language: str, now: datetime, region: str, wanted: frozenset[str]
) -> list[Entity]:
    month_first = language == "en" and region.upper() in MONTH_FIRST_REGIONS
    isos = iso_moments(lowered, text, now)
    dates = [d for d in find_dates(lowered, now.date(), language, month_first) if not isos.hides(d.start, d.end)]
    times = [t for t in find_times(lowered, language) if not isos.hides(t.start, t.end)]
    date_found = longest(date_entities(text, dates))
    time_found = longest([*time_entities(text, times), *isos.times])
    found: list[Entity] = []
    if "date" in wanted:
        found += date_found
    if "time" in wanted:
        found += time_found
    if "datetime" in wanted:
        kept_dates = [d for d in dates if any(e.start == d.start and e.end == d.end for e in date_found)]
        kept_times = [t for t in times if any(e.start == t.start and e.end == t.end for e in time_found)]
        found += longest([*datetime_entities(lowered, text, kept_dates, kept_times, now), *isos.datetimes])
    return found
