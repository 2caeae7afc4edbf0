"""Durations ("for two hours", "3 days", "half an hour", "на два часа") as ISO 8601 (PT2H, P3D)."""

from __future__ import annotations

import re
from functools import cache

from bot.understanding import Entity
from bot.values.lexicon import DURATION_UNITS
from bot.values.numbers import NumberSpan

_FIXED = {
    "en": re.compile(
        r"\b(?:(?P<half>half\s+an?\s+hour)|(?P<a>an?)\s+(?P<unit>minute|hour|day|week|month|year)(?P<more>\s+and\s+a\s+half)?)\b"
    ),
    "ru": re.compile(
        r"\b(?:(?P<half>полчаса|пол\s*часа)|(?P<a>на|в\s+течение)\s+(?P<unit>часа|час|суток|сутки|недели|неделю|дня|день|месяца|месяц|года|год))\b"
    ),
}
_TIME_BEFORE = re.compile(r"(?:\b(?:в|во|к|около|до|после|с)|\bat|\baround|\bby)\s+$")
"""Before an hour these make it a time of day ("в два часа"), not a length of time."""


@cache
def _unit_pattern(language: str) -> re.Pattern[str]:
    units = "|".join(sorted(DURATION_UNITS[language], key=len, reverse=True))
    return re.compile(rf"\s*(?P<unit>{units})\b(?P<more>\s+and\s+a\s+half)?")


def iso_duration(amount: float, unit: str) -> str:
    """ISO 8601 for an amount of a unit (M minutes, H hours, D, W, MO months, Y); fractions go down a unit."""
    if unit in ("M", "H"):
        minutes = round(amount * (60 if unit == "H" else 1))
        hours, minutes = divmod(minutes, 60)
        return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes or not hours else "")
    if unit == "D" and not float(amount).is_integer():
        return f"P{int(amount)}DT{round((amount % 1) * 24)}H" if amount >= 1 else f"PT{round(amount * 24)}H"
    designator = {"D": "D", "W": "W", "MO": "M", "Y": "Y"}[unit]
    return f"P{int(amount) if float(amount).is_integer() else amount}{designator}"


def duration_entities(text: str, original: str, language: str, numbers: list[NumberSpan]) -> list[Entity]:
    """Lengths of time: a number followed by a unit, or "an hour", "half an hour", "на час"."""
    found: list[Entity] = []
    units = DURATION_UNITS[language]
    pattern = _unit_pattern(language)
    for number in numbers:
        m = pattern.match(text, number.end)
        if m is None:
            continue
        unit = units[m["unit"]]
        if _TIME_BEFORE.search(text, 0, number.start):
            continue
        amount = number.value + (0.5 if m["more"] else 0)
        found.append(_entity(original, number.start, m.end(), iso_duration(amount, unit)))
    for m in _FIXED[language].finditer(text):
        if m["half"]:
            found.append(_entity(original, m.start(), m.end(), "PT30M"))
            continue
        start = m.start("unit") if language == "ru" else m.start()
        amount = 1.5 if m.groupdict().get("more") else 1.0
        found.append(_entity(original, start, m.end(), iso_duration(amount, units[m["unit"]])))
    return found


def _entity(original: str, start: int, end: int, value: str) -> Entity:
    return Entity("duration", value, start, end, original[start:end], source="builtin")
