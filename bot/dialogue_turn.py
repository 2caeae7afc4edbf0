"""One turn of the dialogue from text to final decision, with understanding and actions given
as plain callables: the order of steps the service follows, runnable in-process by the
conversation tests and the benchmarks.

understand -> (several requests? classify each clause) -> decide -> validate values ->
decide again -> run the action -> after_action (a follow-up may ask for another action).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.actions.results import ActionResult, Validation
from bot.actions.view import TurnView
from bot.clauses import answer_separately, leave_form_then_answer, split_clauses
from bot.dialogue import (
    INTENT_PAYLOAD_PREFIX,
    MAX_PARTS,
    Decision,
    Say,
    State,
    after_action,
    decide,
    decide_parts,
)
from bot.domain import Domain
from bot.understanding import Prediction, Understanding

MAX_ACTIONS_PER_TURN = 3
"""Follow-ups that ask for yet another action stop here, so a loop of actions cannot hang a turn."""

Understand = Callable[[list[str]], list[Understanding]]
RunAction = Callable[[str, TurnView], ActionResult]
Validate = Callable[[str, Any, TurnView], Validation]
"""(validator name, value, turn) -> verdict."""


@dataclass(frozen=True)
class TurnOutcome:
    understanding: Understanding
    parts: tuple[Understanding, ...]
    """The clauses answered one by one; empty when the message was answered as a whole."""
    decision: Decision
    actions: tuple[tuple[str, ActionResult], ...]
    validations: tuple[tuple[str, Any, Validation], ...]


@dataclass(frozen=True)
class NeedUnderstanding:
    """The turn needs these texts classified (the message, then its clauses)."""

    texts: tuple[str, ...]


@dataclass(frozen=True)
class NeedVerdict:
    """The turn needs `check` to validate `value` for `slot`."""

    slot: str
    value: Any
    check: str
    view: TurnView


@dataclass(frozen=True)
class NeedAction:
    """The turn needs the action `name` run."""

    name: str
    view: TurnView


Need = NeedUnderstanding | NeedVerdict | NeedAction
Answer = list[Understanding] | Validation | ActionResult
Steps = Generator[Need, Answer, TurnOutcome]


def turn_steps(
    text: str,
    state: State,
    domain: Domain,
    rng: random.Random,
    multi_intent: bool = True,
    session_id: str = "local",
    *,
    now: datetime,
) -> Steps:
    """The turn as a generator: it yields what it needs (understanding, a verdict, an action's
    result), is sent the answer, and returns the outcome. `play_turn` drives it with plain
    functions; a service drives it with awaits (`play_turn_async`), so both share one order.
    `now` (aware, in the session's time zone) is the moment slot constraints are checked at."""
    payload = text.startswith(INTENT_PAYLOAD_PREFIX)
    if payload and (name := text.strip().removeprefix(INTENT_PAYLOAD_PREFIX)) in domain.answerable:
        whole = Understanding(text, name, [], Prediction.certain(name))
    else:
        whole = _understood((yield NeedUnderstanding((text,))))[0]
    parts: tuple[Understanding, ...] = ()
    if multi_intent and not payload:
        clauses = split_clauses(text, domain.language)
        if len(clauses) > 1:
            understood = _understood((yield NeedUnderstanding(tuple(clauses))))
            predictions = [u.prediction for u in understood]
            if state.active_form is None:
                separately = answer_separately(whole.prediction, predictions, domain)
            else:  # "never mind, what time do you close?", where the whole message keeps the form going
                separately = leave_form_then_answer(predictions, domain, state.active_form) and _keeps_form(
                    whole, state, domain, rng, now
                )
            if separately:
                parts = tuple(understood)

    done = 0  # the parts answered, their actions run, before this round
    earlier: tuple[Say, ...] = ()  # what those parts said
    current = state

    def decide_now(verdicts: dict[str, Validation] | None = None) -> tuple[Decision, int]:
        """The next round's decision: the parts from `done` on up to one that needs the service."""
        if not parts:
            return decide(text, whole.prediction, whole.entities, state, domain, rng, verdicts, now=now), 0
        rest = [(u.text, u.prediction, u.entities) for u in parts[done:MAX_PARTS]]
        decision, used = decide_parts(rest, current, domain, rng, verdicts, now=now)
        return replace(decision, messages=(*earlier, *decision.messages)), used

    def view(decision: Decision) -> TurnView:
        return TurnView(
            text=text,
            intent=decision.intent,
            confidence=whole.prediction.confidence,
            entities=tuple(whole.entities),
            slots=dict(decision.state.slots),
            session_id=session_id,
            language=domain.language,
            active_form=decision.state.active_form,
            requested_slot=decision.state.requested_slot,
            correcting=decision.correcting,
        )

    validations: list[tuple[str, Any, Validation]] = []
    actions: list[tuple[str, ActionResult]] = []
    while True:
        decision, used = decide_now()
        if decision.validate:
            verdicts: dict[str, Validation] = {}
            for slot, value, check in decision.validate:
                verdict = yield NeedVerdict(slot, value, check, view(decision))
                if not isinstance(verdict, Validation):
                    raise TypeError(f"a validator must return a Validation, not {type(verdict).__name__}")
                verdicts[slot] = verdict
                validations.append((slot, value, verdict))
            decision, used = decide_now(verdicts)
        while decision.run and len(actions) < MAX_ACTIONS_PER_TURN:
            result = yield NeedAction(decision.run, view(decision))
            if not isinstance(result, ActionResult):
                raise TypeError(f"an action must return an ActionResult, not {type(result).__name__}")
            actions.append((decision.run, result))
            decision = after_action(decision, result, domain, rng)
        done += used
        # An action's part done, the later parts are answered too ("where is AB123456, and are you
        # open sunday?"), unless the conversation moved on: a question asked, a person, an end.
        moved_on = decision.state.active_form or decision.run or decision.end_session or decision.handoff
        if done >= min(len(parts), MAX_PARTS) or moved_on:
            break
        # What this round said is this round's intent's (an action's messages come untagged).
        earlier = tuple(replace(m, intent=m.intent or decision.intent) for m in decision.messages)
        current = replace(decision.state, turns=state.turns)
    return TurnOutcome(whole, parts, decision, tuple(actions), tuple(validations))


def _keeps_form(whole: Understanding, state: State, domain: Domain, rng: random.Random, now: datetime) -> bool:
    """Whether the message read as a whole leaves its form open (asked with a copy of `rng`, its
    values taken as valid)."""
    trial = random.Random()
    trial.setstate(rng.getstate())
    decision = decide(whole.text, whole.prediction, whole.entities, state, domain, trial, now=now)
    if decision.validate:
        valid = {slot: Validation.accept(value) for slot, value, _ in decision.validate}
        decision = decide(whole.text, whole.prediction, whole.entities, state, domain, trial, valid, now=now)
    return decision.state.active_form == state.active_form


def _understood(answer: Answer) -> list[Understanding]:
    if not isinstance(answer, list):
        raise TypeError(f"understanding must be a list of Understanding, not {type(answer).__name__}")
    return answer


def play_turn(
    text: str,
    state: State,
    domain: Domain,
    understand: Understand,
    rng: random.Random,
    run_action: RunAction,
    validate: Validate,
    multi_intent: bool = True,
    session_id: str = "local",
    *,
    now: datetime,
) -> TurnOutcome:
    """Everything a turn decides, with plain functions for understanding, validators and actions."""
    steps = turn_steps(text, state, domain, rng, multi_intent, session_id, now=now)
    answer: Answer | None = None
    try:
        while True:
            need = steps.send(answer)  # type: ignore[arg-type]  # the first send is None
            if isinstance(need, NeedUnderstanding):
                answer = understand(list(need.texts))
            elif isinstance(need, NeedVerdict):
                answer = validate(need.check, need.value, need.view)
            else:
                answer = run_action(need.name, need.view)
    except StopIteration as done:
        outcome: TurnOutcome = done.value
        return outcome


async def play_turn_async(
    text: str,
    state: State,
    domain: Domain,
    understand: Callable[[list[str]], Awaitable[list[Understanding]]],
    rng: random.Random,
    run_action: Callable[[str, TurnView], Awaitable[ActionResult]],
    validate: Callable[[str, Any, TurnView], Awaitable[Validation]],
    multi_intent: bool = True,
    session_id: str = "local",
    *,
    now: datetime,
) -> TurnOutcome:
    """`play_turn` for the service: understanding, validators and actions are awaited."""
    steps = turn_steps(text, state, domain, rng, multi_intent, session_id, now=now)
    answer: Answer | None = None
    try:
        while True:
            need = steps.send(answer)  # type: ignore[arg-type]  # the first send is None
            if isinstance(need, NeedUnderstanding):
                answer = await understand(list(need.texts))
            elif isinstance(need, NeedVerdict):
                answer = await validate(need.check, need.value, need.view)
            else:
                answer = await run_action(need.name, need.view)
    except StopIteration as done:
        outcome: TurnOutcome = done.value
        return outcome
