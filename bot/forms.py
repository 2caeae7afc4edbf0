"""Form mechanics for the dialogue policy: the values of a turn, questions, starting and finishing.

Pure functions over plain values (no network, no clock); `bot.dialogue` chooses which to apply.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.actions.results import Link
from bot.constraints import violation
from bot.domain import Domain, Intent, Response
from bot.understanding import Entity, Prediction
from bot.values.humanize import readable

INTENT_PAYLOAD_PREFIX = "/"
"""A button payload `/intent_name` triggers that intent directly (no classification)."""
CONFIRMATION = "?confirm"
"""`State.requested_slot` while a form waits for the yes or no to its `confirm:` question."""
HANDOFF = "handoff"
"""`on_missing: handoff`: a person takes over when the user lacks a value."""
STUCK_AFTER = 2
"""Wrong answers in a row to one question before the bot says what it needs and offers ways out."""
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]{2,}")
_INTERROGATIVES = {
    "en": {"what", "when", "where", "which", "who", "whom", "whose", "why", "how", "do", "does", "did", "is", "are"}
    | {"can", "could", "will", "would", "should", "may", "have", "has"},
    "ru": {"что", "когда", "где", "куда", "какой", "какая", "какие", "каком", "почему", "зачем", "как"}
    | {"сколько", "можно", "ли", "кто", "чем", "откуда"},
}
_FOLLOW_UP_WORDS = {
    "en": {"and", "or", "what", "about", "how", "then", "instead", "can", "we", "it", "do", "is", "make", "maybe"}
    | {"please", "ok", "okay", "so", "actually", "rather", "better", "at", "on", "for", "the", "any", "those"},
    "ru": {"а", "и", "или", "можно", "тогда", "лучше", "давайте", "как", "насчёт", "насчет", "ну", "ли", "ещё"}
    | {"еще", "есть", "на", "в", "во", "к", "пожалуйста", "может", "вот", "эти", "такие", "там"},
}
"""Words that leave a message a bare follow-up of values: "а можно в 15?", "what about 3pm?",
"а телефоны есть?" say nothing but the values."""


@dataclass(frozen=True)
class State:
    """What a session remembers between turns."""

    active_form: str | None = None
    requested_slot: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    turns: int = 0
    failures: int = 0
    """Wrong answers in a row to `requested_slot`: the second gets the way-out buttons."""
    last_form: str | None = None
    """The form finished last: its slots are the context of follow-ups and corrections."""


@dataclass(frozen=True)
class Say:
    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    """(title, payload) pairs for quick replies."""
    intent: str | None = None
    """The intent this message serves when it is not the decision's: the form's question
    repeated after a digression, or one part of a message with several requests."""
    image: str | None = None
    image_alt: str = ""
    link: Link | None = None


@dataclass(frozen=True)
class Decision:
    messages: tuple[Say, ...]
    state: State
    intent: str | None
    """The intent the bot acted on; None for a fallback."""
    action: str
    """respond, ask, confirm, reask, form_done, form_cancelled, fallback or validate: for logs and analysis."""
    action_call: Mapping[str, Any] | None = None
    """The action the replies came from, as logged: name, outcome, latency_ms, slots it changed."""
    run: str | None = None
    """An action the service must run now, then hand its result to `after_action`; the
    messages are only what comes before the action's own."""
    validate: tuple[tuple[str, Any, str], ...] = ()
    """(slot, value, validator) to check before deciding: call `decide` again with the verdicts."""
    end_session: bool = False
    handoff: str | None = None
    """Hand the conversation to a person, for this reason."""
    correcting: bool = False
    """The form finished last was reopened to correct it ("actually, make it friday"): its
    action, run again, should change what it did rather than do it twice (`TurnView.correcting`)."""


@dataclass
class Turn:
    """One message's values while the policy works on it."""

    text: str
    prediction: Prediction
    entities: Sequence[Entity]
    state: State
    domain: Domain
    rng: random.Random
    slots: dict[str, Any]
    filled: set[str]
    rejected: dict[str, str] = field(default_factory=dict)
    """Slot -> the validator's message, for values refused this turn."""
    broken: dict[str, str] = field(default_factory=dict)
    """Slot -> the re-ask message of the constraint its value broke this turn (`future`, `between`...)."""
    free_text: bool = False
    """The whole message was taken as the answer to a free-text question."""

    @property
    def turns(self) -> int:
        return self.state.turns + 1

    def means(self, intents: Sequence[str]) -> bool:
        return not self.prediction.is_fallback and self.prediction.intent in intents

    def sure(self) -> bool:
        return not self.prediction.is_fallback and not self.prediction.ambiguous

    def _other_words(self) -> list[str]:
        """The words of the message outside the values found in it."""
        text = self.text
        for e in sorted(self.entities, key=lambda e: -e.start):
            text = text[: e.start] + " " + text[e.end :]
        return _WORD.findall(text)

    def words_besides_values(self) -> int:
        """Words outside the values found: "monday then" is a value, "cancel order X instead" a request."""
        return len(self._other_words())

    def only_values(self) -> bool:
        """Nothing but values and follow-up words ("а можно в 15?", "and phones?")."""
        words = _FOLLOW_UP_WORDS.get(self.domain.language, set())
        return all(w.lower() in words for w in self._other_words())

    def is_question(self) -> bool:
        words = self.text.strip().lower().split()
        return "?" in self.text or bool(words and words[0] in _INTERROGATIVES.get(self.domain.language, set()))

    def has_letters(self) -> bool:
        return bool(_LETTER.search(self.text))


def fill_from_entities(entities: Sequence[Entity], domain: Domain, slots: dict[str, Any]) -> set[str]:
    """Set every slot whose entity the message contains; return the names filled."""
    filled: set[str] = set()
    if not entities:  # most messages: no slot to look at
        return filled
    for name, spec in domain.slots.items():
        for entity in entities:
            if spec.entity == entity.entity:
                slots[name] = entity.value
                filled.add(name)
                break
    return filled


def refuse_broken(t: Turn, now: datetime) -> None:
    """Values that break their slot's constraints fill nothing: the slot keeps what it had, and
    `t.broken` holds the constraint's message, which asks for the slot again."""
    for name in sorted(t.filled):
        spec = t.domain.slots[name]
        message = violation(spec, t.slots[name], now, t.domain.language) if spec.constraints else None
        if message is None:
            continue
        t.filled.discard(name)
        t.broken[name] = message
        if name in t.state.slots:
            t.slots[name] = t.state.slots[name]
        else:
            t.slots.pop(name, None)


def start_form(form: Intent, t: Turn, before: tuple[Say, ...] = ()) -> Decision:
    """Begin a form: a value known from earlier in the session is used (follow-ups about the
    same order need no number again); a `scope: form` value belongs to its own form only."""
    for name in form.slots:
        if t.domain.slots[name].scope == "form" and name not in t.filled:
            t.slots.pop(name, None)
    return continue_form(form, t, before, starting=True)


def continue_form(
    form: Intent, t: Turn, before: tuple[Say, ...] = (), confirmed: bool = False, starting: bool = False
) -> Decision:
    """Ask the next missing slot, the confirmation, or finish the form."""
    broken = [name for name in form.slots if name in t.broken]
    missing = broken or [name for name in form.slots if name not in t.slots]
    if missing or (form.confirm and not confirmed):
        wanted = missing[0] if missing else CONFIRMATION
        question = ask(form, wanted, t.slots, t.domain)
        note = t.rejected.get(wanted) or " ".join(t.rejected.values())
        refused = wanted in t.broken or wanted in t.rejected  # by a constraint or by the slot's validator
        failures = t.state.failures + 1 if refused and wanted == t.state.requested_slot else 0
        if failures >= STUCK_AFTER:  # the same question refused again: what it needs, with ways out
            question = stuck(form, wanted, t)
        elif wanted in t.broken:  # a wrong answer: the constraint's message asks again itself
            question = replace(question, text=t.broken[wanted])
        elif note:
            question = replace(question, text=f"{note} {question.text}".strip())
        state = State(form.name, wanted, t.slots, t.turns, failures, t.state.last_form)
        return Decision((*before, question), state, form.name, "ask" if missing else "confirm")
    answered_at_once = starting and not form.confirm
    return finish(form, t, before, "respond" if answered_at_once or not form.slots else "form_done")


def finish(form: Intent, t: Turn, before: tuple[Say, ...], label: str) -> Decision:
    """The intent's answer, or the action the service must run for it."""
    last = form.name if form.slots else t.state.last_form
    state = State(slots=t.slots, turns=t.turns, last_form=last)
    if form.action:
        return Decision(before, state, form.name, label, run=form.action)
    return Decision((*before, respond(form, t.slots, t.rng, t.domain)), state, form.name, label)


def ask(form: Intent, wanted: str, slots: Mapping[str, Any], domain: Domain) -> Say:
    """The question for a slot, or the form's yes/no question with buttons for both answers."""
    if wanted != CONFIRMATION:
        return Say(fill(form.slots[wanted], slots, domain), intent=form.name)
    answers = [first_intent(domain, domain.forms.affirm_intents), first_intent(domain, domain.forms.cancel_intents)]
    return Say(fill(form.confirm or "", slots, domain), intent_buttons(domain, answers), intent=form.name)


def stuck(form: Intent, wanted: str, t: Turn) -> Say:
    """What the form needs, with ways out: "I don't have it", cancel, a person."""
    question = ask(form, wanted, t.slots, t.domain)
    forms = t.domain.forms
    cancel = next((n for n in reversed(forms.cancel_intents) if n in t.domain.intents), None)
    ways = [first_intent(t.domain, forms.missing_intents), cancel, first_intent(t.domain, forms.handoff_intents)]
    # A broken constraint's message, or the validator's before the question, says what was wrong.
    asked = t.broken.get(wanted) or " ".join(filter(None, (t.rejected.get(wanted), question.text)))
    text = fill(forms.stuck, {"question": asked})
    return Say(text, (*question.buttons, *intent_buttons(t.domain, ways)), intent=form.name)


def first_intent(domain: Domain, names: Sequence[str]) -> str | None:
    return next((n for n in names if n in domain.intents), None)


def intent_buttons(domain: Domain, names: Sequence[str | None]) -> tuple[tuple[str, str], ...]:
    return tuple((domain.intents[n].title, INTENT_PAYLOAD_PREFIX + n) for n in names if n is not None)


def respond(intent: Intent, slots: Mapping[str, Any], rng: random.Random, domain: Domain) -> Say:
    """A response variation whose slots are all known, chosen at random."""
    usable = [r for r in intent.responses if r.slot_names <= slots.keys()] or list(intent.responses)
    response = rng.choice(usable)
    return Say(fill(response.text, slots, domain), buttons(response))


def buttons(response: Response) -> tuple[tuple[str, str], ...]:
    return tuple((b.title, b.payload) for b in response.buttons)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def fill(template: str, slots: Mapping[str, Any], domain: Domain | None = None) -> str:
    """The template with its `{slot}`s filled; with the domain, built-in values as people write
    them ("Friday 4 December", "15:00") in its language, while the slots keep the ISO values."""
    if "{" not in template:
        return template
    return string.Formatter().vformat(template, (), _Blank(shown(slots, domain) if domain else slots))


def shown(slots: Mapping[str, Any], domain: Domain) -> dict[str, Any]:
    """The slots as a reply shows them: each built-in's value humanized, anything else as it is."""
    out = dict(slots)
    for name, value in slots.items():
        spec = domain.slots.get(name)
        entity = domain.entities.get(spec.entity or "") if spec is not None else None
        if entity is not None and entity.builtin is not None:
            out[name] = readable(entity.builtin, value, domain.language)
    return out
