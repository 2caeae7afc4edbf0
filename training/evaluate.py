"""`python -m training.evaluate`: train on one labelled file, score another.

    python -m training.evaluate --train train.jsonl --test test.jsonl [--pipeline encoder|multilingual]
        [--json report.json] [--confusion confusion.png] [--threshold 0.6]

Files are JSON Lines `{"text", "intent"}` or intents.yaml. A test label `oos` means
out-of-scope: it is right when the classifier falls back. Accuracy and macro F1 count the
fallback as the label `oos`; in-scope accuracy is over in-scope test examples (a fallback
is wrong there), OOS recall over `oos` ones.

When the training data annotates entities (intents.yaml `[text](entity)` marks, or JSON Lines
`"entities": [{"start", "end", "entity", "value"}]`), the entity tagger is trained too and the
report's `entities` scores what the bot extracts from the test texts (`training.entity_scores`):
learned entities given the predicted intent, merged with the declared ones of a training
intents.yaml, against the test annotations.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from bot.classifier import OOS, PIPELINES, ClassifierError, IntentClassifier, Kind
from bot.domain import load_domain
from bot.encoder import EncoderUnavailable
from bot.entity_merge import merge_entities
from bot.nlp import PreprocessingError, Preprocessor
from bot.tagger import EntityTagger, has_annotations
from training.data import AnnotatedExample, DataError, GoldEntity, load_annotated
from training.entity_scores import EntityReport, score_entities
from training.languages import Readers, accuracy_by_language, by_language_line, classifier_language

LATENCY_SAMPLE = 200


@dataclass(frozen=True)
class IntentScore:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Miss:
    text: str
    expected: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class Report:
    pipeline: str
    n_train: int
    n_test: int
    threshold: float
    accuracy: float
    macro_f1: float
    in_scope_accuracy: float | None
    oos_recall: float | None
    fit_seconds: float
    predict_us: float
    per_intent: list[IntentScore]
    confusions: list[tuple[str, str, int]]
    misclassified: list[Miss]
    entities: EntityReport | None = None
    entity_fit_seconds: float | None = None
    entity_predict_us: float | None = None
    """Median time to tag one message, its spaCy pass included."""
    per_language: dict[str, tuple[float, int]] = field(default_factory=dict)
    """(accuracy, test examples) of each language, when the model reads several (`--language en,ru`)."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.2f}"

        lines = [
            f"pipeline {self.pipeline}: {self.n_train} train, {self.n_test} test examples, "
            f"threshold {self.threshold:.3f}",
            f"accuracy {pct(self.accuracy)}  macro F1 {pct(self.macro_f1)}  "
            f"in-scope accuracy {pct(self.in_scope_accuracy)}  OOS recall {pct(self.oos_recall)}",
            f"fit {self.fit_seconds:.1f} s  predict {self.predict_us:.0f} us per utterance "
            "(median, preprocessing included)",
            *([f"accuracy by language: {by_language_line(self.per_language)}"] if self.per_language else []),
            "",
            f"{'intent':<32} {'prec':>6} {'recall':>6} {'F1':>6} {'n':>5}",
        ]
        lines += [
            f"{s.intent:<32} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:5d}" for s in self.per_intent
        ]
        if self.confusions:
            lines += ["", "most frequent confusions (expected -> predicted: count)"]
            lines += [f"  {a} -> {b}: {n}" for a, b, n in self.confusions]
        if self.misclassified:
            lines += ["", f"misclassified examples (first {len(self.misclassified)})"]
            lines += [f"  [{m.expected} -> {m.predicted} {m.confidence:.2f}] {m.text}" for m in self.misclassified]
        if self.entities is not None:
            lines += [
                "",
                f"entity tagger: fit {self.entity_fit_seconds or 0:.1f} s,"
                f" {self.entity_predict_us or 0:.0f} us per utterance (median, spaCy pass included)",
                self.entities.summary(),
            ]
        return "\n".join(lines)


def evaluate(
    train: list[tuple[str, str]],
    test: list[tuple[str, str]],
    kind: Kind = "light",
    *,
    threshold: float | None = None,
    seed: int = 0,
    preprocessor: Preprocessor | None = None,
    max_confusions: int = 20,
    max_misclassified: int = 50,
    train_entities: Sequence[tuple[GoldEntity, ...]] | None = None,
    test_entities: Sequence[tuple[GoldEntity, ...]] | None = None,
    spelling: bool = True,
    others: Sequence[Preprocessor] = (),
) -> tuple[Report, IntentClassifier]:
    """Fit on `train`, score `test`; also time fitting and single-utterance prediction.

    With `train_entities` annotated (one tuple per training example), the entity tagger is
    fitted and scored against `test_entities` too. With `others` (more languages' preprocessors)
    one model learns every language, each text read in the one its letters tell, and the report
    gives the accuracy of each."""
    if not train or not test:
        raise DataError("both the training and the test set need examples")
    pre = preprocessor or Preprocessor("en")
    readers = Readers(pre, others)
    readers.set_speller(None)  # training data is the vocabulary: nothing in it is a typo
    texts = [t for t, _ in train]
    normalized = readers.normalize_many(texts)
    started = time.perf_counter()
    clf = IntentClassifier(kind=kind, seed=seed, language=classifier_language(readers.languages)).fit(
        texts, normalized, [label for _, label in train], threshold=threshold
    )
    fit_seconds = time.perf_counter() - started

    test_texts = [t for t, _ in test]
    truth = np.array([label for _, label in test], dtype=object)
    readers.set_speller(clf.scorer_ if spelling else None)  # as served: bot.model.load_model
    test_languages = readers.detect(test_texts)
    predictions = clf.predict(test_texts, *readers.read_many(test_texts, test_languages))
    predicted = np.array([OOS if p.is_fallback else p.intent for p in predictions], dtype=object)

    timings = []
    for text in test_texts[:: max(1, len(test_texts) // LATENCY_SAMPLE)][:LATENCY_SAMPLE]:
        t0 = time.perf_counter()
        clf.predict([text], *readers.read_many([text]))
        timings.append(time.perf_counter() - t0)

    inscope = truth != OOS
    labels = sorted(set(truth) | set(predicted))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    pairs = Counter((a, b) for a, b in zip(truth, predicted, strict=False) if a != b)
    misses = [
        Miss(text, str(a), str(b), round(pr.confidence, 4))
        for text, a, b, pr in zip(test_texts, truth, predicted, predictions, strict=False)
        if a != b
    ]
    entity_scores: tuple[EntityReport, float, float] | None = None
    if train_entities is not None and has_annotations(train_entities):
        test_gold = test_entities if test_entities is not None else [() for _ in test]
        intents = [None if p.is_fallback else p.intent for p in predictions]
        entity_scores = score_learned_entities(train, train_entities, test, test_gold, intents, pre)
    report = Report(
        pipeline=kind,
        n_train=len(train),
        n_test=len(test),
        threshold=float(clf.threshold_),
        accuracy=float(np.mean(predicted == truth)),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        in_scope_accuracy=float(np.mean(predicted[inscope] == truth[inscope])) if inscope.any() else None,
        oos_recall=float(np.mean(predicted[~inscope] == OOS)) if (~inscope).any() else None,
        fit_seconds=fit_seconds,
        predict_us=1e6 * statistics.median(timings),
        per_intent=[
            IntentScore(str(lab), float(a), float(b), float(c), int(d))
            for lab, a, b, c, d in zip(labels, p, r, f, s, strict=False)
        ],
        confusions=[(str(a), str(b), n) for (a, b), n in pairs.most_common(max_confusions)],
        misclassified=misses[:max_misclassified],
        entities=entity_scores[0] if entity_scores else None,
        entity_fit_seconds=entity_scores[1] if entity_scores else None,
        entity_predict_us=entity_scores[2] if entity_scores else None,
        per_language=accuracy_by_language(truth.tolist(), predicted.tolist(), test_languages) if others else {},
    )
    return report, clf


def score_learned_entities(
    train: Sequence[tuple[str, str]],
    train_entities: Sequence[tuple[GoldEntity, ...]],
    test: Sequence[tuple[str, str]],
    test_entities: Sequence[tuple[GoldEntity, ...]],
    predicted_intents: Sequence[str | None],
    pre: Preprocessor,
) -> tuple[EntityReport, float, float]:
    """Fit the entity tagger, extract from the test texts as the served model does (learned
    entities given the predicted intent, merged with `pre`'s declared ones) and score them;
    also the fit's seconds and the median microseconds to tag one message."""
    texts = [t for t, _ in train]
    docs = list(pre.nlp.pipe(texts))
    started = time.perf_counter()
    tagger = EntityTagger(pre.language).fit(texts, train_entities, intents=[i for _, i in train], docs=docs)
    fit_seconds = time.perf_counter() - started
    test_texts = [t for t, _ in test]
    test_docs = list(pre.nlp.pipe(test_texts))
    learned = tagger.predict_docs(test_docs, predicted_intents)
    found = [
        merge_entities(pre.process_doc(doc)[1], guessed, intent, tagger.intent_entities)
        for doc, guessed, intent in zip(test_docs, learned, predicted_intents, strict=True)
    ]
    examples = [AnnotatedExample(text, intent, gold) for (text, intent), gold in zip(test, test_entities, strict=True)]
    timings = []
    for text, intent in list(zip(test_texts, predicted_intents, strict=True))[:LATENCY_SAMPLE]:
        t0 = time.perf_counter()
        tagger.predict_docs([pre.nlp(text)], [intent])
        timings.append(time.perf_counter() - t0)
    return score_entities(examples, found), fit_seconds, 1e6 * statistics.median(timings)


def plot_confusion(report: Report, test: list[tuple[str, str]], predicted: list[str], path: Path) -> None:
    """A confusion-matrix heat map of the labels involved in errors (all labels if few)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = [label for _, label in test]
    involved = sorted({a for a, _, _ in report.confusions} | {b for _, b, _ in report.confusions})
    labels = involved if len(set(truth)) > 30 and involved else sorted(set(truth) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for a, b in zip(truth, predicted, strict=False):
        if a in index and b in index:
            matrix[index[a], index[b]] += 1
    size = max(4.0, 0.3 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"{report.pipeline}: accuracy {100 * report.accuracy:.1f}%")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="training examples (.jsonl or intents.yaml)")
    parser.add_argument(
        "--test", type=Path, required=True, help="test examples (.jsonl or intents.yaml); label 'oos' = out-of-scope"
    )
    parser.add_argument("--pipeline", choices=PIPELINES, default="light")
    parser.add_argument(
        "--threshold", type=float, help="fallback confidence threshold (default: picked on held-out training data)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--language", default="en", help="preprocessing language (default en); several for one model: en,ru"
    )
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--confusion", type=Path, help="draw a confusion matrix PNG here")
    args = parser.parse_args(argv)
    if args.confusion and not _has_matplotlib():  # said before training, not after
        print(
            "error: --confusion draws with matplotlib, which `make run` does not install: "
            "`.venv/bin/pip install -e '.[analysis]'` (or leave out --confusion)",
            file=sys.stderr,
        )
        return 2
    try:
        annotated_train, annotated_test = load_annotated(args.train), load_annotated(args.test)
        train = [(e.text, e.intent) for e in annotated_train]
        test = [(e.text, e.intent) for e in annotated_test]
        declared = load_domain(args.train).entities if args.train.suffix in {".yaml", ".yml"} else {}
        first, *rest = args.language.split(",")
        pre, others = Preprocessor(first, declared), [Preprocessor(x, declared) for x in rest]
        report, clf = evaluate(
            train,
            test,
            args.pipeline,
            threshold=args.threshold,
            seed=args.seed,
            preprocessor=pre,
            train_entities=[e.entities for e in annotated_train],
            test_entities=[e.entities for e in annotated_test],
            others=others,
        )
    except (DataError, ClassifierError, EncoderUnavailable, PreprocessingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    if args.confusion:
        texts = [t for t, _ in test]
        read = Readers(pre, others).read_many(texts)  # with the speller `evaluate` set, as served
        predicted = [OOS if p.is_fallback else p.intent for p in clf.predict(texts, *read)]
        plot_confusion(report, test, predicted, args.confusion)
    return 0


if __name__ == "__main__":
    sys.exit(main())
