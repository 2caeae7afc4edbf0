"""training.evaluate on the tiny JSONL fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data import load_examples
from training.evaluate import evaluate, main

DATA = Path(__file__).parent / "data"
TRAIN = DATA / "tiny_intents.jsonl"
TEST = DATA / "tiny_test.jsonl"


def test_evaluate_report() -> None:
    report, clf = evaluate(load_examples(TRAIN), load_examples(TEST), "light")
    assert report.n_train == 80 and report.n_test == 23
    assert report.in_scope_accuracy is not None and report.in_scope_accuracy >= 0.8
    assert report.oos_recall is not None and 0.0 <= report.oos_recall <= 1.0
    assert 0.0 <= report.macro_f1 <= 1.0 and 0.0 <= report.accuracy <= 1.0
    assert report.fit_seconds > 0 and report.predict_us > 0
    assert report.threshold == clf.threshold_
    names = {s.intent for s in report.per_intent}
    assert "greet" in names and "oos" in names
    assert all(a != b for a, b, _ in report.confusions)
    assert all(m.expected != m.predicted for m in report.misclassified)
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
