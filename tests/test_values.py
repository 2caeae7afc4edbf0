"""Built-in values resolved at a fixed "now": Thursday 10 December 2026, 09:00 in London."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.values import UnknownBuiltinError, extract_values, humanize
from bot.values.dates import add_months

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=ZoneInfo("Europe/London"))

# (text, built-in, value, the span's text[, region])
ENGLISH: list[tuple[Any, ...]] = [
    ("tomorrow", "date", "2026-12-11", "tomorrow"),
    ("next friday", "date", "2026-12-18", "next friday"),
    ("the 14th", "date", "2026-12-14", "the 14th"),
    ("14/12", "date", "2026-12-14", "14/12"),
    ("today", "date", "2026-12-10", "today"),
    ("the day after tomorrow", "date", "2026-12-12", "the day after tomorrow"),
    ("can I come on Friday?", "date", "2026-12-11", "Friday"),
    ("this saturday", "date", "2026-12-12", "this saturday"),
    ("next Monday", "date", "2026-12-14", "next Monday"),
    ("on thursday", "date", "2026-12-10", "thursday"),
    ("December 24th", "date", "2026-12-24", "December 24th"),
    ("5 January", "date", "2027-01-05", "5 January"),
    ("the 3rd of March 2027", "date", "2027-03-03", "the 3rd of March 2027"),
    ("2026-12-20", "date", "2026-12-20", "2026-12-20"),
    ("12/05", "date", "2027-12-05", "12/05", "US"),
    ("12/05", "date", "2027-05-12", "12/05", "GB"),
    ("the 1st", "date", "2027-01-01", "the 1st"),
    ("in 3 days", "date", "2026-12-13", "in 3 days"),
    ("a week from today", "date", "2026-12-17", "a week from today"),
    ("two days from tomorrow", "date", "2026-12-13", "two days from tomorrow"),
    ("in a month", "date", "2027-01-10", "in a month"),
    ("any day next month", "date", {"from": "2027-01-01", "to": "2027-01-31"}, "next month"),
    ("later this month", "date", {"from": "2026-12-10", "to": "2026-12-31"}, "this month"),
    ("in a week", "date", "2026-12-17", "in a week"),
    ("this weekend", "date", {"from": "2026-12-12", "to": "2026-12-13"}, "this weekend"),
    ("next weekend", "date", {"from": "2026-12-19", "to": "2026-12-20"}, "next weekend"),
    ("sometime next week", "date", {"from": "2026-12-14", "to": "2026-12-20"}, "next week"),
    ("yesterday", "date", "2026-12-09", "yesterday"),
    ("Jan 5, 2027", "date", "2027-01-05", "Jan 5, 2027"),
    # ISO 8601 as a button or a web form sends it: its parts are no times ("12-14" is no range)
    ("2026-12-14T10:00", "date", "2026-12-14", "2026-12-14"),
    ("2026-12-14T10:00:00", "time", "10:00:00", "10:00:00"),
    ("2026-12-14T10:00:00", "datetime", "2026-12-14T10:00:00+00:00", "2026-12-14T10:00:00"),
    ("at 2026-12-14T10:00:00+01:00", "datetime", "2026-12-14T10:00:00+01:00", "2026-12-14T10:00:00+01:00"),
    ("2026-12-14T08:30Z", "time", "08:30:00", "08:30"),
    ("on 2026-12-14 at 09:30", "time", "09:30:00", "09:30"),
    ("15:00:00", "time", "15:00:00", "15:00:00"),
    ("what are your opening hours on saturday?", "date", "2026-12-12", "saturday"),
    ("31/12/2026", "date", "2026-12-31", "31/12/2026"),
    ("half past ten", "time", "10:30:00", "half past ten"),
    ("around 2 in the afternoon", "time", "14:00:00", "2 in the afternoon"),
    ("noon", "time", "12:00:00", "noon"),
    ("3pm", "time", "15:00:00", "3pm"),
    ("at 9:30", "time", "09:30:00", "9:30"),
    ("quarter to five", "time", "16:45:00", "quarter to five"),
    ("10 a.m.", "time", "10:00:00", "10 a.m."),
    ("midnight", "time", "00:00:00", "midnight"),
    ("at seven in the evening", "time", "19:00:00", "seven in the evening"),
    ("14:30", "time", "14:30:00", "14:30"),
    ("ten o'clock", "time", "10:00:00", "ten o'clock"),
    ("quarter past 11", "time", "11:15:00", "quarter past 11"),
    ("at 3", "time", "15:00:00", "3"),
    ("12:30 pm", "time", "12:30:00", "12:30 pm"),
    ("between 2 and 4pm", "time", {"from": "14:00:00", "to": "16:00:00"}, "between 2 and 4pm"),
    ("from 10am to 12pm", "time", {"from": "10:00:00", "to": "12:00:00"}, "from 10am to 12pm"),
    ("9-11am", "time", {"from": "09:00:00", "to": "11:00:00"}, "9-11am"),
    ("10:00-12:30", "time", {"from": "10:00:00", "to": "12:30:00"}, "10:00-12:30"),
    ("this afternoon", "time", {"from": "12:00:00", "to": "18:00:00"}, "this afternoon"),
    ("tomorrow at 3pm", "datetime", "2026-12-11T15:00:00+00:00", "tomorrow at 3pm"),
    ("friday at half past ten", "datetime", "2026-12-11T10:30:00+00:00", "friday at half past ten"),
    ("at 5pm", "datetime", "2026-12-10T17:00:00+00:00", "5pm"),
    ("at 8am", "datetime", "2026-12-11T08:00:00+00:00", "8am"),
    ("3pm on the 14th", "datetime", "2026-12-14T15:00:00+00:00", "3pm on the 14th"),
    (
        "next friday around 2 in the afternoon",
        "datetime",
        "2026-12-18T14:00:00+00:00",
        "next friday around 2 in the afternoon",
    ),
    (
        "tomorrow between 2 and 4pm",
        "datetime",
        {"from": "2026-12-11T14:00:00+00:00", "to": "2026-12-11T16:00:00+00:00"},
        "tomorrow between 2 and 4pm",
    ),
    ("for two hours", "duration", "PT2H", "two hours"),
    ("3 days", "duration", "P3D", "3 days"),
    ("half an hour", "duration", "PT30M", "half an hour"),
    ("90 minutes", "duration", "PT1H30M", "90 minutes"),
    ("an hour and a half", "duration", "PT1H30M", "an hour and a half"),
    ("2 weeks", "duration", "P2W", "2 weeks"),
    ("$20", "amount_of_money", {"amount": 20.0, "currency": "USD"}, "$20"),
    ("20 euros", "amount_of_money", {"amount": 20.0, "currency": "EUR"}, "20 euros"),
    ("£5.50", "amount_of_money", {"amount": 5.5, "currency": "GBP"}, "£5.50"),
    ("1,200 dollars", "amount_of_money", {"amount": 1200.0, "currency": "USD"}, "1,200 dollars"),
    ("twenty bucks", "amount_of_money", {"amount": 20.0, "currency": "USD"}, "twenty bucks"),
    ("500 rubles", "amount_of_money", {"amount": 500.0, "currency": "RUB"}, "500 rubles"),
    ("call me on (415) 555-2671", "phone", "+14155552671", "(415) 555-2671"),
    ("+44 20 7946 0958", "phone", "+442079460958", "+44 20 7946 0958"),
    ("ring 020 7946 0958", "phone", "+442079460958", "020 7946 0958", "GB"),
    ("see https://example.com/help.", "url", "https://example.com/help", "https://example.com/help"),
    ("go to www.northwind.example", "url", "www.northwind.example", "www.northwind.example"),
    ("shop.example.com/returns", "url", "shop.example.com/returns", "shop.example.com/returns"),
    ("the second one", "ordinal", 2, "second"),
    ("the 3rd", "ordinal", 3, "3rd"),
    ("twenty-first", "ordinal", 21, "twenty-first"),
    ("the last one", "ordinal", -1, "last"),
    ("twenty one", "number", 21, "twenty one"),
    ("three hundred and forty two", "number", 342, "three hundred and forty two"),
    ("a table for 4 people", "number", 4, "4"),
    ("2.5", "number", 2.5, "2.5"),
    ("1,500", "number", 1500, "1,500"),
    ("seventeen", "number", 17, "seventeen"),
    ("write to a.b@shop.example", "email", "a.b@shop.example", "a.b@shop.example"),
    # a weekday beside a day of the month or a week is one date
    ("thursday the 17th", "date", "2026-12-17", "thursday the 17th"),
    ("friday the 17th", "date", "2026-12-17", "friday the 17th"),  # they disagree: the day of the month
    ("Monday 4 January", "date", "2027-01-04", "Monday 4 January"),
    ("wednesday next week", "date", "2026-12-16", "wednesday next week"),
    ("next week on wednesday", "date", "2026-12-16", "next week on wednesday"),
    ("saturday this weekend", "date", "2026-12-12", "saturday this weekend"),
    ("wednesday next week at 3pm", "datetime", "2026-12-16T15:00:00+00:00", "wednesday next week at 3pm"),
    ("first monday of january", "date", "2027-01-04", "first monday of january"),
    ("the last friday of the month", "date", "2026-12-25", "the last friday of the month"),
    ("the second tuesday of december", "date", "2027-12-14", "the second tuesday of december"),  # 8th is past
    ("the first Monday in January 2028", "date", "2028-01-03", "the first Monday in January 2028"),
    ("Monday week", "date", "2026-12-21", "Monday week"),  # British: a week after the coming Monday
    ("tomorrow week", "date", "2026-12-18", "tomorrow week"),
    ("a week on friday", "date", "2026-12-18", "a week on friday"),
    ("two weeks from friday", "date", "2026-12-25", "two weeks from friday"),
    ("for 2 weeks from today", "duration", "P2W", "2 weeks"),  # a length from a day, not a day
    ("for 2 weeks from today", "date", "2026-12-10", "today"),
    ("2.30pm", "time", "14:30:00", "2.30pm"),
    ("at 5.30", "time", "17:30:00", "5.30"),
    ("17.30", "time", "17:30:00", "17.30"),
    ("at 5 30", "time", "17:30:00", "5 30"),
    ("half 4", "time", "16:30:00", "half 4"),  # British half past; 1-7 unmarked is afternoon
    ("at half nine", "time", "09:30:00", "half nine"),
    ("5 30ish", "time", "17:30:00", "5 30ish"),
    ("noonish", "time", "12:00:00", "noonish"),
    ("3ish", "time", "15:00:00", "3ish"),
    ("10am-ish", "time", "10:00:00", "10am-ish"),
    ("tmrw morning", "time", {"from": "08:00:00", "to": "12:00:00"}, "morning"),
    (
        "tmrw morning",
        "datetime",
        {"from": "2026-12-11T08:00:00+00:00", "to": "2026-12-11T12:00:00+00:00"},
        "tmrw morning",
    ),
]

RUSSIAN: list[tuple[Any, ...]] = [
    ("запишите на 2026-12-05 к 14 часам", "time", "14:00:00", "14 часам"),
    ("запишите на 2026-12-05 к 14 часам", "datetime", "2026-12-05T14:00:00+00:00", "2026-12-05 к 14 часам"),
    ("завтра", "date", "2026-12-11", "завтра"),
    ("в следующий вторник", "date", "2026-12-15", "следующий вторник"),
    ("послезавтра", "date", "2026-12-12", "послезавтра"),
    ("в пятницу", "date", "2026-12-11", "пятницу"),
    ("в эту субботу", "date", "2026-12-12", "эту субботу"),
    ("в следующую пятницу", "date", "2026-12-18", "следующую пятницу"),
    ("5 декабря", "date", "2027-12-05", "5 декабря"),
    ("25 декабря", "date", "2026-12-25", "25 декабря"),
    ("14-го", "date", "2026-12-14", "14-го"),
    ("14 числа", "date", "2026-12-14", "14 числа"),
    ("12.01", "date", "2027-01-12", "12.01"),
    ("31.12.2026", "date", "2026-12-31", "31.12.2026"),
    ("через неделю", "date", "2026-12-17", "через неделю"),
    ("через два месяца", "date", "2027-02-10", "через два месяца"),
    ("в следующем месяце", "date", {"from": "2027-01-01", "to": "2027-01-31"}, "в следующем месяце"),
    ("через 3 дня", "date", "2026-12-13", "через 3 дня"),
    ("на выходных", "date", {"from": "2026-12-12", "to": "2026-12-13"}, "выходных"),
    ("в следующие выходные", "date", {"from": "2026-12-19", "to": "2026-12-20"}, "следующие выходные"),
    ("сегодня", "date", "2026-12-10", "сегодня"),
    ("в понедельник", "date", "2026-12-14", "понедельник"),
    ("1 января 2027 года", "date", "2027-01-01", "1 января 2027 года"),
    ("на следующей неделе", "date", {"from": "2026-12-14", "to": "2026-12-20"}, "на следующей неделе"),
    ("в три часа дня", "time", "15:00:00", "три часа дня"),
    ("часа в три дня", "time", "15:00:00", "часа в три дня"),
    ("в 10:00", "time", "10:00:00", "10:00"),
    ("в 11 утра", "time", "11:00:00", "11 утра"),
    ("к 14 часам", "time", "14:00:00", "14 часам"),
    ("в половине одиннадцатого", "time", "10:30:00", "половине одиннадцатого"),
    ("в полдень", "time", "12:00:00", "полдень"),
    ("без четверти три", "time", "14:45:00", "без четверти три"),
    ("в 9 вечера", "time", "21:00:00", "9 вечера"),
    ("с 2 до 4 дня", "time", {"from": "14:00:00", "to": "16:00:00"}, "с 2 до 4 дня"),
    ("с 10:00 до 12:00", "time", {"from": "10:00:00", "to": "12:00:00"}, "с 10:00 до 12:00"),
    ("вечером", "time", {"from": "18:00:00", "to": "22:00:00"}, "вечером"),
    ("в час дня", "time", "13:00:00", "час дня"),
    ("в 15 часов", "time", "15:00:00", "15 часов"),
    ("в полночь", "time", "00:00:00", "полночь"),
    ("четверть третьего", "time", "14:15:00", "четверть третьего"),
    ("завтра в 10:00", "datetime", "2026-12-11T10:00:00+00:00", "завтра в 10:00"),
    ("в пятницу в три часа дня", "datetime", "2026-12-11T15:00:00+00:00", "пятницу в три часа дня"),
    ("на два часа", "duration", "PT2H", "два часа"),
    ("3 дня", "duration", "P3D", "3 дня"),
    ("полчаса", "duration", "PT30M", "полчаса"),
    ("на 20 минут", "duration", "PT20M", "20 минут"),
    ("в течение недели", "duration", "P1W", "недели"),
    ("500 рублей", "amount_of_money", {"amount": 500.0, "currency": "RUB"}, "500 рублей"),
    ("20 долларов", "amount_of_money", {"amount": 20.0, "currency": "USD"}, "20 долларов"),
    ("100 евро", "amount_of_money", {"amount": 100.0, "currency": "EUR"}, "100 евро"),
    ("двести рублей", "amount_of_money", {"amount": 200.0, "currency": "RUB"}, "двести рублей"),
    ("1500 ₽", "amount_of_money", {"amount": 1500.0, "currency": "RUB"}, "1500 ₽"),
    ("стоимость 1 500 рублей", "amount_of_money", {"amount": 1500.0, "currency": "RUB"}, "1 500 рублей"),
    ("за 2\u00a0990,50 ₽", "amount_of_money", {"amount": 2990.5, "currency": "RUB"}, "2\u00a0990,50 ₽"),
    ("население 1 250 000 человек", "number", 1250000, "1 250 000"),
    ("двадцать пять", "number", 25, "двадцать пять"),
    ("сто двадцать три", "number", 123, "сто двадцать три"),
    ("для трёх человек", "number", 3, "трёх"),
    ("вторую", "ordinal", 2, "вторую"),
    ("третий", "ordinal", 3, "третий"),
    ("5-й", "ordinal", 5, "5-й"),
    ("+7 912 345-67-89", "phone", "+79123456789", "+7 912 345-67-89"),
    ("звоните 8 (912) 345-67-89", "phone", "+79123456789", "8 (912) 345-67-89", "RU"),
    ("в 3 дня", "time", "15:00:00", "3 дня"),
    ("в 11", "time", "11:00:00", "11"),
    ("во сколько? в одиннадцать", "time", "11:00:00", "одиннадцать"),
    ("в 11 завтра", "datetime", "2026-12-11T11:00:00+00:00", "11 завтра"),
    ("к 5, пожалуйста", "time", "17:00:00", "5"),
    ("давай в час", "time", "13:00:00", "час"),
    ("в 17 30", "time", "17:30:00", "17 30"),
    ("17.30", "time", "17:30:00", "17.30"),
    ("в 10.30", "time", "10:30:00", "10.30"),
    ("с 17.30 до 19.00", "time", {"from": "17:30:00", "to": "19:00:00"}, "с 17.30 до 19.00"),
    ("после обеда", "time", {"from": "12:00:00", "to": "18:00:00"}, "после обеда"),
    ("до обеда", "time", {"from": "08:00:00", "to": "12:00:00"}, "до обеда"),
    (
        "в четверг после обеда",
        "datetime",
        {"from": "2026-12-10T12:00:00+00:00", "to": "2026-12-10T18:00:00+00:00"},
        "четверг после обеда",
    ),
    ("второй вторник января", "date", "2027-01-12", "второй вторник января"),
    ("в последнюю пятницу месяца", "date", "2026-12-25", "последнюю пятницу месяца"),
    ("первое воскресенье следующего месяца", "date", "2027-01-03", "первое воскресенье следующего месяца"),
    ("на следующей неделе в среду", "date", "2026-12-16", "на следующей неделе в среду"),
    ("в среду на следующей неделе", "date", "2026-12-16", "среду на следующей неделе"),
    ("понедельник, 4 января", "date", "2027-01-04", "понедельник, 4 января"),
    ("в пятницу 18-го", "date", "2026-12-18", "пятницу 18-го"),
]

# (language, text, a built-in that must not be found there)
NOT_VALUES = [
    ("en", "good morning", "time"),
    ("en", "we're here 24/7", "date"),
    ("en", "open 24-7", "date"),
    ("en", "10-12", "date"),
    ("en", "what's your phone number?", "phone"),
    ("en", "this one, not that one", "number"),
    ("en", "a table for 2 people", "amount_of_money"),
    ("en", "order AB123456", "number"),
    ("en", "I need 3 boxes", "time"),
    ("ru", "на два часа", "time"),
    ("ru", "часа в три дня", "duration"),
    ("ru", "пятница", "ordinal"),
    ("ru", "вторник", "ordinal"),
    ("ru", "2.5 часа", "date"),
    ("en", "2026-12-14", "time"),
    ("en", "reserve a slot on 2026-12-05", "time"),
    ("en", "2026-12-14", "datetime"),
    ("ru", "запишите меня на 2026-12-05", "time"),
    # no value inside a wider one of another built-in: "3 дня" is part of the date "через 3 дня"
    ("ru", "через 3 дня", "time"),
    ("ru", "через 3 дня", "datetime"),
    ("ru", "через 3 дня", "duration"),
    ("en", "in 3 days", "duration"),
    ("ru", "1 января 2027 года", "duration"),
    ("ru", "три часа дня", "duration"),
    # a bare hour after "в" is read only where the phrase ends
    ("ru", "в 2 раза больше", "time"),
    ("ru", "в 3 магазинах", "time"),
    ("ru", "17 30", "time"),  # without a preposition two numbers
    ("ru", "3 дня", "time"),  # three days
    ("ru", "на 2 ночи", "time"),  # two nights
    ("ru", "12.01", "time"),  # 12 January
    ("ru", "в 10.30", "date"),  # a time, not 30 October
    ("ru", "с 12.01 до 14.01", "time"),  # dates
    ("ru", "раз в два дня", "time"),  # how often
    ("ru", "раз в час", "time"),
    ("en", "it costs 4.50", "time"),
    ("en", "the day after", "date"),  # after a date said before: not resolved here
]


def _case(row: tuple[Any, ...], language: str) -> Any:
    text, builtin, value, span, *region = row
    return pytest.param(language, text, builtin, value, span, region[0] if region else "US", id=f"{language}:{text}")


@pytest.mark.parametrize(
    ("language", "text", "builtin", "value", "span", "region"),
    [_case(r, "en") for r in ENGLISH] + [_case(r, "ru") for r in RUSSIAN],
)
def test_value_is_resolved(language: str, text: str, builtin: str, value: Any, span: str, region: str) -> None:
    found = extract_values(text, language, NOW, region=region, wanted=frozenset({builtin}))
    assert [(e.entity, e.value, e.text) for e in found] == [(builtin, value, span)]
    assert all(text[e.start : e.end] == e.text and e.source == "builtin" for e in found)


REPORTED_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/London"))
"""Tuesday 1 December 2026, 10:00, when a new user reported these."""

# (language, text, the date and the time a booking form with a date slot and a time slot reads)
REPORTED: list[tuple[str, str, Any, Any]] = [
    ("ru", "через 3 дня", "2026-12-04", None),  # was also 15:00, "3 дня" read as 3 p.m.
    ("ru", "в 3 дня", None, "15:00:00"),
    ("ru", "в 11", None, "11:00:00"),
    ("ru", "в одиннадцать", None, "11:00:00"),
    ("ru", "в 2 раза", None, None),
    ("ru", "в 3 магазинах", None, None),
    ("ru", "в 17 30", None, "17:30:00"),
    ("ru", "17.30", None, "17:30:00"),
    ("en", "2.30pm", None, "14:30:00"),
    ("en", "at 5.30", None, "17:30:00"),
    ("en", "half 4", None, "16:30:00"),
    ("en", "at half nine", None, "09:30:00"),
    ("en", "5 30ish", None, "17:30:00"),
    ("en", "noonish", None, "12:00:00"),
    ("en", "3ish", None, "15:00:00"),
    ("ru", "после обеда", None, {"from": "12:00:00", "to": "18:00:00"}),
    ("ru", "в четверг после обеда", "2026-12-03", {"from": "12:00:00", "to": "18:00:00"}),
    ("en", "thursday the 10th", "2026-12-10", None),
    ("en", "first monday of january", "2027-01-04", None),
    ("en", "last friday of the month", "2026-12-25", None),
    ("ru", "второй вторник января", "2027-01-12", None),
    ("en", "Monday week", "2026-12-14", None),
    ("ru", "на следующей неделе в среду", "2026-12-09", None),
    ("ru", "в среду на следующей неделе", "2026-12-09", None),
    ("en", "wednesday next week", "2026-12-09", None),
    ("en", "next week on wednesday", "2026-12-09", None),
    ("en", "the day after", None, None),
    ("en", "tmrw morning", "2026-12-02", {"from": "08:00:00", "to": "12:00:00"}),
    ("en", "tomorrow morning", "2026-12-02", {"from": "08:00:00", "to": "12:00:00"}),
    ("en", "tomorrow at 3pm", "2026-12-02", "15:00:00"),  # both parts of a datetime stay
]


@pytest.mark.parametrize(("language", "text", "day", "hour"), REPORTED, ids=[f"{r[0]}:{r[1]}" for r in REPORTED])
def test_what_a_booking_form_reads(language: str, text: str, day: Any, hour: Any) -> None:
    found = extract_values(text, language, REPORTED_NOW, region="GB", wanted=frozenset({"date", "time"}))
    assert [e.value for e in found if e.entity == "date"] == ([day] if day else [])
    assert [e.value for e in found if e.entity == "time"] == ([hour] if hour else [])


def test_months_later_keep_the_day_or_take_the_shorter_months_last() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 2) == date(2027, 2, 15)


def test_tables_are_large_enough() -> None:
    assert len(ENGLISH) >= 60
    assert len(RUSSIAN) >= 40


@pytest.mark.parametrize(("language", "text", "builtin"), NOT_VALUES)
def test_not_a_value(language: str, text: str, builtin: str) -> None:
    assert extract_values(text, language, NOW, wanted=frozenset({builtin})) == []


def test_every_builtin_in_one_message_sorted_by_position() -> None:
    text = "Book me tomorrow at 3pm for two hours, budget $20, call (415) 555-2671"
    found = {(e.entity, e.text) for e in extract_values(text, "en", NOW)}
    assert {
        ("date", "tomorrow"),
        ("time", "3pm"),
        ("datetime", "tomorrow at 3pm"),
        ("duration", "two hours"),
        ("amount_of_money", "$20"),
        ("phone", "(415) 555-2671"),
    } <= found
    starts = [e.start for e in extract_values(text, "en", NOW)]
    assert starts == sorted(starts)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_iso_date_time_is_one_time_and_one_datetime(language: str) -> None:
    """Not the hours "12-14" of its date, nor a midnight in its offset "+00:00"."""
    text = "2026-12-14T10:00:00+00:00"
    found = extract_values(text, language, NOW, wanted=frozenset({"date", "time", "datetime"}))
    assert [(e.entity, e.value, e.text) for e in found] == [
        ("date", "2026-12-14", "2026-12-14"),
        ("datetime", "2026-12-14T10:00:00+00:00", text),
        ("time", "10:00:00", "10:00:00"),
    ]


COVERED_NUMBERS = [
    # (language, text, the value whose span holds the digits)
    ("en", "2026-12-24", "date"),
    ("en", "see you on 2026-12-24T10:00", "datetime"),
    ("en", "tomorrow at 3pm", "datetime"),
    ("en", "budget $20", "amount_of_money"),
    ("en", "call (415) 555-2671", "phone"),
    ("en", "see https://example.com/help/2", "url"),
    ("en", "the 3rd", "ordinal"),
    ("en", "in 3 days", "date"),
    ("ru", "запишите меня на 2026-12-05", "date"),
    ("ru", "500 рублей", "amount_of_money"),
    ("ru", "звоните 8 (912) 345-67-89", "phone"),
]


@pytest.mark.parametrize(("language", "text", "wider"), COVERED_NUMBERS)
def test_a_number_inside_a_wider_value_is_no_number(language: str, text: str, wider: str) -> None:
    """The wider typed value wins: the digits of a date, an amount or a phone are no `number`,
    whether or not the caller asked for that value too."""
    region = "RU" if language == "ru" else "US"
    found = extract_values(text, language, NOW, region=region)
    assert wider in {e.entity for e in found}
    assert [e for e in found if e.entity == "number"] == []
    assert extract_values(text, language, NOW, region=region, wanted=frozenset({"number"})) == []


def test_numbers_beside_a_value_or_sharing_its_span_stay() -> None:
    found = extract_values("2 tickets for 2026-12-24, 3 people", "en", NOW)
    assert [(e.entity, e.value) for e in found] == [("number", 2), ("date", "2026-12-24"), ("number", 3)]
    both = extract_values("12.01", "ru", NOW, wanted=frozenset({"date", "number"}))  # no wider: both readings
    assert [(e.entity, e.value) for e in both] == [("date", "2027-01-12"), ("number", 12.01)]


@pytest.mark.parametrize(
    ("language", "text", "region", "date"),
    [
        ("en", "12-04", "GB", "2027-04-12"),  # 12 April where the day comes first, as 12/04 is
        ("en", "12-04", "US", "2027-12-04"),  # December 4 where the month does
        ("ru", "12-04", "RU", "2027-04-12"),
        ("en", "31-12", "US", "2026-12-31"),  # no hour 31: a day over 12 decides by itself
        ("en", "on 12-04-2026", "GB", "2026-04-12"),
    ],
)
def test_a_range_ending_before_it_starts_is_no_time_range(language: str, text: str, region: str, date: str) -> None:
    """ "12-04" is not noon to 4 a.m.: read as a date in the region's order (as dateparser and
    dateutil read it), with no `time` or `datetime` inside."""
    found = extract_values(text, language, NOW, region=region)
    assert [(e.entity, e.value, e.text) for e in found] == [("date", date, text.removeprefix("on "))]


@pytest.mark.parametrize(
    ("language", "text", "value"),
    [
        ("en", "11-9", {"from": "11:00:00", "to": "21:00:00"}),  # the evening reading of an unmarked end
        ("en", "between 10 and 9", {"from": "10:00:00", "to": "21:00:00"}),
        ("en", "10-12", {"from": "10:00:00", "to": "12:00:00"}),  # hours, not 10 December
        ("en", "4-6", {"from": "16:00:00", "to": "18:00:00"}),
        ("ru", "с 9 до 8", {"from": "09:00:00", "to": "20:00:00"}),
    ],
)
def test_a_range_of_hours_goes_forward(language: str, text: str, value: dict[str, str]) -> None:
    found = extract_values(text, language, NOW, region="GB", wanted=frozenset({"time", "date"}))
    assert [(e.entity, e.value, e.text) for e in found] == [("time", value, text)]


@pytest.mark.parametrize(("language", "text"), [("ru", "с 12 до 04"), ("en", "22:00-02:00"), ("en", "10pm-2am")])
def test_a_range_that_still_ends_first_is_no_range(language: str, text: str) -> None:
    """An end written as morning ("04", "02:00", "2am") is not moved: no range; the times said stay."""
    found = extract_values(text, language, NOW, wanted=frozenset({"time"}))
    assert all(isinstance(e.value, str) for e in found)


def test_no_hour_over_24() -> None:
    assert extract_values("at 25", "en", NOW, wanted=frozenset({"time"})) == []
    assert extract_values("at 24:00", "en", NOW, wanted=frozenset({"time"}))[0].value == "00:00:00"


def test_time_zone_moves_today() -> None:
    late = datetime(2026, 12, 10, 23, 30, tzinfo=ZoneInfo("UTC"))  # already the 11th in Moscow
    [found] = extract_values("tomorrow", "en", late, wanted=frozenset({"date"}), timezone="Europe/Moscow")
    assert found.value == "2026-12-12"
    [moment] = extract_values("tomorrow at 10:00", "en", late, wanted=frozenset({"datetime"}), timezone="Asia/Tokyo")
    assert moment.value == "2026-12-12T10:00:00+09:00"


def test_misuse_says_what_to_do() -> None:
    with pytest.raises(UnknownBuiltinError, match="unknown built-in"):
        extract_values("x", "en", NOW, wanted=frozenset({"colour"}))
    with pytest.raises(UnknownBuiltinError, match="language 'de'"):
        extract_values("x", "de", NOW)
    with pytest.raises(UnknownBuiltinError, match="needs a time zone"):
        extract_values("x", "en", datetime(2026, 12, 10))


@pytest.mark.parametrize(
    ("entity", "value", "language", "human"),
    [
        ("datetime", "2025-12-12T14:30:00+00:00", "en", "Friday 12 December, 14:30"),
        ("datetime", "2025-12-12T14:30:00+00:00", "ru", "пятница, 12 декабря, 14:30"),
        ("date", "2026-12-14", "en", "Monday 14 December"),
        ("date", "2026-12-14", "ru", "понедельник, 14 декабря"),
        ("time", "09:05:00", "en", "09:05"),
        ("time", {"from": "14:00:00", "to": "16:00:00"}, "en", "14:00–16:00"),
        ("date", {"from": "2026-12-12", "to": "2026-12-13"}, "en", "Saturday 12 December – Sunday 13 December"),
        ("duration", "PT1H30M", "en", "1 hour 30 minutes"),
        ("duration", "PT2H", "ru", "2 часа"),
        ("duration", "P5D", "ru", "5 дней"),
        ("amount_of_money", {"amount": 20.0, "currency": "USD"}, "en", "$20"),
        ("amount_of_money", {"amount": 5.5, "currency": "GBP"}, "en", "£5.50"),
        ("amount_of_money", {"amount": 500.0, "currency": "RUB"}, "ru", "500 ₽"),
        ("phone", "+14155552671", "en", "+1 415-555-2671"),
        ("ordinal", 2, "en", "2nd"),
        ("ordinal", 11, "en", "11th"),
        ("ordinal", -1, "en", "last"),
        ("number", 25, "ru", "25"),
    ],
)
def test_humanize(entity: str, value: Any, language: str, human: str) -> None:
    assert humanize(entity, value, language) == human
