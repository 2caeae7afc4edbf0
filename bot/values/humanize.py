"""Built-in values written back for people: "Friday 12 December, 14:30", "пятница, 12 декабря, 14:30"."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

import phonenumbers

from bot.values.lexicon import MONTH_NAMES, WEEKDAY_NAMES

_ISO_DURATION = re.compile(
    r"P(?:(?P<Y>\d+)Y)?(?:(?P<MO>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?(?:T(?:(?P<H>\d+)H)?(?:(?P<M>\d+)M)?)?"
)
_UNITS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"Y": ("year", "years"), "MO": ("month", "months"), "W": ("week", "weeks"), "D": ("day", "days"),
           "H": ("hour", "hours"), "M": ("minute", "minutes")},
    "ru": {"Y": ("год", "года", "лет"), "MO": ("месяц", "месяца", "месяцев"), "W": ("неделя", "недели", "недель"),
           "D": ("день", "дня", "дней"), "H": ("час", "часа", "часов"), "M": ("минута", "минуты", "минут")},
}  # fmt: skip
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def _plural(n: int, forms: tuple[str, ...]) -> str:
    if len(forms) == 2:
        return forms[0] if n == 1 else forms[1]
    if n % 10 == 1 and n % 100 != 11:
        return forms[0]
    return forms[1] if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else forms[2]


def _date(day: date, language: str) -> str:
    weekday, month = WEEKDAY_NAMES[language][day.weekday()], MONTH_NAMES[language][day.month - 1]
    return f"{weekday} {day.day} {month}" if language == "en" else f"{weekday}, {day.day} {month}"


def _time(moment: time) -> str:
    return moment.strftime("%H:%M")


def _one(entity_name: str, value: Any, language: str) -> str:
    if entity_name == "date":
        return _date(date.fromisoformat(value), language)
    if entity_name == "time":
        return _time(time.fromisoformat(value))
    if entity_name == "datetime":
        moment = datetime.fromisoformat(value)
        return f"{_date(moment.date(), language)}, {_time(moment.time())}"
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def humanize(entity_name: str, value: Any, language: str = "en") -> str:
    """How a reply shows a built-in's value; the slot keeps the ISO value itself."""
    if isinstance(value, dict) and "from" in value:
        first, last = _one(entity_name, value["from"], language), _one(entity_name, value["to"], language)
        if entity_name == "datetime" and value["from"][:10] == value["to"][:10]:
            last = _time(datetime.fromisoformat(value["to"]).time())
        return f"{first}–{last}" if entity_name == "time" else f"{first} – {last}"
    if entity_name == "amount_of_money" and isinstance(value, dict):
        amount, currency = _number(value["amount"]), value["currency"]
        if language == "ru":
            return f"{amount} ₽" if currency == "RUB" else f"{amount} {_SYMBOLS.get(currency, currency)}"
        return f"{_SYMBOLS[currency]}{amount}" if currency in _SYMBOLS else f"{amount} {currency}"
    if entity_name == "duration":
        m = _ISO_DURATION.fullmatch(str(value))
        if m is None:
            return str(value)
        parts = [(int(n), unit) for unit, n in m.groupdict().items() if n]
        return " ".join(f"{n} {_plural(n, _UNITS[language][unit])}" for n, unit in parts)
    if entity_name == "phone":
        return phonenumbers.format_number(phonenumbers.parse(str(value)), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if entity_name == "ordinal" and value == -1:
        return "last" if language == "en" else "последний"
    if entity_name == "ordinal" and isinstance(value, int) and value > 0:
        if language == "ru":
            return f"{value}-й"
        suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
        return f"{value}{suffix}"
    return _one(entity_name, value, language)


def readable(entity_name: str, value: Any, language: str = "en") -> Any:
    """`humanize` for a value a slot holds, which an action or a validator may also have set:
    one that is not a built-in's value ("tomorrow", a name) is shown as it is."""
    try:
        return humanize(entity_name, value, language)
    except (ValueError, TypeError, KeyError, AttributeError, phonenumbers.NumberParseException):
        return value
