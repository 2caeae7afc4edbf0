"""One turn of the dialogue from text to final decision, with understanding and actions given
as plain callables: the order of steps the service follows, runnable in-process by the
conversation tests and the benchmarks.

understand -> (several requests? classify each clause) -> decide -> validate values ->
decide again -> run the action -> after_action (a follow-up may ask for another action).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.actions.results import ActionResult, TurnView, Validation
from bot.clauses import answer_separately, split_clauses
from bot.dialogue import INTENT_PAYLOAD_PREFIX, Decision, State, after_action, decide, decide_parts
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


def understand_one(text: str, domain: Domain, understand: Understand) -> Understanding:
    """A button's `/intent` payload names its intent; anything else is classified."""
    name = text.strip().removeprefix(INTENT_PAYLOAD_PREFIX)
    if text.startswith(INTENT_PAYLOAD_PREFIX) and name in domain.answerable:
        return Understanding(text, name, [], Prediction.certain(name))
    return understand([text])[0]


def clause_parts(
    text: str, whole: Understanding, state: State, domain: Domain, understand: Understand
) -> tuple[Understanding, ...]:
    """The clauses to answer one by one, or () to answer the message as a whole."""
    if state.active_form is not None or text.startswith(INTENT_PAYLOAD_PREFIX):
        return ()
    clauses = split_clauses(text, domain.language)
    if len(clauses) < 2:
        return ()
    parts = understand(clauses)
    separately = answer_separately(whole.prediction, [u.prediction for u in parts], domain, in_form=False)
    return tuple(parts) if separately else ()


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
) -> TurnOutcome:
    """Everything a turn decides, with the actions and validators it called."""
    whole = understand_one(text, domain, understand)
    parts = clause_parts(text, whole, state, domain, understand) if multi_intent else ()

    def decide_now(verdicts: dict[str, Validation] | None = None) -> Decision:
        if parts:
            return decide_parts([(u.text, u.prediction, u.entities) for u in parts], state, domain, rng, verdicts)
        return decide(text, whole.prediction, whole.entities, state, domain, rng, verdicts)

    def view(decision: Decision) -> TurnView:
        p = whole.prediction
        return TurnView(
            text=text,
            intent=decision.intent,
            confidence=p.confidence,
            entities=tuple(whole.entities),
            slots=dict(decision.state.slots),
            session_id=session_id,
            language=domain.language,
            active_form=decision.state.active_form,
            requested_slot=decision.state.requested_slot,
        )

    decision = decide_now()
    validations: list[tuple[str, Any, Validation]] = []
    if decision.validate:
        verdicts = {slot: validate(check, value, view(decision)) for slot, value, check in decision.validate}
        validations = [(slot, value, verdicts[slot]) for slot, value, _ in decision.validate]
        decision = decide_now(verdicts)
    actions: list[tuple[str, ActionResult]] = []
    while decision.run and len(actions) < MAX_ACTIONS_PER_TURN:
        result = run_action(decision.run, view(decision))
        actions.append((decision.run, result))
        decision = after_action(decision, result, domain, rng)
    return TurnOutcome(whole, parts, decision, tuple(actions), tuple(validations))
