"""Action-call benchmark: what the runner adds, what a dead server costs, whether calls overlap.

    python bench/actions.py [--calls 2000] [--concurrency 100]

1. A Python action's overhead: the median of `runner.run` minus the median of calling the same
   function directly (sync functions run on a worker thread, async ones on the loop).
2. A dead action server (it accepts connections and never answers; timeout 0.25 s): the cost
   of a call before the breaker opens, and after (failures: 5).
3. Webhook throughput: `--concurrency` callers at once against a loopback action server (a
   separate uvicorn process) that answers after 20 ms; serial calls would take 20 ms each.
   Plain httpx, aiohttp and our own `HttpClient` are measured beside the runner: why the runner
   uses its own client (bot/actions/http_client.py).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.actions import Reply, TurnView  # noqa: E402
from bot.actions.http_client import HttpClient  # noqa: E402
from bot.actions.runner import ActionRunner  # noqa: E402
from bot.domain import parse_domain  # noqa: E402

VIEW = TurnView(text="where is AB123456", intent="order_status", confidence=0.9, session_id="bench", language="en")
SERVER = """
import asyncio, sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def webhook(request):
    await request.body()
    await asyncio.sleep(0.02)
    events = [{"event": "slot", "name": "status", "value": "ok"}]
    return JSONResponse({"events": events, "responses": [{"text": "done"}]})

uvicorn.run(Starlette(routes=[Route("/webhook", webhook, methods=["POST"])]), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning", access_log=False)
"""
MODULE = """
from bot.actions import Reply

def sync_action(view):
    return Reply("ok")

async def async_action(view):
    return Reply("ok")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


async def median_of(call: Callable[[], Awaitable[Any]], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def python_overhead(calls: int, folder: Path) -> None:
    (folder / "bench_actions_module.py").write_text(MODULE)
    (folder / "intents.yaml").write_text(
        textwrap.dedent(
            """
            actions:
              sync_action: {python: 'bench_actions_module:sync_action'}
              async_action: {python: 'bench_actions_module:async_action'}
            intents:
              a: {examples: [x, y], responses: [z]}
            """
        )
    )
    from bot.domain import load_domain

    runner = ActionRunner(load_domain(folder / "intents.yaml"))
    import bench_actions_module as module  # type: ignore[import-not-found]

    async def measure() -> None:
        for name in ("sync_action", "async_action"):
            function = getattr(module, name)

            async def direct(function: Any = function) -> Reply:
                result = function(VIEW)
                return await result if asyncio.iscoroutine(result) else result

            await median_of(lambda name=name: runner.run(name, VIEW), 200)  # warm up
            base = await median_of(direct, calls)
            through = await median_of(lambda name=name: runner.run(name, VIEW), calls)
            print(
                f"python action ({name[:-7]}): direct {ms(base)}, through the runner {ms(through)}, "
                f"overhead {ms(through - base)} (median of {calls})"
            )

    asyncio.run(measure())


def dead_server() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)  # accepts into the backlog, never answers
    port = listener.getsockname()[1]
    domain = parse_domain(
        f"actions:\n  dead: {{url: 'http://127.0.0.1:{port}/webhook', timeout: 0.25, failures: 5, cooldown: 30}}\n"
        "intents:\n  a: {examples: [x, y], responses: [z]}\n"
    )

    async def measure() -> None:
        runner = ActionRunner(domain)
        try:
            before = []
            for _ in range(5):
                result = await runner.run("dead", VIEW)
                before.append((result.latency_ms, result.outcome))
            after = [await runner.run("dead", VIEW) for _ in range(1000)]
        finally:
            await runner.aclose()
        print(
            "dead action server (timeout 0.25 s): before the breaker opens "
            + ", ".join(f"{lat:.0f} ms {out}" for lat, out in before)
        )
        latencies = sorted(r.latency_ms for r in after)
        print(
            f"  once open ({after[0].outcome}): median {statistics.median(latencies) * 1000:.1f} µs per call, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} µs"
        )

    asyncio.run(measure())
    listener.close()


async def load(call: Callable[[], Awaitable[float]], callers: int, calls: int) -> tuple[int, float, list[float]]:
    """`calls` calls shared by `callers` concurrent loops: how many, in how long, sorted latencies."""
    latencies: list[float] = []

    async def caller(n: int) -> None:
        latencies.extend([await call() for _ in range(n)])

    started = time.perf_counter()
    await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
    return len(latencies), time.perf_counter() - started, sorted(latencies)


def webhook_throughput(calls: int, concurrency: int) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/webhook", content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        domain = parse_domain(
            f"actions:\n  hook: {{url: 'http://127.0.0.1:{port}/webhook', timeout: 30, concurrency: {concurrency}}}\n"
            "intents:\n  a: {examples: [x, y], responses: [z]}\n"
        )
        runner = ActionRunner(domain, secret="bench")

        async def through_runner() -> float:
            result = await runner.run("hook", VIEW)
            if result.outcome != "ok":
                raise RuntimeError(result.error)
            return result.latency_ms

        url = f"http://127.0.0.1:{port}/webhook"
        body = b'{"next_action": "hook"}'

        async def with_httpx(client: httpx.AsyncClient) -> float:
            started = time.perf_counter()
            response = await client.post(url, content=body)
            response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        async def with_aiohttp(session: aiohttp.ClientSession) -> float:
            started = time.perf_counter()
            async with session.post(url, data=body) as response:
                await response.read()
                response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        own = HttpClient()

        async def with_own_client() -> float:
            started = time.perf_counter()
            response = await own.post(url, body, {"Content-Type": "application/json"}, 1_000_000)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return (time.perf_counter() - started) * 1000

        async def measure() -> None:
            async with (
                httpx.AsyncClient(limits=httpx.Limits(max_connections=512), timeout=60) as client,
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session,
            ):
                calls_by: list[tuple[str, Callable[[], Awaitable[float]]]] = [
                    ("plain httpx.AsyncClient", lambda: with_httpx(client)),
                    ("plain aiohttp.ClientSession", lambda: with_aiohttp(session)),
                    ("plain bot.actions.HttpClient", with_own_client),
                    ("ActionRunner (HttpClient, signed)", through_runner),
                ]
                for label, call in calls_by:
                    await load(call, concurrency, concurrency * 2)  # warm the connection pool
                    cpu = time.process_time()
                    done, elapsed, latencies = await load(call, concurrency, calls)
                    cpu_ms = (time.process_time() - cpu) / done * 1000
                    print(
                        f"webhook answering in 20 ms, {concurrency} callers, {label}: {done / elapsed:.0f} calls/s "
                        f"(one at a time: at most 50/s), p50 {latencies[done // 2]:.1f} ms, "
                        f"p99 {latencies[int(done * 0.99)]:.1f} ms, caller CPU {cpu_ms:.2f} ms a call"
                    )
            await runner.aclose()
            await own.aclose()

        asyncio.run(measure())
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        python_overhead(args.calls, Path(folder))
    dead_server()
    webhook_throughput(args.calls, args.concurrency)


if __name__ == "__main__":
    main()
