"""Intent-classifier benchmark on public data sets: one table, every pipeline.

    python bench/nlu.py [--data DIR] [--pipelines light,multilingual,encoder] [--datasets snips] [--quick]
        [--few-shot-only | --no-few-shot]
    python bench/nlu.py --languages [--pipelines light]

`--languages`: one model for every language against one per language, per language, on the
shipped English and Russian bots (cross-validated; bench/languages.py says how).

For each data set the model is trained on `train.jsonl` (the fallback threshold is picked
inside `fit` on a held-out fifth of it; `valid` and `test` are never seen by training) and
scored on `test.jsonl`. CLINC150 is reported as in-scope accuracy / OOS recall. Where a data
set has `*_slots.jsonl` (snips), one joint entity tagger is trained on its training slots with the
classifier and scored on `test_slots.jsonl`: `slot F1` is the entity micro F1 (exact span), given
the predicted intents, with the tagger's fit seconds and median microseconds per message. Latency is
the median of single-utterance calls with spaCy preprocessing; memory is the RSS a fresh
process gains by loading the saved model and answering one utterance, after importing numpy
and spaCy, which the server needs anyway. `--quick` uses the small training sets and at most
1,000 test examples.

Few examples: the row `clinc150 10/intent` trains on `SHOTS` examples of each in-scope intent
drawn from clinc150_full's `train` (one draw per seed of `SHOT_SEEDS`, no oos examples, as a
bot author would write them) and reports the in-scope accuracy on its in-scope `test`
queries, after the fallback and (in brackets) before it, averaged over the seeds.
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
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import joblib  # noqa: E402

from bot.classifier import Kind  # noqa: E402
from bot.encoder import EncoderUnavailable  # noqa: E402
from bot.inference import OOS  # noqa: E402
from bot.nlp import Preprocessor  # noqa: E402
from bot.sentences import SentenceVectorsUnavailable  # noqa: E402
from training.data import load_annotated, load_examples  # noqa: E402
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
        [sys.executable, "-c", _RSS_PROBE, str(path)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    try:
        return float(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None


def run(
    data: Path, dataset: str, kind: str, quick: bool, pre: Preprocessor, spelling: bool = True
) -> tuple[Report, float | None]:
    train_file = data / dataset / (QUICK.get(dataset, "train.jsonl") if quick else "train.jsonl")
    slots = train_file.with_name(train_file.stem + "_slots.jsonl"), data / dataset / "test_slots.jsonl"
    if slots[0].is_file() and slots[1].is_file():
        annotated = load_annotated(slots[0]), load_annotated(slots[1])
        train = [(e.text, e.intent) for e in annotated[0]]
        test = [(e.text, e.intent) for e in annotated[1]]
        entities = [e.entities for e in annotated[0]], [e.entities for e in annotated[1]]
    else:
        train, test = load_examples(train_file), load_examples(data / dataset / "test.jsonl")
        entities = None
    if quick and len(test) > QUICK_TEST:
        step = len(test) // QUICK_TEST
        test = test[::step][:QUICK_TEST]
        entities = (entities[0], entities[1][::step][:QUICK_TEST]) if entities else None
    report, clf = evaluate(
        train,
        test,
        cast(Kind, kind),  # --pipelines: checked by evaluate
        preprocessor=pre,
        train_entities=entities[0] if entities else None,
        test_entities=entities[1] if entities else None,
        spelling=spelling,
    )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "benchmarks",
        help="benchmarks folder (default ../shared/benchmarks)",
    )
    parser.add_argument(
        "--pipelines", default="light,multilingual,encoder", help="comma-separated: light,multilingual,encoder"
    )
    parser.add_argument("--quick", action="store_true", help="small training sets, at most 1,000 test examples")
    parser.add_argument("--datasets", help=f"comma-separated subset of {','.join(DATASETS)}")
    parser.add_argument("--no-spelling", action="store_true", help="without the typo correction (bot/spelling.py)")
    parser.add_argument("--few-shot-only", action="store_true", help=f"only the {SHOTS}-examples-per-intent row")
    parser.add_argument(
        "--languages", action="store_true", help="only the per-language rows of the shipped bots (bench/languages.py)"
    )
    parser.add_argument("--no-few-shot", action="store_true", help=f"without the {SHOTS}-examples-per-intent row")
    args = parser.parse_args(argv)
    if args.languages:
        from bench.languages import DEFAULT_BOTS
        from bench.languages import rows as language_rows

        for kind in [k.strip() for k in args.pipelines.split(",")]:
            print("\n".join(language_rows(list(DEFAULT_BOTS), kind=kind)), flush=True)
        return 0
    datasets = [] if args.few_shot_only else list(QUICK) if args.quick else DATASETS
    if args.datasets:
        datasets = [d.strip() for d in args.datasets.split(",")]
    pre = Preprocessor("en")
    header = (
        f"{'dataset':<20} {'pipeline':<12} {'in-scope':>8} {'OOS rec':>8} {'accuracy':>8} {'fit s':>7} {'pred us':>8}"
        f" {'RSS MB':>7} {'slot F1':>7} {'slot s':>7} {'slot us':>7}"
    )
    rows = []
    for kind in [k.strip() for k in args.pipelines.split(",")]:
        if not args.no_few_shot:
            try:
                after, before, fit, predict = few_shot(args.data, kind, pre)
                rows.append(
                    f"{f'clinc150 {SHOTS}/intent':<20} {kind:<12} {100 * after:8.2f} {'-':>8} "
                    f"{f'({100 * before:.2f})':>8} {fit:7.1f} {predict:8.0f} {'-':>7}"
                )
            except (EncoderUnavailable, SentenceVectorsUnavailable) as exc:
                rows.append(f"{f'clinc150 {SHOTS}/intent':<20} {kind:<12} skipped: {exc}")
            print(rows[-1], file=sys.stderr, flush=True)
        for dataset in datasets:
            try:
                report, rss = run(args.data, dataset, kind.strip(), args.quick, pre, not args.no_spelling)
            except (EncoderUnavailable, SentenceVectorsUnavailable) as exc:
                rows.append(f"{dataset:<20} {kind:<12} skipped: {exc}")
                continue

            def pct(x: float | None) -> str:
                return "-" if x is None else f"{100 * x:.2f}"

            slots = report.entities
            slot_columns = (
                f" {pct(slots.micro_f1):>7} {report.entity_fit_seconds or 0:7.1f} {report.entity_predict_us or 0:7.0f}"
                if slots is not None
                else f" {'-':>7} {'-':>7} {'-':>7}"
            )
            rows.append(
                f"{dataset:<20} {kind:<12} {pct(report.in_scope_accuracy):>8} {pct(report.oos_recall):>8} "
                f"{pct(report.accuracy):>8} "
                f"{report.fit_seconds:7.1f} {report.predict_us:8.0f} {'-' if rss is None else f'{rss:.0f}':>7}"
                + slot_columns
            )
            print(rows[-1], file=sys.stderr, flush=True)
    print(header)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
