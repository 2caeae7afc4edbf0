"""training.evaluate on the tiny JSONL fixture."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.nlp import Preprocessor
from bot.understanding import OOS
from training.data import load_examples
from training.evaluate import evaluate, main

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "tiny_intents.jsonl"
TEST = DATA / "tiny_test.jsonl"


def test_evaluate_report() -> None:
    test = load_examples(TEST)
    report, clf = evaluate(load_examples(TRAIN), test, "light")
    assert report.n_train == 80 and report.n_test == 23
    assert report.in_scope_accuracy is not None and report.in_scope_accuracy >= 0.8
    assert report.threshold == clf.threshold_
    assert report.fit_seconds > 0 and report.predict_us > 0

    # Every score recounted from the returned classifier's own answers.
    texts, truth = [t for t, _ in test], [i for _, i in test]
    got = [OOS if p.is_fallback else p.intent for p in clf.predict(texts, Preprocessor("en").normalize_many(texts))]
    pairs = list(zip(truth, got, strict=True))
    assert report.accuracy == pytest.approx(sum(t == g for t, g in pairs) / len(pairs))
    in_scope = [t == g for t, g in pairs if t != OOS]
    assert report.in_scope_accuracy == pytest.approx(sum(in_scope) / len(in_scope))
    oos = [g == OOS for t, g in pairs if t == OOS]
    assert report.oos_recall == pytest.approx(sum(oos) / len(oos))
    assert {s.intent: s.support for s in report.per_intent} == {
        label: truth.count(label) for label in set(truth) | set(got)
    }
    for score in report.per_intent:
        hits = sum(t == g == score.intent for t, g in pairs)
        assert score.precision == pytest.approx(hits / max(1, got.count(score.intent)))
        assert score.recall == pytest.approx(hits / max(1, truth.count(score.intent)))
    assert report.macro_f1 == pytest.approx(sum(s.f1 for s in report.per_intent) / len(report.per_intent))
    wrong = [(x, t, g) for x, (t, g) in zip(texts, pairs, strict=True) if t != g]
    assert [(m.text, m.expected, m.predicted) for m in report.misclassified] == wrong
    assert sorted((a, b, n) for a, b, n in report.confusions) == sorted(
        (a, b, n) for (a, b), n in Counter((t, g) for _, t, g in wrong).items()
    )
    assert "in-scope accuracy" in report.summary()


def test_no_oos_in_test_set() -> None:
    test = [(t, i) for t, i in load_examples(TEST) if i != "oos"]
    report, _ = evaluate(load_examples(TRAIN), test, "light", threshold=0.0)
    assert report.oos_recall is None
    assert report.in_scope_accuracy == report.accuracy


def test_cli_writes_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "report.json", tmp_path / "confusion.png"
    assert main(["--train", str(TRAIN), "--test", str(TEST), "--json", str(out), "--confusion", str(png)]) == 0
    report = json.loads(out.read_text())
    assert {
        "accuracy",
        "macro_f1",
        "in_scope_accuracy",
        "oos_recall",
        "per_intent",
        "confusions",
        "misclassified",
    } <= set(report)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "macro F1" in capsys.readouterr().out


def test_cli_reports_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no intent"}\n')
    assert main(["--train", str(bad), "--test", str(TEST)]) == 2
    assert "error" in capsys.readouterr().err


def test_confusion_without_matplotlib_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as after `make run`, which installs no extras
    png = tmp_path / "confusion.png"
    assert main(["--train", str(TRAIN), "--test", str(TEST), "--confusion", str(png)]) == 2
    assert capsys.readouterr().err == (
        "error: --confusion draws with matplotlib, which `make run` does not install: "
        "`.venv/bin/pip install -e '.[analysis]'` (or leave out --confusion)\n"
    )
    assert not png.exists()
