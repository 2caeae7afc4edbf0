"""The dialogue policy: a pure function from (prediction, entities, state, domain) to a decision.

Nothing here touches the network, the database or the clock, so every rule is tested with
plain tables (tests/test_dialogue.py).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain import Domain, Intent, Response
from bot.understanding import Entity, Prediction

INTENT_PAYLOAD_PREFIX = "/"
"""A button payload `/intent_name` triggers that intent directly (no classification)."""
_LETTER = re.compile(r"[^\W\d_]")
CONFIRMATION = "?confirm"
"""`State.requested_slot` while a form waits for the yes or no to its `confirm:` question."""
PLAUSIBLE = 0.25
"""Least confidence (the calibrated chance of being right) for a "did you mean" button: below
a one-in-four chance, suggestions for off-topic text were mostly nonsense, and the fallback's
own buttons help more."""


@dataclass(frozen=True)
class State:
    """What a session remembers between turns."""

    active_form: str | None = None
    requested_slot: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    turns: int = 0


@dataclass(frozen=True)
class Say:
    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    """(title, payload) pairs for quick replies."""
    intent: str | None = None
    """The intent this message serves when it is not the decision's: the form's question
    repeated after a digression."""


@dataclass(frozen=True)
class Decision:
    messages: tuple[Say, ...]
    state: State
    intent: str | None
    """The intent the bot acted on; None for a fallback."""
    action: str
    """respond, ask, confirm, reask, form_done, form_cancelled or fallback: for logs and analysis."""
    action_call: Mapping[str, Any] | None = None
    """The action the replies came from, as logged: name, outcome, latency_ms, slots it changed."""


def decide(
    text: str,
    prediction: Prediction,
    entities: Sequence[Entity],
    state: State,
    domain: Domain,
    rng: random.Random,
) -> Decision:
    """Choose the bot's reply and the session's next state for one user message."""
    slots = dict(state.slots)
    filled = _fill_from_entities(entities, domain, slots)
    turns = state.turns + 1

    if state.active_form and state.active_form in domain.intents:
        form = domain.intents[state.active_form]
        wanted = state.requested_slot
        if wanted == CONFIRMATION and _means(prediction, domain.forms.affirm_intents):
            return _continue_form(form, slots, turns, domain, rng, confirmed=True)
        spec = domain.slots.get(wanted) if wanted else None
        if wanted and spec and spec.type == "text" and wanted not in filled and not _sure_of_other(prediction, form):
            slots[wanted] = text.strip()
            filled.add(wanted)
        if filled & form.slots.keys():  # a value for the form outweighs what the words sound like
            return _continue_form(form, slots, turns, domain, rng)
        # "yes" is no order number, and a bare "31/02" is a wrong date, not a new request
        if (
            _confident_other(prediction, form)
            and not _means(prediction, domain.forms.affirm_intents)
            and _LETTER.search(text)
        ):
            if _means(prediction, domain.forms.cancel_intents):
                return Decision(
                    (Say(domain.forms.cancelled),), State(slots=slots, turns=turns), prediction.intent, "form_cancelled"
                )
            other = domain.intents[prediction.intent]
            if other.slots:  # what the abandoned form was told still holds ("where is that order?")
                return _start_form(other, filled | (form.slots.keys() & slots.keys()), slots, turns, domain, rng)
            # A digression: answer it, then ask the pending question again.
            messages = (
                (_respond(other, slots, rng), replace(_ask(form, wanted, slots, domain), intent=form.name))
                if wanted
                else (_respond(other, slots, rng),)
            )
            return Decision(messages, replace(state, slots=slots, turns=turns), other.name, "reask")
        question = _ask(form, wanted, slots, domain) if wanted else Say("")
        if not _means(prediction, (form.name,)):  # not the user restating what they asked for
            question = replace(question, text=f"{domain.forms.invalid} {question.text}".strip())
        return Decision((question,), replace(state, slots=slots, turns=turns), form.name, "reask")

    if prediction.is_fallback or prediction.intent not in domain.answerable:
        response = rng.choice(domain.fallback.responses)
        buttons = _did_you_mean(prediction, domain) if prediction.ambiguous else ()
        return Decision(
            (Say(_fill(response.text, slots), buttons or _buttons(response)),),
            State(slots=slots, turns=turns),
            None,
            "fallback",
        )

    intent = domain.intents[prediction.intent]
    if intent.slots:
        return _start_form(intent, filled, slots, turns, domain, rng)
    return Decision((_respond(intent, slots, rng),), State(slots=slots, turns=turns), intent.name, "respond")


def _start_form(
    form: Intent, filled: set[str], slots: dict[str, Any], turns: int, domain: Domain, rng: random.Random
) -> Decision:
    """Begin a form afresh: session slots it requires are asked again unless just given, with
    the value they had as a button, so that the order just talked about is one tap away."""
    earlier = {}
    for name in form.slots:
        if domain.slots[name].scope == "session" and name not in filled and name in slots:
            earlier[name] = str(slots.pop(name))
    decision = _continue_form(form, slots, turns, domain, rng, starting=True)
    offer = earlier.get(decision.state.requested_slot or "")
    if decision.action != "ask" or offer is None:
        return decision
    question = decision.messages[-1]
    return replace(
        decision, messages=(*decision.messages[:-1], replace(question, buttons=(*question.buttons, (offer, offer))))
    )


def _continue_form(
    form: Intent,
    slots: dict[str, Any],
    turns: int,
    domain: Domain,
    rng: random.Random,
    starting: bool = False,
    confirmed: bool = False,
) -> Decision:
    missing = [name for name in form.slots if name not in slots]
    if missing or (form.confirm and not confirmed):
        wanted = missing[0] if missing else CONFIRMATION
        state = State(active_form=form.name, requested_slot=wanted, slots=slots, turns=turns)
        return Decision((_ask(form, wanted, slots, domain),), state, form.name, "ask" if missing else "confirm")
    action = "respond" if starting and not form.confirm else "form_done"
    return Decision((_respond(form, slots, rng),), State(slots=slots, turns=turns), form.name, action)


def _ask(form: Intent, wanted: str, slots: Mapping[str, Any], domain: Domain) -> Say:
    """The question for a slot, or the form's yes/no question with buttons for both answers."""
    if wanted != CONFIRMATION:
        return Say(form.slots[wanted])
    answers = [
        next((n for n in names if n in domain.intents), None)
        for names in (domain.forms.affirm_intents, domain.forms.cancel_intents)
    ]
    buttons = tuple((domain.intents[n].title, INTENT_PAYLOAD_PREFIX + n) for n in answers if n is not None)
    return Say(_fill(form.confirm or "", slots), buttons)


def _means(prediction: Prediction, intents: Sequence[str]) -> bool:
    return not prediction.is_fallback and prediction.intent in intents


def _sure_of_other(prediction: Prediction, form: Intent) -> bool:
    """The classifier is sure of an intent other than the form's: a free-text answer it is not."""
    return not prediction.is_fallback and prediction.intent != form.name and not prediction.ambiguous


def _confident_other(prediction: Prediction, form: Intent) -> bool:
    """The user turned to another intent: the classifier is sure of it, or hesitates only
    between it and the active form itself ("no, don't cancel it" while cancelling)."""
    runner_up = prediction.ranking[1][0] if len(prediction.ranking) > 1 else None
    return (
        not prediction.is_fallback
        and prediction.intent != form.name
        and (not prediction.ambiguous or runner_up == form.name)
    )


def _fill_from_entities(entities: Sequence[Entity], domain: Domain, slots: dict[str, Any]) -> set[str]:
    """Set every slot whose entity the message contains; return the names filled."""
    filled: set[str] = set()
    for name, spec in domain.slots.items():
        for entity in entities:
            if spec.entity == entity.entity:
                slots[name] = entity.value
                filled.add(name)
                break
    return filled


def _respond(intent: Intent, slots: Mapping[str, Any], rng: random.Random) -> Say:
    """A response variation whose slots are all known, chosen at random."""
    usable = [r for r in intent.responses if r.slot_names <= slots.keys()] or list(intent.responses)
    response = rng.choice(usable)
    return Say(_fill(response.text, slots), _buttons(response))


def _buttons(response: Response) -> tuple[tuple[str, str], ...]:
    return tuple((b.title, b.payload) for b in response.buttons)


def _did_you_mean(prediction: Prediction, domain: Domain) -> tuple[tuple[str, str], ...]:
    """Buttons for the two best intents, if both are plausible: two near-zero scores are
    close to each other, but neither is what the user meant."""
    names = [name for name, score in prediction.ranking if name in domain.answerable and score >= PLAUSIBLE][:2]
    return tuple((domain.intents[n].title, INTENT_PAYLOAD_PREFIX + n) for n in names) if len(names) == 2 else ()


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, slots: Mapping[str, Any]) -> str:
    if "{" not in template:
        return template
    return string.Formatter().vformat(template, (), _Blank(slots))
