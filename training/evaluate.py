"""`python -m training.evaluate`: train on one labelled file, score another.

    python -m training.evaluate --train train.jsonl --test test.jsonl [--pipeline encoder]
        [--json report.json] [--confusion confusion.png] [--threshold 0.6]

Files are JSON Lines `{"text", "intent"}` or intents.yaml. A test label `oos` means
out-of-scope: it is right when the classifier falls back. Accuracy and macro F1 count the
fallback as the label `oos`; in-scope accuracy is over in-scope test examples (a fallback
is wrong there), OOS recall over `oos` ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from bot.classifier import OOS, ClassifierError, IntentClassifier, Kind
from bot.encoder import EncoderUnavailable
from bot.language import detect_language, normalize_in_languages
from bot.nlp import PreprocessingError, Preprocessor
from training.data import DataError, load_examples

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
    per_language: dict[str, float] = field(default_factory=dict)
    """Accuracy over the test texts of each language, when there are several (`--language en,ru`)."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.2f}"

        lines = [
            f"pipeline {self.pipeline}: {self.n_train} train, {self.n_test} test examples, threshold {self.threshold:.3f}",
            f"accuracy {pct(self.accuracy)}  macro F1 {pct(self.macro_f1)}  in-scope accuracy {pct(self.in_scope_accuracy)}  OOS recall {pct(self.oos_recall)}",
            f"fit {self.fit_seconds:.1f} s  predict {self.predict_us:.0f} us per utterance (median, preprocessing included)",
            *(f"accuracy in {language}: {pct(value)}" for language, value in self.per_language.items()),
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
        return "\n".join(lines)


def evaluate(
    train: list[tuple[str, str]],
    test: list[tuple[str, str]],
    kind: Kind = "light",
    *,
    threshold: float | None = None,
    seed: int = 0,
    preprocessor: Preprocessor | None = None,
    others: dict[str, Preprocessor] | None = None,
    max_confusions: int = 20,
    max_misclassified: int = 50,
) -> tuple[Report, IntentClassifier]:
    """Fit on `train`, score `test`; also time fitting and single-utterance prediction. With
    `others` (preprocessors of more languages) one model learns every language, each text
    lemmatised in its own, and the report gives the accuracy per language."""
    if not train or not test:
        raise DataError("both the training and the test set need examples")
    pre = preprocessor or Preprocessor("en")
    languages = [pre.language, *(x for x in (others or {}) if x != pre.language)]
    normalizers = {pre.language: pre.normalize_many} | {x: p.normalize_many for x, p in (others or {}).items()}

    def normalize_many(texts: list[str]) -> list[str]:
        return (
            normalize_in_languages(texts, normalizers, languages) if len(languages) > 1 else pre.normalize_many(texts)
        )

    texts = [t for t, _ in train]
    normalized = normalize_many(texts)
    started = time.perf_counter()
    clf = IntentClassifier(kind=kind, seed=seed, language="+".join(languages)).fit(
        texts, normalized, [label for _, label in train], threshold=threshold
    )
    fit_seconds = time.perf_counter() - started

    test_texts = [t for t, _ in test]
    truth = np.array([label for _, label in test], dtype=object)
    predictions = clf.predict(test_texts, normalize_many(test_texts))
    predicted = np.array([OOS if p.is_fallback else p.intent for p in predictions], dtype=object)

    timings = []
    for text in test_texts[:: max(1, len(test_texts) // LATENCY_SAMPLE)][:LATENCY_SAMPLE]:
        t0 = time.perf_counter()
        clf.predict([text], normalize_many([text]))
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
        per_language=_per_language(test_texts, truth, predicted, languages) if len(languages) > 1 else {},
    )
    return report, clf


def _per_language(texts: list[str], truth: np.ndarray, predicted: np.ndarray, languages: list[str]) -> dict[str, float]:
    """Accuracy over the texts of each language (by their letters, `bot.language`)."""
    found = np.array([detect_language(t, languages) for t in texts], dtype=object)
    return {x: float(np.mean(predicted[found == x] == truth[found == x])) for x in languages if (found == x).any()}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="training examples (.jsonl or intents.yaml)")
    parser.add_argument(
        "--test", type=Path, required=True, help="test examples (.jsonl or intents.yaml); label 'oos' = out-of-scope"
    )
    parser.add_argument("--pipeline", choices=["light", "encoder"], default="light")
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
    try:
        train, test = load_examples(args.train), load_examples(args.test)
        first, *rest = args.language.split(",")
        pre, others = Preprocessor(first), {x: Preprocessor(x) for x in rest}
        report, clf = evaluate(
            train, test, args.pipeline, threshold=args.threshold, seed=args.seed, preprocessor=pre, others=others
        )
    except (DataError, ClassifierError, EncoderUnavailable, PreprocessingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    if args.confusion:
        texts = [t for t, _ in test]
        languages = [first, *rest]
        normalizers = {x: p.normalize_many for x, p in {first: pre, **others}.items()}
        normalized = normalize_in_languages(texts, normalizers, languages)
        predicted = [OOS if p.is_fallback else p.intent for p in clf.predict(texts, normalized)]
        plot_confusion(report, test, predicted, args.confusion)
    return 0


if __name__ == "__main__":
    sys.exit(main())
