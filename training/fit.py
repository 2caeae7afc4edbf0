"""`python -m training.fit`: validate intents.yaml, cross-validate, train, compare, promote.

python -m training.fit                      # train on intents.yaml into models/
python -m training.fit --check              # lint only: errors and near-duplicate examples
python -m training.fit --promote VERSION    # serve an older model again
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.domain import Domain, DomainError, load_domain

if TYPE_CHECKING:
    from bot.nlp import Preprocessor

DEFAULT_MARGIN = 0.02


def say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.fit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--intents", type=Path, default=Path("intents.yaml"), help="the domain file (default: intents.yaml)"
    )
    parser.add_argument("--out", type=Path, default=Path("models"), help="models directory (default: models/)")
    parser.add_argument(
        "--pipeline",
        choices=["light", "encoder"],
        default="light",
        help="light (default) or encoder (needs .[encoder])",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0 skips)")
    parser.add_argument("--quick", action="store_true", help="skip cross-validation and the comparison")
    parser.add_argument("--check", action="store_true", help="validate and lint only; do not train")
    parser.add_argument("--database-url", help="add analyst-reviewed messages from this bot database (default: none)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="retrain even when nothing changed; promote even when the new model scores worse",
    )
    parser.add_argument(
        "--margin", type=float, default=DEFAULT_MARGIN, help="accuracy drop that blocks promotion (default 0.02)"
    )
    parser.add_argument("--promote", metavar="VERSION", help="make an existing version current and exit")
    args = parser.parse_args(argv)

    if args.promote:
        from bot.model import LATEST, ModelError, promote

        try:
            promote(args.out, args.promote)
        except ModelError as exc:
            say(f"error: {exc}")
            return 1
        say(f"{args.out / LATEST} -> {args.promote}")
        return 0

    started = time.perf_counter()
    try:
        domain = load_domain(args.intents)
    except DomainError as exc:
        print(exc, file=sys.stderr)
        return 2
    # Heavy imports only now: a broken file was reported without waiting for them.
    from bot.nlp import Preprocessor

    preprocessor = Preprocessor(domain.language, domain.entities)
    n_examples = len(domain.training_examples())
    languages = ", ".join(domain.languages) if domain.translations else domain.language
    say(f"{args.intents}: {len(domain.intents)} intents, {n_examples} examples, language {languages}: valid")
    from training.lint import few_shot_advice

    for advice in few_shot_advice(domain, preprocessor):
        say(f"warning: {advice.message()}")
    if args.check:
        from training.lint import near_duplicates

        pairs = near_duplicates(domain, preprocessor)
        for a_intent, a_text, b_intent, b_text in pairs:
            say(f"near-duplicate: {a_intent}: {a_text!r} ~ {b_intent}: {b_text!r}")
        say(f"{len(pairs)} near-duplicate pair(s); checked in {time.perf_counter() - started:.2f} s")
        return 0

    from bot.inference import ClassifierError

    try:
        return train(args, domain, preprocessor, started)
    except ClassifierError as exc:  # e.g. one label only, or the word pieces not installed
        print(f"error: {exc}", file=sys.stderr)
        return 2


def train(args: argparse.Namespace, domain: Domain, preprocessor: Preprocessor, started: float) -> int:
    """Gather, cross-validate, fit, save, compare and promote; the command's exit status."""
    from bot.classifier import IntentClassifier
    from bot.model import LATEST, promote, save_model
    from training.data import DataError
    from training.train import compare_with_current, cross_validate, current_model, gather, unchanged

    try:
        data = gather(domain, preprocessor, args.database_url)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    say("examples: " + ", ".join(f"{n} from {source}" for source, n in data.sources.items()))
    current = current_model(args.out)
    if current is not None and not args.force and unchanged(data, current, args.intents, args.pipeline, args.seed):
        say(
            f"nothing changed since model {current.version} (the same examples, pipeline, seed and libraries): not retrained; --force retrains"
        )
        return 0
    scores: dict[str, float] = {}
    if not args.quick and args.folds:
        say(f"cross-validating ({args.pipeline}) ...")
        report, accuracy, macro = cross_validate(data, args.pipeline, args.seed, args.folds, say)
        say(report)
        scores = {"cv_accuracy": round(accuracy, 4), "cv_macro_f1": round(macro, 4)}
        say(f"cross-validated accuracy {accuracy:.3f}, macro F1 {macro:.3f}")

    say(f"fitting the {args.pipeline} pipeline on {len(data.labels)} examples ...")
    fit_started = time.perf_counter()
    classifier = IntentClassifier(kind=args.pipeline, seed=args.seed, language=data.language)
    classifier.fit(
        data.texts,
        data.normalized,
        data.labels,
        threshold=domain.fallback.threshold,
        ambiguity_margin=domain.fallback.ambiguity_margin,
    )
    fit_seconds = time.perf_counter() - fit_started
    say(f"fitted in {fit_seconds:.1f} s; fallback threshold {classifier.threshold_:.3f}")

    comparison = None
    if not args.quick and current is not None:
        say(f"comparing with the current model {current.version} on a held-out fifth ...")
        comparison = compare_with_current(
            data, preprocessor, current, args.pipeline, args.seed, domain.fallback.threshold
        )
    metadata = {
        "scores": scores,
        "training_seconds": round(fit_seconds, 2),
        "examples": dict(data.sources),
        "seed": args.seed,
    }
    examples = list(zip(data.texts, data.labels, strict=False))
    path = save_model(
        classifier.scorer_, domain, args.intents.read_text(encoding="utf-8"), args.out, metadata, examples
    )
    say(f"saved {path}")
    if current is not None and comparison is not None:
        old_acc, new_acc, details = comparison
        say(
            f"accuracy on the held-out rows, with both data sets refitted without them: current {current.version} {old_acc:.3f}, new {new_acc:.3f} ({new_acc - old_acc:+.3f})"
        )
        if details.strip():
            say(details)
        if new_acc < old_acc - args.margin and not args.force:
            say(
                f"not promoted: the new model is worse by more than {args.margin:.3f}; use --force or --promote {path.name}"
            )
            return 3
    promote(args.out, path.name)
    say(f"{args.out / LATEST} -> {path.name} ({time.perf_counter() - started:.1f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
