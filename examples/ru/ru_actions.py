"""Действия русского бота: статус заказа из того же демо-бэкенда, что у английского (actions/backend.py).

Бэкенд импортируется из корня репозитория, поэтому бота запускают оттуда (`make run`, `python -m bot`).
"""

from __future__ import annotations

from datetime import date

from actions.backend import Shop, normalise_order_id, shop_path
from bot.actions import Reply, SetSlot, Step, TurnView

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


def _day(day: date | None) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}" if day else ""


def order_status(view: TurnView) -> list[Step]:
    order_id = normalise_order_id(str(view.slot("order_id", "")).translate(_LOOKALIKES))
    order = Shop(shop_path()).order(order_id)
    if order is None:
        return [
            Reply(f"Не нахожу заказ {order_id}. Проверьте номер в письме с подтверждением: он выглядит как AB123456."),
            SetSlot("order_id", None),
        ]
    text = {
        "processing": f"Заказ {order.id} собирается на складе, доставка ожидается {_day(order.delivery)}.",
        "dispatched": f"Заказ {order.id} передан курьеру и будет у вас {_day(order.delivery)}. "
        "В день доставки придёт СМС с интервалом.",
        "delivered": f"Заказ {order.id} доставлен {_day(order.delivery)}.",
        "cancelled": f"Заказ {order.id} отменён, деньги возвращены.",
    }[order.status]
    buttons = [("Отменить заказ", "Отмените мой заказ")] if order.status in ("processing", "dispatched") else []
    return [Reply(text, buttons=buttons)]
