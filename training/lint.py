"""Lint for intents.yaml beyond validation: examples under different intents that nearly
coincide, and intents whose examples are too few or too alike to generalise from, in every
language of a bot that speaks several."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from bot.domain import Domain
from bot.nlp import Preprocessor
from bot.understanding import OOS


def by_language(domain: Domain, preprocessor: Preprocessor) -> Iterator[tuple[Domain, Preprocessor]]:
    """The bot as it speaks each of its languages, with that language's preprocessor: `domain`
    with `preprocessor` first, then each translation with one of its own."""
    yield domain, preprocessor
    for language, translation in domain.translations.items():
        yield translation, Preprocessor(language, domain.entities)


def near_duplicates(
    domain: Domain, preprocessor: Preprocessor, min_jaccard: float = 0.8
) -> list[tuple[str, str, str, str]]:
    """Pairs of examples under different intents whose normalised words (nearly) coincide, in
    any one language of the bot (examples of two languages are not compared)."""
    return [pair for d, pre in by_language(domain, preprocessor) for pair in _near_duplicates(d, pre, min_jaccard)]


def _near_duplicates(domain: Domain, preprocessor: Preprocessor, min_jaccard: float) -> list[tuple[str, str, str, str]]:
    rows = [(intent, ex.text) for intent, i in domain.intents.items() for ex in i.examples]
    words = [set(n.split()) for n in preprocessor.normalize_many(t for _, t in rows)]
    index: dict[str, list[int]] = {}
    for i, ws in enumerate(words):
        for w in ws:
            index.setdefault(w, []).append(i)
    pairs = []
    for i, ws in enumerate(words):
        candidates = {j for w in ws for j in index[w] if j > i and rows[j][0] != rows[i][0]}
        for j in sorted(candidates):
            union = ws | words[j]
            if union and len(ws & words[j]) / len(union) >= min_jaccard:
                pairs.append((rows[i][0], rows[i][1], rows[j][0], rows[j][1]))
    return pairs


RECOMMENDED_EXAMPLES = 12
"""Fewer examples than this and an intent is often missed in cross-validation: on the shipped
bots, intents below it had the lowest recall."""
MAX_SAMENESS = 0.35
"""Mean word overlap (Jaccard of lemma sets) of an intent's example pairs above which its
examples repeat one template: a new wording of the same wish shares none of their words."""

SAMENESS_FROM = 4
"""Fewer examples tell too little about their variety to judge it."""


@dataclass(frozen=True)
class IntentAdvice:
    """Why an intent may be understood poorly, and what to add."""

    intent: str
    examples: int
    sameness: float
    too_few: bool
    too_similar: bool
    language: str | None = None
    """The language whose examples these are, for a bot of several; None for a bot of one."""

    def message(self) -> str:
        reasons = []
        if self.too_few:
            reasons.append(f"only {self.examples} examples (write at least {RECOMMENDED_EXAMPLES})")
        if self.too_similar:
            reasons.append(
                f"examples too alike (mean word overlap {self.sameness:.2f} > {MAX_SAMENESS}): "
                "add other wordings, short and long, with other words for the same wish"
            )
        where = "" if self.language is None else f"[{self.language}] "
        return f"intent '{self.intent}': {where}" + "; ".join(reasons)


def sameness(normalized: list[str]) -> float:
    """Mean Jaccard overlap of the lemma sets of every pair of examples (0 with fewer than two)."""
    words = [set(n.split()) for n in normalized]
    pairs = [len(a & b) / len(a | b) for a, b in itertools.combinations(words, 2) if a | b]
    return sum(pairs) / len(pairs) if pairs else 0.0


def few_shot_advice(domain: Domain, preprocessor: Preprocessor) -> list[IntentAdvice]:
    """Intents (out-of-scope examples aside) with too few or too similar examples, worst first;
    for a bot of several languages, each language's examples judged on their own."""
    several = bool(domain.translations)
    advice = []
    for d, pre in by_language(domain, preprocessor):
        for name, intent in d.intents.items():
            if name == OOS:
                continue
            texts = [ex.text for ex in intent.examples]
            score = sameness(pre.normalize_many(texts))
            few, alike = len(texts) < RECOMMENDED_EXAMPLES, len(texts) >= SAMENESS_FROM and score > MAX_SAMENESS
            if few or alike:
                language = d.language if several else None
                advice.append(IntentAdvice(name, len(texts), round(score, 3), few, alike, language))
    return sorted(advice, key=lambda a: (a.examples, -a.sameness))


def top_confusions(truth: list[str], predicted: list[str], n: int = 5) -> list[tuple[str, str, int]]:
    """The `n` most frequent (expected, predicted, count) mistakes, e.g. of cross-validation."""
    pairs = Counter((a, b) for a, b in zip(truth, predicted, strict=True) if a != b)
    return [(a, b, k) for (a, b), k in pairs.most_common(n)]
