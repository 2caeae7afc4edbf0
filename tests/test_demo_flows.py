"""The demo shop end to end: its real actions over its seeded back office, behind a real server,
driven over a real WebSocket. What the bot says must be true in the back office afterwards."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from actions.backend import Shop, next_working_day
from actions.dates import say_day
from tests.helpers import ROOT, LiveServer, make_server_env, run_server

pytestmark = pytest.mark.slow

DEMO = ROOT / "intents.yaml"


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bot trained once for the module (light pipeline)."""
    from training.fit import main as fit

    out = tmp_path_factory.mktemp("demo-models")
    assert fit(["--intents", str(DEMO), "--out", str(out), "--quick"]) == 0
    return out


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-shop") / "demo_shop.db"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, demo_models: Path, shop_file: Path) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("demo-server")
    env = make_server_env(folder, demo_models)
    env.update(BOT_INTENTS_PATH=str(DEMO), BOT_DEMO_SHOP_PATH=str(shop_file))
    yield from run_server(folder, env)


class Customer:
    """One chat over the protocol (docs/protocol.md); `say` returns every reply to a message."""

    def __init__(self, server: LiveServer) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(connect(server.ws_url, open_timeout=10))
        self.ws.send(json.dumps({"type": "hello"}))
        self.session_id: str = self._until_pong()[0]["session_id"]
        self.buttons: dict[str, str] = {}

    def _until_pong(self) -> list[dict[str, Any]]:
        """The frames before a pong: a session answers a message whole before the next frame."""
        self.ws.send(json.dumps({"type": "ping"}))
        frames = []
        while (frame := json.loads(self.ws.recv(30)))["type"] != "pong":
            assert frame["type"] != "error", frame
            frames.append(frame)
        return frames

    def say(self, text: str) -> str:
        self.ws.send(json.dumps({"type": "message", "text": text}))
        replies = [f for f in self._until_pong() if f["type"] == "reply"]
        self.buttons = {b["title"]: b["payload"] for r in replies for b in r.get("buttons") or []}
        return "\n".join(r["text"] for r in replies)

    def press(self, title: str) -> str:
        assert title in self.buttons, f"no button {title!r}; offered: {list(self.buttons)}"
        return self.say(self.buttons[title])

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def customer(demo_server: LiveServer) -> Iterator[Customer]:
    chat = Customer(demo_server)
    yield chat
    chat.close()


def test_order_status_is_the_back_offices(customer: Customer) -> None:
    today = date.today()
    said = customer.say("where is my order NW-204518?")
    assert (
        f"Order NW204518 (55-inch Smart TV) is on its way with DPD and is due on {say_day(today + timedelta(1))}"
        in said
    )
    assert {"Change delivery address", "Cancel this order"} <= customer.buttons.keys()
    assert "I can't find an order ZX998877." in customer.say("where is my order ZX998877?")


def test_cancelling_really_cancels_and_a_delivered_order_is_refused(customer: Customer, shop_file: Path) -> None:
    assert "Cancel order KT5518203?" in customer.say("please cancel order KT5518203")
    assert "Done: order KT5518203 is cancelled." in customer.say("yes")
    assert "Order KT5518203 (Gaming laptop and a wireless mouse) was cancelled" in customer.say(
        "where is my order KT5518203?"
    )
    assert "Cancel order AB123456?" in customer.say("please cancel order AB123456")
    assert "Order AB123456 has already been delivered, so it can't be cancelled." in customer.say("yes")
    unknown = customer.say("please cancel order ZZ999999")  # refused by the slot's validator, asked again
    assert "I can't find an order ZZ999999." in unknown and "Cancel order" not in unknown
    shop = Shop(shop_file)
    assert [shop.order(n).status for n in ("KT5518203", "AB123456")] == ["cancelled", "delivered"]  # type: ignore[union-attr]


def test_a_repair_booking_offers_free_times_stores_the_booking_and_cancels_it(
    customer: Customer, shop_file: Path
) -> None:
    busy = next_working_day(date.today())  # seeded full from 9:00 to 11:00
    day = f"{busy.day} {busy:%B}"
    assert "Which day" in customer.say("I want to book a repair")
    assert "what time" in customer.say(day)
    full = customer.say("10am")
    assert f"Sorry, {say_day(busy)} at 10:00 is fully booked." in full
    first_free = f"{busy:%a} {busy.day} {busy:%b}, 11:30"
    assert list(customer.buttons)[:1] == [first_free]
    booked = customer.press(first_free)
    assert f"You're booked in: repair on {say_day(busy)} at 11:30" in booked
    (appointment,) = Shop(shop_file).appointments(f"session:{customer.session_id}")
    assert (appointment.day, appointment.time.isoformat("minutes"), appointment.service) == (busy, "11:30", "repair")

    assert "Which day" in customer.press("Cancel appointment")
    assert "Cancel your appointment" in customer.say(day)
    assert f"Your repair appointment on {say_day(busy)} at 11:30 is cancelled." in customer.say("yes")
    assert Shop(shop_file).appointments(f"session:{customer.session_id}") == []


def test_the_booking_refuses_a_past_day_a_sunday_and_the_night_before_asking_the_back_office(
    customer: Customer, shop_file: Path
) -> None:
    """The slot constraints, judged at the server's now: nothing reaches the calendar."""
    assert "Which day" in customer.say("I want to book a repair")
    assert "That day has already gone. Which day from today on suits you?" in customer.say("yesterday")
    assert "The service centre is closed on Sundays. Which other day suits you?" in customer.say("sunday")
    day = next_working_day(date.today() + timedelta(7))
    assert "what time" in customer.say(f"{day.day} {day:%B}")
    assert "Appointments start between 9am and 5:30pm" in customer.say("3am")
    assert Shop(shop_file).appointments(f"session:{customer.session_id}") == []


def test_stock_is_read_from_the_back_office(customer: Customer) -> None:
    assert "we have 14 in the laptop range in stock" in customer.say("do you have any laptops in stock?")
    restock = say_day(date.today() + timedelta(5))
    assert f"The phone range is out of stock right now; we expect more on {restock}." in customer.say(
        "do you have any phones in stock?"
    )
