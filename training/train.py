"""The training steps behind `python -m training.fit`: data, cross-validation, comparison, lint.

Kept apart from the command so that validating intents.yaml needs none of these imports
(spaCy and scikit-learn take seconds to load; a broken file is reported in well under one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import classification_report, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from bot.classifier import OOS, ClassifierError, IntentClassifier
from bot.domain import Domain
from bot.language import normalize_in_languages
from bot.model import EXAMPLES, Model, ModelError, domain_hash, load_model
from bot.nlp import Preprocessor
from training.data import load_examples, load_reviewed
from training.lint import top_confusions


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    normalized: list[str]
    labels: list[str]
    sources: Counter[str]
    language: str


def gather(domain: Domain, preprocessor: Preprocessor, database_url: str | None) -> Dataset:
    examples = domain.training_examples()
    sources: Counter[str] = Counter({Path(domain.source).name: len(examples)})
    if database_url:
        reviewed = load_reviewed(database_url, known=set(domain.intents) | {OOS})
        sources["reviewed log"] = len(reviewed)
        examples += reviewed
    texts = [t for t, _ in examples]
    if not domain.translations:
        normalized = preprocessor.normalize_many(texts)
    else:  # one model for every language, each text lemmatised in its own
        normalize = {domain.language: preprocessor.normalize_many} | {
            language: Preprocessor(language, domain.entities).normalize_many for language in domain.translations
        }
        normalized = normalize_in_languages(texts, normalize, domain.languages)
    language = "+".join(domain.languages) if domain.translations else domain.language
    return Dataset(texts, normalized, [label for _, label in examples], sources, language)


def cross_validate(
    data: Dataset, pipeline: str, seed: int, folds: int, progress: Callable[[str], None] = lambda _: None
) -> tuple[str, float, float]:
    """Stratified k-fold: the per-intent report, accuracy and macro F1 over held-out folds."""
    labels = np.array(data.labels)
    smallest = min(Counter(data.labels).values())
    folds = max(2, min(folds, smallest))
    predicted = np.empty(len(labels), dtype=object)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(splitter.split(data.texts, labels), start=1):
        clf = IntentClassifier(kind=pipeline, seed=seed, language=data.language)
        clf.fit([data.texts[i] for i in train], [data.normalized[i] for i in train], labels[train].tolist())
        predictions = clf.predict([data.texts[i] for i in test], [data.normalized[i] for i in test])
        predicted[test] = [OOS if p.is_fallback else p.intent for p in predictions]
        progress(f"  fold {k}/{folds} done")
    truth = labels.tolist()
    report = classification_report(truth, predicted.tolist(), zero_division=0)
    confused = top_confusions(truth, predicted.tolist())
    if confused:
        report += "\nmost confused (expected -> predicted: held-out examples); add examples to tell them apart:\n"
        report += "\n".join(f"  {a} -> {b}: {n}" for a, b, n in confused)
    accuracy = float(np.mean(predicted == labels))
    macro = float(f1_score(truth, predicted.tolist(), average="macro", zero_division=0))
    return report, accuracy, macro


def trained_examples(model: Model) -> list[tuple[str, str]]:
    """What a model folder learnt from: its `examples.jsonl`, or its intents.yaml's examples."""
    path = model.path / EXAMPLES
    return load_examples(path) if path.is_file() else model.domain.training_examples()


def _held_out_fifth(labels: list[str], seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Training and held-out row numbers, stratified when every label can be; the training rows
    in their original order, so that the same data refitted makes the same model."""
    counts = Counter(labels)
    n_test = max(1, round(0.2 * len(labels)))
    stratify = labels if min(counts.values()) >= 2 and n_test >= len(counts) else None
    train, test = train_test_split(np.arange(len(labels)), test_size=n_test, random_state=seed, stratify=stratify)
    return np.sort(train), test


def _same_text(text: str) -> str:
    return " ".join(text.lower().split())


def current_model(models_dir: Path) -> Model | None:
    """The served model, if one loads with the installed libraries."""
    try:
        return load_model(models_dir)
    except ModelError:
        return None


def unchanged(data: Dataset, current: Model, intents_path: Path, pipeline: str, seed: int) -> bool:
    """Whether `current` was trained on this very data, file, pipeline and seed (it loaded, so
    with these libraries): retraining would only make a copy of it."""
    meta = current.metadata
    same_run = (meta.get("domain_sha256"), meta.get("pipeline"), meta.get("seed")) == (
        domain_hash(intents_path),
        pipeline,
        seed,
    )
    return same_run and trained_examples(current) == list(zip(data.texts, data.labels, strict=False))


def compare_with_current(
    data: Dataset, preprocessor: Preprocessor, current: Model, pipeline: str, seed: int, threshold: float | None = None
) -> tuple[float, float, str] | None:
    """Accuracy of the current model's data and of the new data on the same held-out rows, each
    refitted without those texts; None when the current model's data cannot be refitted.

    The served model itself was trained on nearly every held-out row, so it would always
    score about 1.0 and no retrained model would ever be promoted. Refitting its examples
    (`examples.jsonl`, or its intents.yaml's for older folders) with its own pipeline, seed
    and threshold compares what the two models learnt from. The held-out fifth is drawn from
    the new data and from the current model's examples the new data no longer has (of intents
    it still has), so that examples deleted by mistake show as a worse model.
    """
    previous = trained_examples(current)
    kept, intents = {_same_text(t) for t in data.texts}, set(data.labels)
    gone = [(t, label) for t, label in previous if _same_text(t) not in kept and label in intents]
    pool_texts, pool_labels = data.texts + [t for t, _ in gone], data.labels + [label for _, label in gone]
    train, test = _held_out_fifth(pool_labels, seed)
    texts = [pool_texts[i] for i in test]
    truth = [pool_labels[i] for i in test]
    held_out = {_same_text(t) for t in texts}
    previous = [(t, label) for t, label in previous if _same_text(t) not in held_out]
    meta = current.metadata
    try:
        baseline = IntentClassifier(
            kind=meta.get("pipeline", pipeline), seed=meta.get("seed", seed), language=current.domain.language
        )
        baseline.fit(
            [t for t, _ in previous],
            current.preprocessor.normalize_many(t for t, _ in previous),
            [label for _, label in previous],
            threshold=current.domain.fallback.threshold,
        )
    except ClassifierError:  # e.g. nothing but one intent left once the held-out texts are gone
        return None
    rows = [i for i in train if i < len(data.texts)]  # the gone examples are held out or not the new model's
    candidate = IntentClassifier(kind=pipeline, seed=seed, language=data.language)
    candidate.fit(
        [data.texts[i] for i in rows],
        [data.normalized[i] for i in rows],
        [data.labels[i] for i in rows],
        threshold=threshold,
    )
    old = [
        OOS if p.is_fallback else p.intent for p in baseline.predict(texts, current.preprocessor.normalize_many(texts))
    ]
    new = [OOS if p.is_fallback else p.intent for p in candidate.predict(texts, preprocessor.normalize_many(texts))]
    old_acc = float(np.mean([o == t for o, t in zip(old, truth, strict=False)]))
    new_acc = float(np.mean([n == t for n, t in zip(new, truth, strict=False)]))
    labels = sorted(set(truth) | set(old) | set(new))
    old_f1 = f1_score(truth, old, labels=labels, average=None, zero_division=0)
    new_f1 = f1_score(truth, new, labels=labels, average=None, zero_division=0)
    changed = [
        f"  {label:<28} {o:7.3f} {n:7.3f}"
        for label, o, n in zip(labels, old_f1, new_f1, strict=False)
        if abs(o - n) >= 0.005
    ]
    lines = [f"  {'intent':<28} {'old F1':>7} {'new F1':>7}", *changed] if changed else []
    added = sorted(set(data.labels) - set(map(str, current.classifier.classes)) - {OOS})
    removed = sorted(set(map(str, current.classifier.classes)) - set(data.labels))
    if added:
        lines.append(f"  new intents: {', '.join(added)}")
    if removed:
        lines.append(f"  removed intents: {', '.join(removed)}")
    if gone:
        lines.append(
            f"  {len(gone)} examples the current model learnt are gone from the new data; the held-out rows include them"
        )
    return old_acc, new_acc, "\n".join(lines)
