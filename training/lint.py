"""Lint for intents.yaml beyond validation: examples under different intents that nearly coincide."""

from __future__ import annotations

from bot.domain import Domain
from bot.nlp import Preprocessor


def near_duplicates(
    domain: Domain, preprocessor: Preprocessor, min_jaccard: float = 0.8
) -> list[tuple[str, str, str, str]]:
    """Pairs of examples under different intents whose normalised words (nearly) coincide."""
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
