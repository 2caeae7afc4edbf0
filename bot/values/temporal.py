"""Dates and times found in text made into `date`, `time` and `datetime` entities with ISO values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.understanding import Entity, EntityValue
from bot.values.dates import DateSpan
from bot.values.times import TimeSpan

_DATE_THEN_TIME = re.compile(r"\s*,?\s*(?:(?:at|on|around|about|by|в|во|на|к|около)\s+)?")
_TIME_THEN_DATE = re.compile(r"\s*,?\s*(?:(?:on|в|во|на)\s+)?")
_ISO_MOMENT = re.compile(
    r"(?<![\w-])(?P<date>\d{4}-\d{1,2}-\d{1,2})"
    r"(?:[t ](?P<time>(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)(?P<zone>z|[+-]\d{2}:?\d{2})?)?(?![\w:-])"
)
"""A date or date-time written as ISO 8601 (as a button or a form on a web page sends it)."""


@dataclass(frozen=True)
class IsoMoments:
    """ISO 8601 dates and date-times in a text: their parts are no times ("12-14" in
    "2026-12-14" is no range of hours, "00:00" in "+00:00" no midnight)."""

    spans: tuple[tuple[int, int, int], ...]
    """(start, end of the date part, end) of each."""
    times: tuple[Entity, ...]
    datetimes: tuple[Entity, ...]

    def hides(self, start: int, end: int) -> bool:
        """A span found inside one but not its date part exactly, which the date patterns read."""
        return any(s < end and start < e and (start, end) != (s, d) for s, d, e in self.spans)


def iso_moments(text: str, original: str, now: datetime) -> IsoMoments:
    """The ISO dates and date-times of `text` (lower-cased); a date-time without an offset is in now's zone."""
    spans: list[tuple[int, int, int]] = []
    times: list[Entity] = []
    datetimes: list[Entity] = []
    for m in _ISO_MOMENT.finditer(text):
        spans.append((m.start(), m.end("date"), m.end()))
        if m["time"] is None:
            continue
        try:
            moment = datetime.fromisoformat(original[m.start() : m.end()].upper().replace(" ", "T"))
        except ValueError:  # 2026-02-31
            continue
        clock = moment.time()
        times.append(Entity("time", clock.isoformat(), m.start("time"), m.end("time"), m["time"], source="builtin"))
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
        datetimes.append(
            Entity("datetime", aware.isoformat(), m.start(), m.end(), original[m.start() : m.end()], source="builtin")
        )
    return IsoMoments(tuple(spans), tuple(times), tuple(datetimes))


def longest(spans: Sequence[Entity]) -> list[Entity]:
    """Of overlapping entities of one type the longest (then the first); sorted by position."""
    kept: list[Entity] = []
    for e in sorted(spans, key=lambda e: (e.start - e.end, e.start)):
        if not any(k.entity == e.entity and k.overlaps(e) for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: (e.start, e.entity))


def _range(first: str, last: str | None) -> EntityValue:
    return first if last is None else {"from": first, "to": last}


def date_entities(original: str, dates: list[DateSpan]) -> list[Entity]:
    return [
        Entity(
            "date",
            _range(d.first.isoformat(), d.last.isoformat() if d.last else None),
            d.start,
            d.end,
            original[d.start : d.end],
            source="builtin",
        )
        for d in dates
    ]


def time_entities(original: str, times: list[TimeSpan]) -> list[Entity]:
    return [
        Entity(
            "time",
            _range(t.first.isoformat(), t.last.isoformat() if t.last else None),
            t.start,
            t.end,
            original[t.start : t.end],
            source="builtin",
        )
        for t in times
    ]


def _at(day: date, moment: time, now: datetime) -> str:
    return datetime.combine(day, moment, tzinfo=now.tzinfo).isoformat()


def datetime_entities(
    text: str, original: str, dates: list[DateSpan], times: list[TimeSpan], now: datetime
) -> list[Entity]:
    """A date next to a time ("tomorrow at 3pm", "в 15:00 в пятницу") is one datetime; a time
    alone is the next such moment, today or tomorrow."""
    found: list[Entity] = []
    used: set[TimeSpan] = set()
    for d in (d for d in dates if d.last is None):
        for t in times:
            if t.start >= d.end and _DATE_THEN_TIME.fullmatch(text, d.end, t.start):
                start, end = d.start, t.end
            elif d.start >= t.end and _TIME_THEN_DATE.fullmatch(text, t.end, d.start):
                start, end = t.start, d.end
            else:
                continue
            used.add(t)
            value = _range(_at(d.first, t.first, now), _at(d.first, t.last, now) if t.last else None)
            found.append(Entity("datetime", value, start, end, original[start:end], source="builtin"))
    for t in times:
        if t in used or t.last is not None:
            continue
        day = (
            now.date() if datetime.combine(now.date(), t.first, tzinfo=now.tzinfo) > now else now.date() + timedelta(1)
        )
        found.append(
            Entity("datetime", _at(day, t.first, now), t.start, t.end, original[t.start : t.end], source="builtin")
        )
    return found
