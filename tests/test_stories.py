"""Conversation tests for bot authors: the file format, the runner's verdicts and diffs, JUnit
XML, `python -m training.test` and the gate in `training.fit`."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import parse_domain
from bot.understanding import Entity, Prediction, Understanding
from tests.helpers import SHOP
from tests.test_dialogue_actions import ACTIONS
from training.stories import CachedUnderstanding, junit_xml, run_file
from training.story_format import DEFAULT_NOW, StoryFileError, parse_stories
from training.test import main as conversation_tests

PASSING = """
conversations:
  - name: track an order
    steps:
      - user: where is my order
        intent: order_status
        bot: order number
        form: order_status
        requested: order_id
      - user: AB123456
        bot: AB123456 is on its way
        slots: {order_id: AB123456}
        form: null
  - name: a button, then book with a known name
    slots: {name: Ada}
    steps:
      - user: hello
        buttons: [Order status]
      - button: Order status
        intent: order_status
        bot: order number
"""

FAILING = """
conversations:
  - name: expects the wrong things
    steps:
      - user: hello
        intent: hours
        bot: [Hello, goodbye]
        form: order_status
      - button: Nowhere
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_passing_conversations_exit_zero(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ok.yml", PASSING)
    junit = tmp_path / "report.xml"
    assert conversation_tests([str(path), "--models", str(models_dir), "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    assert "2 passed, 0 failed" in out and "conversations/s" in out
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")


def test_a_failure_is_a_readable_diff(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.yml", FAILING)
    junit = tmp_path / "report.xml"
    assert conversation_tests([str(path), "--models", str(models_dir), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "expects the wrong things" in out
    assert "step 1: 'hello'" in out
    assert "- expected 'hours'" in out and "+ got      'greet'" in out
    assert "- expected 'goodbye'" in out
    assert "active form:" in out
    assert "step 2: '[Nowhere]'" in out and "no such button; offered: 'Opening hours', 'Order status'" in out
    assert "0 passed, 1 failed" in out
    failure = ET.parse(junit).getroot().find("testcase/failure")
    assert failure is not None and "expected 'hours'" in (failure.text or "")


def test_unusable_files_and_models_exit_two(models_dir: Path, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yml", "conversations:\n  - name: x\n    steps:\n      - intent: greet\n")
    assert conversation_tests([str(bad), "--models", str(models_dir)]) == 2
    good = write(tmp_path, "ok.yml", PASSING)
    assert conversation_tests([str(good), "--models", str(tmp_path / "nowhere")]) == 2
    assert conversation_tests(["--intents", str(tmp_path / "intents.yaml"), "--models", str(models_dir)]) == 2


def test_format_errors_name_the_conversation_and_step() -> None:
    with pytest.raises(StoryFileError) as caught:
        parse_stories(
            "conversations:\n  - name: hello\n    steps:\n      - user: hi\n      - {user: x, bott: y}\n", "f.yml"
        )
    assert "f.yml: conversation 'hello', step 2" in str(caught.value) and "bott" in str(caught.value)
    with pytest.raises(StoryFileError, match="exactly one of `user:`"):
        parse_stories("conversations:\n  - name: a\n    steps:\n      - {user: x, button: y}\n")
    with pytest.raises(StoryFileError, match="not valid YAML"):
        parse_stories("conversations: [")


class FakeNlu:
    """Understanding by table, for conversations over a domain no model was trained on."""

    def __init__(self, table: dict[str, tuple[str, bool]]) -> None:
        self.table = table

    def __call__(self, texts: Sequence[str], nows: Sequence[datetime | None] | None = None) -> list[Understanding]:
        out = []
        for text in texts:
            intent, fallback = self.table.get(text, ("stock", True))
            entities = (
                [Entity("order_number", text, 0, len(text), text)] if text[:2].isalpha() and text[2:].isdigit() else []
            )
            out.append(Understanding(text, text, entities, Prediction(intent, 0.9, [(intent, 0.9)], fallback, False)))
        return out


ACTION_STORIES = """
actions:
  lookup_order:
    - when: {order_id: AB123456}
      messages: ["Order {order_id} was delivered on Monday."]
      set_slots: {status: delivered}
    - outcome: timeout
validators:
  check_order:
    accept: {ab123456: AB123456, cd654321: CD654321}
    message: "I can't find that order."
conversations:
  - name: a fake action answers
    steps:
      - user: where is my order
        form: track
      - user: ab123456
        action: lookup_order
        bot: AB123456 was delivered
        slots: {order_id: AB123456, status: delivered}
  - name: a rejected value is asked again with the validator's message
    steps:
      - user: where is my order
      - user: zz999999
        bot: ["can't find that order", "Which order?"]
        action: null
        form: track
  - name: a failing fake gets actions_failed
    steps:
      - user: where is my order
      - user: cd654321
        action: lookup_order
        bot: Our systems are down
        form: null
  - name: an undeclared action stops the conversation
    steps:
      - user: is it in stock
"""


def test_fake_actions_and_validators() -> None:
    domain = parse_domain(ACTIONS)
    nlu = FakeNlu({"where is my order": ("track", False), "is it in stock": ("stock", False)})
    results = run_file(parse_stories(ACTION_STORIES, "actions.yml"), domain, nlu)
    assert [r.ok for r in results] == [True, True, True, False], "\n".join(r.diff() for r in results)
    assert results[3].error is not None and "action 'check_stock'" in results[3].error
    assert "testcase" in junit_xml(results)


def test_fit_refuses_a_model_that_fails_a_conversation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.model import current_version
    from training.fit import main as fit

    intents = tmp_path / "intents.yaml"
    shutil.copy(SHOP, intents)
    (tmp_path / "conversations").mkdir()
    write(tmp_path / "conversations", "bad.yml", FAILING)
    out = tmp_path / "models"
    assert fit(["--intents", str(intents), "--out", str(out), "--quick"]) == 4
    assert current_version(out) is None
    assert "not promoted: a conversation test failed" in capsys.readouterr().out
    write(tmp_path / "conversations", "bad.yml", PASSING)
    assert fit(["--intents", str(intents), "--out", str(out), "--quick", "--force"]) == 0
    assert current_version(out) is not None


def test_runs_are_repeatable(models_dir: Path) -> None:
    from bot.model import load_model

    model = load_model(models_dir)
    stories = parse_stories(PASSING)
    first = run_file(stories, model.domain, model.understand)
    again = run_file(stories, model.domain, model.understand)
    assert [r.ok for r in first] == [r.ok for r in again] == [True, True]


class ClockNlu(FakeNlu):
    """Reads "friday" as the ISO date of the next Friday from the moment it is given, as the
    date built-in does, and remembers the moments it was given."""

    def __init__(self, table: dict[str, tuple[str, bool]]) -> None:
        super().__init__(table)
        self.nows: list[datetime | None] = []

    def __call__(self, texts: Sequence[str], nows: Sequence[datetime | None] | None = None) -> list[Understanding]:
        moments = list(nows or [None] * len(texts))
        self.nows += moments
        out = super().__call__(texts, nows)
        for i, (text, now) in enumerate(zip(texts, moments, strict=True)):
            if text == "friday" and now is not None:
                friday = now.date() + timedelta(days=(4 - now.weekday()) % 7)
                out[i] = Understanding(
                    text, text, [Entity("day", friday.isoformat(), 0, 6, text, source="builtin")], out[i].prediction
                )
        return out


CLOCKED = """
now: 2026-12-01T10:00:00
actions:
  lookup_order:
    - when: {order_id: CD654321}
      messages:
        - text: "Order {order_id} is being packed."
          buttons: [{title: Cancel it, payload: cancel my order}]
validators:
  check_order: {accept: [CD654321]}
conversations:
  - name: a relative day is read from the file's clock and a fake keyed by it
    steps:
      - user: book a visit
        form: book
      - user: friday
        bot: Booked for 2026-12-04
        slots: {day: 2026-12-04}
  - name: a structured fake message fills in the slots
    steps:
      - user: where is my order
      - user: CD654321
        bot: Order CD654321 is being packed
        buttons: [Cancel it]
"""


def test_the_file_clock_reads_relative_days_and_fakes_match_dates() -> None:
    domain = parse_domain(ACTIONS)
    nlu = ClockNlu({"book a visit": ("book", False), "where is my order": ("track", False)})
    stories = parse_stories(CLOCKED, "clock.yml")
    assert stories.now == datetime(2026, 12, 1, 10, tzinfo=UTC)  # no offset: UTC
    results = run_file(stories, domain, nlu)
    assert [r.ok for r in results] == [True, True], "\n".join(r.diff() for r in results)
    assert set(nlu.nows) == {stories.now}


def test_a_file_without_a_clock_has_a_fixed_one_and_each_clock_is_understood_apart() -> None:
    domain = parse_domain(ACTIONS)
    nlu = ClockNlu({"book a visit": ("book", False)})
    cached = CachedUnderstanding(nlu)
    later = CLOCKED.replace("now: 2026-12-01T10:00:00", "now: 2026-12-07T10:00:00+00:00")
    assert run_file(parse_stories(later), domain, cached)[0].failures[0].lines[1:3] == [
        "  - expected 'Booked for 2026-12-04'",
        "  + got      ['Booked for 2026-12-11.']",
    ]
    assert run_file(parse_stories(CLOCKED), domain, cached)[0].ok  # not the other file's understanding
    unset = parse_stories(CLOCKED.replace("now: 2026-12-01T10:00:00\n", ""))
    assert unset.now == DEFAULT_NOW
    run_file(unset, domain, cached)
    assert DEFAULT_NOW in nlu.nows


def test_a_fake_result_keyed_by_a_date_needs_that_date() -> None:
    fake = parse_stories(
        "actions: {a: [{when: {day: 2026-12-04, time: '15:00:00'}, messages: [found]},\n"
        "              {when: {day: null}, messages: [unset]}]}\n"
        "conversations: [{name: x, steps: [{user: hi}]}]"
    ).actions["a"]
    assert isinstance(fake, list)
    assert fake[0].matches({"day": "2026-12-04", "time": "15:00:00"})
    assert not fake[0].matches({"day": "2026-12-05", "time": "15:00:00"})
    assert fake[1].matches({}) and not fake[1].matches({"day": "2026-12-04"})


HANDOFF_DOMAIN = """
language: en
intents:
  greet:
    examples: [hi, hello]
    responses: ["Hello!"]
  human:
    examples: [a person please, talk to a human]
    handoff: true
    responses: ["Let me get a colleague."]
"""


def test_a_handoff_intent_hands_over_in_a_conversation_test() -> None:
    """`handoff:` in a step reads what the service does after the turn: an intent with
    `handoff: true` hands over, though the policy's decision itself names no reason."""
    domain = parse_domain(HANDOFF_DOMAIN)
    nlu = FakeNlu({"talk to a human": ("human", False), "hi": ("greet", False)})
    stories = parse_stories(
        "conversations:\n"
        "  - name: asks for a person\n    steps:\n      - {user: talk to a human, handoff: true}\n"
        "  - name: a greeting stays with the bot\n    steps:\n      - {user: hi, handoff: false}\n"
        "  - name: a wrong expectation fails\n    steps:\n      - {user: talk to a human, handoff: false}\n",
        "handoff.yml",
    )
    results = run_file(stories, domain, nlu)
    assert [r.ok for r in results] == [True, True, False], "\n".join(r.diff() for r in results)
