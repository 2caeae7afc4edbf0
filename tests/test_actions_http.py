"""HTTP actions against a fake action server on loopback: what goes out, and every way a call fails."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.actions import TurnView
from bot.actions.breaker import CircuitBreaker
from bot.actions.http_actions import SIGNATURE_HEADER, sign, verify
from bot.actions.runner import ActionRunner
from bot.domain import parse_domain
from tests.helpers import free_port

SECRET = "correct horse battery staple"
VIEW = TurnView(text="where is AB12345", intent="order_status", confidence=0.9, session_id="s-1", language="en")


@dataclass
class Seen:
    bodies: list[bytes] = field(default_factory=list)
    signatures: list[str | None] = field(default_factory=list)
    flaky_calls: int = 0
    in_flight: int = 0
    peak: int = 0


def fake_app(seen: Seen) -> Starlette:
    async def ok(request: Request) -> Response:
        body = await request.body()
        seen.bodies.append(body)
        seen.signatures.append(request.headers.get(SIGNATURE_HEADER))
        return JSONResponse(
            {"events": [{"event": "slot", "name": "status", "value": "ok"}], "responses": [{"text": "fine"}]}
        )

    async def slow(request: Request) -> Response:
        await asyncio.sleep(3)
        return JSONResponse({"events": [], "responses": []})

    async def fail(request: Request) -> Response:
        return JSONResponse({"error": "boom"}, status_code=500)

    async def garbage(request: Request) -> Response:
        return Response(b"<html>not json</html>", media_type="text/html")

    async def wrong_shape(request: Request) -> Response:
        return JSONResponse({"events": "lots", "responses": [{"text": 5}]})

    async def huge(request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10 * 16):
                yield b"x" * 65536

        return StreamingResponse(chunks(), media_type="application/json")

    async def flaky(request: Request) -> Response:
        seen.flaky_calls += 1
        if seen.flaky_calls % 2:
            return JSONResponse({"error": "try again"}, status_code=503)
        return JSONResponse({"events": [], "responses": [{"text": "second time lucky"}]})

    async def sleepy(request: Request) -> Response:
        seen.in_flight += 1
        seen.peak = max(seen.peak, seen.in_flight)
        await asyncio.sleep(0.05)
        seen.in_flight -= 1
        return JSONResponse({"responses": [{"text": "done"}]})

    async def together(request: Request) -> Response:
        """Answers once `TOGETHER` calls are here at once (or after 10 s): only calls that overlap
        get a quick answer."""
        seen.in_flight += 1
        seen.peak = max(seen.peak, seen.in_flight)
        deadline = time.monotonic() + 10
        while seen.peak < TOGETHER and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        seen.in_flight -= 1
        return JSONResponse({"responses": [{"text": "together"}]})

    routes = [
        Route(f"/{f.__name__}", f, methods=["POST"])
        for f in (ok, slow, fail, garbage, wrong_shape, huge, flaky, sleepy, together)
    ]
    return Starlette(routes=routes)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Seen]]:
    seen = Seen()
    port = free_port()
    config = uvicorn.Config(fake_app(seen), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "fake action server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", seen
    uv.should_exit = True
    thread.join(10)


def runner(base: str, extra: str = "", clock: Any = time.monotonic, timeout: float = 10, **kwargs: Any) -> ActionRunner:
    names = ("ok", "slow", "fail", "garbage", "wrong_shape", "huge", "flaky", "sleepy", "together")
    actions = "\n".join(  # only `slow` is meant to time out
        f"  {n}: {{url: '{base}/{n}', timeout: {0.5 if n == 'slow' else timeout}{extra}}}" for n in names
    )
    text = f"actions:\n{actions}\n  dead: {{url: 'http://127.0.0.1:9/x', timeout: 10, failures: 2, cooldown: 10}}\n"
    text += "intents:\n  a: {examples: [x, y], responses: [z]}\n"
    return ActionRunner(parse_domain(text), secret=SECRET, clock=clock, **kwargs)


async def call(r: ActionRunner, name: str, times: int = 1) -> list[Any]:
    try:
        return [await r.run(name, VIEW) for _ in range(times)]
    finally:
        await r.aclose()


def test_a_request_is_rasas_and_signed_with_the_secret(server: tuple[str, Seen]) -> None:
    base, seen = server
    (result,) = asyncio.run(call(runner(base), "ok"))
    assert (result.outcome, result.messages[0].text, dict(result.set_slots)) == ("ok", "fine", {"status": "ok"})
    body, signature = seen.bodies[-1], seen.signatures[-1]
    assert signature == sign(body, SECRET) and signature.startswith("sha256=")
    assert verify(body, SECRET, signature)
    assert not verify(body, "another secret", signature) and not verify(body + b" ", SECRET, signature)
    sent = json.loads(body)
    assert sent["next_action"] == "ok" and sent["sender_id"] == "s-1"
    assert sent["tracker"]["latest_message"]["intent"] == {"name": "order_status", "confidence": 0.9}
    assert sent["tracker"]["events"][-1]["event"] == "user"


@pytest.mark.parametrize(
    ("name", "outcome", "error"),
    [
        ("slow", "timeout", "no answer within 0.5 s"),
        ("fail", "error", "HTTP 500 from the action server"),
        ("garbage", "error", "response is not JSON: b'<html>not json</html>'"),
        ("wrong_shape", "error", "response is not Rasa's {events, responses}: events: Input should be a valid list"),
        ("huge", "error", "response is over the 1000000-byte limit"),
        (
            "dead",
            "error",
            "cannot reach the action server at 127.0.0.1:9: ConnectionRefusedError: "
            "[Errno 111] Connect call failed ('127.0.0.1', 9)",
        ),
    ],
)
def test_every_failure_is_an_outcome(server: tuple[str, Seen], name: str, outcome: str, error: str) -> None:
    (result,) = asyncio.run(call(runner(server[0]), name))
    assert (result.outcome, result.error, result.messages) == (outcome, error, ())
    assert result.failed


def test_only_an_idempotent_action_is_retried(server: tuple[str, Seen]) -> None:
    base, seen = server
    seen.flaky_calls = 0
    (once,) = asyncio.run(call(runner(base), "flaky"))
    assert (once.outcome, once.error, seen.flaky_calls) == ("error", "HTTP 503 from the action server", 1)
    seen.flaky_calls = 0
    (twice,) = asyncio.run(call(runner(base, ", idempotent: true"), "flaky"))
    assert (twice.outcome, twice.messages[0].text, seen.flaky_calls) == ("ok", "second time lucky", 2)


def test_the_breaker_opens_after_consecutive_failures_and_closes_after_a_good_trial() -> None:
    now = [0.0]
    r = runner("http://127.0.0.1:9", clock=lambda: now[0])

    async def go() -> list[str]:
        outcomes = []
        try:
            outcomes.extend([(await r.run("dead", VIEW)).outcome for _ in range(3)])  # failures: 2 opens it
            now[0] = 9.9
            outcomes.append((await r.run("dead", VIEW)).outcome)
            now[0] = 10.0  # cooldown over: one trial goes through, and fails
            outcomes.append((await r.run("dead", VIEW)).outcome)
            outcomes.append((await r.run("dead", VIEW)).outcome)
        finally:
            await r.aclose()
        return outcomes

    assert asyncio.run(go()) == ["error", "error", "circuit_open", "circuit_open", "error", "circuit_open"]
    assert r.breaker_state("dead") == "open"


def test_a_breaker_closes_when_its_trial_succeeds() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=5, clock=lambda: now[0])
    breaker.failed()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 5.0
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failed()
    assert breaker.state == "closed"  # one failure after a success is not two in a row


def test_an_open_breaker_fails_without_calling() -> None:
    now = [0.0]
    r = runner("http://127.0.0.1:9", clock=lambda: now[0])
    results = asyncio.run(call(r, "dead", times=3))
    assert [r.outcome for r in results] == ["error", "error", "circuit_open"]
    assert results[-1].error == "failing fast for up to 10 s after repeated failures"


def test_concurrent_calls_overlap_up_to_the_limit(server: tuple[str, Seen]) -> None:
    base, seen = server

    async def burst(concurrency: int) -> int:
        r = runner(base, f", concurrency: {concurrency}")
        seen.peak = 0
        try:
            results = await asyncio.gather(*(r.run("sleepy", VIEW) for _ in range(20)))
        finally:
            await r.aclose()
        assert {x.outcome for x in results} == {"ok"}
        return seen.peak

    assert asyncio.run(burst(20)) == 20  # all at once at the server: none queued behind another
    assert asyncio.run(burst(2)) == 2  # never more than the action's limit


TOGETHER = 100


def test_by_default_a_hundred_calls_of_one_action_overlap(server: tuple[str, Seen]) -> None:
    """One bot process answers a few thousand turns a second; a 20 ms action on each needs some
    60 calls at once, so the default limit must not queue them (it was 16: they queued)."""
    base, seen = server

    async def burst() -> list[Any]:
        r = runner(base, timeout=8)
        seen.peak = 0
        try:
            return await asyncio.gather(*(r.run("together", VIEW) for _ in range(TOGETHER)))
        finally:
            await r.aclose()

    results = asyncio.run(burst())
    assert seen.peak == TOGETHER
    assert {x.outcome for x in results} == {"ok"}
