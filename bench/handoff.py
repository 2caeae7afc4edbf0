"""Handoff delivery benchmark: agent -> user (and user -> agent) across two instances on PostgreSQL.

    python bench/handoff.py [--database postgresql+psycopg://127.0.0.1/bench_handoff]
                            [--conversations 100] [--agents 10] [--rate 2] [--seconds 10]

Starts two bot instances on one PostgreSQL database (emptied first). Every user is on
instance A and asks for a person; the agents' inboxes are on instance B and take the
conversations round-robin. Then each conversation carries `--rate` agent messages a second
(each on a fixed schedule) and as many user messages, and each delivery's latency is
measured from the moment its sender sent it to the moment the other side's frame arrived
(both ends are in this process, one clock). A message is delivered through the log and
LISTEN/NOTIFY: stored, notified, read back by id on the other instance, sent. Prints
p50/p95/p99 per direction and the messages not delivered 2 s after the last send ("late";
they are stored, and a client sees them in the history).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ws_load import bot_env, empty_postgres, free_port, raise_fd_limit, start  # noqa: E402

PASSWORD = "bench-password-1"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))] * 1000


async def run(args: argparse.Namespace, a_port: int, b_port: int) -> None:
    import websockets

    a_ws, b_ws = f"ws://127.0.0.1:{a_port}/ws", f"ws://127.0.0.1:{b_port}/inbox/ws"
    tokens = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{b_port}", timeout=60) as http:
        for i in range(args.agents):
            response = await http.post("/api/login", json={"username": f"agent{i}", "password": PASSWORD})
            tokens.append(response.json()["token"])
    desks = [await websockets.connect(b_ws, max_size=2**24) for _ in tokens]
    for desk, token in zip(desks, tokens, strict=True):
        await desk.send(json.dumps({"type": "hello", "token": token}))
    await asyncio.sleep(0.5)  # the agents are online before anyone asks

    users = []
    for i in range(args.conversations):
        local = f"127.0.{(i // 250) % 250}.{i % 250 + 1}"
        users.append(await websockets.connect(a_ws, local_addr=(local, 0), max_size=2**22))

    async def ask(chat: object, i: int) -> str:
        await chat.send(json.dumps({"type": "message", "text": "I want to talk to a human", "id": f"h{i}"}))  # type: ignore[attr-defined]
        session_id = ""
        while True:
            frame = json.loads(await chat.recv())  # type: ignore[attr-defined]
            if frame["type"] == "session":
                session_id = frame["session_id"]
            if frame["type"] == "reply" and frame.get("intent") == "handoff":
                return session_id

    sessions = await asyncio.gather(*(ask(u, i) for i, u in enumerate(users)))
    holder: dict[str, int] = {}
    for i, session_id in enumerate(sessions):
        desk = desks[i % len(desks)]
        holder[session_id] = i % len(desks)
        await desk.send(json.dumps({"type": "take", "session_id": session_id}))
    joined = 0

    async def until_joined(chat: object) -> None:
        nonlocal joined
        while json.loads(await chat.recv())["type"] != "agent_joined":  # type: ignore[attr-defined]
            pass
        joined += 1

    await asyncio.wait_for(asyncio.gather(*(until_joined(u) for u in users)), 60)

    sent: dict[str, float] = {}
    to_user: list[float] = []
    to_agent: list[float] = []
    stop = asyncio.Event()

    async def user_reader(chat: object) -> None:
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(chat.recv(), 0.5))  # type: ignore[attr-defined]
            except TimeoutError:
                continue
            if frame["type"] == "agent_message" and frame["text"] in sent:
                to_user.append(time.perf_counter() - sent.pop(frame["text"]))

    async def desk_reader(desk: object) -> None:
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(desk.recv(), 0.5))  # type: ignore[attr-defined]
            except TimeoutError:
                continue
            if frame["type"] == "message" and frame["message"]["text"] in sent:
                to_agent.append(time.perf_counter() - sent.pop(frame["message"]["text"]))

    readers = [asyncio.create_task(user_reader(u)) for u in users] + [
        asyncio.create_task(desk_reader(d)) for d in desks
    ]
    period = 1 / args.rate
    begin = time.perf_counter() + 0.1
    end = begin + args.seconds

    async def conversation(i: int, session_id: str) -> None:
        desk, chat = desks[holder[session_id]], users[i]
        scheduled = begin + (i / len(sessions)) * period
        n = 0
        while scheduled < end:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            text = f"agent {i}-{n}"
            sent[text] = time.perf_counter()
            await desk.send(json.dumps({"type": "reply", "session_id": session_id, "text": text}))
            text = f"user {i}-{n}"
            sent[text] = time.perf_counter()
            await chat.send(json.dumps({"type": "message", "text": text, "id": f"u{i}-{n}"}))
            scheduled += period
            n += 1

    await asyncio.gather(*(conversation(i, s) for i, s in enumerate(sessions)))
    await asyncio.sleep(2)  # the last deliveries
    stop.set()
    await asyncio.gather(*readers)
    lost_user = sum(1 for t in sent if t.startswith("agent"))
    lost_agent = sum(1 for t in sent if t.startswith("user"))
    for ws in [*users, *desks]:
        await ws.close()
    print(
        f"\n{args.conversations} conversations (users on instance A, {args.agents} agents on B), "
        f"{args.rate:g} msg/s each way per conversation, {args.seconds:g} s, PostgreSQL LISTEN/NOTIFY"
    )
    print(f"{'direction':<14} {'delivered':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'late':>5}")
    for name, values, lost in (("agent -> user", to_user, lost_user), ("user -> agent", to_agent, lost_agent)):
        print(
            f"{name:<14} {len(values):>9} {pct(values, 0.5):>8.2f} {pct(values, 0.95):>8.2f} "
            f"{pct(values, 0.99):>8.2f} {pct(values, 1.0):>8.2f} {lost:>5}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql+psycopg://127.0.0.1:5432/bench_handoff")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--rate", type=float, default=2.0, help="messages a second each way, per conversation")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--intents", type=Path, default=ROOT / "intents.yaml")
    parser.add_argument("--thread-switch-ms", type=float, help="the servers' BOT_THREAD_SWITCH_MS (default: theirs)")
    args = parser.parse_args()
    raise_fd_limit()
    url = empty_postgres(args.database)
    work = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    env = bot_env(
        BOT_DATABASE_URL=url,
        BOT_MODELS_DIR=str(args.models),
        BOT_INTENTS_PATH=str(args.intents),
        BOT_RATE_PER_SECOND="100000",
        BOT_RATE_BURST="100000",
        BOT_MAX_CONNECTIONS_PER_IP="100000",
        BOT_LOG_LEVEL="WARNING",
    )
    if args.thread_switch_ms is not None:
        env["BOT_THREAD_SWITCH_MS"] = str(args.thread_switch_ms)
    for i in range(args.agents):
        subprocess.run(
            [sys.executable, "-m", "bot.admin", "create-user", f"agent{i}", "--role", "agent", "--password-stdin"],
            cwd=ROOT,
            env=env,
            input=PASSWORD.encode(),
            check=True,
            capture_output=True,
        )
    a_port, b_port = free_port(), free_port()
    a, _ = start([sys.executable, "-m", "bot"], {**env, "BOT_PORT": str(a_port)}, a_port, work / "a.log")
    try:
        b, _ = start([sys.executable, "-m", "bot"], {**env, "BOT_PORT": str(b_port)}, b_port, work / "b.log")
        try:
            asyncio.run(run(args, a_port, b_port))
        finally:
            b.terminate()
            b.wait(30)
    finally:
        a.terminate()
        a.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
