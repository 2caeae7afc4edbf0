"""Soak: mixed traffic for a set time; memory over time, errors and lost messages.

    python bench/soak.py [--minutes 10] [--clients 20]

Against a real server on loopback (`python -m bot`, SQLite): clients chat, drop and resume
their sessions, send bad frames, and log in. Every message answered must be in the log; the
server's memory is sampled every ten seconds. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from ws_load import MESSAGES, ROOT, bot_env, free_port, raise_fd_limit, rss_mb, start

BAD_FRAMES = ["not json", "[]", '{"type": "nope"}', '{"type": "message", "text": ""}', '{"type": "message"}']


class Tally:
    def __init__(self) -> None:
        self.sent = 0
        self.answered: set[tuple[str, str]] = set()
        self.unanswered = 0
        self.bad_frames = 0
        self.errors: dict[str, int] = {}
        self.reconnects = 0
        self.logins = 0

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


async def client(url: str, http: str, n: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(n)
    session_id = None
    token = None
    counter = 0
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(url, compression=None) as ws:
                await ws.send(json.dumps({"type": "hello", "session_id": session_id, "token": token}))
                info = json.loads(await ws.recv())
                if info["type"] == "error":
                    tally.error(info["code"])
                    token = None
                    continue
                session_id = info["session_id"]
                for _ in range(rng.randint(5, 30)):
                    if time.monotonic() >= deadline:
                        return
                    if rng.random() < 0.05:
                        await ws.send(rng.choice(BAD_FRAMES))
                        frame = json.loads(await ws.recv())
                        tally.bad_frames += frame.get("type") == "error"
                        continue
                    counter += 1
                    client_id = f"{n}-{counter}"
                    await ws.send(json.dumps({"type": "message", "text": rng.choice(MESSAGES), "id": client_id}))
                    tally.sent += 1
                    while True:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if frame["type"] == "reply":
                            tally.answered.add((session_id, client_id))
                            break
                        if frame["type"] == "error":
                            tally.error(frame["code"])
                            tally.unanswered += 1
                            break
                    await asyncio.sleep(rng.uniform(0.0, 0.05))
            tally.reconnects += 1
            if rng.random() < 0.2:
                async with httpx.AsyncClient() as h:
                    name = f"soak{n}"
                    await h.post(f"{http}/api/register", json={"username": name, "password": f"{name}-password"})
                    answer = await h.post(f"{http}/api/login", json={"username": name, "password": f"{name}-password"})
                    if answer.status_code == 200:
                        token = answer.json()["token"]
                        tally.logins += 1
        except (TimeoutError, OSError, websockets.ConnectionClosed) as exc:
            tally.error(type(exc).__name__)


async def sample_memory(pid: int, deadline: float, every: float, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        samples.append((time.monotonic() - started, rss_mb(pid)))
        await asyncio.sleep(every)


async def soak(url: str, http: str, pid: int, seconds: float, clients: int) -> tuple[Tally, list[tuple[float, float]]]:
    tally = Tally()
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        sample_memory(pid, deadline, min(10.0, seconds / 6), samples),
        *(client(url, http, n, deadline, tally) for n in range(clients)),
    )
    samples.append((seconds, rss_mb(pid)))
    return tally, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--intents", type=Path, default=ROOT / "intents.yaml")
    args = parser.parse_args()
    raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    db = work / "soak.db"
    port = free_port()
    env = bot_env(
        BOT_DATABASE_URL=f"sqlite:///{db}",
        BOT_PORT=str(port),
        BOT_MODELS_DIR=str(args.models),
        BOT_INTENTS_PATH=str(args.intents),
        BOT_LOG_LEVEL="WARNING",
        BOT_RATE_PER_SECOND="1000",
        BOT_RATE_BURST="1000",
    )
    server, _ = start([sys.executable, "-m", "bot"], env, port, work / "server.log")
    try:
        tally, samples = asyncio.run(
            soak(f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}", server.pid, args.minutes * 60, args.clients)
        )
    finally:
        server.terminate()
        server.wait(30)
    with sqlite3.connect(db) as conn:
        stored = set(conn.execute("SELECT session_id, client_id FROM message WHERE direction = 'out'"))
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    lost = len(tally.answered - stored)
    print(
        f"soak {args.minutes:g} min, {args.clients} clients: {tally.sent:,} messages, "
        f"{len(tally.answered):,} answered, {tally.unanswered} refused, {tally.bad_frames} bad frames answered, "
        f"{tally.reconnects} reconnects, {tally.logins} logins"
    )
    print(f"errors: {tally.errors or 'none'}; lost (answered but not in the log): {lost}; integrity_check: {integrity}")
    print("server RSS MB over time: " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in samples))
    growth = samples[-1][1] - samples[1][1] if len(samples) > 2 else float("nan")
    print(f"memory growth after warm-up: {growth:+.1f} MB")
    if not lost:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
