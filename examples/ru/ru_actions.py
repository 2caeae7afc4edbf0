"""Действия русского бота над тем же демо-бэкендом, что у английского (actions/backend.py):
статус и отмена заказа, запись в сервисный центр, наличие товара.

Бэкенд импортируется из корня репозитория, поэтому бота запускают оттуда (`make run`, `python -m bot`).
"""

from __future__ import annotations

from datetime import date, datetime

from actions.backend import Appointment, Shop, normalise_order_id, shop_path
from actions.dates import parse_day, parse_time
from bot.actions import Followup, Reply, SetSlot, Step, TurnView, Validation
from bot.values import humanize

_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХавекмнорстух", "ABEKMHOPCTYXABEKMHOPCTYX")
"""Кириллические буквы, которые выглядят как латинские: «кт5518203» — это KT5518203."""
ORDER_HELP = "Проверьте номер в письме с подтверждением: он выглядит как AB123456."
BOOK_BUTTON = ("Записаться", "Хочу записаться на приём")


def _day(day: date | None) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}" if day else ""


def _canonical(value: object) -> str:
    """Номер заказа в каноническом виде: «кт 5518203» — это KT5518203."""
    return normalise_order_id(str(value).translate(_LOOKALIKES))


def _order_id(view: TurnView) -> str:
    return _canonical(view.slot("order_id", ""))


def check_order(value: object, view: TurnView) -> Validation:
    """Номер заказа, который знает магазин, в каноническом виде (валидатор слота order_id)."""
    order = Shop(shop_path()).order(_canonical(value))
    if order is None:
        return Validation.reject(f"Не нахожу заказ {normalise_order_id(str(value))}. {ORDER_HELP}")
    return Validation.accept(order.id)


def order_status(view: TurnView) -> list[Step]:
    order_id = _order_id(view)
    order = Shop(shop_path()).order(order_id)
    if order is None:
        return [Reply(f"Не нахожу заказ {order_id}. {ORDER_HELP}"), SetSlot("order_id", None)]
    text = {
        "processing": f"Заказ {order.id} собирается на складе, доставка ожидается {_day(order.delivery)}.",
        "dispatched": f"Заказ {order.id} передан курьеру и будет у вас {_day(order.delivery)}. "
        "В день доставки придёт СМС с интервалом.",
        "delivered": f"Заказ {order.id} доставлен {_day(order.delivery)}.",
        "cancelled": f"Заказ {order.id} отменён, деньги возвращены.",
    }[order.status]
    buttons = [("Отменить заказ", "Отмените мой заказ")] if order.status in ("processing", "dispatched") else []
    return [Reply(text, buttons=buttons)]


def cancel_order(view: TurnView) -> list[Step]:
    order_id = _order_id(view)
    outcome = Shop(shop_path()).cancel_order(order_id)
    if outcome == "unknown":
        return [
            Reply(f"Не нахожу заказ {order_id}, поэтому ничего не отменено. {ORDER_HELP}"),
            SetSlot("order_id", None),
        ]
    if outcome == "delivered":
        return [
            Reply(
                f"Заказ {order_id} уже доставлен, поэтому отменить его нельзя. Его можно вернуть.",
                buttons=[("Вернуть товар", "Хочу вернуть товар")],
            )
        ]
    if outcome == "already_cancelled":
        return [Reply(f"Заказ {order_id} уже отменён, больше ничего делать не нужно.")]
    return [
        Reply(f"Готово: заказ {order_id} отменён. Если вы уже оплатили, деньги вернутся в течение 3-5 рабочих дней.")
    ]


def _when(at: datetime) -> str:
    """«среда, 2 декабря, 11:30»."""
    return humanize("datetime", at.isoformat(), "ru")


def _customer(view: TurnView) -> str:
    """Чьи это записи: аккаунта или гостевой сессии (как у английского бота)."""
    return f"user:{view.user_id}" if view.user_id is not None else f"session:{view.session_id}"


def _why_not(shop: Shop, at: datetime) -> str | None:
    if at <= shop.now:
        return f"Время «{_when(at)}» уже прошло."
    if not shop.bookable(at):
        return (
            f"На «{_when(at)}» записи нет: приём начинается каждые полчаса с 9:00 до 17:30, с понедельника по субботу."
        )
    if shop.free_places(at) <= 0:
        return f"Извините, время «{_when(at)}» уже занято."
    return None


def _alternatives(shop: Shop, wanted: datetime, why: str, form: str = "book_appointment") -> list[Step]:
    """Почему нельзя, ближайшее свободное время кнопками (их текст читают встроенные дата и время)
    и вопрос формы `form` заново."""
    free = shop.nearest_free(wanted)
    if any(at.date() == wanted.date() for at in free):  # в этот день ещё есть время: дата остаётся
        buttons = [(_when(at), f"{at.day} {_MONTHS[at.month - 1]} в {at:%H:%M}") for at in free]
        reply = Reply(
            f"{why} Ближайшее свободное время — ниже: выберите его или назовите другое время.", buttons=buttons
        )
        return [reply, SetSlot("time", None), Followup(form)]
    cleared: list[Step] = [SetSlot("date", None), SetSlot("time", None), Followup(form)]
    if not free:
        return [Reply(f"{why} В ближайшие две недели свободного времени нет, извините."), *cleared]
    buttons = [(_when(at), f"{at.day} {_MONTHS[at.month - 1]} в {at:%H:%M}") for at in free]
    return [
        Reply(f"{why} Ближайшее свободное время — ниже: выберите его или назовите другой день.", buttons=buttons),
        *cleared,
    ]


def _requested(view: TurnView, shop: Shop, form: str) -> datetime | list[Step]:
    """День и время из встроенных значений слотов; или что сказать о непонятом, забыв только его
    (понятую дату не спрашивают заново из-за непонятого времени)."""
    day, at = parse_day(view.slot("date"), shop.now.date()), parse_time(view.slot("time"))
    if day is None:
        return [Reply(f"Не понял дату «{view.slot('date')}»."), SetSlot("date", None), Followup(form)]
    if at is None:
        return [Reply(f"Не понял время «{view.slot('time')}»."), SetSlot("time", None), Followup(form)]
    return datetime.combine(day, at)


def book_appointment(view: TurnView) -> list[Step]:
    """Запись на день и время из встроенных значений слотов, если в календаре есть место."""
    shop = Shop(shop_path())
    wanted = _requested(view, shop, "book_appointment")
    if isinstance(wanted, list):
        return wanted
    service = str(view.slot("service", "ремонт"))
    if view.correcting and (made := shop.last_booked(_customer(view))) is not None:
        return _move(shop, made, wanted, "book_appointment", service)  # «ой, лучше во вторник»
    why = _why_not(shop, wanted)
    booked = shop.book(_customer(view), service, wanted) if why is None else None
    if booked is None:
        return _alternatives(shop, wanted, why or f"Извините, время «{_when(wanted)}» только что заняли.")
    return [
        Reply(
            f"Записал вас: {_when(booked.at)} ({service}). Ждём вас в сервисном центре Northwind, ул. Портовая, 42. "
            "Возьмите с собой устройство и зарядку.",
            buttons=[("Перенести запись", "Хочу перенести запись"), ("Отменить запись", "Хочу отменить запись")],
        )
    ]


def reschedule_appointment(view: TurnView) -> list[Step]:
    """Перенос ближайшей записи этого чата на другой день и время, если там есть место."""
    shop = Shop(shop_path())
    booked = shop.appointments(_customer(view))
    if not booked:
        return [Reply("Не нахожу предстоящей записи в этом чате.", buttons=[BOOK_BUTTON])]
    wanted = _requested(view, shop, "reschedule_appointment")
    if isinstance(wanted, list):
        return wanted
    return _move(shop, booked[0], wanted, "reschedule_appointment")


def _move(shop: Shop, appointment: Appointment, wanted: datetime, form: str, service: str | None = None) -> list[Step]:
    """Перенос записи (по просьбе или поправка только что сделанной записи); если время занято —
    ближайшее свободное и вопрос формы заново."""
    why = None if wanted == appointment.at else _why_not(shop, wanted)
    if why is not None or not shop.move(appointment, wanted, service):
        taken = why or f"Извините, время «{_when(wanted)}» только что заняли."
        return _alternatives(shop, wanted, taken, form)
    service = service or appointment.service
    if wanted == appointment.at:
        return [Reply(f"Готово: запись на «{_when(wanted)}» теперь на услугу «{service}».")]
    return [Reply(f"Перенёс вашу запись: {_when(wanted)} ({service}; было: {_when(appointment.at)}).")]


def cancel_appointment(view: TurnView) -> list[Step]:
    """Отмена записей этого чата на названный день."""
    shop = Shop(shop_path())
    booked = shop.appointments(_customer(view))
    if not booked:
        return [Reply("Не нахожу предстоящей записи в этом чате, отменять нечего.")]
    day = parse_day(view.slot("date"), shop.now.date())
    on_day = [a for a in booked if a.day == day]
    if not on_day:
        named = humanize("date", day.isoformat(), "ru") if day else str(view.slot("date"))
        listed = "; ".join(_when(a.at) for a in booked)
        return [Reply(f"На «{named}» записи нет. Ваши записи: {listed}."), SetSlot("date", None)]
    for appointment in on_day:
        shop.cancel_appointment(appointment)
    first = on_day[0]
    return [
        Reply(
            f"Готово, запись ({first.service}) на «{_when(first.at)}» отменена. Хотите выбрать другой день?",
            buttons=[("Записаться снова", "Хочу записаться на приём"), ("Нет, спасибо", "нет, спасибо")],
        )
    ]


STOCK_NAMES = {
    "ноутбук": "laptop",
    "телефон": "phone",
    "планшет": "tablet",
    "наушники": "headphones",
    "телевизор": "tv",
    "смарт-часы": "smartwatch",
    "игровая приставка": "games console",
    "принтер": "printer",
    "фотоаппарат": "camera",
}
"""Значения слота `product` (intents.yaml) -> товары склада бэкенда."""


def product_stock(view: TurnView) -> list[Step]:
    """Сколько товара на складе, а если нет — когда ждать поставку."""
    product = str(view.slot("product", ""))
    known = STOCK_NAMES.get(product.casefold())
    stock = Shop(shop_path()).stock(known) if known else None
    if stock is None:
        return [
            Reply(
                f"«{product}» мы сейчас не продаём. У нас есть ноутбуки, телефоны, планшеты, телевизоры, "
                "наушники, смарт-часы, игровые приставки, принтеры и фотоаппараты."
            ),
            SetSlot("product", None),
        ]
    name = product[:1].upper() + product[1:]
    if stock.quantity > 0:
        few = " Осталось совсем немного!" if stock.quantity <= 3 else ""
        return [Reply(f"{name}: в наличии {stock.quantity} шт.{few} Закажите до 14:00 — привезём на следующий день.")]
    if stock.restock is not None:
        return [Reply(f"{name}: сейчас нет в наличии, поставку ждём {_day(stock.restock)}.")]
    return [Reply(f"{name}: сейчас нет в наличии, и даты поставки пока нет.")]
