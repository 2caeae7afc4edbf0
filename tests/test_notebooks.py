"""The analyst notebooks: committed without outputs, and each runs top to bottom on a simulated log."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from bot.domain import load_domain
from tests.helpers import ROOT, SHOP
from training import analysis
from training.simulate import main as simulate

NOTEBOOKS = ROOT / "notebooks"
NAMES = ("review_logs.ipynb", "model_evaluation.ipynb")


@pytest.fixture(scope="module")
def simulated_db(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> str:
    """A small SQLite log written by simulated users of the shop bot, spread over a week."""
    url = f"sqlite:///{tmp_path_factory.mktemp('simulated') / 'bot.db'}"
    args = [
        "--database-url",
        url,
        "--intents",
        str(SHOP),
        "--models",
        str(models_dir),
        "--conversations",
        "15",
        "--seed",
        "0",
    ]
    assert simulate(args) == 0
    return url


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before committing"


EVAL_VARS = ("EVAL_TRAIN", "EVAL_TEST", "EVAL_TEST_SIZE", "EVAL_PIPELINE", "EVAL_SEED", "EVAL_LANGUAGE")
RUNS = [
    pytest.param("review_logs.ipynb", {}, id="review_logs"),
    pytest.param(
        "model_evaluation.ipynb",
        {"EVAL_TRAIN": "tests/data/tiny_intents.jsonl", "EVAL_TEST": "tests/data/tiny_test.jsonl"},
        id="model_evaluation-fixtures",
    ),
    pytest.param(
        "model_evaluation.ipynb", {"EVAL_TRAIN": str(SHOP), "EVAL_TEST_SIZE": "0.3"}, id="model_evaluation-split"
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "env"), RUNS)
def test_notebook_runs(name: str, env: dict[str, str], simulated_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_DATABASE_URL", simulated_db)  # the kernel inherits this process's environment
    monkeypatch.setenv("BOT_INTENTS_PATH", str(SHOP))
    for var in EVAL_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3, "the notebook draws its charts"


def test_the_numbers_the_notebooks_plot(simulated_db: str) -> None:
    messages = analysis.load_messages(simulated_db)
    sessions = analysis.load_sessions(simulated_db)
    inbound = messages[messages["direction"] == "in"]
    assert len(sessions) == 15 and len(inbound) >= 15

    daily = analysis.daily_counts(messages, sessions)
    assert daily["messages_in"].sum() == len(inbound) and daily["sessions"].sum() == 15
    assert len(daily) >= 2  # the simulator spreads conversations over days

    intents = analysis.intent_distribution(messages)
    assert intents.sum() == len(inbound)
    rates = analysis.fallback_rate_by_day(messages)
    assert rates["fallbacks"].sum() == inbound["fallback"].sum() and rates["rate"].between(0, 1).all()
    assert analysis.confidences(messages).between(0, 1).all()

    worst = analysis.misunderstood(messages, top=5)
    assert len(worst) <= 5 and list(worst["count"]) == sorted(worst["count"], reverse=True)

    funnel = analysis.form_funnel(messages, sessions, load_domain(SHOP))
    assert set(funnel["form"]) == {"order_status", "book"}
    assert funnel["reached"].sum() > 0
    for _, steps in funnel.groupby("form", sort=False):
        reached, given = list(steps["reached"]), list(steps["given"])
        assert all(g <= r for g, r in zip(given, reached, strict=False))
        assert all(nxt <= g for g, nxt in zip(given, reached[1:], strict=False))  # a funnel only narrows

    versions = analysis.compare_versions(messages)
    assert len(versions) == 1 and versions["messages"].iloc[0] == len(inbound)
    assert versions["thumbs_down"].iloc[0] == (messages["feedback"] == -1).sum()


def test_the_evaluation_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAL_TRAIN", "tests/data/tiny_intents.jsonl")
    monkeypatch.setenv("EVAL_TEST", "tests/data/tiny_test.jsonl")
    setup = analysis.evaluation_setup()
    assert (len(setup.train), len(setup.test), setup.threshold) == (80, 23, None)
    evaluation = analysis.run_evaluation(setup)
    matrix = analysis.confusion_matrix(evaluation)
    right = int(matrix.to_numpy().trace())
    assert matrix.to_numpy().sum() == 23 and right / 23 == pytest.approx(evaluation.report.accuracy)
    assert len(analysis.errors(evaluation)) == 23 - right
    worst = analysis.worst_intents(evaluation)
    assert list(worst["f1"]) == sorted(worst["f1"])
    assert analysis.headline(evaluation)["n_test"] == 23

    monkeypatch.delenv("EVAL_TEST")
    split = analysis.evaluation_setup(train=str(SHOP), test_size=0.25, seed=1)
    assert (len(split.train) + len(split.test), len(split.test), split.threshold) == (36, 9, 0.3)
    assert {label for _, label in split.test} == set(load_domain(SHOP).intents)  # stratified: every intent is tested
