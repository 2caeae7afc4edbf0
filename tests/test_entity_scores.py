"""Entity precision, recall and F1 on a small annotated fixture, computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.understanding import Entity
from training.data import AnnotatedExample, DataError, GoldEntity, load_annotated
from training.entity_scores import score_entities
from training.evaluate import main

DATA = Path(__file__).parent / "data"
JSONL = DATA / "entities_test.jsonl"
YAML = DATA / "entities_test.yaml"
TRAIN = DATA / "entities_train.yaml"


def found(text: str, *spans: tuple[str, str]) -> list[Entity]:
    out = []
    for entity, value in spans:
        start = text.index(value)
        out.append(Entity(entity, value, start, start + len(value), value, 0.9, "model"))
    return out


TEXTS = [row["text"] for row in map(json.loads, JSONL.read_text().splitlines())]
PREDICTED = [
    found(TEXTS[0], ("name", "Anna"), ("time", "seven")),  # both exact
    found(TEXTS[1], ("city", "York")),  # overlaps New York: right type, wrong span
    found(TEXTS[2], ("name", "Emily"), ("city", "Clarke")),  # a partial name, and a wrong type
    found(TEXTS[3], ("name", "hello")),  # nothing annotated
]


def test_both_annotation_formats_read_the_same() -> None:
    by_text = {e.text: e for e in load_annotated(YAML)}
    jsonl = load_annotated(JSONL)
    assert [by_text[e.text] for e in jsonl] == jsonl
    assert jsonl[1] == AnnotatedExample(
        "weather in New York tomorrow", "weather", (GoldEntity(11, 19, "city", "New York"),)
    )


@pytest.mark.parametrize("path", [JSONL, YAML])
def test_scores_by_hand(path: Path) -> None:
    examples = {e.text: e for e in load_annotated(path)}
    report = score_entities([examples[t] for t in TEXTS], PREDICTED)
    # 4 annotated, 6 predicted, 2 exact (Anna, seven), 4 overlapping of the right type (+ York, Emily)
    assert report.support == 4
    assert report.precision == pytest.approx(2 / 6) and report.recall == pytest.approx(2 / 4)
    assert report.micro_f1 == pytest.approx(0.4)
    assert report.overlap_precision == pytest.approx(4 / 6) and report.overlap_recall == pytest.approx(1.0)
    assert report.overlap_f1 == pytest.approx(0.8)
    per = {s.entity: s for s in report.per_entity}
    assert (per["name"].precision, per["name"].recall, per["name"].support) == (pytest.approx(1 / 3), 0.5, 2)
    assert per["name"].f1 == pytest.approx(0.4) and per["name"].overlap_f1 == pytest.approx(0.8)
    assert (per["time"].f1, per["time"].overlap_f1) == (1.0, 1.0)
    assert (per["city"].precision, per["city"].recall, per["city"].f1) == (0.0, 0.0, 0.0)
    assert per["city"].overlap_f1 == pytest.approx(2 / 3)
    assert [m.text for m in report.misextracted] == TEXTS[1:]
    assert report.misextracted[1].expected == [("name", "Emily Clarke")]
    assert report.misextracted[1].predicted == [("name", "Emily"), ("city", "Clarke")]


def test_an_overlap_matches_one_annotation_only() -> None:
    [example] = [e for e in load_annotated(JSONL) if e.intent == "weather"]
    report = score_entities([example], [found(example.text, ("city", "New"), ("city", "York"))])
    assert report.overlap_precision == 0.5 and report.overlap_recall == 1.0 and report.micro_f1 == 0.0


def test_entities_outside_the_text_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "intent": "greet", "entities": [{"start": 0, "end": 9, "entity": "x"}]}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:1: entity x spans 0-9, outside the text"):
        load_annotated(bad)


def test_evaluate_reports_entities_under_their_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    assert main(["--train", str(TRAIN), "--test", str(JSONL), "--json", str(out)]) == 0
    entities = json.loads(out.read_text())["entities"]
    assert {"micro_f1", "precision", "recall", "per_entity", "overlap_f1", "misextracted"} <= set(entities)
    assert entities["support"] == 4
    assert {s["entity"] for s in entities["per_entity"]} >= {"name", "time", "city"}
    assert 0.5 <= entities["micro_f1"] <= entities["overlap_f1"] <= 1.0
    assert "entities (exact span): micro F1" in capsys.readouterr().out


def test_evaluate_without_annotations_has_no_entity_scores(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    tiny = DATA / "tiny_intents.jsonl"
    assert main(["--train", str(tiny), "--test", str(DATA / "tiny_test.jsonl"), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["entities"] is None
