"""Northwind's demo back office: orders, the service centre's calendar and stock, in one SQLite
file beside the bot's database, created and seeded on first use.

It stands in for the shop's real systems so that the demo's answers are true: a cancelled
order stays cancelled, and a booked slot is taken.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

FILE_NAME = "demo_shop.db"
OPENING = time(9, 0)
LAST_SLOT = time(17, 30)
SLOT_MINUTES = 30
CAPACITY = 2
"""Technicians at the service desk: appointments that can share one half-hour slot."""
SUNDAY = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, items TEXT NOT NULL,
    placed TEXT NOT NULL, delivery TEXT, cancelled_at TEXT);
CREATE TABLE IF NOT EXISTS appointments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT NOT NULL, service TEXT NOT NULL,
    day TEXT NOT NULL, time TEXT NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS appointments_slot ON appointments (day, time) WHERE cancelled = 0;
CREATE TABLE IF NOT EXISTS stock (product TEXT PRIMARY KEY, quantity INTEGER NOT NULL, restock TEXT);
"""
OrderStatus = Literal["processing", "dispatched", "delivered", "cancelled"]
CancelOutcome = Literal["cancelled", "already_cancelled", "delivered", "unknown"]


def shop_path() -> Path:
    """`BOT_DEMO_SHOP_PATH`, else `demo_shop.db` beside the bot's SQLite database, else here."""
    explicit = os.environ.get("BOT_DEMO_SHOP_PATH")
    if explicit:
        return Path(explicit)
    url = os.environ.get("BOT_DATABASE_URL", "")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).parent / FILE_NAME
    return Path(FILE_NAME)


def normalise_order_id(text: str) -> str:
    """AB123456 however it was typed: nw-204518, NW 204518."""
    return re.sub(r"[\s-]", "", text).upper()


@dataclass(frozen=True)
class Order:
    id: str
    status: OrderStatus
    items: str
    placed: date
    delivery: date | None


@dataclass(frozen=True)
class Appointment:
    id: int
    customer: str
    service: str
    day: date
    time: time

    @property
    def at(self) -> datetime:
        return datetime.combine(self.day, self.time)


@dataclass(frozen=True)
class Stock:
    product: str
    quantity: int
    restock: date | None


class Shop:
    """The back office over one SQLite file; `now` is injectable so tests control the calendar."""

    def __init__(self, path: Path, now: datetime | None = None) -> None:
        self.path = path
        self._now = now
        if not self._ready():
            self._create()

    @property
    def now(self) -> datetime:
        return self._now or datetime.now()

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")  # one writer at a time: capacity checks hold
            yield conn
            if write:
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _ready(self) -> bool:
        if not self.path.exists():
            return False
        with self._db() as conn:
            return bool(conn.execute("PRAGMA user_version").fetchone()[0])

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as conn:
            conn.executescript(_SCHEMA)
        with self._db(write=True) as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0]:
                return  # another thread seeded it first
            _seed(conn, self.now.date())
            conn.execute("PRAGMA user_version = 1")

    # -- orders ---------------------------------------------------------------------------

    def order(self, order_id: str) -> Order | None:
        with self._db() as conn:
            row = conn.execute(
                "SELECT id, status, items, placed, delivery FROM orders WHERE id = ?", (normalise_order_id(order_id),)
            ).fetchone()
        if row is None:
            return None
        return Order(row[0], row[1], row[2], date.fromisoformat(row[3]), _day(row[4]))

    def cancel_order(self, order_id: str) -> CancelOutcome:
        """Cancel an order not yet delivered."""
        with self._db(write=True) as conn:
            row = conn.execute("SELECT status FROM orders WHERE id = ?", (normalise_order_id(order_id),)).fetchone()
            if row is None:
                return "unknown"
            if row[0] in ("delivered", "cancelled"):
                return "delivered" if row[0] == "delivered" else "already_cancelled"
            conn.execute(
                "UPDATE orders SET status = 'cancelled', delivery = NULL, cancelled_at = ? WHERE id = ?",
                (self.now.isoformat(timespec="seconds"), normalise_order_id(order_id)),
            )
        return "cancelled"

    # -- the service centre's calendar ------------------------------------------------------

    def bookable(self, at: datetime) -> bool:
        """A slot the centre has at all: Monday to Saturday, every half hour, in the future."""
        return (
            at.weekday() != SUNDAY
            and OPENING <= at.time() <= LAST_SLOT
            and at.minute % SLOT_MINUTES == 0
            and at > self.now
        )

    def free_places(self, at: datetime) -> int:
        with self._db() as conn:
            return CAPACITY - _taken(conn, at)

    def nearest_free(self, at: datetime, count: int = 3, days: int = 14) -> list[datetime]:
        """The free slots closest to `at`, earlier the same day included, soonest first."""
        start = datetime.combine(at.date(), OPENING)
        candidates = [
            start + timedelta(days=d, minutes=m)
            for d in range(days)
            for m in range(0, _minutes(LAST_SLOT) - _minutes(OPENING) + 1, SLOT_MINUTES)
        ]
        candidates = sorted((c for c in candidates if self.bookable(c)), key=lambda c: abs(c - at))
        with self._db() as conn:
            free = [c for c in candidates[: count * 20] if _taken(conn, c) < CAPACITY]
        return sorted(free[:count])

    def book(self, customer: str, service: str, at: datetime) -> Appointment | None:
        """Book a place if the slot has one; None when it is full."""
        with self._db(write=True) as conn:
            if not self.bookable(at) or _taken(conn, at) >= CAPACITY:
                return None
            cursor = conn.execute(
                "INSERT INTO appointments (customer, service, day, time) VALUES (?, ?, ?, ?)",
                (customer, service, at.date().isoformat(), at.strftime("%H:%M")),
            )
            return Appointment(int(cursor.lastrowid or 0), customer, service, at.date(), at.time())

    def appointments(self, customer: str) -> list[Appointment]:
        """The customer's appointments still to come, soonest first."""
        with self._db() as conn:
            rows = conn.execute(
                "SELECT id, customer, service, day, time FROM appointments "
                "WHERE customer = ? AND cancelled = 0 ORDER BY day, time",
                (customer,),
            ).fetchall()
        booked = [Appointment(r[0], r[1], r[2], date.fromisoformat(r[3]), time.fromisoformat(r[4])) for r in rows]
        return [a for a in booked if a.at > self.now]

    def last_booked(self, customer: str) -> Appointment | None:
        """The customer's upcoming appointment that was booked most recently."""
        return max(self.appointments(customer), key=lambda a: a.id, default=None)

    def move(self, appointment: Appointment, at: datetime, service: str | None = None) -> bool:
        """Move an appointment to another slot if that one has a place (and change its service)."""
        with self._db(write=True) as conn:
            if not self.bookable(at) or _taken(conn, at, besides=appointment.id) >= CAPACITY:
                return False
            conn.execute(
                "UPDATE appointments SET day = ?, time = ?, service = ? WHERE id = ?",
                (at.date().isoformat(), at.strftime("%H:%M"), service or appointment.service, appointment.id),
            )
        return True

    def cancel_appointment(self, appointment: Appointment) -> None:
        with self._db(write=True) as conn:
            conn.execute("UPDATE appointments SET cancelled = 1 WHERE id = ?", (appointment.id,))

    # -- stock ------------------------------------------------------------------------------

    def stock(self, product: str) -> Stock | None:
        with self._db() as conn:
            row = conn.execute(
                "SELECT product, quantity, restock FROM stock WHERE product = ?", (product.casefold(),)
            ).fetchone()
        return None if row is None else Stock(row[0], row[1], _day(row[2]))


def _taken(conn: sqlite3.Connection, at: datetime, besides: int | None = None) -> int:
    row = conn.execute(
        "SELECT count(*) FROM appointments WHERE day = ? AND time = ? AND cancelled = 0 AND id IS NOT ?",
        (at.date().isoformat(), at.strftime("%H:%M"), besides),
    ).fetchone()
    return int(row[0])


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    return day + timedelta(days=1) if day.weekday() == SUNDAY else day


def _seed(conn: sqlite3.Connection, today: date) -> None:
    """Orders in every state, a calendar with the next working morning fully booked, stock."""

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    orders = [
        ("NW204518", "dispatched", "55-inch Smart TV", ago(2), ago(-1)),
        ("AB123456", "delivered", "Noise-cancelling headphones", ago(12), ago(8)),
        ("KT5518203", "processing", "Gaming laptop and a wireless mouse", ago(0), ago(-3)),
        ("MN552190", "cancelled", "Espresso machine", ago(6), None),
        ("TR449120", "dispatched", "Smartwatch", ago(1), ago(-2)),
        ("PL300422", "delivered", "Inkjet printer", ago(30), ago(27)),
        ("LK330918", "processing", "Games console bundle", ago(1), ago(-4)),
    ]
    conn.executemany(
        "INSERT OR IGNORE INTO orders (id, status, items, placed, delivery) VALUES (?, ?, ?, ?, ?)", orders
    )
    busy = next_working_day(today).isoformat()
    seeded = [
        ("seed:walk-in", "repair", busy, t) for t in ("09:00", "09:30", "10:00", "10:30", "11:00") for _ in range(2)
    ]
    seeded += [("seed:walk-in", "installation", busy, "14:00")]
    conn.executemany("INSERT INTO appointments (customer, service, day, time) VALUES (?, ?, ?, ?)", seeded)
    stock = [
        ("laptop", 14, None),
        ("phone", 0, ago(-5)),
        ("tablet", 6, None),
        ("headphones", 32, None),
        ("tv", 3, None),
        ("smartwatch", 0, ago(-12)),
        ("games console", 2, None),
        ("printer", 9, None),
        ("camera", 0, None),
    ]
    conn.executemany("INSERT OR IGNORE INTO stock (product, quantity, restock) VALUES (?, ?, ?)", stock)
