"""Python actions through the runner: sync, async, raising, slow, and what they may return."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bot.actions import ActionResult, Reply, TurnView, Validation
from bot.actions.metrics import ActionMetrics
from bot.actions.python_actions import ActionImportError, check_actions
from bot.actions.runner import ActionRunner
from bot.domain import load_domain
from bot.understanding import Entity

MODULE = """
import asyncio, threading, time
from bot.actions import Reply, SetSlot, ResetSlots, Followup, Handoff, EndSession, Reject, Link, Validation

def sync_action(view):
    return [Reply(f"Hello {view.slot('name', 'there')}", buttons=["Yes", ("No", "/deny")]),
            SetSlot("order_id", view.text.upper()), Followup("track")]

async def async_action(view):
    await asyncio.sleep(0)
    return Reply("async", link=Link("https://example.org", "Example"), image="https://example.org/a.png")

def thread_name(view):
    return threading.current_thread().name

def raising(view):
    raise RuntimeError("the backend is down")

def slow(view):
    time.sleep(3)
    return "late"

async def slow_async(view):
    await asyncio.sleep(5)

def bad_return(view):
    return 42

def everything(view):
    return [ResetSlots(), SetSlot("name", "Ann"), Handoff("angry customer"), EndSession()]

def refuse(view):
    return Reject("I can't do that for you.")

def mutate(view):
    view.slots["order_id"] = "hacked"

def upper(value, view):
    if not str(value).upper().startswith("AB"):
        return Validation.reject(f"{value} is not one of ours")
    return Validation.accept(str(value).upper())
"""


def make_domain(tmp_path: Path, actions: dict[str, str], extra: str = "") -> tuple[Path, str]:
    """An intents.yaml beside a fresh actions module (a unique name: modules are imported once)."""
    module = f"acts_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODULE)
    lines = "\n".join(  # the slow ones time out; the others have time to spare on a busy machine
        f"  {name}: {{python: '{module}:{fn}', timeout: {0.2 if fn.startswith('slow') else 30}}}"
        for name, fn in actions.items()
    )
    yaml_text = (
        textwrap.dedent(
            """
        slots:
          order_id: {type: text}
          name: {type: text}
        intents:
          track:
            examples: [where is my order, track it]
            slots: {order_id: "Which order?"}
            action: first
          greet:
            examples: [hi, hello]
            responses: [Hi]
        """
        )
        + f"actions:\n{lines}\n{extra}"
    )
    path = tmp_path / "intents.yaml"
    path.write_text(yaml_text)
    return path, module


VIEW = TurnView(
    text="ab123",
    intent="track",
    confidence=0.9,
    session_id="s1",
    language="en",
    entities=(Entity("order_number", "AB123", 0, 5, "ab123"),),
    slots={"order_id": "AB123"},
)


def runner_for(tmp_path: Path, **actions: str) -> ActionRunner:
    path, _ = make_domain(tmp_path, {"first": "sync_action", **actions})
    return ActionRunner(load_domain(path))


def test_a_sync_action_runs_off_the_event_loop_and_its_reply_becomes_a_result(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, where="thread_name")
    result = asyncio.run(runner.run("first", VIEW))
    assert result.outcome == "ok" and result.name == "first" and not result.failed
    assert result.messages[0].text == "Hello there"
    assert result.messages[0].buttons == (("Yes", "Yes"), ("No", "/deny"))
    assert dict(result.set_slots) == {"order_id": "AB123"}
    assert result.followup == "track"
    assert result.latency_ms > 0
    where = asyncio.run(runner.run("where", VIEW))
    assert where.messages[0].text != threading.main_thread().name


def test_an_async_action_may_send_a_link_and_an_image(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path, a="async_action").run("a", VIEW))
    message = result.messages[0]
    assert (result.outcome, message.text, message.image) == ("ok", "async", "https://example.org/a.png")
    assert message.link is not None and message.link.title == "Example"
    assert message.as_dict()["link"]["url"] == "https://example.org"


def test_an_action_that_raises_is_an_error_outcome_not_an_exception(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path, r="raising").run("r", VIEW))
    assert result.outcome == "error" and result.failed
    assert result.error == "RuntimeError: the backend is down"
    assert result.messages == ()
    assert result.as_log() == {
        "name": "r",
        "kind": "run",
        "outcome": "error",
        "latency_ms": round(result.latency_ms, 3),
        "slots_changed": [],
        "error": "RuntimeError: the backend is down",
    }


@pytest.mark.parametrize("function", ["slow", "slow_async"])
def test_a_slow_action_times_out(tmp_path: Path, function: str) -> None:
    result = asyncio.run(runner_for(tmp_path, s=function).run("s", VIEW))
    assert result.outcome == "timeout" and result.failed
    assert 190 < result.latency_ms < 2500  # the declared 0.2 s, not the action's own 3 s or more
    assert result.error == "no answer within 0.2 s"


def test_a_return_value_the_runner_cannot_use_is_an_error_that_says_what_to_return(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path, b="bad_return").run("b", VIEW))
    assert result.outcome == "error"
    assert result.error is not None and result.error.startswith("an action returned int; return a str, Reply")


def test_reset_handoff_and_end_session_reach_the_result(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path, e="everything").run("e", VIEW))
    assert result.reset_slots and result.end_session and result.handoff == "angry customer"
    assert dict(result.set_slots) == {"name": "Ann"}
    assert result.as_log()["slots_changed"] == ["*", "name"]


def test_a_refusal_with_a_message_is_rejected_but_says_something(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path, refusal="refuse").run("refusal", VIEW))
    assert result.outcome == "rejected" and not result.failed
    assert result.messages == (Reply("I can't do that for you."),)


def test_the_view_is_read_only(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path, m="mutate").run("m", VIEW))
    assert result.outcome == "error" and "does not support item assignment" in (result.error or "")
    assert VIEW.slots["order_id"] == "AB123"
    with pytest.raises(AttributeError):
        VIEW.text = "changed"  # type: ignore[misc]


def test_an_unknown_action_is_an_error_outcome(tmp_path: Path) -> None:
    result = asyncio.run(runner_for(tmp_path).run("nope", VIEW))
    assert (result.outcome, result.error) == ("error", "no action 'nope' is declared in intents.yaml")


def test_a_validator_accepts_normalises_or_rejects(tmp_path: Path) -> None:
    path, _ = make_domain(tmp_path, {"first": "sync_action", "check": "upper"}, extra="  # validator\n")
    text = path.read_text().replace("order_id: {type: text}", "order_id: {type: text, validate: check}")
    path.write_text(text)
    runner = ActionRunner(load_domain(path))
    good = asyncio.run(runner.validate("check", "order_id", "ab999", VIEW))
    assert (good.accepted, good.value, good.outcome) == (True, "AB999", "ok")
    assert good.as_log()["slots_changed"] == ["order_id"]
    bad = asyncio.run(runner.validate("check", "order_id", "zz1", VIEW))
    assert (bad.accepted, bad.message) == (False, "zz1 is not one of ours")
    assert check_actions(load_domain(path)) == []


def test_a_failing_validator_keeps_the_value_and_reports_the_failure(tmp_path: Path) -> None:
    runner = runner_for(tmp_path, r="raising")
    verdict = asyncio.run(runner.validate("r", "order_id", "x1", VIEW))
    assert (verdict.accepted, verdict.value, verdict.outcome) == (True, "x1", "error")


def test_metrics_count_calls_by_outcome_and_time_them(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    path, _ = make_domain(tmp_path, {"first": "sync_action", "r": "raising"})
    runner = ActionRunner(load_domain(path), metrics=ActionMetrics(registry))
    asyncio.run(runner.run("first", VIEW))
    asyncio.run(runner.run("r", VIEW))
    text = generate_latest(registry).decode()
    assert 'bot_action_calls_total{action="first",kind="run",outcome="ok"} 1.0' in text
    assert 'bot_action_calls_total{action="r",kind="run",outcome="error"} 1.0' in text
    assert 'bot_action_failures_total{action="r"} 1.0' in text
    assert 'bot_action_latency_seconds_count{action="first"} 1.0' in text


def test_check_actions_reports_a_missing_module_and_a_missing_function_with_their_lines(tmp_path: Path) -> None:
    path, module = make_domain(tmp_path, {"first": "sync_action"})
    path.write_text(
        path.read_text()
        + f"  gone: {{python: 'no_such_module_{uuid.uuid4().hex[:6]}:f'}}\n  typo: {{python: '{module}:nope'}}\n"
    )
    domain = load_domain(path)
    problems = check_actions(domain)
    lines = path.read_text().splitlines()
    assert [(lines[p.line - 1].split(":")[0].strip(), p.message.split(":")[0]) for p in problems if p.line] == [
        ("gone", "action 'gone'"),
        ("typo", "action 'typo'"),
    ]
    assert "No module named" in problems[0].message
    assert problems[1].message.endswith("has no function 'nope'")
    with pytest.raises(ActionImportError, match="No module named 'no_such_module_"):
        ActionRunner(domain)


def test_an_action_result_is_frozen() -> None:
    result = ActionResult(set_slots={"a": 1})
    with pytest.raises(TypeError):
        result.set_slots["a"] = 2  # type: ignore[index]
    assert Validation.reject().accepted is False


def test_a_view_of_the_turn_from_the_understanding() -> None:
    from bot.actions.view import view_of
    from bot.understanding import Prediction, Understanding

    understanding = Understanding(
        text="where is AB123",
        normalized="where is ab123",
        entities=[Entity("order_number", "AB123", 9, 14, "AB123")],
        prediction=Prediction("order_status", 0.8, [("order_status", 0.8), ("greet", 0.1)], False, False),
    )
    view = view_of(understanding, slots={"order_id": "AB123"}, session_id="s", language="en", user_id=3)
    assert (view.intent, view.confidence, view.ranking, view.user_id) == (
        "order_status",
        0.8,
        (("order_status", 0.8), ("greet", 0.1)),
        3,
    )
    assert view.entity("order_number") == understanding.entities[0] and view.entity("email") is None


def test_the_app_metrics_carry_the_action_metrics() -> None:
    from bot.metrics import Metrics

    metrics = Metrics()
    metrics.actions.observe("lookup", "run", "timeout", 250.0)
    text = metrics.render().decode()
    assert 'bot_action_failures_total{action="lookup"} 1.0' in text
