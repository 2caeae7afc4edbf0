"""`python -m training.fit` deciding whether a retrained model replaces the served one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.domain import load_domain
from bot.model import EXAMPLES, LATEST, current_version
from tests.helpers import ROOT, SHOP
from training.fit import main as fit

DEMO = ROOT / "intents.yaml"

NOT_PROMOTED = 3


def _fewer_examples(tmp_path: Path) -> Path:
    """The demo domain with most examples of a few intents deleted, as if by mistake."""
    domain = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for name in ("order_status", "cancel_order", "book_appointment", "opening_hours", "help", "deny"):
        domain["intents"][name]["examples"] = domain["intents"][name]["examples"][:2]
    path = tmp_path / "fewer.yaml"
    path.write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def models(tmp_path: Path) -> Path:
    out = tmp_path / "models"
    assert fit(["--intents", str(SHOP), "--out", str(out), "--quick"]) == 0
    return out


def test_a_model_keeps_the_examples_it_learnt_from(models: Path) -> None:
    rows = [json.loads(line) for line in (models / LATEST / EXAMPLES).read_text(encoding="utf-8").splitlines()]
    assert [(r["text"], r["intent"]) for r in rows] == load_domain(SHOP).training_examples()


def test_nothing_changed_is_not_retrained(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = current_version(models)
    assert fit(["--intents", str(SHOP), "--out", str(models), "--folds", "0"]) == 0
    out = capsys.readouterr().out
    assert f"nothing changed since model {before}" in out
    assert f"model {before} was trained with --quick" in out and "python -m training.fit --force" in out
    assert current_version(models) == before and len(list(models.iterdir())) == 2  # the version and latest


def test_nothing_changed_shows_the_current_models_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    assert fit(["--intents", str(SHOP), "--out", str(models), "--folds", "2"]) == 0
    first = capsys.readouterr().out
    report = first[first.index("precision") : first.index("cross-validated accuracy")]
    assert fit(["--intents", str(SHOP), "--out", str(models), "--folds", "2"]) == 0
    out = capsys.readouterr().out
    metadata = models.resolve() / LATEST / "metadata.json"
    header = f"its cross-validated report (kept in {metadata.resolve()}):\n"
    assert header in out and out.split(header, 1)[1].strip() == report.strip()


def test_a_missing_review_database_is_an_error_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, models = tmp_path / "bot.db", tmp_path / "models"
    args = ["--intents", str(SHOP), "--out", str(models), "--quick", "--database-url", f"sqlite:///{db}"]
    assert fit(args) == 2
    assert capsys.readouterr().err == (
        f"error: no database at {db}: the bot creates it when it first runs (`make run`); "
        "give the URL of the bot's database, or leave out --database-url\n"
    )
    assert not db.exists() and not models.exists()


def test_retraining_on_the_same_data_compares_equal_and_is_promoted(
    models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The served model saw every held-out row; compared as it is, it would always win."""
    before = current_version(models)
    assert fit(["--intents", str(SHOP), "--out", str(models), "--folds", "0", "--force"]) == 0
    out = capsys.readouterr().out
    assert "(+0.000)" in out
    assert current_version(models) not in (None, before)


def test_a_worse_model_is_not_promoted_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    assert fit(["--intents", str(DEMO), "--out", str(models), "--quick"]) == 0
    served = current_version(models)
    worse = _fewer_examples(tmp_path)
    assert fit(["--intents", str(worse), "--out", str(models), "--folds", "0"]) == NOT_PROMOTED
    out = capsys.readouterr().out
    assert "not promoted: the new model is worse" in out and "--force" in out
    assert "examples the current model learnt are gone from the new data" in out
    assert current_version(models) == served
    assert fit(["--intents", str(worse), "--out", str(models), "--folds", "0", "--force"]) == 0
    assert current_version(models) != served
