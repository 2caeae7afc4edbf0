"""The demo shop's actions over its back office (actions/backend.py): every answer is true.

Each is a plain function of the turn; intents.yaml names them as `actions.shop:NAME`.
"""

from __future__ import annotations

from datetime import datetime

from actions.backend import Appointment, Shop, normalise_order_id, shop_path
from actions.dates import parse_day, parse_time, say_day, say_time
from bot.actions import Followup, Reply, SetSlot, Step, TurnView, Validation

ORDER_HELP = "Please check the number in your confirmation email; it looks like AB123456."
BOOK_BUTTON = ("Book an appointment", "I want to book an appointment")


def _shop() -> Shop:
    return Shop(shop_path())


def _customer(view: TurnView) -> str:
    """Whose appointments these are: the account's, or a guest's session's."""
    return f"user:{view.user_id}" if view.user_id is not None else f"session:{view.session_id}"


def check_order(value: object, view: TurnView) -> Validation:
    """An order number the shop knows, in its canonical form."""
    order = _shop().order(str(value))
    if order is None:
        return Validation.reject(f"I can't find an order {normalise_order_id(str(value))}. {ORDER_HELP}")
    return Validation.accept(order.id)


def order_status(view: TurnView) -> list[Step]:
    order_id = str(view.slot("order_id", ""))
    order = _shop().order(order_id)
    if order is None:
        return [Reply(f"I can't find an order {normalise_order_id(order_id)}. {ORDER_HELP}"), SetSlot("order_id", None)]
    delivery = say_day(order.delivery) if order.delivery else ""
    text = {
        "processing": f"Order {order.id} ({order.items}) is being packed in our warehouse. "
        f"It should arrive on {delivery}.",
        "dispatched": f"Order {order.id} ({order.items}) is on its way with DPD and is due on {delivery}. "
        "You'll get a text with a one-hour delivery window on the day.",
        "delivered": f"Order {order.id} ({order.items}) was delivered on {delivery}.",
        "cancelled": f"Order {order.id} ({order.items}) was cancelled, and any payment has been refunded.",
    }[order.status]
    buttons: list[tuple[str, str]] = []
    if order.status in ("processing", "dispatched"):
        buttons = [
            ("Change delivery address", "I need to change my delivery address"),
            ("Cancel this order", "Cancel my order"),
        ]
    elif order.status == "delivered":
        buttons = [("Return an item", "I want to return an item")]
    return [Reply(text, buttons=buttons)]


def cancel_order(view: TurnView) -> list[Step]:
    order_id = normalise_order_id(str(view.slot("order_id", "")))
    outcome = _shop().cancel_order(order_id)
    if outcome == "unknown":
        return [
            Reply(f"I can't find an order {order_id}, so nothing was cancelled. {ORDER_HELP}"),
            SetSlot("order_id", None),
        ]
    if outcome == "delivered":
        return [
            Reply(
                f"Order {order_id} has already been delivered, so it can't be cancelled. You can return it instead.",
                buttons=[("Return an item", "I want to return an item")],
            )
        ]
    if outcome == "already_cancelled":
        return [Reply(f"Order {order_id} was already cancelled; there's nothing more to do.")]
    return [Reply(f"Done: order {order_id} is cancelled. Any payment is refunded within 3-5 business days.")]


def _requested(view: TurnView, shop: Shop, form: str) -> datetime | list[Step]:
    """The date and time asked for; or what to say about the one not understood, forgetting only
    that one (a date understood is not asked again for a time that was not)."""
    day = parse_day(view.slot("date"), shop.now.date())
    at = parse_time(view.slot("time"))
    if day is None:
        return [
            Reply(f'Sorry, I couldn\'t read "{view.slot("date")}" as a date.'),
            SetSlot("date", None),
            Followup(form),
        ]
    if at is None:
        return [
            Reply(f'Sorry, I couldn\'t read "{view.slot("time")}" as a time.'),
            SetSlot("time", None),
            Followup(form),
        ]
    return datetime.combine(day, at)


def _alternatives(shop: Shop, wanted: datetime, why: str) -> list[Step]:
    """Say why the slot cannot be had, offer the nearest free ones, and ask again: for another
    time that day while it has free ones (the date kept), else for another day."""
    free = shop.nearest_free(wanted)
    # "4 December at 09:30": what a person would type, read whole by the date and time built-ins.
    buttons = [
        (f"{at:%a} {at.day} {at:%b}, {say_time(at.time())}", f"{at.day} {at:%B} at {say_time(at.time())}")
        for at in free
    ]
    if any(at.date() == wanted.date() for at in free):
        return [
            Reply(f"{why} The nearest free times are below; pick one, or tell me another time.", buttons=buttons),
            SetSlot("time", None),
        ]
    if not free:
        return [
            Reply(f"{why} We have no free slots in the next two weeks, sorry."),
            SetSlot("date", None),
            SetSlot("time", None),
        ]
    return [
        Reply(f"{why} The nearest free times are below; pick one, or tell me another day.", buttons=buttons),
        SetSlot("date", None),
        SetSlot("time", None),
    ]


def _why_not(shop: Shop, at: datetime) -> str | None:
    if at <= shop.now:
        return f"{say_day(at.date())} at {say_time(at.time())} has already passed."
    if not shop.bookable(at):
        return (
            f"We don't have a slot at {say_time(at.time())} on {say_day(at.date())}: appointments start "
            "every half hour, 9:00 to 17:30, Monday to Saturday."
        )
    if shop.free_places(at) <= 0:
        return f"Sorry, {say_day(at.date())} at {say_time(at.time())} is fully booked."
    return None


def book_appointment(view: TurnView) -> list[Step]:
    shop = _shop()
    wanted = _requested(view, shop, "book_appointment")
    if isinstance(wanted, list):
        return wanted
    service = str(view.slot("service", "repair"))
    if view.correcting and (made := shop.last_booked(_customer(view))) is not None:
        return _move(shop, made, wanted, "book_appointment", service)  # "oh wait, make it Tuesday"
    why = _why_not(shop, wanted)
    booked = shop.book(_customer(view), service, wanted) if why is None else None
    if booked is None:
        return [*_alternatives(shop, wanted, why or "Sorry, that slot was just taken."), Followup("book_appointment")]
    return [
        Reply(
            f"You're booked in: {service} on {say_day(booked.day)} at {say_time(booked.time)} at the Northwind "
            "Service Centre, 42 Harbour Street. Please bring the device and any accessories.",
            buttons=[
                ("Reschedule", "I need to reschedule my appointment"),
                ("Cancel appointment", "Cancel my appointment"),
            ],
        )
    ]


def _booked(view: TurnView, shop: Shop) -> list[Appointment]:
    return shop.appointments(_customer(view))


def reschedule_appointment(view: TurnView) -> list[Step]:
    shop = _shop()
    booked = _booked(view, shop)
    if not booked:
        return [Reply("I can't find an upcoming appointment booked in this chat.", buttons=[BOOK_BUTTON])]
    wanted = _requested(view, shop, "reschedule_appointment")
    if isinstance(wanted, list):
        return wanted
    return _move(shop, booked[0], wanted, "reschedule_appointment")


def _move(shop: Shop, appointment: Appointment, wanted: datetime, form: str, service: str | None = None) -> list[Step]:
    """Move an appointment (rescheduled, or a booking corrected just after it was made); if the
    time is not free, the nearest free ones and the form's question again."""
    why = None if wanted == appointment.at else _why_not(shop, wanted)
    if why is not None or not shop.move(appointment, wanted, service):
        return [*_alternatives(shop, wanted, why or "Sorry, that slot was just taken."), Followup(form)]
    now = f"{say_day(wanted.date())} at {say_time(wanted.time())}"
    if wanted == appointment.at:
        return [Reply(f"All done: your appointment on {now} is now for {service or appointment.service}.")]
    return [
        Reply(
            f"All done: your {service or appointment.service} appointment moved from {say_day(appointment.day)} "
            f"at {say_time(appointment.time)} to {now}."
        )
    ]


def cancel_appointment(view: TurnView) -> list[Step]:
    shop = _shop()
    booked = _booked(view, shop)
    if not booked:
        return [Reply("I can't find an upcoming appointment booked in this chat, so there's nothing to cancel.")]
    day = parse_day(view.slot("date"), shop.now.date())
    on_day = [a for a in booked if a.day == day]
    if not on_day:
        listed = ", ".join(f"{say_day(a.day)} at {say_time(a.time)}" for a in booked)
        return [
            Reply(
                f"You have no appointment on {say_day(day) if day else view.slot('date')}. Your appointments: {listed}."
            ),
            SetSlot("date", None),
        ]
    for appointment in on_day:
        shop.cancel_appointment(appointment)
    first = on_day[0]
    return [
        Reply(
            f"Your {first.service} appointment on {say_day(first.day)} at {say_time(first.time)} is cancelled.",
            buttons=[BOOK_BUTTON, ("No, thanks", "no thanks")],
        )
    ]


def product_stock(view: TurnView) -> list[Step]:
    product = str(view.slot("product", ""))
    stock = _shop().stock(product)
    if stock is None:
        return [
            Reply(
                f'We don\'t sell "{product}" at the moment. '
                "We stock laptops, phones, tablets, TVs, headphones and more."
            )
        ]
    if stock.quantity > 0:
        few = " Only a few left!" if stock.quantity <= 3 else ""
        return [
            Reply(
                f"Yes: we have {stock.quantity} in the {product} range in stock.{few} "
                "Order before 2pm for next-day delivery."
            )
        ]
    if stock.restock is not None:
        return [Reply(f"The {product} range is out of stock right now; we expect more on {say_day(stock.restock)}.")]
    return [Reply(f"The {product} range is out of stock, and we don't have a restock date yet.")]
