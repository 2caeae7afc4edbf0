"""The demo shop's actions (actions/shop.py) over a fresh back-office file, through the runner
and the real intents.yaml: the answers are true, and what an action does stays done."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions.backend import CAPACITY, Shop, next_working_day, shop_path
from actions.dates import say_day
from bot.actions import ActionResult, TurnView
from bot.actions.runner import ActionRunner
from bot.domain import load_domain
from tests.helpers import ROOT


@pytest.fixture
def shop_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "demo_shop.db"
    monkeypatch.setenv("BOT_DEMO_SHOP_PATH", str(path))
    return path


@pytest.fixture(scope="module")
def runner() -> ActionRunner:
    return ActionRunner(load_domain(ROOT / "intents.yaml"))


def act(
    runner: ActionRunner, name: str, session: str = "s1", *, correcting: bool = False, **slots: Any
) -> ActionResult:
    view = TurnView(
        text="", intent=name, confidence=1.0, session_id=session, language="en", slots=slots, correcting=correcting
    )
    result = asyncio.run(runner.run(name, view))
    assert result.outcome in ("ok", "rejected"), result.error
    return result


def text(result: ActionResult) -> str:
    return " ".join(m.text for m in result.messages)


def test_the_file_is_created_and_seeded_on_first_use_beside_the_bot_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_DEMO_SHOP_PATH", raising=False)
    monkeypatch.setenv("BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'bot.db'}")
    assert shop_path() == tmp_path / "data" / "demo_shop.db"
    shop = Shop(shop_path())
    assert shop_path().is_file()
    order = shop.order("nw-204518")
    assert order is not None and order.status == "dispatched"
    assert Shop(shop_path()).order("NW204518") == order  # opened again: seeded once


def test_order_status_tells_the_true_status_or_that_the_order_does_not_exist(
    shop_file: Path, runner: ActionRunner
) -> None:
    today = date.today()
    assert text(act(runner, "lookup_order", order_id="nw-204518")) == (
        f"Order NW204518 (55-inch Smart TV) is on its way with DPD and is due on {say_day(today + timedelta(days=1))}. "
        "You'll get a text with a one-hour delivery window on the day."
    )
    assert "was delivered on" in text(act(runner, "lookup_order", order_id="AB123456"))
    assert "is being packed" in text(act(runner, "lookup_order", order_id="KT5518203"))
    missing = act(runner, "lookup_order", order_id="ZZ999999")
    assert text(missing).startswith("I can't find an order ZZ999999.")
    assert dict(missing.set_slots) == {"order_id": None}


def test_cancelling_really_cancels_and_refuses_a_delivered_order(shop_file: Path, runner: ActionRunner) -> None:
    assert text(act(runner, "cancel_order", order_id="KT5518203")).startswith("Done: order KT5518203 is cancelled.")
    assert "was cancelled" in text(act(runner, "lookup_order", order_id="KT5518203"))
    assert "already cancelled" in text(act(runner, "cancel_order", order_id="KT5518203"))
    delivered = act(runner, "cancel_order", order_id="AB123456")
    assert "already been delivered, so it can't be cancelled" in text(delivered)
    assert delivered.messages[0].buttons == (("Return an item", "I want to return an item"),)
    assert "was delivered" in text(act(runner, "lookup_order", order_id="AB123456"))


def test_a_full_slot_offers_the_nearest_free_times_and_booking_one_stores_it(
    shop_file: Path, runner: ActionRunner
) -> None:
    busy = next_working_day(date.today())
    full = act(runner, "book_appointment", service="repair", date=busy.isoformat(), time="10am")
    assert text(full).startswith(f"Sorry, {say_day(busy)} at 10:00 is fully booked.")
    on_day = f"{busy.day} {busy:%B}"  # "2 December": the built-ins read it whole, unlike an ISO date
    assert [payload for _, payload in full.messages[0].buttons] == [
        f"{on_day} at 11:30",
        f"{on_day} at 12:00",
        f"{on_day} at 12:30",
    ]
    assert text(full).endswith("pick one, or tell me another time.")  # the day has room: only the time asked again
    assert dict(full.set_slots) == {"time": None} and full.followup == "book_appointment"
    sunday = date.today() + timedelta(days=(6 - date.today().weekday()) % 7 or 7)
    closed = act(runner, "book_appointment", service="repair", date=sunday.isoformat(), time="10am")
    assert text(closed).endswith("pick one, or tell me another day.")
    assert dict(closed.set_slots) == {"date": None, "time": None}

    booked = act(runner, "book_appointment", service="repair", date=busy.isoformat(), time="11:30")
    assert text(booked).startswith(f"You're booked in: repair on {say_day(busy)} at 11:30")
    (appointment,) = Shop(shop_file).appointments("session:s1")
    assert (appointment.day, appointment.time, appointment.service) == (busy, time(11, 30), "repair")


def test_capacity_is_two_a_slot(shop_file: Path, runner: ActionRunner) -> None:
    day = next_working_day(next_working_day(date.today()))
    for n in range(CAPACITY):
        assert "booked in" in text(
            act(runner, "book_appointment", f"c{n}", service="repair", date=day.isoformat(), time="15:00")
        )
    third = act(runner, "book_appointment", "c9", service="repair", date=day.isoformat(), time="15:00")
    assert "fully booked" in text(third)
    assert Shop(shop_file).appointments("session:c9") == []


def test_a_closed_or_past_time_is_explained(shop_file: Path, runner: ActionRunner) -> None:
    sunday = date.today() + timedelta(days=(6 - date.today().weekday()) % 7 or 7)
    closed = act(runner, "book_appointment", service="repair", date=sunday.isoformat(), time="10:00")
    assert "appointments start every half hour, 9:00 to 17:30, Monday to Saturday" in text(closed)
    past = act(
        runner, "book_appointment", service="repair", date=(date.today() - timedelta(days=1)).isoformat(), time="10:00"
    )
    assert "has already passed" in text(past)
    unreadable = act(runner, "book_appointment", service="repair", date="someday", time="10:00")
    assert text(unreadable) == 'Sorry, I couldn\'t read "someday" as a date.'


def test_rescheduling_and_cancelling_work_on_what_was_booked(shop_file: Path, runner: ActionRunner) -> None:
    assert "I can't find an upcoming appointment" in text(
        act(runner, "reschedule_appointment", date="friday", time="10:00")
    )
    first = next_working_day(next_working_day(date.today()))
    later = next_working_day(first)
    act(runner, "book_appointment", service="diagnostics", date=first.isoformat(), time="16:00")
    moved = act(runner, "reschedule_appointment", date=later.isoformat(), time="9:30")
    assert text(moved) == (
        f"All done: your diagnostics appointment moved from {say_day(first)} at 16:00 to {say_day(later)} at 09:30."
    )
    (appointment,) = Shop(shop_file).appointments("session:s1")
    assert (appointment.day, appointment.time) == (later, time(9, 30))
    wrong_day = act(runner, "cancel_appointment", date=first.isoformat())
    assert f"Your appointments: {say_day(later)} at 09:30." in text(wrong_day)
    cancelled = act(runner, "cancel_appointment", date=later.isoformat())
    assert text(cancelled) == f"Your diagnostics appointment on {say_day(later)} at 09:30 is cancelled."
    assert Shop(shop_file).appointments("session:s1") == []


def test_a_booking_corrected_right_after_it_was_made_is_moved_not_made_twice(
    shop_file: Path, runner: ActionRunner
) -> None:
    first = next_working_day(next_working_day(date.today()))
    later = next_working_day(first)
    act(runner, "book_appointment", service="repair", date=first.isoformat(), time="11:00")
    moved = act(runner, "book_appointment", service="repair", date=later.isoformat(), time="11:00", correcting=True)
    assert text(moved) == (
        f"All done: your repair appointment moved from {say_day(first)} at 11:00 to {say_day(later)} at 11:00."
    )
    (appointment,) = Shop(shop_file).appointments("session:s1")
    assert (appointment.day, appointment.time) == (later, time(11, 0))
    service = act(
        runner, "book_appointment", service="diagnostics", date=later.isoformat(), time="11:00", correcting=True
    )
    assert text(service) == f"All done: your appointment on {say_day(later)} at 11:00 is now for diagnostics."
    assert [a.service for a in Shop(shop_file).appointments("session:s1")] == ["diagnostics"]
    act(runner, "book_appointment", service="repair", date=first.isoformat(), time="11:00")  # not a correction
    assert len(Shop(shop_file).appointments("session:s1")) == 2


def test_a_time_not_understood_is_asked_again_and_the_date_kept(shop_file: Path, runner: ActionRunner) -> None:
    day = next_working_day(next_working_day(date.today()))
    unread = act(runner, "book_appointment", service="repair", date=day.isoformat(), time="17 30ish")
    assert text(unread) == 'Sorry, I couldn\'t read "17 30ish" as a time.'
    assert dict(unread.set_slots) == {"time": None} and unread.followup == "book_appointment"
    russian_unread = russian("book_appointment", date=day.isoformat(), time="в 17 30")
    assert text(russian_unread) == "Не понял время «в 17 30»."
    assert dict(russian_unread.set_slots) == {"time": None} and russian_unread.followup == "book_appointment"
    assert Shop(shop_file).appointments("session:s1") == []


def test_an_appointment_belongs_to_the_account_across_sessions(shop_file: Path, runner: ActionRunner) -> None:
    day = next_working_day(next_working_day(date.today()))
    view = TurnView(
        text="",
        intent="x",
        confidence=1.0,
        session_id="a",
        language="en",
        user_id=7,
        slots={"service": "repair", "date": day.isoformat(), "time": "13:00"},
    )
    assert asyncio.run(runner.run("book_appointment", view)).outcome == "ok"
    assert [a.customer for a in Shop(shop_file).appointments("user:7")] == ["user:7"]


def test_stock_checks_read_stock(shop_file: Path, runner: ActionRunner) -> None:
    assert text(act(runner, "check_stock", product="laptop")).startswith(
        "Yes: we have 14 in the laptop range in stock."
    )
    restock = say_day(date.today() + timedelta(days=5))
    assert text(act(runner, "check_stock", product="phone")) == (
        f"The phone range is out of stock right now; we expect more on {restock}."
    )
    assert "don't have a restock date" in text(act(runner, "check_stock", product="camera"))
    assert "Only a few left" in text(act(runner, "check_stock", product="tv"))


def test_the_order_validator_normalises_and_rejects_unknown_numbers(shop_file: Path, runner: ActionRunner) -> None:
    view = TurnView(text="nw-204518", intent="order_status", confidence=1.0, session_id="s", language="en")
    good = asyncio.run(runner.validate("check_order", "order_id", "nw-204518", view))
    assert (good.accepted, good.value) == (True, "NW204518")
    bad = asyncio.run(runner.validate("check_order", "order_id", "QQ123456", view))
    assert (bad.accepted, bad.message) == (
        False,
        "I can't find an order QQ123456. Please check the number in your confirmation email; it looks like AB123456.",
    )


def test_bookings_at_the_same_moment_never_overfill_a_slot(shop_file: Path) -> None:
    now = datetime.combine(date.today(), time(8, 0))
    shop = Shop(shop_file, now=now)
    at = datetime.combine(next_working_day(next_working_day(date.today())), time(17, 0))

    async def rush() -> list[object]:
        return await asyncio.gather(*(asyncio.to_thread(shop.book, f"c{n}", "repair", at) for n in range(8)))

    booked = [b for b in asyncio.run(rush()) if b is not None]
    assert len(booked) == CAPACITY and shop.free_places(at) == 0


def test_the_russian_bot_tells_the_true_order_status(shop_file: Path) -> None:
    russian = ActionRunner(load_domain(ROOT / "examples" / "ru" / "intents.yaml"))
    view = TurnView(
        text="", intent="order_status", confidence=1.0, session_id="s", language="ru", slots={"order_id": "кт5518203"}
    )
    result = asyncio.run(russian.run("lookup_order", view))
    assert result.messages[0].text.startswith("Заказ KT5518203 собирается на складе, доставка ожидается ")
    missing = asyncio.run(russian.run("lookup_order", replace(view, slots={"order_id": "ЯЯ000000"})))
    assert missing.messages[0].text.startswith("Не нахожу заказ")


def russian(name: str, session: str = "s", correcting: bool = False, **slots: Any) -> ActionResult:
    """The Russian bot's action `name` (examples/ru/ru_actions.py) through the runner."""
    runner = ActionRunner(load_domain(ROOT / "examples" / "ru" / "intents.yaml"))
    view = TurnView(
        text="", intent=name, confidence=1.0, session_id=session, language="ru", slots=slots, correcting=correcting
    )
    result = asyncio.run(runner.run(name, view))
    assert result.outcome == "ok", result.error
    return result


def test_the_russian_bot_really_cancels_and_refuses_a_delivered_order(shop_file: Path) -> None:
    assert text(russian("cancel_order", order_id="кт5518203")).startswith("Готово: заказ KT5518203 отменён.")
    cancelled = Shop(shop_file).order("KT5518203")
    assert cancelled is not None and cancelled.status == "cancelled"
    assert text(russian("lookup_order", order_id="KT5518203")) == "Заказ KT5518203 отменён, деньги возвращены."
    assert "уже отменён" in text(russian("cancel_order", order_id="KT5518203"))
    delivered = russian("cancel_order", order_id="AB123456")
    assert text(delivered) == "Заказ AB123456 уже доставлен, поэтому отменить его нельзя. Его можно вернуть."
    assert delivered.messages[0].buttons == (("Вернуть товар", "Хочу вернуть товар"),)
    kept = Shop(shop_file).order("AB123456")
    assert kept is not None and kept.status == "delivered"
    missing = russian("cancel_order", order_id="ЯЯ000000")
    assert text(missing).startswith("Не нахожу заказ ЯЯ000000, поэтому ничего не отменено.")
    assert dict(missing.set_slots) == {"order_id": None}


def test_the_russian_bot_checks_order_numbers_in_the_form(shop_file: Path) -> None:
    runner = ActionRunner(load_domain(ROOT / "examples" / "ru" / "intents.yaml"))
    view = TurnView(text="", intent="cancel_order", confidence=1.0, session_id="s", language="ru")
    good = asyncio.run(runner.validate("check_order", "order_id", "кт 5518203", view))
    assert (good.accepted, good.value) == (True, "KT5518203")  # Cyrillic look-alikes and a space, normalised
    bad = asyncio.run(runner.validate("check_order", "order_id", "ЯЯ000000", view))
    assert not bad.accepted and bad.message is not None and bad.message.startswith("Не нахожу заказ ЯЯ000000.")


def test_the_russian_bot_reads_the_stock_instead_of_promising_it(shop_file: Path) -> None:
    assert text(russian("check_stock", product="ноутбук")) == (
        "Ноутбук: в наличии 14 шт. Закажите до 14:00 — привезём на следующий день."
    )
    assert "Осталось совсем немного!" in text(russian("check_stock", product="игровая приставка"))
    phones = Shop(shop_file).stock("phone")
    assert phones is not None and phones.quantity == 0 and phones.restock is not None
    out = text(russian("check_stock", product="телефон"))
    assert out.startswith("Телефон: сейчас нет в наличии, поставку ждём ") and str(phones.restock.day) in out
    assert (
        text(russian("check_stock", product="фотоаппарат"))
        == "Фотоаппарат: сейчас нет в наличии, и даты поставки пока нет."
    )
    unknown = russian("check_stock", product="самокат")
    assert text(unknown).startswith("«самокат» мы сейчас не продаём.")
    assert dict(unknown.set_slots) == {"product": None}


def test_the_russian_bot_books_a_free_time_and_offers_free_ones_for_a_full_slot(shop_file: Path) -> None:
    from bot.values import extract_values, humanize

    busy = next_working_day(date.today())
    full = russian("book_appointment", date=busy.isoformat(), time="10:00:00")
    said = humanize("datetime", f"{busy.isoformat()}T10:00:00", "ru")
    assert text(full).startswith(f"Извините, время «{said}» уже занято. Ближайшее свободное время — ниже")
    assert text(full).endswith("назовите другое время.")  # в этот день ещё есть время: дата остаётся
    assert dict(full.set_slots) == {"time": None} and full.followup == "book_appointment"
    title, payload = full.messages[0].buttons[0]
    assert title == humanize("datetime", f"{busy.isoformat()}T11:30:00", "ru")
    now = datetime.combine(date.today(), time(8, 0), tzinfo=UTC)  # the button's text, read back as the user sends it
    read = extract_values(payload, "ru", now, wanted=frozenset({"date", "time"}))
    assert [(v.entity, v.value) for v in read] == [("date", busy.isoformat()), ("time", "11:30:00")]

    booked = russian("book_appointment", date=busy.isoformat(), time="11:30:00", service="диагностика")
    assert text(booked).startswith(f"Записал вас: {title} (диагностика).")
    assert [t for t, _ in booked.messages[0].buttons] == ["Перенести запись", "Отменить запись"]
    (appointment,) = Shop(shop_file).appointments("session:s")
    assert (appointment.day, appointment.time, appointment.service) == (busy, time(11, 30), "диагностика")
    sunday = date.today() + timedelta(days=(6 - date.today().weekday()) % 7 or 7)
    closed = russian("book_appointment", date=sunday.isoformat(), time="10:00:00")
    assert "приём начинается каждые полчаса с 9:00 до 17:30, с понедельника по субботу" in text(closed)


def test_the_russian_bot_reschedules_and_cancels_what_was_booked(shop_file: Path) -> None:
    from bot.values import humanize

    assert text(russian("reschedule_appointment", date="2026-12-03", time="11:30:00")).startswith(
        "Не нахожу предстоящей записи в этом чате."
    )
    first = next_working_day(next_working_day(date.today()))
    later = next_working_day(first)
    when_first = humanize("datetime", f"{first.isoformat()}T16:00:00", "ru")
    when_later = humanize("datetime", f"{later.isoformat()}T09:30:00", "ru")
    russian("book_appointment", date=first.isoformat(), time="16:00:00", service="диагностика")
    moved = russian("reschedule_appointment", date=later.isoformat(), time="09:30:00")
    assert text(moved) == f"Перенёс вашу запись: {when_later} (диагностика; было: {when_first})."
    corrected = russian("book_appointment", date=first.isoformat(), time="16:00:00", correcting=True)
    assert text(corrected) == f"Перенёс вашу запись: {when_first} (ремонт; было: {when_later})."
    assert len(Shop(shop_file).appointments("session:s")) == 1
    russian("reschedule_appointment", date=later.isoformat(), time="09:30:00")
    russian("book_appointment", date=later.isoformat(), time="09:30:00", service="диагностика", correcting=True)
    (appointment,) = Shop(shop_file).appointments("session:s")
    assert (appointment.day, appointment.time) == (later, time(9, 30))
    wrong_day = russian("cancel_appointment", date=first.isoformat())
    assert text(wrong_day) == (
        f"На «{humanize('date', first.isoformat(), 'ru')}» записи нет. Ваши записи: {when_later}."
    )
    assert dict(wrong_day.set_slots) == {"date": None}
    cancelled = russian("cancel_appointment", date=later.isoformat())
    assert text(cancelled).startswith(f"Готово, запись (диагностика) на «{when_later}» отменена.")
    assert Shop(shop_file).appointments("session:s") == []


def test_times_read_as_the_time_built_in_fills_the_slot() -> None:
    from actions.dates import parse_time

    assert parse_time("15:00:00") == time(15, 0)  # the `time` built-in's value
    assert parse_time("09:30:00") == time(9, 30)
    assert parse_time("3pm") == time(15, 0)
    assert parse_time("25:00:00") is None


def test_a_free_time_button_is_read_back_as_that_date_and_time() -> None:
    from bot.values import extract_values

    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    found = extract_values("4 December at 09:30", "en", now, wanted=frozenset({"date", "time"}))
    assert [(v.entity, v.value) for v in found] == [("date", "2026-12-04"), ("time", "09:30:00")]
