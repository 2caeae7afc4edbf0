"""Several requests in one message ("thanks, bye", "hi, where is my order?"): where to split,
and when each part is answered on its own.

`split_clauses` is pure text work; the caller classifies each part (one batch) and asks
`answer_separately` whether the parts beat the message as a whole. Light: no spaCy, no numpy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain import Domain
from bot.understanding import Prediction

MIN_PART_CONFIDENCE = 0.5
"""Each part's intent must be at least this likely: a clause classified on a coin toss is
better left to the whole message's prediction."""
MAX_CLAUSES = 3

_CONJUNCTIONS = {
    "en": ("and then", "and also", "and", "then", "also", "plus", "but"),
    "ru": ("а потом", "и ещё", "и еще", "и", "а", "потом", "затем", "ещё", "еще", "также", "но"),
}
# Sentence punctuation followed by a space or the end: "10.30" and "1,5" stay whole.
_PUNCTUATION = r"(?<=[,;.!?])\s+|(?<=[;!?])(?=\S)"
_LETTER = re.compile(r"[^\W\d_]")


def _splitter(language: str) -> re.Pattern[str]:
    words = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in _CONJUNCTIONS.get(language, ()))
    return re.compile(rf"{_PUNCTUATION}|\s+(?:{words})\s+" if words else _PUNCTUATION, re.IGNORECASE)


_SPLITTERS = {language: _splitter(language) for language in _CONJUNCTIONS}


def split_clauses(text: str, language: str) -> list[str]:
    """The clauses of a message, each with letters; `[text]` when there is only one."""
    pattern = _SPLITTERS.get(language) or _splitter(language)
    pieces = pattern.split(text.strip())
    if len(pieces) == 1:  # nowhere to split: most messages
        return [text]
    parts = [p.strip(" ,;.!") for p in pieces]
    clauses = [p for p in parts if _LETTER.search(p)]
    return clauses if len(clauses) > 1 else [text]


def answer_separately(whole: Prediction, parts: Sequence[Prediction], domain: Domain, in_form: bool = False) -> bool:
    """Answer each part on its own: 2-3 parts, each sure of a different answerable intent.

    Never inside a form (the clauses there are an answer and its comment), and never when a part
    is a yes, a no, a correction or "I don't have it": those qualify the rest of the sentence
    ("no, don't cancel it"). `whole` is the message's own prediction, kept for the rule's callers."""
    if in_form or not 2 <= len(parts) <= MAX_CLAUSES:
        return False
    names = [p.intent for p in parts]
    return all(_request(p, domain) for p in parts) and len(set(names)) == len(names)


def leave_form_then_answer(parts: Sequence[Prediction], domain: Domain, form: str) -> bool:
    """Inside a form, "never mind, what time do you close?": a sure cancellation first, then
    requests the classifier is sure of, none of them the form itself or a yes, no or correction
    ("no, friday instead" stays an answer). The caller drops the form and answers the rest where
    the message as a whole would keep the form going."""
    if not 2 <= len(parts) <= MAX_CLAUSES:
        return False
    first, rest = parts[0], parts[1:]
    cancels = domain.forms.cancel_intents
    runner_up = first.runner_up[0] if first.runner_up else None
    cancelling = (
        not first.is_fallback
        and first.confidence >= MIN_PART_CONFIDENCE
        and first.intent in cancels
        and (not first.ambiguous or runner_up in cancels)
    )
    return cancelling and all(_request(p, domain) and p.intent != form for p in rest)


def _request(p: Prediction, domain: Domain) -> bool:
    """A part sure of an answerable intent that is not a yes, a no, a correction or "I don't have it"."""
    forms = domain.forms
    qualifiers = {*forms.affirm_intents, *forms.cancel_intents, *forms.correct_intents, *forms.missing_intents}
    return (
        not p.is_fallback
        and not p.ambiguous
        and p.confidence >= MIN_PART_CONFIDENCE
        and p.intent in domain.answerable
        and p.intent not in qualifiers
    )
