"""`python -m training.fit`: validate intents.yaml, cross-validate, train, compare, promote.

    python -m training.fit                      # train on intents.yaml into models/
    python -m training.fit --check              # lint only: errors and near-duplicate examples
    python -m training.fit --promote VERSION    # serve an older model again
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from bot.classifier import OOS, IntentClassifier
from bot.domain import Domain, DomainError, load_domain
from bot.model import ModelError, current_version, load_model, promote, save_model
from bot.nlp import Preprocessor
from training.data import DataError, load_reviewed

DEFAULT_MARGIN = 0.02


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    normalized: list[str]
    labels: list[str]
    sources: Counter[str]


def say(message: str) -> None:
    print(message, flush=True)


def near_duplicates(domain: Domain, preprocessor: Preprocessor, min_jaccard: float = 0.8) -> list[tuple[str, str, str, str]]:
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


def gather(domain: Domain, preprocessor: Preprocessor, database_url: str | None) -> Dataset:
    examples = domain.training_examples()
    sources: Counter[str] = Counter({"intents.yaml": len(examples)})
    if database_url:
        reviewed = load_reviewed(database_url, known=set(domain.intents) | {OOS})
        sources["reviewed log"] = len(reviewed)
        examples += reviewed
    texts = [t for t, _ in examples]
    return Dataset(texts, preprocessor.normalize_many(texts), [label for _, label in examples], sources)


def cross_validate(data: Dataset, pipeline: str, seed: int, folds: int) -> tuple[str, float, float]:
    """Stratified k-fold: the per-intent report, accuracy and macro F1 over held-out folds."""
    labels = np.array(data.labels)
    smallest = min(Counter(data.labels).values())
    folds = max(2, min(folds, smallest))
    predicted = np.empty(len(labels), dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(data.texts, labels), start=1):
        clf = IntentClassifier(kind=pipeline, seed=seed)
        clf.fit([data.texts[i] for i in train], [data.normalized[i] for i in train], labels[train].tolist())
        predictions = clf.predict([data.texts[i] for i in test], [data.normalized[i] for i in test])
        predicted[test] = [OOS if p.is_fallback else p.intent for p in predictions]
        say(f"  fold {k}/{folds} done")
    truth = labels.tolist()
    report = classification_report(truth, predicted.tolist(), zero_division=0)
    accuracy = float(np.mean(predicted == labels))
    macro = float(f1_score(truth, predicted.tolist(), average="macro", zero_division=0))
    return report, accuracy, macro


def compare_with_current(data: Dataset, models_dir: Path, pipeline: str, seed: int) -> tuple[float, float, str] | None:
    """Accuracy of the served model and of a candidate on the same held-out fifth of the data."""
    try:
        current = load_model(models_dir)
    except ModelError:
        return None
    idx = np.arange(len(data.labels))
    counts = Counter(data.labels)
    stratify = data.labels if min(counts.values()) >= 2 else None
    train, test = train_test_split(idx, test_size=0.2, random_state=seed, stratify=stratify)
    candidate = IntentClassifier(kind=pipeline, seed=seed)
    candidate.fit([data.texts[i] for i in train], [data.normalized[i] for i in train], [data.labels[i] for i in train])
    texts = [data.texts[i] for i in test]
    truth = [data.labels[i] for i in test]
    old = [OOS if u.prediction.is_fallback else u.prediction.intent for u in current.understand(texts)]
    new = [OOS if p.is_fallback else p.intent for p in candidate.predict(texts, [data.normalized[i] for i in test])]
    old_acc = float(np.mean([o == t for o, t in zip(old, truth)]))
    new_acc = float(np.mean([n == t for n, t in zip(new, truth)]))
    labels = sorted(set(truth) | set(old) | set(new))
    old_f1 = f1_score(truth, old, labels=labels, average=None, zero_division=0)
    new_f1 = f1_score(truth, new, labels=labels, average=None, zero_division=0)
    lines = [f"  {'intent':<28} {'old F1':>7} {'new F1':>7}"]
    for label, o, n in zip(labels, old_f1, new_f1):
        if abs(o - n) >= 0.005:
            lines.append(f"  {label:<28} {o:7.3f} {n:7.3f}")
    added = sorted(set(data.labels) - set(map(str, current.classifier.classes_)) - {OOS})
    removed = sorted(set(map(str, current.classifier.classes_)) - set(data.labels))
    if added:
        lines.append(f"  new intents: {', '.join(added)}")
    if removed:
        lines.append(f"  removed intents: {', '.join(removed)}")
    return old_acc, new_acc, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.fit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=Path, default=Path("intents.yaml"), help="the domain file (default: intents.yaml)")
    parser.add_argument("--out", type=Path, default=Path("models"), help="models directory (default: models/)")
    parser.add_argument("--pipeline", choices=["light", "encoder"], default="light", help="light (default) or encoder (needs .[encoder])")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0 skips)")
    parser.add_argument("--quick", action="store_true", help="skip cross-validation and the comparison")
    parser.add_argument("--check", action="store_true", help="validate and lint only; do not train")
    parser.add_argument("--database-url", help="add analyst-reviewed messages from this bot database (default: none)")
    parser.add_argument("--force", action="store_true", help="promote even when the new model scores worse")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="accuracy drop that blocks promotion (default 0.02)")
    parser.add_argument("--promote", metavar="VERSION", help="make an existing version current and exit")
    args = parser.parse_args(argv)

    if args.promote:
        try:
            promote(args.out, args.promote)
        except ModelError as exc:
            say(f"error: {exc}")
            return 1
        say(f"models/latest -> {args.promote}")
        return 0

    started = time.perf_counter()
    try:
        domain = load_domain(args.intents)
    except DomainError as exc:
        print(exc, file=sys.stderr)
        return 2
    preprocessor = Preprocessor(domain.language, domain.entities)
    n_examples = sum(len(i.examples) for i in domain.intents.values())
    say(f"{args.intents}: {len(domain.intents)} intents, {n_examples} examples, language {domain.language}: valid")
    if args.check:
        pairs = near_duplicates(domain, preprocessor)
        for a_intent, a_text, b_intent, b_text in pairs:
            say(f"near-duplicate: {a_intent}: {a_text!r} ~ {b_intent}: {b_text!r}")
        say(f"{len(pairs)} near-duplicate pair(s); checked in {time.perf_counter() - started:.2f} s")
        return 0

    try:
        data = gather(domain, preprocessor, args.database_url)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    say("examples: " + ", ".join(f"{n} from {source}" for source, n in data.sources.items()))
    scores: dict[str, float] = {}
    if not args.quick and args.folds:
        say(f"cross-validating ({args.pipeline}) ...")
        report, accuracy, macro = cross_validate(data, args.pipeline, args.seed, args.folds)
        say(report)
        scores = {"cv_accuracy": round(accuracy, 4), "cv_macro_f1": round(macro, 4)}
        say(f"cross-validated accuracy {accuracy:.3f}, macro F1 {macro:.3f}")

    say(f"fitting the {args.pipeline} pipeline on {len(data.labels)} examples ...")
    fit_started = time.perf_counter()
    classifier = IntentClassifier(kind=args.pipeline, seed=args.seed)
    classifier.fit(data.texts, data.normalized, data.labels, threshold=domain.fallback.threshold, ambiguity_margin=domain.fallback.ambiguity_margin)
    fit_seconds = time.perf_counter() - fit_started
    say(f"fitted in {fit_seconds:.1f} s; fallback threshold {classifier.threshold_:.3f}")

    comparison = None if args.quick else compare_with_current(data, args.out, args.pipeline, args.seed)
    metadata = {"scores": scores, "training_seconds": round(fit_seconds, 2), "examples": dict(data.sources), "seed": args.seed}
    path = save_model(classifier, domain, args.intents.read_text(encoding="utf-8"), args.out, metadata)
    say(f"saved {path}")
    if comparison is not None:
        old_acc, new_acc, details = comparison
        say(f"held-out accuracy: current {current_version(args.out)} {old_acc:.3f}, new {new_acc:.3f} ({new_acc - old_acc:+.3f})")
        if details.strip():
            say(details)
        if new_acc < old_acc - args.margin and not args.force:
            say(f"not promoted: the new model is worse by more than {args.margin:.3f}; use --force or --promote {path.name}")
            return 3
    promote(args.out, path.name)
    say(f"models/latest -> {path.name} ({time.perf_counter() - started:.1f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
