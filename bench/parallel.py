"""The shipped English and Russian bots on the same test messages: is Russian understood as well?

    python bench/parallel.py [--pipeline light|multilingual] [--misses]

`bench/parallel/en.jsonl` holds messages written for this test, five an intent of the demo
(and five out-of-scope ones), none of them an example of either bot; `bench/parallel/ru.jsonl`
is their Russian translation, line for line. Each bot (`intents.yaml`, `examples/ru/intents.yaml`)
is trained as `training.fit` trains it (its own pipeline unless `--pipeline`; the fallback
threshold picked on held-out examples) and scored on its language's file with
`training.evaluate`: accuracy counts a fallback as `oos`, in-scope accuracy is over the in-scope
messages, OOS recall over the out-of-scope ones. The last line is the Russian bot's accuracy
minus the English one's, in points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain import load_domain  # noqa: E402
from bot.inference import PIPELINES, Kind  # noqa: E402
from bot.nlp import Preprocessor  # noqa: E402
from training.data import load_examples  # noqa: E402
from training.evaluate import Report, evaluate  # noqa: E402
from training.fit import domain_languages, pipeline_for  # noqa: E402

DATA = ROOT / "bench" / "parallel"
BOTS = {"en": ROOT / "intents.yaml", "ru": ROOT / "examples" / "ru" / "intents.yaml"}


def parallel_sets(data: Path = DATA) -> dict[str, list[tuple[str, str]]]:
    """(text, intent) rows of each language's test file; the files must agree line by line on intents."""
    sets = {language: load_examples(data / f"{language}.jsonl") for language in BOTS}
    intents = {language: [intent for _, intent in rows] for language, rows in sets.items()}
    first, *others = intents.values()
    if any(other != first for other in others):
        raise SystemExit(f"error: the files in {data} are not parallel: their intents differ line by line")
    return sets


def score(language: str, test: list[tuple[str, str]], pipeline: Kind | None = None) -> Report:
    """The bot of `language` trained as `training.fit` would, scored on `test`."""
    domain = load_domain(BOTS[language])
    kind = pipeline or pipeline_for(domain_languages(domain))
    report, _ = evaluate(
        domain.training_examples(),
        test,
        kind,
        preprocessor=Preprocessor(domain.language, domain.entities),
        max_misclassified=len(test),
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/parallel.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipeline", choices=PIPELINES, help="one pipeline for both bots (default: each its own)")
    parser.add_argument("--misses", action="store_true", help="list each bot's misunderstood messages")
    args = parser.parse_args(argv)
    reports = {language: score(language, test, args.pipeline) for language, test in parallel_sets().items()}
    print(f"{'bot':<28} {'pipeline':<13} {'n':>4} {'accuracy':>9} {'in-scope':>9} {'OOS recall':>11}")
    for language, r in reports.items():
        name = str(BOTS[language].relative_to(ROOT))
        in_scope = 100 * (r.in_scope_accuracy or 0.0)
        oos = 100 * (r.oos_recall or 0.0)
        print(f"{name:<28} {r.pipeline:<13} {r.n_test:>4} {100 * r.accuracy:>9.1f} {in_scope:>9.1f} {oos:>11.1f}")
    gap = 100 * (reports["ru"].accuracy - reports["en"].accuracy)
    print(f"Russian minus English: {gap:+.1f} points of accuracy")
    if args.misses:
        for language, r in reports.items():
            print(f"\n{language}: misunderstood ({len(r.misclassified)})")
            for m in r.misclassified:
                print(f"  [{m.expected} -> {m.predicted} {m.confidence:.2f}] {m.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
