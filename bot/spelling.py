"""Typos: a word that neither the model nor the language knows is read as the model's nearest word.

"cancle my ordr" -> "cancel my order". Candidates come only from the classifier's own word
vocabulary (the domain's words, lemmatised), so a correction can only move a message towards
words the bot was trained on; a word the language's dictionary knows ("fridge") is never
touched, so nothing the user meant is rewritten into the domain. Distances are Damerau-
Levenshtein (a swap of two letters is one edit) computed by rapidfuzz, bounded by word length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

if TYPE_CHECKING:
    from spacy.language import Language

    from bot.inference import Scorer

log = logging.getLogger(__name__)

MIN_LENGTH = 4
"""Shorter words have too many neighbours one edit away ("hi" -> "h", "hey", "him")."""
_CACHE_LIMIT = 20_000


def max_edits(word: str) -> int:
    """One edit for words of 4-5 letters, two from 6: as many as a typist plausibly makes."""
    return 1 if len(word) <= 5 else 2


class Speller:
    """Corrects unknown words to the nearest vocabulary word, when exactly one is nearest."""

    def __init__(self, vocabulary: Iterable[str], known: Callable[[str], bool]) -> None:
        model = frozenset(vocabulary)
        self.model_words = model
        """Every word of the model: a token whose normalised form is one ("been" is "be") is kept."""
        words = {w for w in model if w.isalpha() and len(w) >= MIN_LENGTH - 1}
        self.vocabulary = frozenset(words)
        """The words a correction may be: of letters, and not too short to tell apart."""
        self._by_length: dict[int, list[str]] = {}
        for w in sorted(words):
            self._by_length.setdefault(len(w), []).append(w)
        self._known = known
        self._cache: dict[str, str | None] = {}

    def correct(self, word: str) -> str | None:
        """The vocabulary word meant by `word`, or None to keep it as it is."""
        w = word.lower()
        if w in self._cache:
            return self._cache[w]
        fixed = self._nearest(w)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[w] = fixed
        return fixed

    def _nearest(self, w: str) -> str | None:
        if len(w) < MIN_LENGTH or not w.isalpha() or w in self.vocabulary or self._known(w):
            return None
        edits = max_edits(w)
        candidates = [c for n in range(len(w) - edits, len(w) + edits + 1) for c in self._by_length.get(n, ())]
        best = process.extract(w, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=edits, limit=2)
        if not best or (len(best) > 1 and best[1][1] == best[0][1]):
            return None  # nothing near, or two words equally near: guessing would be a coin toss
        return str(best[0][0])

    def norm(self, norm: str, lower: str) -> str:
        """A token's normalised form, corrected when the word is unknown."""
        if norm in self.model_words:
            return norm
        return self.correct(lower) or norm


def model_words(scorer: Scorer) -> list[str]:
    """The single words of the classifier's lemma n-gram vocabulary."""
    return [term for term in scorer.parts[0].vocabulary if " " not in term]


def lexicon(nlp: Language) -> Callable[[str], bool]:
    """Whether the language knows a word: English from spaCy's lemma tables (base forms and
    inflections), Russian from pymorphy3's dictionary. Loaded from installed packages only."""
    language = nlp.lang or "en"
    if language == "ru":
        morph: Any = getattr(nlp.get_pipe("lemmatizer"), "_morph", None)
        if morph is None:
            import pymorphy3

            morph = pymorphy3.MorphAnalyzer()
        return lambda word: bool(morph.word_is_known(word))
    from spacy.util import load_language_data, registry

    if language not in registry.lookups:  # no lookup data for this language: nothing counts as known
        log.warning("no lemma tables for %s: every out-of-vocabulary word may be corrected", language)
        return lambda word: False
    # Read as stored, not through spaCy's `Table`, which keeps its keys only as hashes: the
    # keys of lemma_lookup and lemma_exc are the inflected forms ("been", "went", "was").
    tables = registry.lookups.get(language)

    def table(name: str) -> dict[str, Any]:
        data = load_language_data(tables[name]) if name in tables else {}
        return data if isinstance(data, dict) else {}

    words: set[str] = set()
    for forms in table("lemma_index").values():  # {part of speech: [base forms]}
        words.update(forms)
    for form, base in table("lemma_lookup").items():  # {form: base form}
        words.update((form, base))
    for forms in table("lemma_exc").values():  # {part of speech: {irregular form: [base forms]}}
        for form, bases in forms.items():
            words.add(form)
            words.update(bases)
    lexicon_words = frozenset(w.lower() for w in words if isinstance(w, str))
    return lexicon_words.__contains__


def speller_for(nlp: Language, scorer: Scorer) -> Speller:
    return Speller(model_words(scorer), lexicon(nlp))
