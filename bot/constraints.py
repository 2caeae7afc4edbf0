"""Slot constraints from `intents.yaml` checked against a resolved value (see docs/intents.md).

`violation` is pure: the dialogue policy calls it with the value a slot is about to take and
asks again with the message it returns.
"""

from __future__ import annotations

from datetime import date, datetime, time

from bot.domain import Constraint, SlotSpec
from bot.domain_checks import parse_between
from bot.understanding import EntityValue

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MESSAGES: dict[str, dict[Constraint, str]] = {
    "en": {
        "future": "That date has already passed. Which date would you like?",
        "weekdays": "Sorry, we can't do that day. Which other day suits you?",
        "between": "Please pick a time between {first} and {last}.",
        "min": "That's too few: the least is {min}.",
        "max": "That's too many: the most is {max}.",
        "choices": "Please choose one of: {choices}.",
    },
    "ru": {
        "future": "Эта дата уже прошла. На какую дату вас записать?",
        "weekdays": "К сожалению, в этот день нельзя. Какой другой день вам подходит?",
        "between": "Пожалуйста, выберите время с {first} до {last}.",
        "min": "Слишком мало: минимум {min}.",
        "max": "Слишком много: максимум {max}.",
        "choices": "Пожалуйста, выберите одно из: {choices}.",
    },
}


def violation(slot: SlotSpec, value: EntityValue, now: datetime, language: str = "en") -> str | None:
    """The message to ask again with when `value` breaks one of the slot's constraints, else None.

    A range ({"from": ..., "to": ...}) must keep the constraints at both ends. `now` is the
    bot's aware current time: "the past" is before today there.
    """
    ends = [value["from"], value["to"]] if isinstance(value, dict) and "from" in value else [value]
    for constraint in slot.constraints:
        if any(_breaks(slot, constraint, end, now) for end in ends):
            return slot.messages.get(constraint) or _default(slot, constraint, language)
    return None


def _breaks(slot: SlotSpec, constraint: Constraint, value: EntityValue, now: datetime) -> bool:
    if constraint == "choices":
        return str(value).casefold() not in {c.casefold() for c in slot.choices or ()}
    if constraint in ("min", "max"):
        number, bound = _number(value), slot.min if constraint == "min" else slot.max
        if number is None or bound is None:
            return False
        return number < bound if constraint == "min" else number > bound
    moment = _moment(value)
    if constraint == "between":
        clock = moment.timetz().replace(tzinfo=None) if isinstance(moment, datetime) else moment
        bounds = parse_between(slot.between or "")
        return isinstance(clock, time) and bounds is not None and not bounds[0] <= clock <= bounds[1]
    day = moment.astimezone(now.tzinfo).date() if isinstance(moment, datetime) else moment
    if not isinstance(day, date):
        return False
    if constraint == "future":
        return moment < now if isinstance(moment, datetime) else day < now.date()
    return WEEKDAYS[day.weekday()] not in (slot.weekdays or ())


def _moment(value: EntityValue) -> datetime | date | time | None:
    """An ISO date, time or datetime as a value; None for anything else (the slot was not a built-in)."""
    if not isinstance(value, str):
        return None
    for parse in (datetime.fromisoformat, date.fromisoformat, time.fromisoformat):
        try:
            moment: datetime | date | time = parse(value)
        except ValueError:
            continue
        if isinstance(moment, datetime) and len(value) == 10:
            return moment.date()  # Python 3.11 reads "2026-12-14" as a datetime too
        return moment
    return None


def _number(value: EntityValue) -> float | None:
    amount = value.get("amount") if isinstance(value, dict) else value
    if isinstance(amount, bool):
        return None
    if isinstance(amount, int | float):
        return float(amount)
    try:
        return float(str(amount))
    except ValueError:
        return None


def _default(slot: SlotSpec, constraint: Constraint, language: str) -> str:
    bounds = parse_between(slot.between or "")
    fields = {
        "first": bounds[0].strftime("%H:%M") if bounds else "",
        "last": bounds[1].strftime("%H:%M") if bounds else "",
        "min": f"{slot.min:g}" if slot.min is not None else "",
        "max": f"{slot.max:g}" if slot.max is not None else "",
        "choices": ", ".join(slot.choices or ()),
    }
    return DEFAULT_MESSAGES.get(language, DEFAULT_MESSAGES["en"])[constraint].format(**fields)
