"""Exact matching: a message that is one of the training examples is that example's intent, sure."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from bot.classifier import IntentClassifier
from bot.inference import Scorer, exact_examples
from bot.model import load_model
from bot.nlp import Preprocessor
from bot.understanding import OOS
from training.evaluate import evaluate
from training.retraining import Dataset, cross_validate

DATA = Path(__file__).parent / "data"


def _load(name: str) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["text"], r["intent"]) for r in rows]


@pytest.fixture(scope="module")
def pre() -> Preprocessor:
    return Preprocessor("en")


@pytest.fixture(scope="module")
def tiny(pre: Preprocessor) -> tuple[list[str], IntentClassifier]:
    texts, labels = zip(*_load("tiny_intents.jsonl"), strict=True)
    return list(texts), IntentClassifier("light", seed=0).fit(list(texts), pre.normalize_many(texts), list(labels))


def test_the_table_keys_examples_by_same_text_and_leaves_disagreements_and_oos_to_the_classifier() -> None:
    texts = ["Hello", "hi  there", "cancel", "CANCEL ", "what's the weather", "bye", "Bye"]
    labels = ["greet", "greet", "stop", "cancel_order", OOS, "goodbye", "goodbye"]
    assert exact_examples(texts, labels) == {"hello": "greet", "hi there": "greet", "bye": "goodbye"}


def test_a_training_example_is_its_intent_with_full_confidence(
    tiny: tuple[list[str], IntentClassifier], pre: Preprocessor
) -> None:
    texts, clf = tiny
    labels = [label for _, label in _load("tiny_intents.jsonl")]
    variants = [f"  {t.upper().replace(' ', '   ')} " for t in texts]  # case and spaces do not matter
    guessed = replace(clf.scorer_, exact=None).predict(variants, pre.normalize_many(variants))
    predictions = clf.predict(variants, pre.normalize_many(variants))
    for p, guess, label in zip(predictions, guessed, labels, strict=True):
        assert (p.intent, p.confidence, p.is_fallback, p.ambiguous) == (label, 1.0, False, False)
        assert guess.confidence < 1.0  # the classifier alone is never quite sure
        # The model's other guesses follow, as it scored them.
        assert p.ranking[1:] == [(name, score) for name, score in guess.ranking if name != label][:2]


def test_a_message_that_is_no_example_is_scored_by_the_classifier(
    tiny: tuple[list[str], IntentClassifier], pre: Preprocessor
) -> None:
    _, clf = tiny
    probe = ["hello there my good bot", "will it rain on sunday or not", "blorp"]
    normalized = pre.normalize_many(probe)
    assert clf.predict(probe, normalized) == replace(clf.scorer_, exact=None).predict(probe, normalized)


def test_a_model_saved_before_the_table_existed_still_answers(
    tiny: tuple[list[str], IntentClassifier], pre: Preprocessor
) -> None:
    texts, clf = tiny
    older = Scorer.__new__(Scorer)  # as unpickling an older model.joblib makes it: no `exact` in its state
    older.__dict__.update({k: v for k, v in clf.scorer_.__dict__.items() if k != "exact"})
    predictions = older.predict(texts[:5], pre.normalize_many(texts[:5]))
    assert [p.confidence < 1.0 for p in predictions] == [True] * 5


def test_the_served_model_reads_every_training_example_as_its_intent(models_dir: Path) -> None:
    """What the service and training.test call (`Model.understand`)."""
    model = load_model(models_dir)
    examples = [(text, intent) for text, intent in model.domain.training_examples() if intent != OOS]
    understood = model.understand([text.upper() for text, _ in examples])
    assert [(u.prediction.intent, u.prediction.confidence) for u in understood] == [
        (intent, 1.0) for _, intent in examples
    ]
    assert not any(u.prediction.is_fallback or u.prediction.ambiguous for u in understood)


def test_evaluate_reads_a_test_text_that_is_a_training_example_as_served() -> None:
    train = _load("tiny_intents.jsonl")
    report, _ = evaluate(train, [(text.title(), intent) for text, intent in train[::4]], "light")
    assert report.accuracy == 1.0 and not report.misclassified


def test_cross_validation_holds_a_text_out_wherever_it_occurs(pre: Preprocessor) -> None:
    """A fold trains on no copy of a text it holds out: five copies of the one example of an
    intent leave every fold without that intent, which exact matching would otherwise answer."""
    rows = _load("tiny_intents.jsonl") + [(f"Open  the {'POD' if i % 2 else 'pod'} bay doors", "hal") for i in range(5)]
    texts, labels = [t for t, _ in rows], [label for _, label in rows]
    data = Dataset(texts, pre.normalize_many(texts), labels, Counter({"test": len(rows)}), "en")
    cv = cross_validate(data, "light", 0, 5)
    assert sum(n for expected, _, n in cv.confusions if expected == "hal") == 5
