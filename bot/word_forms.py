"""The forms of an entity's terms a user may type that the lemmas do not bring back.

Terms match by surface form and by lemma (`bot.nlp.Preprocessor`). The lemmas miss some
forms: spaCy's English lookup tables do not know brand names ("iphones" is no "iphone"), and
its Russian lookup lemmatizer keeps a word as typed when pymorphy3's analyses disagree on its
normal form ("диагностику" may be "диагностика" or "диагностик"). These functions spell those
forms out, so they match as surface forms.
"""

from __future__ import annotations

from itertools import product
from typing import Any

RUSSIAN_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
INFLECTED = {"NOUN", "ADJF", "PRTF"}


def english_plural(term: str) -> str:
    """The regular plural of a term's last word (box -> boxes, battery -> batteries)."""
    if term.lower().endswith(("s", "x", "z", "ch", "sh")):
        return term + "es"
    if len(term) > 1 and term[-1].lower() == "y" and term[-2].lower() not in "aeiou":
        return term[:-1] + "ies"
    return term + "s"


def russian_forms(term: str, morph: Any) -> set[str]:
    """Every case and number of a term written in the nominative ("игровая приставка" ->
    "игровой приставки", "игровые приставки", ...), its words inflected together so they agree.

    `morph` is a `pymorphy3.MorphAnalyzer`. Words that do not inflect (Latin, abbreviations,
    prepositions) stay as written; a case or number one of the words lacks is left out.
    """
    words = term.split()
    parses = [_nominative(morph, word) for word in words]
    forms = {term}
    for case, number in product(RUSSIAN_CASES, ("sing", "plur")):
        inflected = []
        for word, parse in zip(words, parses, strict=True):
            if parse is None:
                inflected.append(word)
                continue
            form = parse.inflect({case, number})
            if form is None:
                break
            inflected.append(form.word)
        else:
            forms.add(" ".join(inflected))
    return forms


def _nominative(morph: Any, word: str) -> Any:
    """The analysis of `word` as a nominative noun or adjective, or None (it stays as written)."""
    for parse in morph.parse(word):
        if parse.tag.POS in INFLECTED and "nomn" in parse.tag and "Fixd" not in parse.tag:
            return parse
    return None
