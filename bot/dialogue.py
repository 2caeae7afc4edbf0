"""The dialogue policy: a pure function from (prediction, entities, state, domain) to a decision.

Nothing here touches the network, the database or the clock, so every rule is tested with
plain tables (tests/test_dialogue.py). The rules, in the order they apply inside a form:

1. a yes to the form's confirmation finishes it;
2. a question about something else ("opening hours on saturday?") is answered and its value
   is not taken for the form; the form's question follows;
3. "I don't have it" goes where the form's `on_missing:` says;
4. a request for another task (sure, with words besides the values) leaves the form, saying so;
5. a value for the form is taken, whatever the words sound like;
6. a cancel closes the form; another form starts; any other sure intent is a digression;
7. anything else is a wrong answer: asked again, and from the second one on with ways out.

A value that breaks its slot's constraint (`future:`, `weekdays:`, `between:`, `min:`/`max:`,
`choices:`) fills nothing: the constraint's message asks for it again, a wrong answer like any other.
So does one the slot's validator (`validate:`) refuses, with the validator's message.

Outside a form, a value for the form just finished ("actually, make it friday") corrects it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from bot.actions.results import ActionMessage, ActionResult, Validation
from bot.domain import Domain, Intent
from bot.form_answers import (
    asks_about_other,
    confident_other,
    is_answer_intent,
    leaving_for,
    not_answered_for,
    refuses_free_text,
    unguess_inside_free_text,
)
from bot.forms import (
    CONFIRMATION,
    HANDOFF,
    INTENT_PAYLOAD_PREFIX,
    STUCK_AFTER,
    Decision,
    Say,
    State,
    Turn,
    ask,
    buttons,
    continue_form,
    fill,
    fill_from_entities,
    first_intent,
    intent_buttons,
    refuse_broken,
    respond,
    shown,
    start_form,
    stuck,
)
from bot.understanding import Entity, Prediction

__all__ = [
    "CONFIRMATION",
    "INTENT_PAYLOAD_PREFIX",
    "PLAUSIBLE",
    "Decision",
    "Part",
    "Say",
    "State",
    "after_action",
    "decide",
    "decide_parts",
]

PLAUSIBLE = 0.25
"""Least confidence (the calibrated chance of being right) for a "did you mean" button: below
a one-in-four chance, suggestions for off-topic text were mostly nonsense, and the fallback's
own buttons help more."""
MAX_PARTS = 3
"""At most this many requests of one message are answered."""

Part = tuple[str, Prediction, Sequence[Entity]]
"""One understood clause of a message: its text, prediction and entities."""


def decide(
    text: str,
    prediction: Prediction,
    entities: Sequence[Entity],
    state: State,
    domain: Domain,
    rng: random.Random,
    verdicts: Mapping[str, Validation] | None = None,
    *,
    now: datetime,
) -> Decision:
    """Choose the bot's reply and the session's next state for one user message.

    `now` is the aware moment of the turn in the session's time zone: slot constraints such
    as `future:` are checked against it. When a value arrives for a slot with `validate:`, the
    decision asks for the check (`Decision.validate`); call again with `verdicts` (slot ->
    `Validation`) to go on."""
    if now.tzinfo is None:
        raise ValueError("decide needs an aware `now` in the session's time zone: datetime.now(ZoneInfo(...))")
    slots = dict(state.slots)
    t = Turn(text, prediction, entities, state, domain, rng, slots, fill_from_entities(entities, domain, slots))
    form = domain.intents.get(state.active_form) if state.active_form else None
    wanted = state.requested_slot if form else None
    spec = domain.slots.get(wanted) if wanted else None
    if form and wanted and spec and spec.type == "text" and wanted not in t.filled and not refuses_free_text(t, form):
        slots[wanted] = text.strip()
        t.filled.add(wanted)
        t.free_text = True
        unguess_inside_free_text(t, wanted)
    refuse_broken(t, now)
    pending = tuple(
        (name, slots[name], check)
        for name in sorted(t.filled)
        if (check := domain.slots[name].validator) and (verdicts is None or name not in verdicts)
    )
    if pending:
        return Decision((), state, None if prediction.is_fallback else prediction.intent, "validate", validate=pending)
    for name, verdict in (verdicts or {}).items():
        if name not in t.filled:
            continue
        if verdict.accepted:
            slots[name] = slots[name] if verdict.value is None else verdict.value
            continue
        t.filled.discard(name)
        t.rejected[name] = verdict.message or domain.forms.invalid
        if name in state.slots and form is not None:  # inside a form a refused change keeps the value;
            slots[name] = state.slots[name]  # a new request with a refused value asks for it, not the old one
        else:
            slots.pop(name, None)
    if form is not None and wanted is not None:
        return _in_form(t, form, wanted)
    return _outside(t)


def decide_parts(
    parts: Sequence[Part],
    state: State,
    domain: Domain,
    rng: random.Random,
    verdicts: Mapping[str, Validation] | None = None,
    *,
    now: datetime,
) -> tuple[Decision, int]:
    """Answer the requests of one message in order ("thanks, bye"), at most `MAX_PARTS`.

    Stops at a part whose decision needs the service (an action to run, values to validate):
    its decision comes back with the earlier parts' messages first, with the number of parts it
    took (that one included), so that the turn can go on with the rest after the action."""
    before: tuple[Say, ...] = ()
    decision: Decision | None = None
    used = 0
    for text, prediction, entities in parts[:MAX_PARTS]:
        turn_state = state if decision is None else replace(decision.state, turns=state.turns)
        decision = decide(text, prediction, entities, turn_state, domain, rng, verdicts, now=now)
        tagged = tuple(replace(m, intent=m.intent or decision.intent) for m in decision.messages)
        decision = replace(decision, messages=(*before, *tagged))
        used += 1
        if decision.run or decision.validate:
            break
        before = decision.messages
    if decision is None:
        raise ValueError("decide_parts needs at least one part")
    return decision, used


def after_action(decision: Decision, result: ActionResult, domain: Domain, rng: random.Random) -> Decision:
    """Apply what the action the decision asked for did: its messages, slots and next step.

    A failed action gets the intent's responses or `actions_failed:`; the session stays usable."""
    intent = domain.intents.get(decision.intent or "")
    slots = dict(decision.state.slots)
    before = dict(slots)
    if not result.failed:
        if result.reset_slots:
            slots = {k: v for k, v in slots.items() if k in domain.slots and domain.slots[k].scope == "user"}
        for name, value in result.set_slots.items():  # None clears a slot
            if value is None:
                slots.pop(name, None)
            else:
                slots[name] = value
        messages = tuple(_say(m) for m in result.messages)
        if not messages and intent is not None and intent.responses:
            messages = (respond(intent, slots, rng, domain),)
    else:
        messages = (respond(intent, slots, rng, domain),) if intent is not None and intent.responses else ()
        messages = messages or (Say(domain.actions_failed),)
    changed = {k: slots.get(k) for k in before.keys() | slots.keys() if before.get(k) != slots.get(k)}
    logged = {k: v for k, v in result.as_log().items() if k != "slots_changed"}
    call = {**logged, "name": decision.run, "slots": changed}  # the values it changed, not only their names
    state = replace(decision.state, active_form=None, requested_slot=None, failures=0, slots=slots)
    done = replace(
        decision,
        messages=(*decision.messages, *messages),
        state=state,
        action_call=call,
        run=None,
        end_session=result.end_session,
        handoff=result.handoff,
    )
    followup = domain.intents.get(result.followup or "") if not result.failed else None
    if followup is None:
        return done
    t = Turn("", _certain(followup.name), (), replace(state, turns=state.turns - 1), domain, rng, slots, set())
    started = _begin(followup, t, done.messages)
    return replace(started, action_call=call, end_session=result.end_session, handoff=result.handoff)


# -- inside a form ---------------------------------------------------------------------------


def _in_form(t: Turn, form: Intent, wanted: str) -> Decision:
    forms = t.domain.forms
    p = t.prediction
    if wanted == CONFIRMATION and t.means(forms.affirm_intents):
        return continue_form(form, t, confirmed=True)
    other = t.domain.intents.get(p.intent) if not p.is_fallback else None
    if other is not None and asks_about_other(t, form, other):
        t.slots = dict(t.state.slots)  # its value belongs to the question, not to the form
        return _digression(t, form, wanted, other)
    if t.means(forms.missing_intents) and not t.filled & form.slots.keys():
        return _missing(t, form, wanted)
    leaving = (
        leaving_for(t, form)
        and not t.free_text
        and other is not None
        and other.slots
        and other.name != form.name
        and not_answered_for(t, wanted, other)
    )
    if leaving and other is not None and t.words_besides_values() >= 2 and not is_answer_intent(t):
        return _start_or_respond(other, t, (_dropped(t, form),))
    given = t.filled & form.slots.keys()
    if given or ((t.rejected.keys() | t.broken.keys()) & form.slots.keys()):
        decision = continue_form(form, t)
        if decision.state.requested_slot == wanted != CONFIRMATION and wanted not in t.rejected and given:
            human = shown(t.slots, t.domain)
            noted = ", ".join(str(human[n]) for n in form.slots if n in t.filled)
            first = decision.messages[0]
            text = f"{fill(forms.noted, {'values': noted})} {first.text}"
            decision = replace(decision, messages=(replace(first, text=text), *decision.messages[1:]))
        return decision
    if confident_other(t, form) and not t.means(forms.affirm_intents) and t.has_letters() and other is not None:
        if t.means(forms.cancel_intents):
            state = State(slots=t.slots, turns=t.turns, last_form=t.state.last_form)
            return Decision((Say(forms.cancelled),), state, other.name, "form_cancelled")
        if t.means(forms.goodbye_intents):  # "bye" mid-form: no question after the goodbye
            state = State(slots=t.slots, turns=t.turns, last_form=t.state.last_form)
            reply = respond(other, t.slots, t.rng, t.domain)
            return Decision((_dropped(t, form), reply), state, other.name, "form_cancelled")
        if other.slots or other.action:
            return _start_or_respond(other, t, (_dropped(t, form),))
        return _digression(t, form, wanted, other)
    return _wrong_answer(t, form, wanted)


def _digression(t: Turn, form: Intent, wanted: str, other: Intent) -> Decision:
    """Answer the other request, then ask the pending question again."""
    state = replace(t.state, slots=t.slots, turns=t.turns)
    question = ask(form, wanted, t.slots, t.domain)
    if other.action:  # an action cannot run inside the form's turn: answer with its responses
        reply = respond(other, t.slots, t.rng, t.domain) if other.responses else Say(t.domain.actions_failed)
    else:
        reply = respond(other, t.slots, t.rng, t.domain)
    return Decision((reply, question), state, other.name, "reask")


def _wrong_answer(t: Turn, form: Intent, wanted: str) -> Decision:
    """The same question again: prefixed with what was wrong, then with the ways out."""
    question = ask(form, wanted, t.slots, t.domain)
    restated = t.means((form.name,))
    failures = t.state.failures if restated else t.state.failures + 1
    if failures >= STUCK_AFTER and wanted != CONFIRMATION:
        question = stuck(form, wanted, t)
    elif not restated:
        note = t.rejected.get(wanted, t.domain.forms.invalid)
        question = replace(question, text=f"{note} {question.text}".strip())
    state = replace(t.state, slots=t.slots, turns=t.turns, failures=failures)
    return Decision((question,), state, form.name, "reask")


def _missing(t: Turn, form: Intent, wanted: str) -> Decision:
    """ "I don't have it": the form's `on_missing:` intent, a person, its reply, or the missing intent's own answer."""
    closed = State(slots=t.slots, turns=t.turns, last_form=t.state.last_form)
    target = form.on_missing
    said = t.domain.intents[t.prediction.intent]
    if target == HANDOFF:
        person = first_intent(t.domain, t.domain.forms.handoff_intents)
        reply = respond(t.domain.intents[person], t.slots, t.rng, t.domain) if person else Say(t.domain.forms.cancelled)
        return Decision((reply,), closed, person or said.name, "form_cancelled", handoff=f"{form.name}: no {wanted}")
    if target in t.domain.intents:
        return _start_or_respond(t.domain.intents[target], replace(t, state=closed))
    if target:
        return Decision((Say(fill(target, t.slots, t.domain)),), closed, said.name, "form_cancelled")
    reply = respond(said, t.slots, t.rng, t.domain) if said.responses else Say(t.domain.forms.cancelled)
    return Decision((reply,), closed, said.name, "form_cancelled")


def _dropped(t: Turn, form: Intent) -> Say:
    return Say(fill(t.domain.forms.dropped, {"title": form.title}), intent=form.name)


# -- outside a form --------------------------------------------------------------------------


def _outside(t: Turn) -> Decision:
    p, domain = t.prediction, t.domain
    last = domain.intents.get(t.state.last_form or "")
    correcting = p.is_fallback or t.means(domain.forms.correct_intents) or _follows_up(t, last)
    if last is not None and (t.filled | t.broken.keys()) & last.slots.keys() and correcting:
        return replace(_begin(last, t), correcting=True)  # "actually, make it friday": the form just finished
    if p.is_fallback or p.intent not in domain.answerable:
        response = t.rng.choice(domain.fallback.responses)
        offered = _did_you_mean(p, domain) if p.ambiguous else ()
        state = State(slots=t.slots, turns=t.turns, last_form=t.state.last_form)
        reply = Say(fill(response.text, t.slots, domain), offered or buttons(response))
        return Decision((reply,), state, None, "fallback")
    return _start_or_respond(domain.intents[p.intent], t)


def _follows_up(t: Turn, last: Intent | None) -> bool:
    """Only new values for the form just finished ("а можно в 15?" after the booking, "а
    телефоны?" after a stock answer): that form again with them, whatever the classifier says of
    so few words; "I'd like to book an installation" is a request of its own."""
    if last is None or not t.filled or not t.filled <= last.slots.keys() or not t.only_values():
        return False
    return any(t.state.slots.get(name) != t.slots.get(name) for name in t.filled)


def _start_or_respond(intent: Intent, t: Turn, before: tuple[Say, ...] = ()) -> Decision:
    if intent.slots:
        return start_form(intent, t, before)
    return _begin(intent, t, before)


def _begin(intent: Intent, t: Turn, before: tuple[Say, ...] = ()) -> Decision:
    """An intent from its start: a form asks what it lacks; otherwise its answer or its action."""
    if intent.slots:
        return continue_form(intent, t, before)
    state = State(slots=t.slots, turns=t.turns, last_form=t.state.last_form)
    if intent.action:
        return Decision(before, state, intent.name, "respond", run=intent.action)
    return Decision((*before, respond(intent, t.slots, t.rng, t.domain)), state, intent.name, "respond")


def _did_you_mean(prediction: Prediction, domain: Domain) -> tuple[tuple[str, str], ...]:
    """Buttons for the two best intents, if both are plausible: two near-zero scores are
    close to each other, but neither is what the user meant."""
    names = [name for name, score in prediction.ranking if name in domain.answerable and score >= PLAUSIBLE][:2]
    return intent_buttons(domain, names) if len(names) == 2 else ()


def _say(message: ActionMessage) -> Say:
    return Say(message.text, message.buttons, image=message.image, image_alt=message.image_alt, link=message.link)


def _certain(name: str) -> Prediction:
    return Prediction.certain(name)
