"""WebSocket load benchmark: the bot against its own ceilings, in one run, on loopback only.

    python bench/ws_load.py [--connections 1,10,100,1000] [--paced 100@1500] [--seconds 5] [--idle 10000]
                            [--database sqlite,postgresql+psycopg://127.0.0.1/bench_ws]

Starts the bot (`python -m bot`, SQLite, the demo intents.yaml) pinned to one core with
taskset, drives it from this process pinned to the other, and measures in the same run:
- a bare echo WebSocket under the same uvicorn settings (the transport's ceiling);
- the classifier alone, one utterance at a time in a plain loop (the NLU ceiling);
- cold start (process start to /readyz), memory, and N idle connections held;
- the server's CPU time per message in each thread (event loop, NLU worker, log writer),
  from /proc and the server's /metrics, which is where a change to the ratio comes from;
  on PostgreSQL also its server processes' (the storage work SQLite does in the writer).
The `--connections` steps are closed loops (each client sends as soon as its reply is in: the
throughput ceiling); the `--paced` steps offer a fixed rate, for the latency at that load.
`--database` runs the bot steps once per database (`sqlite` is a fresh file; a PostgreSQL URL
is emptied first), so backends compare within the same run; after each, the acknowledged
replies are checked against the user messages stored (none may be missing).
The messages never ask for a person: a handoff leaves the bot's path (bench/handoff.py
measures that one). Every loop is bounded in count and time. Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_CORE = "0"
CLIENT_CORE = "1"
MESSAGES = [
    "hi",
    "what are your opening hours",
    "where is my order AB123456",
    "how do I contact you",
    "do you have laptops in stock",
    "thanks a lot",
    "how can I pay",
    "what is the meaning of life",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(**settings: str) -> dict[str, str]:
    """This process's environment without its own `BOT_` settings, plus the server's `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(settings)
    return env


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def taskset(core: str) -> list[str]:
    return ["taskset", "-c", core] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def cpu_seconds(pid: int, port: int) -> dict[str, float]:
    """The server's CPU time so far: each worker thread's (from /metrics), the event loop's the rest."""
    import httpx

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    workers = {
        name: float(value) for name, value in re.findall(r'bot_worker_cpu_seconds\{worker="([^"]+)"\} (\S+)', text)
    }
    return {"event loop": total - sum(workers.values()), **workers}


def postgres_cpu_seconds(url: str) -> dict[str, float]:
    """The CPU time so far of the PostgreSQL server processes serving `url`'s database (none for SQLite).

    Their work is the writer's storage work, which SQLite does in the server's own thread: so
    the two backends compare by the sum. Read from /proc: the database runs on this machine.
    """
    if not url.startswith("postgresql"):
        return {}
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        pids = [row[0] for row in conn.execute(text(query))]
    engine.dispose()
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return {"postgres": ticks / os.sysconf("SC_CLK_TCK")}


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


@dataclass
class Result:
    name: str
    connections: int
    messages: int
    seconds: float
    latencies: list[float]
    errors: int
    offered: float | None = None
    acked: set[str] = field(default_factory=set)
    """Client ids of the messages the server answered (so it must have stored them)."""
    """Messages a second the clients offered; None for a closed loop."""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000


async def drive(
    url: str, connections: int, seconds: float, max_messages: int, reply_type: str, rate: float | None = None
) -> Result:
    """Each client sends, waits for its reply, repeats; bounded by time and count.

    Closed loop by default: the next message leaves as soon as the reply is in, so the
    server is saturated and latency is connections / throughput (Little's law). With `rate`
    the clients together offer that many messages a second, each on a fixed schedule, and
    latency counts from the scheduled send time, so a late server is not excused by the
    clients waiting for it (no coordinated omission). A server slower than the offered rate
    shows as msg/s below it and latency growing with the run's length.
    """
    import websockets

    latencies: list[float] = []
    acked: set[str] = set()
    errors = sent = ready = 0
    rng = random.Random(0)
    tag = f"{connections}-{rate or 0:.0f}"
    period = connections / rate if rate else 0.0
    go = asyncio.Event()
    all_ready = asyncio.Event()
    begin = end = 0.0  # set once every connection is open, so connecting is not timed

    def arrived() -> None:
        nonlocal ready
        ready += 1
        if ready == connections:
            all_ready.set()

    async def client(i: int) -> None:
        nonlocal errors, sent
        local = f"127.0.{(i // 250) % 250}.{i % 250 + 1}"
        try:
            async with websockets.connect(
                url, max_size=2**20, compression=None, local_addr=(local, 0), open_timeout=60
            ) as ws:
                arrived()
                await go.wait()
                scheduled = begin + i * period / connections
                n = 0
                while (scheduled if period else time.perf_counter()) < end and sent < max_messages:
                    if period:
                        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                        started, scheduled = scheduled, scheduled + period
                    else:
                        started = time.perf_counter()
                    client_id = f"{i}-{n}-{tag}"
                    await ws.send(json.dumps({"type": "message", "text": rng.choice(MESSAGES), "id": client_id}))
                    while True:
                        frame = json.loads(await ws.recv())
                        if frame["type"] == reply_type:
                            acked.add(client_id)
                            break
                        if frame["type"] == "error":
                            errors += 1
                            break
                    latencies.append(time.perf_counter() - started)
                    sent += 1
                    n += 1
        except Exception:
            errors += 1
            if not go.is_set():
                arrived()

    tasks = [asyncio.create_task(client(i)) for i in range(connections)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_ready.wait(), 120)
    begin = time.perf_counter()
    end = begin + seconds
    go.set()
    await asyncio.gather(*tasks)
    return Result(url, connections, len(latencies), time.perf_counter() - begin, latencies, errors, rate, acked)


async def hold_idle(url: str, count: int, pid: int) -> tuple[int, float, int]:
    """Open `count` connections that say hello and then stay silent; the server's RSS then."""
    import websockets
    from websockets.asyncio.client import ClientConnection

    opened: list[ClientConnection] = []
    errors = 0
    sem = asyncio.Semaphore(200)

    async def open_one(i: int) -> None:
        nonlocal errors
        local = f"127.1.{(i // 250) % 250}.{i % 250 + 1}"
        async with sem:
            try:
                ws = await websockets.connect(url, compression=None, local_addr=(local, 0), open_timeout=60)
                await ws.send(json.dumps({"type": "ping"}))
                await ws.recv()
                opened.append(ws)
            except Exception:
                errors += 1

    await asyncio.gather(*(open_one(i) for i in range(count)))
    await asyncio.sleep(1)
    memory = rss_mb(pid)
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return len(opened), memory, errors


def classifier_ceiling(models_dir: Path, seconds: float) -> tuple[float, float]:
    """Utterances a second, one at a time in a plain loop (spaCy included), and p50 in ms."""
    os.sched_setaffinity(0, {int(CLIENT_CORE)}) if hasattr(os, "sched_setaffinity") and (
        os.cpu_count() or 1
    ) > 1 else None
    from bot.model import load_model

    model = load_model(models_dir)
    times: list[float] = []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline and i < 200_000:
        started = time.perf_counter()
        model.understand([MESSAGES[i % len(MESSAGES)]])
        times.append(time.perf_counter() - started)
        i += 1
    return len(times) / sum(times), statistics.median(times) * 1000


ECHO_APP = """
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
import orjson

async def echo(ws):
    await ws.accept()
    while True:
        event = await ws.receive()
        if event["type"] == "websocket.disconnect":
            return
        data = orjson.loads(event["text"])
        await ws.send_text(orjson.dumps({"type": "reply", "text": data.get("text")}).decode())

app = Starlette(routes=[WebSocketRoute("/ws", echo)])
"""


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    import httpx

    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = started + 120
    path = "/readyz" if "bot" in cmd else "/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited:\n{log.read_text()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
            if path == "/" or httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return proc, time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start:\n{log.read_text()[-2000:]}")


def empty_postgres(url: str) -> str:
    """The URL, its database emptied (created when missing) so each run starts from no rows."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}).first():
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def stored_client_ids(url: str) -> set[str]:
    """The client ids of the user messages in the log."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(text("SELECT client_id FROM message WHERE direction = 'in'"))}
    engine.dispose()
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1,10,100,1000", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load step")
    parser.add_argument(
        "--paced",
        default="100@1500",
        help="comma-separated CONNECTIONS@RATE steps at a fixed offered rate (empty skips)",
    )
    parser.add_argument("--max-messages", type=int, default=200_000, help="cap on messages per step")
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections to hold (0 skips)")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="models dir (trained if stale)")
    parser.add_argument("--intents", type=Path, default=ROOT / "intents.yaml")
    parser.add_argument("--thread-switch-ms", type=float, help="the server's BOT_THREAD_SWITCH_MS (default: its own)")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="comma-separated: sqlite (a fresh file) and/or PostgreSQL URLs (their tables are dropped first)",
    )
    args = parser.parse_args()
    raise_fd_limit()
    counts = [int(c) for c in args.connections.split(",") if c]
    paced = [(int(n), float(r)) for n, r in (step.split("@") for step in args.paced.split(",") if step)]

    from bot.model import ModelError, check_model

    try:
        check_model(args.models, args.intents)
    except ModelError:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "training.fit",
                "--intents",
                str(args.intents),
                "--out",
                str(args.models),
                "--quick",
            ],
            cwd=ROOT,
            check=True,
        )

    work = Path(tempfile.mkdtemp(prefix="ws-load-"))
    bot_port, echo_port = free_port(), free_port()
    env = bot_env(
        BOT_MODELS_DIR=str(args.models),
        BOT_INTENTS_PATH=str(args.intents),
        BOT_PORT=str(bot_port),
        BOT_RATE_PER_SECOND="100000",
        BOT_RATE_BURST="100000",
        BOT_MAX_CONNECTIONS_PER_IP="100000",
        BOT_LOG_LEVEL="WARNING",
    )
    if args.thread_switch_ms is not None:
        env["BOT_THREAD_SWITCH_MS"] = str(args.thread_switch_ms)
    (work / "echo_app.py").write_text(ECHO_APP)
    bot_cmd = [*taskset(SERVER_CORE), sys.executable, "-m", "bot"]
    echo_cmd = [
        *taskset(SERVER_CORE),
        sys.executable,
        "-m",
        "uvicorn",
        "echo_app:app",
        "--app-dir",
        str(work),
        "--port",
        str(echo_port),
        "--log-level",
        "warning",
        "--ws-per-message-deflate",
        "false",
    ]
    rows: list[tuple[str, Result]] = []
    cpu_per_message: dict[str, dict[int, dict[str, float]]] = {}
    notes: list[str] = []
    for database in args.database.split(","):
        name = "sqlite" if database == "sqlite" else "pg"
        url = f"sqlite:///{work / 'bench.db'}" if database == "sqlite" else empty_postgres(database)
        env["BOT_DATABASE_URL"] = url
        bot, cold = start(bot_cmd, env, bot_port, work / "bot.log")
        results: list[Result] = []
        try:
            idle_rss = rss_mb(bot.pid)
            if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
                os.sched_setaffinity(0, {int(CLIENT_CORE)})
            split = cpu_per_message.setdefault(name, {})
            for n in counts:
                before = cpu_seconds(bot.pid, bot_port) | postgres_cpu_seconds(url)
                result = asyncio.run(
                    drive(f"ws://127.0.0.1:{bot_port}/ws", n, args.seconds, args.max_messages, "reply")
                )
                after = cpu_seconds(bot.pid, bot_port) | postgres_cpu_seconds(url)
                split[n] = {k: (after[k] - before.get(k, 0.0)) / max(result.messages, 1) * 1e6 for k in after}
                results.append(result)
            for n, rate in paced:
                results.append(
                    asyncio.run(
                        drive(f"ws://127.0.0.1:{bot_port}/ws", n, args.seconds, args.max_messages, "reply", rate)
                    )
                )
            loaded_rss = rss_mb(bot.pid)
            idle = asyncio.run(hold_idle(f"ws://127.0.0.1:{bot_port}/ws", args.idle, bot.pid)) if args.idle else None
        finally:
            bot.terminate()
            bot.wait(30)
        rows += [(name, r) for r in results]
        acked = set().union(*(r.acked for r in results))
        lost = len(acked - stored_client_ids(url))
        notes.append(
            f"{name}: cold start to ready {cold:.2f} s; server RSS idle {idle_rss:.0f} MB, after load "
            f"{loaded_rss:.0f} MB; acknowledged {len(acked):,}, missing from the log {lost}"
            + (
                f"; idle connections held {idle[0]:,} of {args.idle:,} ({idle[2]} errors), RSS {idle[1]:.0f} MB"
                if idle
                else ""
            )
        )
    echo, _ = start(echo_cmd, env, echo_port, work / "echo.log")
    try:
        rows.extend(
            ("echo", asyncio.run(drive(f"ws://127.0.0.1:{echo_port}/ws", n, args.seconds, args.max_messages, "reply")))
            for n in counts
        )
    finally:
        echo.terminate()
        echo.wait(30)
    nlu_rate, nlu_p50 = classifier_ceiling(args.models, min(args.seconds, 5.0))

    echo_rate = {r.connections: r.rate for name, r in rows if name == "echo"}
    print()
    for note in notes:
        print(note)
    print(f"classifier ceiling (one at a time, spaCy included, one core): {nlu_rate:,.0f} msg/s, p50 {nlu_p50:.3f} ms")
    print(
        f"\n{'server':<6} {'conns':>6} {'offered':>8} {'msg/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'/echo':>6} {'/nlu':>6}"
    )
    for name, r in rows:
        closed = r.offered is None
        vs_echo = r.rate / echo_rate[r.connections] if closed and echo_rate.get(r.connections) else float("nan")
        vs_nlu = r.rate / nlu_rate if name != "echo" and closed else float("nan")
        print(
            f"{name:<6} {r.connections:>6} {'closed' if closed else f'{r.offered:,.0f}':>8} {r.rate:>9,.0f} "
            f"{r.pct(0.5):>8.2f} {r.pct(0.95):>8.2f} {r.pct(0.99):>8.2f} "
            f"{r.errors:>6} {vs_echo:>6.2f} {vs_nlu:>6.2f}"
            + ("  (behind the offered rate)" if not closed and r.rate < 0.95 * r.offered else "")
        )
    for name, per_count in cpu_per_message.items():
        print(f"\n{name}: server CPU per message, by thread, and PostgreSQL's processes (us; the closed-loop steps):")
        for n, split in per_count.items():
            print(
                f"{n:>6} conns  "
                + "  ".join(f"{name} {us:,.0f}" for name, us in split.items())
                + f"  = {sum(split.values()):,.0f}"
            )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
