"""Which pipeline `training.fit` trains when none is asked for: by the domain's languages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.domain import load_domain
from bot.model import LATEST
from tests.helpers import SHOP
from training.fit import domain_languages, pipeline_for
from training.fit import main as fit

RUSSIAN = Path(__file__).parent.parent / "examples" / "ru" / "intents.yaml"


def _trained_pipeline(out: Path) -> str:
    meta = json.loads(((out / LATEST).resolve() / "metadata.json").read_text(encoding="utf-8"))
    return str(meta["pipeline"])


@pytest.fixture
def russian(tmp_path: Path) -> Path:
    """The Russian example domain without its conversation tests (they judge replies, not this choice)."""
    target = tmp_path / "ru" / "intents.yaml"
    target.parent.mkdir()
    shutil.copy(RUSSIAN, target)
    for extra in RUSSIAN.parent.glob("*.py"):  # its actions
        shutil.copy(extra, target.parent)
    return target


def test_english_alone_is_light_and_any_other_or_several_languages_multilingual() -> None:
    assert pipeline_for({"en"}) == "light"
    assert pipeline_for({"ru"}) == "multilingual"
    assert pipeline_for({"en", "ru"}) == "multilingual"
    assert pipeline_for(["de"]) == "multilingual"


def test_a_domain_speaks_its_language() -> None:
    assert domain_languages(load_domain(SHOP)) == {"en"}
    assert domain_languages(load_domain(RUSSIAN)) == {"ru"}


def test_fit_on_a_russian_domain_trains_the_multilingual_pipeline(
    russian: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models"
    assert fit(["--intents", str(russian), "--out", str(out), "--quick"]) == 0
    assert _trained_pipeline(out) == "multilingual"
    assert "pipeline multilingual, for the language(s) ru" in capsys.readouterr().out


def test_an_explicit_pipeline_wins_over_the_languages(russian: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    assert fit(["--intents", str(russian), "--out", str(out), "--quick", "--pipeline", "light"]) == 0
    assert _trained_pipeline(out) == "light"


def test_an_english_domain_keeps_light(models_dir: Path) -> None:
    """The session's shop model, trained with no --pipeline (tests/conftest.py)."""
    assert _trained_pipeline(models_dir) == "light"


def test_the_service_leaves_the_choice_to_training_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_PIPELINE", raising=False)
    assert Settings(_env_file=None).pipeline is None
    monkeypatch.setenv("BOT_PIPELINE", "multilingual")
    assert Settings(_env_file=None).pipeline == "multilingual"
