"""Retention deleting many old messages on SQLite while clients chat: their latency, quiet and during.

    python bench/retention_load.py [--messages 100000] [--connections 100] [--rate 100] [--quiet 10]

Builds a SQLite file with `--messages` old messages (400 days old, 50 to a guest session),
starts the bot on it (`python -m bot`, the small test domain trained quickly), opens
`--connections` WebSockets that together send `--rate` messages a second on a fixed schedule
(latency counted from the scheduled time), measures `--quiet` seconds, then runs
`bot.retention.run_retention` (30 days, batches of `--batch` rows) against the same file from
this process while the clients go on, until it is done. Prints the clients' latency quiet and
during retention, and the deletion rate. The target: p99 during at most twice the quiet p99.

Retention runs here from the benchmark's process, with the server's own code and settings
(`run_retention`, batches and pauses as `retention_loop` uses them), so that it can start after
a measured quiet phase: the server, given BOT_RETENTION_DAYS, runs it at start-up and then
hourly. Two processes contend for SQLite's one write lock as the server's writer thread and
its retention worker thread do in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ws_load import bot_env, free_port  # noqa: E402  (bench/ws_load.py, beside this file)

SHOP = ROOT / "tests" / "data" / "shop.yaml"
TEXTS = ["hi", "when are you open", "where is my order", "thanks", "book an appointment", "monday"]


def fill(path: Path, messages: int) -> None:
    """Old guest sessions and their messages, written straight through sqlite3 (fast)."""
    from bot.database import make_engine, migrate

    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    old = (datetime.now(UTC) - timedelta(days=400)).replace(tzinfo=None).isoformat(sep=" ")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    per_session = 50
    sessions = (messages + per_session - 1) // per_session
    db.executemany(
        "INSERT INTO chat_session (id, user_id, created_at, last_active, slots, turns) VALUES (?, NULL, ?, ?, '{}', ?)",
        ((f"old{i:08d}", old, old, per_session // 2) for i in range(sessions)),
    )
    db.executemany(
        "INSERT INTO message (session_id, user_id, direction, text, ranking, entities, slots, buttons, fallback,"
        " created_at) VALUES (?, NULL, ?, ?, '[]', '[]', '{}', '[]', 0, ?)",
        (
            (f"old{i // per_session:08d}", "in" if i % 2 == 0 else "out", f"old message {i}", old)
            for i in range(messages)
        ),
    )
    db.commit()
    db.close()


async def chat(url: str, connections: int, rate: float, phase: dict[str, str], stop: asyncio.Event) -> list:
    import websockets

    results: list[tuple[str, float, bool]] = []
    period = connections / rate
    rng = random.Random(0)

    async def client(i: int) -> None:
        async with websockets.connect(url, open_timeout=60, max_size=2**20) as ws:
            scheduled = time.perf_counter() + i * period / connections
            n = 0
            while not stop.is_set():
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                label = phase["now"]
                await ws.send(json.dumps({"type": "message", "text": rng.choice(TEXTS), "id": f"{i}-{n}"}))
                ok = True
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] in ("reply", "error"):
                        ok = frame["type"] == "reply"
                        break
                # Every reply of a turn arrives together; the first is the one timed.
                results.append((label, time.perf_counter() - scheduled, ok))
                scheduled += period
                n += 1

    await asyncio.gather(*(client(i) for i in range(connections)), return_exceptions=True)
    return results


def pct(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))] * 1000 if data else float("nan")


async def run(args: argparse.Namespace, work: Path) -> None:
    import httpx

    from bot.database import make_engine
    from bot.retention import run_retention
    from training.fit import main as fit

    db = work / "bench.db"
    started = time.perf_counter()
    fill(db, args.messages)
    print(f"filled {args.messages:,} old messages in {time.perf_counter() - started:.1f} s")
    models = work / "models"
    if fit(["--intents", str(SHOP), "--out", str(models), "--quick"]) != 0:
        raise SystemExit("training failed")
    port = free_port()
    env = bot_env(
        BOT_DATABASE_URL=f"sqlite:///{db}",
        BOT_INTENTS_PATH=str(SHOP),
        BOT_MODELS_DIR=str(models),
        BOT_TRAIN_IF_NEEDED="false",
        BOT_PORT=str(port),
        BOT_RATE_BURST="1000",
        BOT_MAX_CONNECTIONS_PER_IP="10000",
        BOT_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        phase = {"now": "warm-up"}
        stop = asyncio.Event()
        clients = asyncio.create_task(chat(f"ws://127.0.0.1:{port}/ws", args.connections, args.rate, phase, stop))
        await asyncio.sleep(3)
        phase["now"] = "quiet"
        await asyncio.sleep(args.quiet)
        phase["now"] = "retention"
        engine = make_engine(f"sqlite:///{db}")
        began = time.perf_counter()
        report = await run_retention(engine, 30, datetime.now(UTC), batch=args.batch, pause=args.pause)
        took = time.perf_counter() - began
        engine.dispose()
        phase["now"] = "after"
        await asyncio.sleep(2)
        stop.set()
        results = await clients
    finally:
        server.terminate()
        server.wait(20)
    print(
        f"retention: {report.messages:,} messages and {report.sessions:,} sessions in {took:.1f} s "
        f"({report.messages / took:,.0f} messages/s, {report.batches} batches of <= {args.batch}, pause {args.pause} s)"
    )
    print(f"\n{args.connections} connections, {args.rate:g} messages/s offered")
    print(f"{'phase':<10} {'replies':>8} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    quiet_p99 = during_p99 = float("nan")
    for label in ("quiet", "retention"):
        lat = [t for p, t, ok in results if p == label and ok]
        errors = sum(1 for p, _, ok in results if p == label and not ok)
        print(
            f"{label:<10} {len(lat):>8} {errors:>7} {pct(lat, 0.5):>8.1f} {pct(lat, 0.99):>8.1f} {pct(lat, 1.0):>8.1f}"
        )
        if label == "quiet":
            quiet_p99 = pct(lat, 0.99)
        else:
            during_p99 = pct(lat, 0.99)
    print(f"p99 during / quiet: {during_p99 / quiet_p99:.2f} (target <= 2)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="messages a second, all clients together")
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds measured before retention starts")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--pause", type=float, default=0.05)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    try:
        asyncio.run(run(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
