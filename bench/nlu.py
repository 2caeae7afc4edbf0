"""Intent-classifier benchmark on public data sets: one table, both pipelines.

    python bench/nlu.py [--data DIR] [--pipelines light,encoder] [--quick]

For each data set the model is trained on `train.jsonl` (the fallback threshold is picked
inside `fit` on a held-out fifth of it; `valid` and `test` are never seen by training) and
scored on `test.jsonl`. CLINC150 is reported as in-scope accuracy / OOS recall. Latency is
the median of single-utterance calls with spaCy preprocessing; memory is the RSS a fresh
process gains by loading the saved model and answering one utterance, after importing numpy
and spaCy, which the server needs anyway. `--quick` uses the small training sets and at most
1,000 test examples.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import joblib  # noqa: E402

from bot.encoder import EncoderUnavailable  # noqa: E402
from bot.nlp import Preprocessor  # noqa: E402
from training.data import load_examples  # noqa: E402
from training.evaluate import Report, evaluate  # noqa: E402

DATASETS = ["clinc150_full", "clinc150_small", "clinc150_oos_plus", "snips"]
QUICK = {"clinc150_small": "train.jsonl", "snips": "train_small.jsonl"}
QUICK_TEST = 1000

_RSS_PROBE = """
import sys, joblib
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * __import__("os").sysconf("SC_PAGE_SIZE")
import numpy, bot.nlp  # the server imports these anyway; count the model's own share
before = rss()
clf = joblib.load(sys.argv[1])
clf.predict(["hello there"], ["hello there"])
print((rss() - before) / 2**20)
"""


def model_rss_mb(path: Path) -> float | None:
    """RSS added by loading the model and predicting once, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(path)], capture_output=True, text=True, env=env, timeout=300
    )
    try:
        return float(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None


def run(
    data: Path, dataset: str, kind: str, quick: bool, pre: Preprocessor, spelling: bool = True
) -> tuple[Report, float | None]:
    train = load_examples(data / dataset / (QUICK.get(dataset, "train.jsonl") if quick else "train.jsonl"))
    test = load_examples(data / dataset / "test.jsonl")
    if quick and len(test) > QUICK_TEST:
        test = test[:: len(test) // QUICK_TEST][:QUICK_TEST]
    report, clf = evaluate(train, test, kind, preprocessor=pre, spelling=spelling)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(clf.scorer_, path, compress=3)
        return report, model_rss_mb(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "benchmarks",
        help="benchmarks folder (default ../shared/benchmarks)",
    )
    parser.add_argument("--pipelines", default="light,encoder", help="comma-separated: light,encoder")
    parser.add_argument("--quick", action="store_true", help="small training sets, at most 1,000 test examples")
    parser.add_argument("--datasets", help="comma-separated subset of the data sets")
    parser.add_argument("--no-spelling", action="store_true", help="without the typo correction (bot/spelling.py)")
    args = parser.parse_args(argv)
    datasets = list(QUICK) if args.quick else DATASETS
    if args.datasets:
        datasets = [d.strip() for d in args.datasets.split(",")]
    pre = Preprocessor("en")
    header = f"{'dataset':<20} {'pipeline':<8} {'in-scope':>8} {'OOS rec':>8} {'accuracy':>8} {'fit s':>7} {'pred us':>8} {'RSS MB':>7}"
    rows = []
    for kind in args.pipelines.split(","):
        for dataset in datasets:
            try:
                report, rss = run(args.data, dataset, kind.strip(), args.quick, pre, not args.no_spelling)
            except EncoderUnavailable as exc:
                rows.append(f"{dataset:<20} {kind:<8} skipped: {exc}")
                continue

            def pct(x: float | None) -> str:
                return "-" if x is None else f"{100 * x:.2f}"

            rows.append(
                f"{dataset:<20} {kind:<8} {pct(report.in_scope_accuracy):>8} {pct(report.oos_recall):>8} {pct(report.accuracy):>8} "
                f"{report.fit_seconds:7.1f} {report.predict_us:8.0f} {'-' if rss is None else f'{rss:.0f}':>7}"
            )
            print(rows[-1], file=sys.stderr, flush=True)
    print(header)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
