"""`python -m training.fit`: validate intents.yaml, cross-validate, train, compare, test conversations, promote.

python -m training.fit                      # train on intents.yaml into models/
python -m training.fit --check              # lint only: errors and near-duplicate examples
python -m training.fit --promote VERSION    # serve an older model again
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from bot.domain import Domain, DomainError, load_domain
from bot.inference import PIPELINES, Kind

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
        choices=PIPELINES,
        help="light, multilingual or encoder (needs .[encoder]); by default multilingual for a domain "
        "that is not English or declares several languages, else light",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0 skips)")
    parser.add_argument("--quick", action="store_true", help="skip cross-validation and the comparison")
    parser.add_argument("--check", action="store_true", help="validate and lint only; do not train")
    parser.add_argument("--database-url", help="add analyst-reviewed messages from this bot database (default: none)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="retrain even when nothing changed; promote a model that scores worse or fails a conversation test",
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
    languages = ", ".join(domain.languages or (domain.language,))
    if args.check and domain.actions:  # training needs no action; the service checks them again at start-up
        from bot.actions.python_actions import check_actions

        problems = check_actions(domain, args.intents)
        if problems:
            print(DomainError(args.intents, problems), file=sys.stderr)
            return 2
    say(f"{args.intents}: {len(domain.intents)} intents, {n_examples} examples, language {languages}: valid")
    if args.check:
        if domain.actions:
            say(f"{len(domain.actions)} action(s) load: " + ", ".join(sorted(domain.actions)))
        from training.lint import few_shot_advice, near_duplicates

        pairs = near_duplicates(domain, preprocessor)
        for a_intent, a_text, b_intent, b_text in pairs:
            say(f"near-duplicate: {a_intent}: {a_text!r} ~ {b_intent}: {b_text!r}")
        for advice in few_shot_advice(domain, preprocessor):
            say(f"few examples: {advice.message()}")
        say(f"{len(pairs)} near-duplicate pair(s); checked in {time.perf_counter() - started:.2f} s")
        return 0

    from bot.inference import ClassifierError

    if args.pipeline is None:
        args.pipeline = pipeline_for(domain_languages(domain))
        say(f"pipeline {args.pipeline}, for the language(s) {', '.join(sorted(domain_languages(domain)))}")
    try:
        return train(args, domain, preprocessor, started)
    except ClassifierError as exc:  # e.g. one label only, or the word pieces not installed
        print(f"error: {exc}", file=sys.stderr)
        return 2


def domain_languages(domain: Domain) -> set[str]:
    """The languages a domain speaks: its `languages:` list when it declares several, else its `language`."""
    declared = getattr(domain, "languages", None)
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, Collection) and declared:
        return {str(language) for language in declared}
    return {domain.language}


def pipeline_for(languages: Collection[str]) -> Kind:
    """`light` for an English domain; `multilingual` for any other language or several: the
    word pieces `light` adds to its n-grams only know English (see `bot.classifier`)."""
    return "light" if set(languages) == {"en"} else "multilingual"


def train(args: argparse.Namespace, domain: Domain, preprocessor: Preprocessor, started: float) -> int:
    """Gather, cross-validate, fit, save, compare and promote; the command's exit status."""
    from bot.classifier import IntentClassifier
    from bot.model import LATEST, promote, save_model
    from training.data import DataError
    from training.languages import Readers, by_language_line
    from training.retraining import (
        compare_with_current,
        cross_validate,
        current_model,
        current_report,
        fit_tagger,
        gather,
        unchanged,
    )
    from training.story_format import StoryFileError
    from training.test import CONVERSATIONS, check_before_promoting, story_files

    try:
        data = gather(domain, preprocessor, args.database_url)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    say("examples: " + ", ".join(f"{n} from {source}" for source, n in data.sources.items()))
    current = current_model(args.out)
    if current is not None and not args.force and unchanged(data, current, args.intents, args.pipeline, args.seed):
        say(
            f"nothing changed since model {current.version} (the same examples, pipeline, seed and libraries): "
            "not retrained; --force retrains"
        )
        say(current_report(current))
        return 0
    scores: dict[str, float] = {}
    cv_report = None
    if not args.quick and args.folds:
        say(f"cross-validating ({args.pipeline}) ...")
        readers = Readers.for_domain(domain, preprocessor)
        cv = cross_validate(data, args.pipeline, args.seed, args.folds, say, preprocessor, readers)
        cv_report = cv.report + "".join(
            f"most confused: {expected} read as {got} {count} time(s); add examples that tell them apart\n"
            for expected, got, count in cv.confusions
        )
        say(cv_report)
        scores = {"cv_accuracy": round(cv.accuracy, 4), "cv_macro_f1": round(cv.macro_f1, 4)}
        say(f"cross-validated accuracy {cv.accuracy:.3f}, macro F1 {cv.macro_f1:.3f}")
        if cv.per_language:
            say(f"cross-validated accuracy by language: {by_language_line(cv.per_language)}")
            scores |= {f"cv_accuracy_{x}": round(acc, 4) for x, (acc, _) in cv.per_language.items()}
        if cv.entities is not None:
            say("cross-validated " + cv.entities.summary())
            scores |= {"cv_entity_micro_f1": round(cv.entities.micro_f1, 4)}

    say(f"fitting the {args.pipeline} pipeline on {len(data.labels)} examples ...")
    fit_started = time.perf_counter()
    classifier = IntentClassifier(kind=args.pipeline, seed=args.seed, language=data.classifier_language)
    classifier.fit(
        data.texts,
        data.normalized,
        data.labels,
        threshold=domain.fallback.threshold,
        ambiguity_margin=domain.fallback.ambiguity_margin,
    )
    tagger = fit_tagger(data, preprocessor)
    fit_seconds = time.perf_counter() - fit_started
    say(f"fitted in {fit_seconds:.1f} s; fallback threshold {classifier.threshold_:.3f}")
    if tagger is not None:
        say(f"entity tagger learnt {', '.join(sorted(tagger.entity_types))}")

    comparison = None
    if not args.quick and current is not None:
        say(f"comparing with the current model {current.version} on a held-out fifth ...")
        readers = Readers.for_domain(domain, preprocessor)
        comparison = compare_with_current(data, readers, current, args.pipeline, args.seed, domain.fallback.threshold)
    metadata = {
        "scores": scores,
        "training_seconds": round(fit_seconds, 2),
        "examples": dict(data.sources),
        "seed": args.seed,
        "report": cv_report,
    }
    examples = list(zip(data.texts, data.labels, strict=False))
    path = save_model(
        classifier.scorer_, domain, args.intents.read_text(encoding="utf-8"), args.out, metadata, examples, tagger
    )
    say(f"saved {path}")
    if current is not None and comparison is not None:
        old_acc, new_acc, details = comparison
        say(
            "accuracy on the held-out rows, with both data sets refitted without them: "
            f"current {current.version} {old_acc:.3f}, new {new_acc:.3f} ({new_acc - old_acc:+.3f})"
        )
        if details.strip():
            say(details)
        if new_acc < old_acc - args.margin and not args.force:
            say(
                f"not promoted: the new model is worse by more than {args.margin:.3f}; "
                f"use --force or --promote {path.name}"
            )
            return 3
    if story_files(args.intents):
        say(f"running the conversation tests in {args.intents.parent / CONVERSATIONS}/ ...")
        try:
            passed = check_before_promoting(args.intents, args.out, path.name)
        except StoryFileError as exc:
            say(f"error: {exc}")
            passed = False
        if not passed and not args.force:
            say(f"not promoted: a conversation test failed; fix it, or use --force or --promote {path.name}")
            return 4
    promote(args.out, path.name)
    say(f"{args.out / LATEST} -> {path.name} ({time.perf_counter() - started:.1f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
