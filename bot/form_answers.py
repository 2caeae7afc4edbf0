"""How a message stands to the open form: an answer, a question about something else, a
request that leaves it. Predicates of `bot.dialogue`'s rules, pure like it."""

from __future__ import annotations

from bot.domain import Intent
from bot.entity_merge import is_learned
from bot.forms import Turn

LEAVING_CONFIDENCE = 0.5
"""Torn between a task and a cancel ("never mind, cancel X instead"), the task must still be
at least this likely to leave a form for it."""
FREE_TEXT_REFUSAL = 0.6
"""Least confidence in another intent for a free-text question's reply not to be the answer."""


def asks_about_other(t: Turn, form: Intent, other: Intent) -> bool:
    """A sure question for an intent without slots: its value answers the question, not the form."""
    return (
        t.sure()
        and other.name != form.name
        and not other.slots
        and bool(t.filled or t.broken)
        and t.is_question()
        and not is_answer_intent(t)
    )


def not_answered_for(t: Turn, wanted: str, other: Intent) -> bool:
    """The message does not fill the question's slot, or fills it for the other request too:
    "it arrived scratched" answers "what's the reason?" however much it sounds like tracking,
    while "cancel order NW-204518 instead" gives the order to the cancellation."""
    return wanted not in t.filled or wanted in other.slots


def unguess_inside_free_text(t: Turn, wanted: str) -> None:
    """A free-text answer (an address) is the answer whole: what the entity tagger guessed
    inside it ("LS1" an order, "12 Baker Street" a date) fills no other slot."""
    for name in sorted(t.filled - {wanted}):
        entity = t.domain.slots[name].entity
        guessed = [e for e in t.entities if e.entity == entity and is_learned(e)]
        if guessed and t.slots.get(name) == guessed[0].value:
            t.filled.discard(name)
            if name in t.state.slots:
                t.slots[name] = t.state.slots[name]
            else:
                t.slots.pop(name, None)


def is_answer_intent(t: Turn) -> bool:
    forms = t.domain.forms
    return t.means((*forms.affirm_intents, *forms.cancel_intents, *forms.correct_intents, *forms.missing_intents))


def leaving_for(t: Turn, form: Intent) -> bool:
    """Sure of another intent, or torn only between it and a cancel ("never mind, cancel X instead")."""
    p = t.prediction
    runner_up = p.runner_up[0] if p.runner_up else None
    torn_with_cancel = (
        not p.is_fallback and p.confidence >= LEAVING_CONFIDENCE and runner_up in t.domain.forms.cancel_intents
    )
    sure = t.sure() or torn_with_cancel
    return sure and p.intent != form.name


def refuses_free_text(t: Turn, form: Intent) -> bool:
    """A free-text answer (a name, an address) is refused only for another intent that is sure
    and likely: any text scores something, and an address is no request to track an order.
    Torn between two other intents, both likely ("thanks, bye"), it is no answer either."""
    p = t.prediction
    if p.confidence < FREE_TEXT_REFUSAL:
        return False
    if _sure_of_other(t, form):
        return True
    runner_up = p.runner_up
    if not p.ambiguous or p.is_fallback or runner_up is None or runner_up[1] < FREE_TEXT_REFUSAL:
        return False
    return form.name not in (p.intent, runner_up[0])


def _sure_of_other(t: Turn, form: Intent) -> bool:
    """The classifier is sure of an intent other than the form's: a free-text answer it is not."""
    return t.sure() and t.prediction.intent != form.name


def confident_other(t: Turn, form: Intent) -> bool:
    """The user turned to another intent: the classifier is sure of it, or hesitates only
    between it and the active form itself ("no, don't cancel it" while cancelling), or between
    two ways of saying the same here ("ой, всё, не надо": a stop or a no, both cancel the form)."""
    p = t.prediction
    runner_up = p.runner_up[0] if p.runner_up else None
    cancels = t.domain.forms.cancel_intents
    same = p.intent in cancels and runner_up in cancels
    return not p.is_fallback and p.intent != form.name and (not p.ambiguous or runner_up == form.name or same)
