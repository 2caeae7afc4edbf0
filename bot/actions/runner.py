"""Runs actions by name and turns every failure into an outcome: the turn always goes on.

One `ActionRunner` per loaded domain. Each action has its own circuit breaker and its own
limit on concurrent calls; HTTP actions share one `HttpClient` (keep-alive connections per
action server), made for the event loop of the calls and closed by `aclose`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.actions import http_actions
from bot.actions.authoring import ActionReturnError
from bot.actions.authoring import to_result as python_result
from bot.actions.authoring import to_validation as python_validation
from bot.actions.breaker import CircuitBreaker
from bot.actions.http_client import HttpClient
from bot.actions.metrics import ActionMetrics
from bot.actions.python_actions import PythonFunction, base_dir_of, load_function
from bot.actions.rasa_request import RasaDomain, encode_request
from bot.actions.results import ActionResult, Outcome, Validation
from bot.actions.spec import ActionSpec
from bot.actions.view import TurnView
from bot.config import Settings
from bot.domain import Domain

log = logging.getLogger(__name__)
MAX_RESPONSE_BYTES = 1_000_000


@dataclass
class _Action:
    name: str
    spec: ActionSpec
    breaker: CircuitBreaker
    gate: asyncio.Semaphore
    function: PythonFunction | None


class _Failed(Exception):
    """One attempt failed; `outcome` and `retryable` say what the runner does next."""

    def __init__(self, message: str, outcome: Outcome = "error", retryable: bool = True) -> None:
        super().__init__(message)
        self.outcome: Outcome = outcome
        self.retryable = retryable


class ActionRunner:
    """`run` and `validate` never raise: a failure comes back as the result's `outcome`."""

    def __init__(
        self,
        domain: Domain,
        *,
        secret: str | None = None,
        metrics: ActionMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        base_dir: Path | None = None,
    ) -> None:
        """Load every Python action now (raising `ActionImportError` if one cannot be loaded).

        Modules are looked for in `base_dir`, by default beside the domain's intents.yaml; a
        served model's domain is a copy in its model folder, so the service names the live one's.
        """
        self.domain = domain
        self._signer = http_actions.Signer(secret) if secret else None
        self._client: HttpClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._metrics = metrics
        self._limit = max_response_bytes
        self._rasa_domain = RasaDomain.of(domain) if any(s.url for s in domain.actions.values()) else None
        sync = [s.concurrency for s in domain.actions.values() if s.python]
        self._threads = ThreadPoolExecutor(min(sum(sync), 64), "action") if sync else None
        """Sync actions' own threads: one that hangs past its timeout cannot starve the
        default executor the rest of the service uses."""
        base = base_dir or base_dir_of(domain)
        self._actions = {
            name: _Action(
                name,
                spec,
                CircuitBreaker(spec.failures, spec.cooldown, clock),
                asyncio.Semaphore(spec.concurrency),
                load_function(spec.python, base) if spec.python else None,
            )
            for name, spec in domain.actions.items()
        }

    @classmethod
    def from_settings(cls, domain: Domain, settings: Settings, metrics: ActionMetrics | None = None) -> ActionRunner:
        """The runner the service uses: the secret and size limit from `BOT_ACTIONS_*`."""
        return cls(
            domain,
            secret=settings.actions_secret,
            metrics=metrics,
            max_response_bytes=settings.actions_max_response_bytes,
            base_dir=settings.intents_path.resolve().parent,
        )

    async def aclose(self) -> None:
        """Close the HTTP session, if one was opened; call it at shutdown."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)

    def breaker_state(self, name: str) -> str:
        return self._actions[name].breaker.state

    async def run(self, name: str, view: TurnView) -> ActionResult:
        """Run the action `name` for this turn."""
        started = time.perf_counter()
        result, outcome, error = await self._call(name, "run", lambda action: self._run_once(action, view))
        latency = (time.perf_counter() - started) * 1000
        done = (result if isinstance(result, ActionResult) else ActionResult()).with_call(
            name=name, outcome=outcome if outcome != "ok" else _own(result), latency_ms=latency, error=error
        )
        self._observe(name, "run", done.outcome, latency)
        return done

    async def validate(self, name: str, slot: str, value: Any, view: TurnView) -> Validation:
        """Ask the action `name` about `value` for `slot`; if the validator fails, the value is
        kept as given (the failure is logged), so a broken validator never traps a form."""
        started = time.perf_counter()
        verdict, outcome, error = await self._call(
            name, "validate", lambda action: self._validate_once(action, slot, value, view)
        )
        latency = (time.perf_counter() - started) * 1000
        base = verdict if isinstance(verdict, Validation) else Validation.accept(value)
        done = replace(base, outcome=outcome, latency_ms=latency, error=error, name=name, slot=slot)
        self._observe(name, "validate", outcome, latency)
        return done

    async def _call(
        self, name: str, kind: str, attempt: Callable[[_Action], Awaitable[Any]]
    ) -> tuple[Any, Outcome, str | None]:
        action = self._actions.get(name)
        if action is None:
            return None, "error", f"no action '{name}' is declared in intents.yaml"
        if not action.breaker.allow():
            return None, "circuit_open", f"failing fast for up to {action.spec.cooldown:g} s after repeated failures"
        settled = False
        try:
            async with asyncio.timeout(action.spec.timeout):
                async with action.gate:
                    value = await self._attempts(action, attempt)
            action.breaker.succeeded()
            settled = True
            return value, "ok", None
        except TimeoutError:
            action.breaker.failed()
            settled = True
            log.warning("action %s (%s) timed out after %g s", name, kind, action.spec.timeout)
            return None, "timeout", f"no answer within {action.spec.timeout:g} s"
        except _Failed as exc:
            if exc.outcome == "rejected":
                action.breaker.succeeded()
            else:
                action.breaker.failed()
                log.warning("action %s (%s) failed: %s", name, kind, exc)
            settled = True
            return None, exc.outcome, str(exc)
        finally:
            if not settled:  # cancelled with the turn: neither a success nor a failure
                action.breaker.abandoned()

    async def _attempts(self, action: _Action, attempt: Callable[[_Action], Awaitable[Any]]) -> Any:
        tries = 2 if action.spec.idempotent else 1
        for number in range(1, tries + 1):
            try:
                return await attempt(action)
            except _Failed as exc:
                if number == tries or not exc.retryable:
                    raise
                log.info("action %s failed (%s); retrying once, as it is idempotent", action.name, exc)
        raise AssertionError("unreachable")

    async def _run_once(self, action: _Action, view: TurnView) -> ActionResult:
        if action.function is not None:
            returned = await self._python(action.function, view)
            try:
                return python_result(returned)
            except ActionReturnError as exc:
                raise _Failed(str(exc), retryable=False) from None
        assert self._rasa_domain is not None
        answer = await self._http(action, encode_request(action.name, view, self._rasa_domain))
        return http_actions.to_result(answer)

    async def _validate_once(self, action: _Action, slot: str, value: Any, view: TurnView) -> Validation:
        if action.function is not None:
            returned = await self._python(action.function, value, view)
            try:
                return python_validation(returned, value)
            except ActionReturnError as exc:
                raise _Failed(str(exc), retryable=False) from None
        assert self._rasa_domain is not None
        request = encode_request(action.name, view, self._rasa_domain, candidate=(slot, value))
        return http_actions.to_validation(await self._http(action, request), slot, value)

    async def _python(self, function: PythonFunction, *args: Any) -> Any:
        try:
            return await function.call(self._threads, *args)
        except Exception as exc:  # the author's code: any exception is the action failing
            log.exception("action %s raised", function.ref)
            raise _Failed(f"{type(exc).__name__}: {exc}") from None

    async def _http(self, action: _Action, body: bytes) -> http_actions.RasaAnswer:
        assert action.spec.url is not None
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = HttpClient()  # connections serve the loop they were made in
            self._client_loop = loop
        try:
            return await http_actions.post(self._client, action.spec.url, body, self._signer, self._limit)
        except http_actions.ActionCallError as exc:
            raise _Failed(
                str(exc), outcome="rejected" if exc.outcome == "rejected" else "error", retryable=exc.retryable
            ) from None
        except OSError as exc:
            where = urlsplit(action.spec.url).netloc
            raise _Failed(f"cannot reach the action server at {where}: {type(exc).__name__}: {exc}") from None

    def _observe(self, name: str, kind: str, outcome: str, latency_ms: float) -> None:
        if self._metrics is not None:
            self._metrics.observe(name, kind, outcome, latency_ms)


def _own(result: Any) -> Outcome:
    """The outcome an action gave itself (rejected) when the call went through."""
    return result.outcome if isinstance(result, ActionResult) else "ok"
