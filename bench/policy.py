"""The dialogue policy alone: how long one turn's decision takes, outside NLU.

    python bench/policy.py [--intents intents.yaml] [--rounds 20000]

Each case is a typical turn (an answer, a form starting, a slot filled, a digression, a wrong
answer, a value its slot's constraint refuses, the fallback, a correction, several requests) on
the demo domain at a fixed moment (Tuesday 1 December 2026, 10:00 London), with the prediction
and entities given as values. Prints the median and 99th percentile per decision in ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dialogue import State, decide, decide_parts  # noqa: E402
from bot.domain import load_domain  # noqa: E402
from bot.understanding import Entity, Prediction  # noqa: E402


def sure(intent: str) -> Prediction:
    return Prediction(intent, 0.95, [(intent, 0.95), ("greet", 0.2)], False, False)


UNSURE = Prediction("greet", 0.1, [("greet", 0.1), ("thanks", 0.09)], True, True)
ORDER = [Entity("order_number", "AB123456", 0, 8, "AB123456", source="regex")]
FRIDAY = [Entity("appointment_date", "2026-12-04", 17, 23, "friday", source="builtin")]
SUNDAY = [Entity("appointment_date", "2026-12-06", 0, 6, "sunday", source="builtin")]
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/London"))
CASES = [
    ("answer", "when are you open", sure("opening_hours"), [], State()),
    ("form starts", "where is my order", sure("order_status"), [], State()),
    ("slot filled", "AB123456", UNSURE, ORDER, State("order_status", "order_id")),
    ("digression", "when are you open", sure("opening_hours"), [], State("order_status", "order_id")),
    ("wrong answer", "hmm", UNSURE, [], State("order_status", "order_id", failures=1)),
    ("fallback", "blorp", UNSURE, [], State()),
    ("confirmation", "yes", sure("affirm"), [], State("cancel_order", "?confirm", {"order_id": "AB123456"})),
    (
        "correction",
        "actually make it friday",
        sure("correct"),
        FRIDAY,
        State(slots={"date": "2026-11-30", "time": "15:00:00", "service": "repair"}, last_form="book_appointment"),
    ),
    ("refused value", "sunday", UNSURE, SUNDAY, State("book_appointment", "date", {"service": "repair"})),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=Path, default=ROOT / "intents.yaml")
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args(argv)
    domain = load_domain(args.intents)
    rng = random.Random(0)
    print(f"{'case':<16} {'median ms':>10} {'p99 ms':>8}")
    medians = []
    for name, text, prediction, entities, state in CASES:
        samples = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            decide(text, prediction, entities, state, domain, rng, now=NOW)
            samples.append(time.perf_counter() - t0)
        samples.sort()
        medians.append(statistics.median(samples))
        print(f"{name:<16} {1000 * medians[-1]:10.4f} {1000 * samples[int(0.99 * len(samples))]:8.4f}")
    parts = [("thanks", sure("thanks"), []), ("bye", sure("goodbye"), [])]
    samples = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        decide_parts(parts, State(), domain, rng, now=NOW)
        samples.append(time.perf_counter() - t0)
    p99 = sorted(samples)[int(0.99 * len(samples))]
    print(f"{'two requests':<16} {1000 * statistics.median(samples):10.4f} {1000 * p99:8.4f}")
    print(f"median of the cases' medians: {1000 * statistics.median(medians):.4f} ms per decision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
