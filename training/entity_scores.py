"""Entity precision, recall and F1: per entity type and micro-averaged, exact spans and overlaps.

Exact: a predicted entity is right when its start, end and type are a gold entity's.
Overlap: when it shares at least one character with a gold entity of its type; each gold
entity is matched once at most, so splitting one value in two counts one right and one wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from bot.understanding import Entity
from training.data import AnnotatedExample


@dataclass(frozen=True)
class EntityTypeScore:
    entity: str
    precision: float
    recall: float
    f1: float
    support: int
    overlap_f1: float


@dataclass(frozen=True)
class Misextraction:
    """An example whose predicted entities differ from the annotated ones (exact spans)."""

    text: str
    expected: list[tuple[str, str]]
    predicted: list[tuple[str, str]]


@dataclass(frozen=True)
class EntityReport:
    micro_f1: float
    precision: float
    recall: float
    overlap_f1: float
    overlap_precision: float
    overlap_recall: float
    support: int
    per_entity: list[EntityTypeScore]
    misextracted: list[Misextraction] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"entities (exact span): micro F1 {self.micro_f1:.3f}  precision {self.precision:.3f}"
            f"  recall {self.recall:.3f}"
            f"  (overlapping span: F1 {self.overlap_f1:.3f}); {self.support} annotated",
            f"{'entity':<32} {'prec':>6} {'recall':>6} {'F1':>6} {'ovl F1':>6} {'n':>5}",
        ]
        lines += [
            f"{s.entity:<32} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.overlap_f1:6.3f} {s.support:5d}"
            for s in self.per_entity
        ]
        if self.misextracted:
            lines += ["", f"misextracted examples (first {len(self.misextracted)})"]
            for m in self.misextracted:
                expected = ", ".join(f"{t}={v!r}" for t, v in m.expected) or "-"
                predicted = ", ".join(f"{t}={v!r}" for t, v in m.predicted) or "-"
                lines.append(f"  {m.text}\n    expected {expected}\n    got      {predicted}")
        return "\n".join(lines)


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


Key = tuple[int, int, str]


def _overlap_matches(gold: Sequence[Key], predicted: Sequence[Key]) -> Counter[str]:
    """Per type, how many predicted spans overlap a gold span of their type, each gold used once."""
    used: set[int] = set()
    matched: Counter[str] = Counter()
    for start, end, entity in sorted(predicted):
        for k, (gs, ge, gt) in enumerate(gold):
            if k not in used and gt == entity and start < ge and gs < end:
                used.add(k)
                matched[entity] += 1
                break
    return matched


def score_entities(
    examples: Sequence[AnnotatedExample], predicted: Sequence[Sequence[Entity]], max_misextracted: int = 50
) -> EntityReport:
    """Score predicted entities against the examples' annotations (`predicted[i]` for `examples[i]`)."""
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    exact: Counter[str] = Counter()
    overlap: Counter[str] = Counter()
    misses: list[Misextraction] = []
    for example, found in zip(examples, predicted, strict=True):
        gold = [(g.start, g.end, g.entity) for g in example.entities]
        guess = [(e.start, e.end, e.entity) for e in found]
        n_gold.update(t for _, _, t in gold)
        n_pred.update(t for _, _, t in guess)
        remaining = Counter(gold)
        for key in guess:
            if remaining[key] > 0:
                remaining[key] -= 1
                exact[key[2]] += 1
        overlap.update(_overlap_matches(gold, guess))
        if Counter(gold) != Counter(guess) and len(misses) < max_misextracted:
            text = example.text
            misses.append(
                Misextraction(
                    text,
                    [(t, text[s:e]) for s, e, t in sorted(gold)],
                    [(t, text[s:e]) for s, e, t in sorted(guess)],
                )
            )
    per_entity = []
    for entity in sorted(set(n_gold) | set(n_pred)):
        p, r, f = _prf(exact[entity], n_pred[entity], n_gold[entity])
        per_entity.append(
            EntityTypeScore(entity, p, r, f, n_gold[entity], _prf(overlap[entity], n_pred[entity], n_gold[entity])[2])
        )
    p, r, f = _prf(sum(exact.values()), sum(n_pred.values()), sum(n_gold.values()))
    op, orr, of = _prf(sum(overlap.values()), sum(n_pred.values()), sum(n_gold.values()))
    return EntityReport(f, p, r, of, op, orr, sum(n_gold.values()), per_entity, misses)
