"""The words of dates, times, durations and money in English and Russian, as plain tables.

Text is matched lower-cased with `ё` read as `е`, so the tables hold those forms only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def alternation(words: Iterable[object], any_space: bool = False) -> str:
    """A regular expression matching any of `words` (a table's keys), longest first; with
    `any_space`, a space inside one matches any run of white space ("next  week")."""
    pattern = "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))
    return pattern.replace(r"\ ", r"\s+") if any_space else pattern


WEEKDAYS = {
    "en": {
        "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "weds": 2,
        "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
        "saturday": 5, "sunday": 6,
    },
    "ru": {
        "понедельник": 0, "понедельника": 0, "пн": 0, "вторник": 1, "вторника": 1, "вт": 1,
        "среда": 2, "среду": 2, "среды": 2, "ср": 2, "четверг": 3, "четверга": 3, "чт": 3,
        "пятница": 4, "пятницу": 4, "пятницы": 4, "пт": 4, "суббота": 5, "субботу": 5, "субботы": 5, "сб": 5,
        "воскресенье": 6, "воскресенья": 6, "вс": 6,
    },
}  # fmt: skip

MONTHS = {
    "en": {
        "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
        "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
        "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    },
    "ru": {
        "января": 1, "янв": 1, "февраля": 2, "фев": 2, "марта": 3, "мар": 3, "апреля": 4, "апр": 4,
        "мая": 5, "июня": 6, "июн": 6, "июля": 7, "июл": 7, "августа": 8, "авг": 8, "сентября": 9,
        "сент": 9, "сен": 9, "октября": 10, "окт": 10, "ноября": 11, "нояб": 11, "ноя": 11, "декабря": 12, "дек": 12,
    },
}  # fmt: skip

RELATIVE_DAYS = {
    "en": {
        "today": 0,
        "tonight": 0,
        "tomorrow": 1,
        "tmrw": 1,
        "tmr": 1,
        "tomorow": 1,
        "tommorow": 1,
        "tommorrow": 1,
        "day after tomorrow": 2,
        "yesterday": -1,
    },
    "ru": {"сегодня": 0, "завтра": 1, "послезавтра": 2, "вчера": -1, "позавчера": -2},
}

HOUR_WORDS = {
    "en": {
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    },
    "ru": {
        "час": 1, "один": 1, "одного": 1, "два": 2, "двух": 2, "три": 3, "трех": 3, "четыре": 4, "четырех": 4,
        "пять": 5, "пяти": 5, "шесть": 6, "шести": 6, "семь": 7, "семи": 7, "восемь": 8, "восьми": 8,
        "девять": 9, "девяти": 9, "десять": 10, "десяти": 10, "одиннадцать": 11, "одиннадцати": 11,
        "двенадцать": 12, "двенадцати": 12,
    },
}  # fmt: skip

HOUR_ORDINALS_RU = {
    "первого": 1, "второго": 2, "третьего": 3, "четвертого": 4, "пятого": 5, "шестого": 6, "седьмого": 7,
    "восьмого": 8, "девятого": 9, "десятого": 10, "одиннадцатого": 11, "двенадцатого": 12,
}  # fmt: skip
"""'половина одиннадцатого' is half past ten: the hour named is the one being entered."""

PARTS_OF_DAY = {
    "en": {
        "morning": ("08:00", "12:00"), "afternoon": ("12:00", "18:00"),
        "evening": ("18:00", "22:00"), "night": ("22:00", "23:59"), "tonight": ("18:00", "23:59"),
    },
    "ru": {
        "утром": ("08:00", "12:00"), "днем": ("12:00", "18:00"), "вечером": ("18:00", "22:00"),
        "ночью": ("22:00", "23:59"), "до обеда": ("08:00", "12:00"), "после обеда": ("12:00", "18:00"),
    },
}  # fmt: skip

DURATION_UNITS = {
    "en": {
        "minute": "M", "minutes": "M", "min": "M", "mins": "M", "hour": "H", "hours": "H", "hr": "H", "hrs": "H",
        "day": "D", "days": "D", "week": "W", "weeks": "W", "month": "MO", "months": "MO", "year": "Y", "years": "Y",
    },
    "ru": {
        "минуту": "M", "минуты": "M", "минут": "M", "мин": "M", "час": "H", "часа": "H", "часов": "H",
        "день": "D", "дня": "D", "дней": "D", "сутки": "D", "суток": "D", "неделю": "W", "недели": "W", "недель": "W",
        "месяц": "MO", "месяца": "MO", "месяцев": "MO", "год": "Y", "года": "Y", "лет": "Y",
    },
}  # fmt: skip

CURRENCY_WORDS = {
    "en": {
        "dollar": "USD", "dollars": "USD", "bucks": "USD", "usd": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
        "pound": "GBP", "pounds": "GBP", "quid": "GBP", "gbp": "GBP", "ruble": "RUB", "rubles": "RUB",
        "rouble": "RUB", "roubles": "RUB", "rub": "RUB",
    },
    "ru": {
        "рубль": "RUB", "рубля": "RUB", "рублей": "RUB", "руб": "RUB", "р": "RUB", "rub": "RUB",
        "доллар": "USD", "доллара": "USD", "долларов": "USD", "usd": "USD", "евро": "EUR", "eur": "EUR",
        "фунт": "GBP", "фунта": "GBP", "фунтов": "GBP",
    },
}  # fmt: skip

CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB", "¥": "JPY"}

ORDINAL_WORDS = {
    "en": {
        "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
        "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
        "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20,
        "thirtieth": 30, "last": -1,
    },
    "ru": {
        "перв": 1, "втор": 2, "трет": 3, "четверт": 4, "пят": 5, "шест": 6, "седьм": 7, "восьм": 8, "девят": 9,
        "десят": 10, "последн": -1,
    },
}  # fmt: skip
"""Russian ordinals are stems: an adjective ending follows (первый, вторую, третьего)."""

WEEKDAY_NAMES = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "ru": ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"],
}
MONTH_NAMES = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря"],
}  # fmt: skip
