"""Time to extract every built-in value from one message, English and Russian, with and without values.

    python bench/values.py [--repeat 50] [--compare]

Messages with values are written here; messages without are the bots' own examples that
mark no entity. Each extraction is timed on its own; the median and p99 over all of them are
printed. `--compare` also scores the libraries that were weighed for dates and amounts
(dateparser, price-parser) on the test tables of tests/test_values.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain import load_domain  # noqa: E402
from bot.values import extract_values  # noqa: E402

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=ZoneInfo("Europe/London"))
WITH_VALUES = {
    "en": [
        "can I come tomorrow at 3pm?",
        "book me in for a repair next friday around 2 in the afternoon",
        "is half past ten on the 14th free?",
        "I'd like an appointment on 14/12 at noon",
        "between 2 and 4pm this weekend works for me",
        "the repair took three days and cost $120",
        "I paid 20 euros for delivery, order AB123456",
        "call me back on (415) 555-2671 please",
        "my email is ada@example.com, or see www.example.com",
        "the second one, for twenty one guests",
        "can we do it for two hours on Monday morning?",
        "what are your opening hours on saturday?",
    ],
    "ru": [
        "можно записаться на завтра в 10:00?",
        "запишите в следующий вторник часа в три дня",
        "хочу прийти 5 декабря в половине одиннадцатого",
        "в пятницу с 2 до 4 дня удобно",
        "ремонт стоил 500 рублей, а доставка двести",
        "позвоните мне: +7 912 345-67-89",
        "мне нужна вторая запись на двадцать пять минут",
        "на выходных в полдень",
        "через неделю в три часа дня",
        "14-го к 14 часам",
    ],
}
DOMAINS = {"en": ROOT / "intents.yaml", "ru": ROOT / "examples" / "ru" / "intents.yaml"}


def without_values(language: str) -> list[str]:
    domain = load_domain(DOMAINS[language])
    return [ex.text for intent in domain.intents.values() for ex in intent.examples if not ex.entities]


def timings(messages: list[str], language: str, repeat: int) -> list[float]:
    for text in messages:  # warm the regular expressions and caches
        extract_values(text, language, NOW)
    seconds: list[float] = []
    for _ in range(repeat):
        for text in messages:
            start = time.perf_counter()
            extract_values(text, language, NOW)
            seconds.append(time.perf_counter() - start)
    return seconds


def report(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{name:<24} {len(ms):>7} {statistics.median(ms):>10.3f} {p99:>10.3f}")


def compare() -> None:
    """How the libraries weighed for the job score on our own tables."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_values import ENGLISH, RUSSIAN  # type: ignore[import-not-found]

    try:
        from dateparser.search import search_dates
        from price_parser import Price
    except ImportError:
        print("--compare needs dateparser and price-parser: pip install dateparser price-parser")
        return
    print(f"\n{'library on our tables':<32} {'right / rows':>12} {'median ms':>9}")
    for language, rows in (("en", ENGLISH), ("ru", RUSSIAN)):
        temporal = [r for r in rows if r[1] in ("date", "time", "datetime")]
        right, seconds = 0, []
        settings: Any = {"RELATIVE_BASE": NOW.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
        for text, builtin, value, *_ in temporal:
            start = time.perf_counter()
            found = search_dates(text, languages=[language], settings=settings)
            seconds.append(time.perf_counter() - start)
            right += bool(found) and _same(found[0][1], builtin, value)
        _row(f"dateparser.search_dates ({language})", right, len(temporal), seconds)
        ours, seconds = 0, []
        for text, builtin, value, span, *region in temporal:
            start = time.perf_counter()
            found_ours = extract_values(
                text, language, NOW, region=region[0] if region else "US", wanted=frozenset({builtin})
            )
            seconds.append(time.perf_counter() - start)
            ours += [(e.value, e.text) for e in found_ours] == [(value, span)]
        _row(f"bot.values ({language})", ours, len(temporal), seconds)
        money = [r for r in rows if r[1] == "amount_of_money"]
        right, seconds = 0, []
        for text, _, value, *_ in money:
            start = time.perf_counter()
            price = Price.fromstring(text)
            seconds.append(time.perf_counter() - start)
            right += price.amount_float == value["amount"] and _currency(price.currency) == value["currency"]
        _row(f"price_parser.Price ({language})", right, len(money), seconds)


def _row(name: str, right: int, rows: int, seconds: list[float]) -> None:
    print(f"{name:<32} {right:>5} / {rows:<4} {statistics.median(seconds) * 1000:>9.3f}")


def _same(found: datetime, builtin: str, value: Any) -> bool:
    if isinstance(value, dict):
        return False  # a range: dateparser returns one moment
    if builtin == "date":
        return found.date().isoformat() == value
    if builtin == "time":
        return found.time().isoformat() == value
    return found.replace(tzinfo=NOW.tzinfo).isoformat() == value


def _currency(symbol: str | None) -> str | None:
    codes = {"$": "USD", "€": "EUR", "£": "GBP", "₽": "RUB", "euro": "EUR", "руб": "RUB", "rub": "RUB"}
    return codes.get((symbol or "").lower(), (symbol or "").upper())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--compare", action="store_true", help="score dateparser and price-parser on the tables")
    args = parser.parse_args(argv)
    print(f"{'messages':<24} {'calls':>7} {'median ms':>10} {'p99 ms':>10}")
    for language in ("en", "ru"):
        report(f"{language} with values", timings(WITH_VALUES[language], language, args.repeat))
        report(f"{language} without values", timings(without_values(language), language, max(1, args.repeat // 10)))
    if args.compare:
        compare()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
