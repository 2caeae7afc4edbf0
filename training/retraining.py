"""Retraining's steps, the library behind `python -m training.fit`: data, cross-validation, comparison.

Kept apart from the command so that validating intents.yaml needs none of these imports
(spaCy and scikit-learn take seconds to load; a broken file is reported in well under one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import classification_report, f1_score
from sklearn.model_selection import StratifiedKFold

from bot.classifier import OOS, ClassifierError, IntentClassifier, Kind
from bot.domain import Domain
from bot.entity_merge import merge_entities
from bot.held_out import held_out_split
from bot.model import EXAMPLES, Model, ModelError, domain_hash, load_model
from bot.nlp import Preprocessor
from bot.tagger import EntityTagger, has_annotations
from bot.understanding import Entity, same_text
from training.data import (
    AnnotatedExample,
    GoldEntity,
    domain_examples,
    example_languages,
    load_examples,
    load_reviewed,
)
from training.entity_scores import EntityReport, score_entities
from training.languages import Readers, accuracy_by_language, classifier_language
from training.lint import top_confusions


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    normalized: list[str]
    labels: list[str]
    sources: Counter[str]
    language: str
    entities: list[tuple[GoldEntity, ...]] = field(default_factory=list)
    """Each text's annotated entities (intents.yaml's `[text](entity)` marks); empty for reviewed messages."""
    text_languages: list[str] = field(default_factory=list)
    """Each text's language, for a bot of several languages (`languages:`); empty for one."""

    @property
    def classifier_language(self) -> str:
        """What the classifier is built for: the bot's language, or all of them ("en+ru")."""
        return classifier_language(list(dict.fromkeys(self.text_languages)) or [self.language])

    @property
    def annotated(self) -> bool:
        return any(self.entities)


@dataclass(frozen=True)
class CrossValidation:
    report: str
    accuracy: float
    macro_f1: float
    entities: EntityReport | None
    """Entity scores over the held-out folds, when the data has annotations."""
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    """The most frequent (expected, predicted, count) mistakes: where examples are missing."""
    per_language: dict[str, tuple[float, int]] = field(default_factory=dict)
    """(accuracy, examples) of each language, for a bot of several."""


def gather(domain: Domain, preprocessor: Preprocessor, database_url: str | None) -> Dataset:
    """intents.yaml's examples and reviewed messages; with several languages each text is
    normalised in its own (a reviewed message in the one its letters tell)."""
    examples = domain_examples(domain)
    languages = example_languages(domain)
    sources: Counter[str] = Counter({Path(domain.source).name: len(examples)})
    readers = Readers.for_domain(domain, preprocessor)
    if database_url:
        reviewed = load_reviewed(database_url, known=set(domain.intents) | {OOS})
        sources["reviewed log"] = len(reviewed)
        examples += [AnnotatedExample(text, intent) for text, intent in reviewed]
        languages += readers.detect([text for text, _ in reviewed])
    texts = [e.text for e in examples]
    return Dataset(
        texts,
        readers.normalize_many(texts, languages),
        [e.intent for e in examples],
        sources,
        domain.language,
        [e.entities for e in examples],
        languages if domain.translations else [],
    )


def fit_tagger(data: Dataset, preprocessor: Preprocessor, rows: Sequence[int] | None = None) -> EntityTagger | None:
    """The entity tagger learnt from the annotated rows (all by default); None, at no cost, without annotations."""
    rows = range(len(data.texts)) if rows is None else rows
    annotations = [data.entities[i] for i in rows]
    if not has_annotations(annotations):
        return None
    texts = [data.texts[i] for i in rows]
    return EntityTagger(data.language).fit(
        texts, annotations, intents=[data.labels[i] for i in rows], docs=list(preprocessor.nlp.pipe(texts))
    )


def cross_validate(
    data: Dataset,
    pipeline: Kind,
    seed: int,
    folds: int,
    progress: Callable[[str], None] = lambda _: None,
    preprocessor: Preprocessor | None = None,
    readers: Readers | None = None,
) -> CrossValidation:
    """Stratified k-fold: the per-intent report, accuracy and macro F1 over held-out folds, and
    with a `preprocessor` and annotated data, the entity tagger's scores given each fold's
    predicted intents.

    A held-out text is held out wherever it occurs (a fold trains on no row with the same
    text), so a fold never knows it as an example. With `readers`, held-out texts are read as
    a served model reads a message: typos corrected towards the fold model's words."""
    labels = np.array(data.labels)
    smallest = min(Counter(data.labels).values())
    folds = max(2, min(folds, smallest))
    predicted = np.empty(len(labels), dtype=object)
    found: list[list[Entity]] = [[] for _ in data.texts]
    score_entities_too = preprocessor is not None and data.annotated
    keys = [same_text(t) for t in data.texts]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (rows, test) in enumerate(splitter.split(data.texts, labels), start=1):
        held_out = {keys[i] for i in test}
        train = np.array([i for i in rows if keys[i] not in held_out], dtype=np.intp)
        clf = IntentClassifier(kind=pipeline, seed=seed, language=data.classifier_language)
        clf.fit([data.texts[i] for i in train], [data.normalized[i] for i in train], labels[train].tolist())
        predictions = clf.predict(*_held_out_inputs(data, test, clf, readers))
        predicted[test] = [OOS if p.is_fallback else p.intent for p in predictions]
        if score_entities_too and preprocessor is not None:
            tagger = fit_tagger(data, preprocessor, train.tolist())
            if tagger is not None:
                texts = [data.texts[i] for i in test]
                intents = [None if p.is_fallback else p.intent for p in predictions]
                learned = tagger.predict_docs(list(preprocessor.nlp.pipe(texts)), intents)
                for i, guessed, intent in zip(test, learned, intents, strict=True):
                    found[i] = merge_entities([], guessed, intent, tagger.intent_entities)
        progress(f"  fold {k}/{folds} done")
    truth = labels.tolist()
    report = classification_report(truth, predicted.tolist(), zero_division=0)
    accuracy = float(np.mean(predicted == labels))
    macro = float(f1_score(truth, predicted.tolist(), average="macro", zero_division=0))
    scores: EntityReport | None = None
    if score_entities_too:
        examples = [
            AnnotatedExample(t, label, gold)
            for t, label, gold in zip(data.texts, data.labels, data.entities, strict=True)
        ]
        scores = score_entities(examples, found, max_misextracted=10)
    per_language = accuracy_by_language(truth, predicted.tolist(), data.text_languages) if data.text_languages else {}
    return CrossValidation(report, accuracy, macro, scores, top_confusions(truth, predicted.tolist()), per_language)


def _held_out_inputs(
    data: Dataset, test: NDArray[np.intp], clf: IntentClassifier, readers: Readers | None
) -> tuple[list[str], list[str], list[str] | None]:
    """The held-out rows' texts, normalised texts and spelled texts for `clf.predict`: with
    `readers`, as a model served with `clf` reads them; else as training read them."""
    texts = [data.texts[i] for i in test]
    if readers is None:
        return texts, [data.normalized[i] for i in test], None
    languages = [data.text_languages[i] for i in test] if data.text_languages else None
    readers.set_speller(clf.scorer_)
    try:
        normalized, spelled = readers.read_many(texts, languages)
    finally:
        readers.set_speller(None)
    return texts, normalized, spelled


def trained_examples(model: Model) -> list[tuple[str, str]]:
    """What a model folder learnt from: its `examples.jsonl`, or its intents.yaml's examples."""
    path = model.path / EXAMPLES
    return load_examples(path) if path.is_file() else model.domain.training_examples()


def _held_out_fifth(labels: list[str], seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Training and held-out row numbers, stratified when every label can be; the training rows
    in their original order, so that the same data refitted makes the same model."""
    train, test = held_out_split(labels, max(1, round(0.2 * len(labels))), seed)
    return np.sort(train), test


def current_model(models_dir: Path) -> Model | None:
    """The served model, if one loads with the installed libraries."""
    try:
        return load_model(models_dir)
    except ModelError:
        return None


def current_report(current: Model) -> str:
    """The served model's cross-validated per-intent report, or how to get one."""
    report = current.metadata.get("report")
    if report:
        return f"its cross-validated report (kept in {current.path / 'metadata.json'}):\n{report}"
    return (
        f"model {current.version} was trained with --quick (as `make run` and a server start do), "
        "so it has no cross-validated report; `python -m training.fit --force` retrains and prints one"
    )


def unchanged(data: Dataset, current: Model, intents_path: Path, pipeline: Kind, seed: int) -> bool:
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
    data: Dataset, readers: Readers, current: Model, pipeline: Kind, seed: int, threshold: float | None = None
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
    kept, intents = {same_text(t) for t in data.texts}, set(data.labels)
    gone = [(t, label) for t, label in previous if same_text(t) not in kept and label in intents]
    pool_texts, pool_labels = data.texts + [t for t, _ in gone], data.labels + [label for _, label in gone]
    train, test = _held_out_fifth(pool_labels, seed)
    texts = [pool_texts[i] for i in test]
    truth = [pool_labels[i] for i in test]
    held_out = {same_text(t) for t in texts}
    previous = [(t, label) for t, label in previous if same_text(t) not in held_out]
    meta = current.metadata
    old_readers = Readers(current.preprocessor, list(current.others.values()))
    try:
        baseline = IntentClassifier(
            kind=meta.get("pipeline", pipeline),
            seed=meta.get("seed", seed),
            language=classifier_language(current.domain.languages or [current.domain.language]),
        )
        baseline.fit(
            [t for t, _ in previous],
            old_readers.normalize_many([t for t, _ in previous]),
            [label for _, label in previous],
            threshold=current.domain.fallback.threshold,
        )
    except ClassifierError:  # e.g. nothing but one intent left once the held-out texts are gone
        return None
    rows = [i for i in train if i < len(data.texts)]  # the gone examples are held out or not the new model's
    candidate = IntentClassifier(kind=pipeline, seed=seed, language=data.classifier_language)
    candidate.fit(
        [data.texts[i] for i in rows],
        [data.normalized[i] for i in rows],
        [data.labels[i] for i in rows],
        threshold=threshold,
    )
    old = [OOS if p.is_fallback else p.intent for p in baseline.predict(texts, old_readers.normalize_many(texts))]
    new = [OOS if p.is_fallback else p.intent for p in candidate.predict(texts, readers.normalize_many(texts))]
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
            f"  {len(gone)} examples the current model learnt are gone from the new data; "
            "the held-out rows include them"
        )
    return old_acc, new_acc, "\n".join(lines)
