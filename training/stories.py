"""Run conversation tests in-process: the model's NLU, the real policy, fake actions and a
fixed clock (the file's `now:`); each failure as a readable diff, optionally as JUnit XML."""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.actions.results import ActionResult, Validation
from bot.actions.view import TurnView
from bot.dialogue import Decision, State
from bot.dialogue_turn import TurnOutcome, play_turn
from bot.domain import Domain
from bot.understanding import FALLBACK, Understanding
from training.story_format import Conversation, Step, StoryFile

Understand = Callable[[list[str], Sequence[datetime | None] | None], list[Understanding]]
"""`Model.understand`: texts and the moment each is read at ("tomorrow" is relative to it)."""


@dataclass
class StepFailure:
    step: int
    said: str
    lines: list[str]


@dataclass
class ConversationResult:
    file: str
    name: str
    failures: list[StepFailure] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None

    def diff(self) -> str:
        """What went wrong, turn by turn, as `- expected` / `+ got` lines."""
        out = [f"FAILED {self.file}: {self.name}"]
        if self.error:
            out.append(f"  error: {self.error}")
        for failure in self.failures:
            out.append(f"  step {failure.step}: {failure.said!r}")
            out += [f"    {line}" for line in failure.lines]
        return "\n".join(out)


class CachedUnderstanding:
    """The model's understanding of each text at each moment, computed once: conversations
    repeat their words, and a file's clock (`now:`) stands still."""

    def __init__(self, understand: Understand) -> None:
        self._understand = understand
        self._seen: dict[tuple[str, datetime], Understanding] = {}

    def warm(self, texts: Sequence[str], now: datetime) -> None:
        new = sorted({t for t in texts if (t, now) not in self._seen})
        for text, u in zip(new, self._understand(list(new), [now] * len(new)) if new else [], strict=True):
            self._seen[text, now] = u

    def at(self, now: datetime) -> Callable[[list[str]], list[Understanding]]:
        """Understanding as the turn asks for it, read at `now`."""

        def understand(texts: list[str]) -> list[Understanding]:
            self.warm(texts, now)
            return [self._seen[t, now] for t in texts]

        return understand


def run_file(
    stories: StoryFile, domain: Domain, understand: Understand | CachedUnderstanding, multi_intent: bool = True
) -> list[ConversationResult]:
    cached = understand if isinstance(understand, CachedUnderstanding) else CachedUnderstanding(understand)
    cached.warm([s.user for c in stories.conversations for s in c.steps if s.user is not None], stories.now)
    at_now = cached.at(stories.now)
    return [run_conversation(c, stories, domain, at_now, multi_intent) for c in stories.conversations]


def run_conversation(
    conv: Conversation,
    stories: StoryFile,
    domain: Domain,
    understand: Callable[[list[str]], list[Understanding]],
    multi_intent: bool = True,
) -> ConversationResult:
    started = time.perf_counter()
    result = ConversationResult(stories.path, conv.name)
    state = State(slots=dict(conv.slots))
    rng = random.Random(stories.seed)
    last_buttons: dict[str, str] = {}
    called: list[str] = []

    def run_action(name: str, view: TurnView) -> ActionResult:
        called.append(name)
        fake = stories.actions.get(name)
        if fake is None:
            raise MissingFake(f"the bot called action '{name}', which the test file's `actions:` does not declare")
        options = fake if isinstance(fake, list) else [fake]
        chosen = next((f for f in options if f.matches(dict(view.slots))), None)
        if chosen is None:
            return ActionResult(outcome="error", error=f"no result of '{name}' matches the slots")
        return chosen.result(dict(view.slots))

    def validate(check: str, value: Any, view: TurnView) -> Validation:
        fake = stories.validators.get(check)
        return Validation(True, value) if fake is None else fake.verdict(value)

    for number, step in enumerate(conv.steps, start=1):
        if step.button is not None:
            payload = _button(step.button, last_buttons)
            if payload is None:
                offered = ", ".join(repr(t) for t in last_buttons) or "none"
                result.failures.append(StepFailure(number, f"[{step.button}]", [f"no such button; offered: {offered}"]))
                break
            text = payload
        else:
            text = step.user or ""
        called.clear()
        try:
            outcome = play_turn(
                text,
                state,
                domain,
                understand,
                rng,
                run_action,
                validate,
                multi_intent,
                session_id=conv.name,
                now=stories.now,
            )
        except MissingFake as exc:
            result.error = f"step {number}: {exc}"
            break
        lines = check_step(step, outcome, called, domain)
        if lines:
            result.failures.append(StepFailure(number, step.user or f"[{step.button}]", lines))
        state = outcome.decision.state
        last_buttons = {t: p for m in outcome.decision.messages for t, p in m.buttons}
    result.seconds = time.perf_counter() - started
    return result


class MissingFake(Exception):
    """A conversation reached an action its test file has no fake result for."""


def _button(title: str, offered: dict[str, str]) -> str | None:
    for t, payload in offered.items():
        if t.casefold() == title.casefold():
            return payload
    return None


def check_step(step: Step, outcome: TurnOutcome, called: list[str], domain: Domain) -> list[str]:
    """The expectations of a step that do not hold, each as `expected ...` / `got ...` lines."""
    decision = outcome.decision
    replies = [m.text for m in decision.messages]
    joined = "\n".join(replies).casefold()
    lines: list[str] = []

    def differ(what: str, expected: Any, got: Any) -> None:
        lines.extend([f"{what}:", f"  - expected {expected!r}", f"  + got      {got!r}"])

    if step.checks("intent"):
        got_intents = [_intent(u) for u in outcome.parts] or [_intent(outcome.understanding)]
        wanted = step.intent if isinstance(step.intent, list) else [step.intent]
        if got_intents != wanted:
            differ(
                "intent",
                wanted if len(wanted) > 1 else wanted[0],
                got_intents if len(got_intents) > 1 else got_intents[0],
            )
    if step.bot is not None:
        fragments = [step.bot] if isinstance(step.bot, str) else step.bot
        pos = 0
        for fragment in fragments:
            found = joined.find(fragment.casefold(), pos)
            if found < 0:
                differ("reply", fragment, replies)
                break
            pos = found + len(fragment)
    if step.not_bot is not None:
        for fragment in [step.not_bot] if isinstance(step.not_bot, str) else step.not_bot:
            if fragment.casefold() in joined:
                differ("reply without", fragment, replies)
    if step.buttons is not None:
        titles = [t for m in decision.messages for t, _ in m.buttons]
        missing = [b for b in step.buttons if b.casefold() not in {t.casefold() for t in titles}]
        if missing:
            differ("buttons", step.buttons, titles)
    if step.slots is not None:
        slots = dict(decision.state.slots)
        for name, value in step.slots.items():
            got = slots.get(name)
            if (value is None and name in slots) or (value is not None and str(got) != str(value)):
                differ(f"slot {name}", value, got)
    if step.checks("form") and decision.state.active_form != step.form:
        differ("active form", step.form, decision.state.active_form)
    if step.checks("requested") and decision.state.requested_slot != step.requested:
        differ("requested slot", step.requested, decision.state.requested_slot)
    if step.checks("action"):
        wanted_actions = [] if step.action is None else [step.action] if isinstance(step.action, str) else step.action
        if list(called) != wanted_actions:
            differ("actions called", wanted_actions, list(called))
    if step.handoff is not None and _hands_over(decision, domain) != step.handoff:
        differ("handoff", step.handoff, decision.handoff or _hands_over(decision, domain))
    if step.end_session is not None and decision.end_session != step.end_session:
        differ("end of session", step.end_session, decision.end_session)
    return lines


def _hands_over(decision: Decision, domain: Domain) -> bool:
    """Whether the service hands this turn to a person: the decision says so (a form's way out, an
    action), or a reply serves a `handoff: true` intent (as `bot.handoff.Handoff.after_turn` reads it)."""
    return bool(decision.handoff) or any(domain.asks_for_person(m.intent or decision.intent) for m in decision.messages)


def _intent(u: Understanding) -> str:
    return FALLBACK if u.prediction.is_fallback else u.prediction.intent


def junit_xml(results: Sequence[ConversationResult]) -> str:
    """JUnit XML, one test case a conversation, for CI dashboards."""
    failed = sum(not r.ok for r in results)
    suite = ET.Element(
        "testsuite",
        name="conversations",
        tests=str(len(results)),
        failures=str(failed),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=Path(r.file).stem, name=r.name, time=f"{r.seconds:.4f}")
        if not r.ok:
            failure = ET.SubElement(case, "failure", message=f"{len(r.failures)} step(s) differ")
            failure.text = r.diff()
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)
