"""Slot constraints checked against resolved values at a fixed now (Thursday 10 December 2026, 09:00 London)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.constraints import violation
from bot.domain import SlotSpec

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=ZoneInfo("Europe/London"))
CLOSED_SUNDAYS = "We're closed on Sundays. Which other day suits you?"
DAY = SlotSpec(
    entity="day",
    future=True,
    weekdays=("mon", "tue", "wed", "thu", "fri", "sat"),
    messages={"weekdays": CLOSED_SUNDAYS},
)
HOURS = SlotSpec(entity="hour", between="09:00-18:00", messages={"between": "We're open 9 to 6."})
GUESTS = SlotSpec(entity="guests", min=1, max=8)
BUDGET = SlotSpec(entity="money", min=10, max=500, messages={"max": "Our dearest repair is 500."})
COLOUR = SlotSpec(entity="colour", choices=("Red", "Blue"))
PAST = "That date has already passed. Which date would you like?"

CASES: list[tuple[SlotSpec, Any, str | None]] = [
    (DAY, "2026-12-11", None),
    (DAY, "2026-12-10", None),  # today is not past
    (DAY, "2026-12-09", PAST),
    (DAY, "2026-12-13", CLOSED_SUNDAYS),
    (DAY, {"from": "2026-12-12", "to": "2026-12-13"}, CLOSED_SUNDAYS),  # a range keeps them at both ends
    (DAY, "2026-12-11T10:00:00+00:00", None),
    (DAY, "2026-12-10T08:30:00+00:00", PAST),  # a datetime is compared with now itself
    (DAY, "2026-12-13T10:00:00+00:00", CLOSED_SUNDAYS),
    (DAY, "2026-12-13T23:30:00-05:00", None),  # Monday the 14th in London
    (HOURS, "09:00:00", None),
    (HOURS, "18:00:00", None),
    (HOURS, "18:30:00", "We're open 9 to 6."),
    (HOURS, "08:59:00", "We're open 9 to 6."),
    (HOURS, {"from": "14:00:00", "to": "16:00:00"}, None),
    (HOURS, {"from": "17:00:00", "to": "19:00:00"}, "We're open 9 to 6."),
    (HOURS, "2026-12-11T19:00:00+00:00", "We're open 9 to 6."),
    (GUESTS, 4, None),
    (GUESTS, 0, "That's too few: the least is 1."),
    (GUESTS, 9, "That's too many: the most is 8."),
    (GUESTS, 2.5, None),
    (BUDGET, {"amount": 20.0, "currency": "USD"}, None),
    (BUDGET, {"amount": 600.0, "currency": "USD"}, "Our dearest repair is 500."),
    (BUDGET, {"amount": 5.0, "currency": "USD"}, "That's too few: the least is 10."),
    (COLOUR, "red", None),
    (COLOUR, "Blue", None),
    (COLOUR, "green", "Please choose one of: Red, Blue."),
    (SlotSpec(entity="anything"), "whatever", None),
]


@pytest.mark.parametrize(("slot", "value", "message"), CASES)
def test_violation(slot: SlotSpec, value: Any, message: str | None) -> None:
    assert violation(slot, value, NOW) == message


def test_default_messages_in_russian() -> None:
    hours = SlotSpec(entity="hour", between="9:00-18:00")
    assert violation(hours, "20:00:00", NOW, "ru") == "Пожалуйста, выберите время с 09:00 до 18:00."
    assert violation(SlotSpec(entity="day", future=True), "2026-12-01", NOW, "ru") == (
        "Эта дата уже прошла. На какую дату вас записать?"
    )


def test_the_first_broken_constraint_speaks() -> None:
    """A past Sunday breaks both: `future` comes first."""
    assert violation(DAY, "2026-12-06", NOW) == PAST
