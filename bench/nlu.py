"""Intent-classifier benchmark on public data sets: one table, both pipelines.

    python bench/nlu.py [--data DIR] [--pipelines light,encoder] [--quick] [--few-shot-only] [--languages]

For each data set the model is trained on `train.jsonl` (the fallback threshold is picked
inside `fit` on a held-out fifth of it; `valid` and `test` are never seen by training) and
scored on `test.jsonl`. CLINC150 is reported as in-scope accuracy / OOS recall. Latency is
the median of single-utterance calls with spaCy preprocessing; memory is the RSS a fresh
process gains by loading the saved model and answering one utterance, after importing numpy
and spaCy, which the server needs anyway. `--quick` uses the small training sets and at most
1,000 test examples.

Few examples: the row `clinc150 10/intent` trains on `SHOTS` examples of each in-scope intent
drawn from clinc150_full's `train` (one draw per seed of `SHOT_SEEDS`, no oos examples, as a
bot author would write them) and reports the in-scope accuracy on its in-scope `test`
queries, after the fallback and (in brackets) before it, averaged over the seeds.

Languages (`--languages`): the shipped English and Russian bots have the same intents. Each
bot's examples are split 80/20 (stratified, seed 0); the rows give the accuracy (the fallback
counted wrong) on each language's held-out fifth of one model per language and of one model
trained on both languages' training rows.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import joblib  # noqa: E402

from bot.encoder import EncoderUnavailable  # noqa: E402
from bot.inference import OOS  # noqa: E402
from bot.nlp import Preprocessor  # noqa: E402
from training.data import load_examples  # noqa: E402
from training.evaluate import Report, evaluate  # noqa: E402

DATASETS = ["clinc150_full", "clinc150_small", "clinc150_oos_plus", "snips"]
QUICK = {"clinc150_small": "train.jsonl", "snips": "train_small.jsonl"}
QUICK_TEST = 1000
SHOTS = 10
SHOT_SEEDS = (0, 1, 2)

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
        [sys.executable, "-c", _RSS_PROBE, str(path)], check=False, capture_output=True, text=True, env=env, timeout=300
    )
    try:
        return float(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None


def run(data: Path, dataset: str, kind: str, quick: bool, pre: Preprocessor) -> tuple[Report, float | None]:
    train = load_examples(data / dataset / (QUICK.get(dataset, "train.jsonl") if quick else "train.jsonl"))
    test = load_examples(data / dataset / "test.jsonl")
    if quick and len(test) > QUICK_TEST:
        test = test[:: len(test) // QUICK_TEST][:QUICK_TEST]
    report, clf = evaluate(train, test, kind, preprocessor=pre)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(clf.scorer_, path, compress=3)
        return report, model_rss_mb(path)


def few_shot_sample(train: list[tuple[str, str]], shots: int, seed: int) -> list[tuple[str, str]]:
    """`shots` in-scope examples of each intent, drawn with `seed`, in the file's order."""
    by_intent: dict[str, list[int]] = {}
    for i, (_, intent) in enumerate(train):
        if intent != OOS:
            by_intent.setdefault(intent, []).append(i)
    rng = random.Random(seed)
    chosen = sorted(i for rows in by_intent.values() for i in rng.sample(rows, min(shots, len(rows))))
    return [train[i] for i in chosen]


def few_shot(data: Path, kind: str, pre: Preprocessor, shots: int = SHOTS) -> tuple[float, float, float, float]:
    """Mean in-scope accuracy after and before the fallback, fit seconds and median predict us over `SHOT_SEEDS`."""
    train = load_examples(data / "clinc150_full" / "train.jsonl")
    test = [row for row in load_examples(data / "clinc150_full" / "test.jsonl") if row[1] != OOS]
    after, before, fit, predict = [], [], [], []
    for seed in SHOT_SEEDS:
        report, clf = evaluate(few_shot_sample(train, shots, seed), test, kind, seed=seed, preprocessor=pre)  # type: ignore[arg-type]
        texts = [t for t, _ in test]
        top = [p.intent for p in clf.predict(texts, pre.normalize_many(texts))]
        after.append(report.in_scope_accuracy or 0.0)
        before.append(sum(a == label for a, (_, label) in zip(top, test, strict=True)) / len(test))
        fit.append(report.fit_seconds)
        predict.append(report.predict_us)
    return statistics.mean(after), statistics.mean(before), statistics.mean(fit), statistics.median(predict)


BOTS = {"en": ROOT / "intents.yaml", "ru": ROOT / "examples" / "ru" / "intents.yaml"}


def languages_rows(kind: str) -> list[str]:
    """One model per language against one model for both, per language (see the module doc)."""
    from sklearn.model_selection import train_test_split

    pre = {language: Preprocessor(language) for language in BOTS}
    split = {}
    for language, path in BOTS.items():
        rows = load_examples(path)
        train, test = train_test_split(rows, test_size=0.2, random_state=0, stratify=[label for _, label in rows])
        split[language] = (train, test)
    apart = {}
    for language, (train, test) in split.items():
        report, _ = evaluate(train, test, kind, preprocessor=pre[language])  # type: ignore[arg-type]
        apart[language] = report.accuracy
    both_train = [row for train, _ in split.values() for row in train]
    both_test = [row for _, test in split.values() for row in test]
    report, _ = evaluate(both_train, both_test, kind, preprocessor=pre["en"], others={"ru": pre["ru"]})  # type: ignore[arg-type]
    return [
        f"{'bots, per language':<20} {kind:<8} " + "  ".join(f"{x} {100 * a:.2f}" for x, a in apart.items()),
        f"{'bots, one model':<20} {kind:<8} " + "  ".join(f"{x} {100 * a:.2f}" for x, a in report.per_language.items()),
    ]


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
    parser.add_argument("--few-shot-only", action="store_true", help=f"only the {SHOTS}-examples-per-intent row")
    parser.add_argument("--languages", action="store_true", help="only the shipped bots' per-language rows")
    args = parser.parse_args(argv)
    if args.languages:
        for kind in [k.strip() for k in args.pipelines.split(",")]:
            print("\n".join(languages_rows(kind)), flush=True)
        return 0
    datasets = [] if args.few_shot_only else list(QUICK) if args.quick else DATASETS
    pre = Preprocessor("en")
    header = f"{'dataset':<20} {'pipeline':<8} {'in-scope':>8} {'OOS rec':>8} {'accuracy':>8} {'fit s':>7} {'pred us':>8} {'RSS MB':>7}"
    rows = []
    for kind in [k.strip() for k in args.pipelines.split(",")]:
        try:
            after, before, fit, predict = few_shot(args.data, kind, pre)
            rows.append(
                f"{f'clinc150 {SHOTS}/intent':<20} {kind:<8} {100 * after:8.2f} {'-':>8} {f'({100 * before:.2f})':>8} "
                f"{fit:7.1f} {predict:8.0f} {'-':>7}"
            )
        except EncoderUnavailable as exc:
            rows.append(f"{f'clinc150 {SHOTS}/intent':<20} {kind:<8} skipped: {exc}")
        print(rows[-1], file=sys.stderr, flush=True)
        for dataset in datasets:
            try:
                report, rss = run(args.data, dataset, kind.strip(), args.quick, pre)
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
