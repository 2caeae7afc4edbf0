"""CPU of one HTTP action call, piece by piece: where the caller's time goes.

    python bench/action_pieces.py [--calls 3000] [--concurrency 100] [--repeat 20000]

The domain is bench/actions_service.py's (the demo's intents, every one running `hook`), the
turn a message with three ranked intents and an entity. Each piece of building Rasa's request
and reading its answer is timed alone in a loop (`time.thread_time`: this thread's CPU only,
so other work on a shared machine barely moves it); then whole calls, `--concurrency` at once
against a loopback action server in another process (answering after 20 ms), through the
plain `HttpClient` and through the `ActionRunner`: the runner's own cost is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import actions_service  # noqa: E402  # bench/actions_service.py: its domain and webhook server
import orjson  # noqa: E402
import ws_load  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from bot.actions import http_actions  # noqa: E402
from bot.actions.breaker import CircuitBreaker  # noqa: E402
from bot.actions.http_client import HttpClient  # noqa: E402
from bot.actions.metrics import ActionMetrics  # noqa: E402
from bot.actions.rasa_request import RasaDomain, encode_request  # noqa: E402
from bot.actions.runner import ActionRunner  # noqa: E402
from bot.actions.view import TurnView  # noqa: E402
from bot.domain import parse_domain  # noqa: E402
from bot.understanding import Entity  # noqa: E402

VIEW = TurnView(
    text="where is my order AB123456",
    intent="order_status",
    confidence=0.91,
    session_id="0f6c2a4e-bench",
    language="en",
    entities=(Entity("order_number", "AB123456", 18, 26, "AB123456"),),
    slots={"order_number": "AB123456"},
    user_id=7,
    ranking=(("order_status", 0.91), ("cancel_order", 0.05), ("greet", 0.01)),
)
BODY = (
    b'{"events": [{"event": "slot", "name": "checked", "value": "yes"}], '
    b'"responses": [{"text": "Done: the back office answered."}]}'
)
"""The answer of bench/actions_service.py's webhook."""


def per_call_us(fn: Callable[[], Any], repeat: int) -> float:
    """Median over 5 batches of this thread's CPU per call, in µs."""
    batches = []
    for _ in range(5):
        started = time.thread_time()
        for _ in range(repeat // 5):
            fn()
        batches.append((time.thread_time() - started) / (repeat // 5) * 1e6)
    return statistics.median(batches)


def pieces(runner: ActionRunner, repeat: int) -> None:
    domain = RasaDomain.of(runner.domain)
    body = encode_request("hook", VIEW, domain)
    signer = http_actions.Signer("bench-secret")
    parsed = orjson.loads(BODY)
    answer = http_actions.read_answer(parsed)
    result = http_actions.to_result(answer)
    metrics = ActionMetrics(CollectorRegistry())
    breaker = CircuitBreaker(5, 30.0)

    rows: list[tuple[str, Callable[[], Any]]] = [
        ("request: tracker built and encoded, domain spliced", lambda: encode_request("hook", VIEW, domain)),
        ("signature: HMAC-SHA256 of the body", lambda: signer(body)),
        ("answer: orjson.loads", lambda: orjson.loads(BODY)),
        ("answer: schema checked (fast path)", lambda: http_actions.read_answer(parsed)),
        ("answer: schema checked (pydantic model)", lambda: http_actions.RasaResponse.model_validate(parsed)),
        ("answer: events and responses to an ActionResult", lambda: http_actions.to_result(answer)),
        ("result stamped with the call (with_call)", lambda: result.with_call(name="hook", outcome="ok", latency_ms=1)),
        ("metrics: counter and histogram", lambda: metrics.observe("hook", "run", "ok", 20.0)),
        ("breaker: allow and succeeded", lambda: (breaker.allow(), breaker.succeeded())),
    ]
    print(f"pieces, CPU per call (median of 5 batches of {repeat // 5}):")
    for label, fn in rows:
        print(f"  {label:<52} {per_call_us(fn, repeat):7.2f} µs")

    async def bookkeeping() -> float:
        gate = asyncio.Semaphore(100)

        async def once() -> None:
            async with asyncio.timeout(2.0), gate:
                pass

        def run_once() -> None:
            with contextlib.suppress(StopIteration):  # it finishes at once: nothing in it suspends
                once().send(None)

        return per_call_us(run_once, repeat)

    print(f"  {'asyncio.timeout and the concurrency gate':<52} {asyncio.run(bookkeeping()):7.2f} µs")


async def load(call: Callable[[], Awaitable[Any]], callers: int, calls: int) -> tuple[float, float]:
    """`calls` calls by `callers` concurrent loops: calls a second and this thread's CPU a call (µs)."""

    async def caller(n: int) -> None:
        for _ in range(n):
            await call()

    cpu, wall = time.thread_time(), time.perf_counter()
    await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
    done = calls // callers * callers
    return done / (time.perf_counter() - wall), (time.thread_time() - cpu) / done * 1e6


def calls(url: str, runner: ActionRunner, n: int, concurrency: int) -> None:
    client = HttpClient()
    body = encode_request("hook", VIEW, RasaDomain.of(runner.domain))  # what the runner sends
    headers = {"Content-Type": "application/json", http_actions.SIGNATURE_HEADER: "sha256=" + "0" * 64}

    async def plain() -> None:
        response = await client.post(url, body, headers, 1_000_000)
        assert response.status == 200

    async def through_runner() -> None:
        result = await runner.run("hook", VIEW)
        assert result.outcome == "ok", result.error

    async def measure() -> None:
        rows: dict[str, list[tuple[float, float]]] = {"plain HttpClient (same body)": [], "ActionRunner.run": []}
        for _ in range(3):
            for label, call in (("plain HttpClient (same body)", plain), ("ActionRunner.run", through_runner)):
                await load(call, concurrency, concurrency * 2)  # warm the connections
                rows[label].append(await load(call, concurrency, n))
        print(f"whole calls, {concurrency} at once, webhook answering in 20 ms (3 runs each, alternating):")
        for label, runs in rows.items():
            median = statistics.median(c for _, c in runs)
            print(
                f"  {label:<30} {', '.join(f'{r:,.0f}' for r, _ in runs)} calls/s; CPU "
                f"{', '.join(f'{c:.1f}' for _, c in runs)} µs a call (median {median:.1f})"
            )
        gap = statistics.median(c for _, c in rows["ActionRunner.run"]) - statistics.median(
            c for _, c in rows["plain HttpClient (same body)"]
        )
        print(f"  the runner over the plain client: {gap:+.1f} µs a call (request, signature, answer, bookkeeping)")
        await runner.aclose()
        await client.aclose()

    asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    ws_load.raise_fd_limit()
    port = ws_load.free_port()
    url = f"http://127.0.0.1:{port}/webhook"
    text, _ = actions_service.bench_domain(ROOT / "intents.yaml", url)
    runner = ActionRunner(parse_domain(text), secret="bench-secret", metrics=ActionMetrics(CollectorRegistry()))
    print(
        f"domain: {len(runner.domain.intents)} intents; request body "
        f"{len(encode_request('hook', VIEW, RasaDomain.of(runner.domain))):,} bytes"
        f" (domain {len(RasaDomain.of(runner.domain).encoded):,})"
    )
    pieces(runner, args.repeat)
    server = subprocess.Popen(
        [*ws_load.taskset(ws_load.CLIENT_CORE), sys.executable, "-c", actions_service.WEBHOOK, str(port), "0.02"],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        calls(url, runner, args.calls, args.concurrency)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
