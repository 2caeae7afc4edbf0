"""The log writer's batch latency beside a busy thread (a stand-in for a loaded event loop).

    python bench/log_writer.py [--database sqlite,postgresql+psycopg://127.0.0.1/bench_writer]
                               [--thread-switch-ms 5,0.5] [--rounds 60] [--turns 20]

Each round writes `--turns` chat turns at once (two rows each) through the store's writer
thread while another thread spins in Python, as a busy event loop does. Every wait on the
database gives the interpreter away, and the writer gets it back only when the spinning
thread yields it (after `sys.setswitchinterval`), so the figure counts those waits: it is
how a loaded server's writer fares, per backend and switch interval. A PostgreSQL database
is emptied first. Prints the median and p90 round time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ws_load import empty_postgres  # noqa: E402

from bot.database import make_engine, migrate  # noqa: E402
from bot.rows import Direction, MessageRow, SessionRow  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.tables import utcnow  # noqa: E402
from bot.writes import TurnWrite  # noqa: E402


def message(session_id: str, direction: Direction, text: str, client_id: str) -> MessageRow:
    return MessageRow(
        session_id=session_id,
        user_id=None,
        direction=direction,
        text=text,
        client_id=client_id,
        intent="greet",
        confidence=0.9,
        ranking=[["greet", 0.9]],
        entities=[],
        slots={},
        buttons=[],
        fallback=False,
        model_version="v1",
        latency_ms=1.0,
        created_at=utcnow(),
    )


async def rounds(store: Store, count: int, turns: int) -> list[float]:
    sessions = [(await store.create_session(None)).id for _ in range(turns)]
    done = dict.fromkeys(sessions, 0)
    times = []
    for n in range(count):
        started = time.perf_counter()
        await asyncio.gather(
            *(
                store.write(
                    TurnWrite(
                        s,
                        done[s],
                        SessionRow(
                            active_form=None, requested_slot=None, slots={}, turns=done[s] + 1, last_active=utcnow()
                        ),
                        [message(s, "in", "hi", f"c{n}"), message(s, "out", "hello", f"c{n}")],
                    )
                )
                for s in sessions
            )
        )
        times.append(time.perf_counter() - started)
        for s in sessions:
            done[s] += 1
    return times


def measure(url: str, switch_ms: float, count: int, turns: int) -> list[float]:
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    store.start()
    spinning = True

    def spin() -> None:
        while spinning:
            pass

    sys.setswitchinterval(switch_ms / 1000)
    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        return asyncio.run(rounds(store, count, turns))
    finally:
        spinning = False
        spinner.join()
        sys.setswitchinterval(0.005)
        store.stop()
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="sqlite,postgresql+psycopg://127.0.0.1:5432/bench_writer")
    parser.add_argument("--thread-switch-ms", default="5,0.5", help="comma-separated switch intervals")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--turns", type=int, default=20, help="turns written at once per round")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="log-writer-"))
    print(f"{'database':<11} {'switch ms':>9} {'median ms':>9} {'p90 ms':>8}  ({args.turns} turns a round)")
    for database in args.database.split(","):
        for switch in (float(s) for s in args.thread_switch_ms.split(",")):
            url = f"sqlite:///{work / f'writer-{switch}.db'}" if database == "sqlite" else empty_postgres(database)
            times = sorted(measure(url, switch, args.rounds, args.turns))
            name = "sqlite" if database == "sqlite" else "postgresql"
            p90 = times[int(0.9 * len(times))]
            print(f"{name:<11} {switch:>9g} {statistics.median(times) * 1000:>9.1f} {p90 * 1000:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
