"""Training a bot of several languages: one model, each text lemmatised in its own language.

One model learns the examples of every language (measured against one model per language
in bench/nlu.py `--languages`; docs/intents.md says why). A text whose language is not known
(a reviewed message, a test file's row) is read in the language its letters are in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from bot.classifier import PIECE_LANGUAGES
from bot.domain import Domain
from bot.language import detect_language
from bot.nlp import Preprocessor
from bot.spelling import speller_for

if TYPE_CHECKING:
    from bot.inference import Scorer


def classifier_language(languages: Sequence[str]) -> str:
    """The `language` a classifier of these languages is built for: the first that has features
    of its own (the English word pieces), else the first. Measured on the demo and the Russian
    bot (bench/languages.py), one model with the word pieces reads both languages better than
    one without them, and better than one model per language."""
    return next((x for x in languages if x in PIECE_LANGUAGES), languages[0])


class Readers:
    """A bot's preprocessor per language, its default (the first) first."""

    def __init__(self, first: Preprocessor, others: Sequence[Preprocessor] = ()) -> None:
        self.by_language = {first.language: first} | {p.language: p for p in others}
        self.first = first

    @classmethod
    def for_domain(cls, domain: Domain, first: Preprocessor) -> Readers:
        """`first` (the default language's) and one preprocessor per other language of `domain`."""
        return cls(first, [Preprocessor(language, domain.entities) for language in domain.translations])

    @property
    def languages(self) -> list[str]:
        return list(self.by_language)

    def detect(self, texts: Sequence[str]) -> list[str]:
        """Each text's language by its letters; the default where they do not tell."""
        if len(self.by_language) == 1:
            return [self.first.language] * len(texts)
        return [detect_language(t, self.languages) or self.first.language for t in texts]

    def normalize_many(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> list[str]:
        """Each text normalised by its language's preprocessor (by default the one its letters
        tell), one batch per language, in the texts' order."""
        languages = self.detect(texts) if languages is None else languages
        out = [""] * len(texts)
        for language, pre in self.by_language.items():
            rows = [i for i, x in enumerate(languages) if x == language]
            for i, normalized in zip(rows, pre.normalize_many([texts[i] for i in rows]), strict=True):
                out[i] = normalized
        return out

    def read_many(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
        """As `normalize_many`, with each text spelled too (`Preprocessor.spelled`): the
        classifier's inputs as a served model computes them."""
        languages = self.detect(texts) if languages is None else languages
        normalized, spelled = [""] * len(texts), [""] * len(texts)
        for language, pre in self.by_language.items():
            rows = [i for i, x in enumerate(languages) if x == language]
            norms, surfaces = pre.read_many([texts[i] for i in rows])
            for i, norm, surface in zip(rows, norms, surfaces, strict=True):
                normalized[i], spelled[i] = norm, surface
        return normalized, spelled

    def set_speller(self, scorer: Scorer | None) -> None:
        """Correct typos towards `scorer`'s words, as a served model does (`bot.model.load_model`);
        None for no correction (training data is the vocabulary: nothing in it is a typo)."""
        for reader in self.by_language.values():
            reader.speller = None if scorer is None else speller_for(reader.nlp, scorer)


def accuracy_by_language(
    truth: Sequence[str], predicted: Sequence[str], languages: Sequence[str]
) -> dict[str, tuple[float, int]]:
    """(accuracy, count) over the texts of each language, in the order the languages first occur."""
    right: NDArray[np.bool_] = np.asarray(truth, dtype=object) == np.asarray(predicted, dtype=object)
    of = np.asarray(languages, dtype=object)
    return {x: (float(right[of == x].mean()), int((of == x).sum())) for x in dict.fromkeys(languages)}


def by_language_line(scores: dict[str, tuple[float, int]]) -> str:
    """ "en 0.853 (n=420), ru 0.801 (n=398)"."""
    return ", ".join(f"{x} {acc:.3f} (n={n})" for x, (acc, n) in scores.items())
