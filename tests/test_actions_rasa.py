"""The real rasa-sdk action server (`python -m rasa_sdk`) called through the runner, unchanged."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from bot.actions import ActionResult, TurnView, Validation
from bot.actions.runner import ActionRunner
from bot.domain import parse_domain
from bot.understanding import Entity
from tests.helpers import ROOT, free_port

pytest.importorskip("rasa_sdk")
T = TypeVar("T")


@pytest.fixture(scope="module")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("rasa") / "rasa_sdk.log"
    env = {**os.environ, "SANIC_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "tests.rasa_actions", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # sanic's workers with it, so that teardown can end them all
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"rasa_sdk exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rasa_sdk not up:\n{log_path.read_text()[-3000:]}") from None
            time.sleep(0.1)
        yield f"{url}/webhook"
    finally:
        # Sanic waits for idle keep-alive connections before its workers exit; the test is
        # over, so the whole process group goes at once.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(20)


def domain_for(url: str) -> str:
    return textwrap.dedent(
        f"""
        entities:
          order_number: {{regex: '[A-Z]{{2}}\\d{{5}}'}}
          day: {{values: [monday, sunday]}}
          hour: {{values: [noon]}}
        slots:
          order_id: {{entity: order_number}}
          status: {{type: text}}
          date: {{entity: day, validate: validate_book_appointment}}
          time: {{entity: hour}}
        actions:
          action_order_status: {{url: '{url}'}}
          action_start_over: {{url: '{url}'}}
          action_refuse: {{url: '{url}'}}
          validate_book_appointment: {{url: '{url}', timeout: 5}}
        intents:
          order_status:
            examples: [where is my order, track it]
            slots: {{order_id: "Which order?"}}
            action: action_order_status
          book_appointment:
            examples: [book a visit, make an appointment]
            slots: {{date: "Which day?", time: "What time?"}}
            responses: ["Booked for {{date}} at {{time}}."]
          feedback:
            examples: [feedback, I have feedback]
            responses: [Thanks]
        """
    )


def view(**overrides: object) -> TurnView:
    values: dict[str, object] = {
        "text": "where is AB12345",
        "intent": "order_status",
        "confidence": 0.93,
        "session_id": "session-7",
        "language": "en",
        "entities": (Entity("order_number", "AB12345", 9, 16, "AB12345", source="regex"),),
        "slots": {"order_id": "AB12345"},
        "ranking": (("order_status", 0.93), ("feedback", 0.02)),
    }
    values.update(overrides)
    return TurnView(**values)  # type: ignore[arg-type]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_a_rasa_sdk_action_sends_messages_sets_slots_and_follows_up(rasa_url: str) -> None:
    async def go() -> ActionResult:
        runner = ActionRunner(parse_domain(domain_for(rasa_url)), secret="s3cret")
        try:
            return await runner.run("action_order_status", view())
        finally:
            await runner.aclose()

    result = run(go())
    assert result.outcome == "ok", result.error
    first, second = result.messages
    assert first.text == "Order AB12345 (AB12345) for session-7, intent order_status"
    assert first.buttons == (("Cancel it", "/cancel_order"),)
    assert first.image == "https://example.org/parcel.png"
    assert second.custom == {"card": "order", "id": "AB12345"}
    assert dict(result.set_slots) == {"status": "dispatched"}
    assert result.followup == "feedback"


def test_all_slots_reset_and_a_rejection(rasa_url: str) -> None:
    async def go() -> tuple[ActionResult, ActionResult]:
        runner = ActionRunner(parse_domain(domain_for(rasa_url)))
        try:
            return await runner.run("action_start_over", view()), await runner.run("action_refuse", view())
        finally:
            await runner.aclose()

    reset, refused = run(go())
    assert reset.reset_slots and reset.messages[0].text == "Starting over."
    assert (refused.outcome, refused.error, refused.failed) == ("rejected", "not today", True)


def test_rasa_sdk_form_validation_action_accepts_normalises_and_rejects(rasa_url: str) -> None:
    form = {"intent": "book_appointment", "active_form": "book_appointment", "requested_slot": "date", "slots": {}}

    async def go() -> tuple[Validation, Validation]:
        runner = ActionRunner(parse_domain(domain_for(rasa_url)))
        try:
            good = await runner.validate("validate_book_appointment", "date", "monday", view(text="monday", **form))
            bad = await runner.validate("validate_book_appointment", "date", "sunday", view(text="sunday", **form))
            return good, bad
        finally:
            await runner.aclose()

    good, bad = run(go())
    assert (good.accepted, good.value, good.outcome) == (True, "Monday", "ok"), good.error
    assert (bad.accepted, bad.message) == (False, "We're closed on Sundays; pick another day.")


def test_an_action_the_server_does_not_know_is_an_error(rasa_url: str) -> None:
    text = domain_for(rasa_url).replace("action_refuse: {", "action_missing: {")

    async def go() -> ActionResult:
        runner = ActionRunner(parse_domain(text))
        try:
            return await runner.run("action_missing", view())
        finally:
            await runner.aclose()

    result = run(go())
    assert result.outcome == "error" and result.error == "HTTP 404 from the action server"
