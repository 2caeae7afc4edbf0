"""`python -m training.test [FILES]`: run conversation tests against the current (or a given) model.

python -m training.test                          # conversations/*.yml beside intents.yaml
python -m training.test tests/conversations/x.yml --model 20261201-101500-ab12cd34
python -m training.test --junit report.xml      # also write JUnit XML

Exit status: 0 all passed, 1 a conversation failed, 2 a file or the model cannot be used.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from training.story_format import StoryFileError, load_stories

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from bot.model import Model
    from bot.understanding import Understanding
    from training.stories import ConversationResult, Understand

CONVERSATIONS = "conversations"
"""The folder beside intents.yaml whose `*.yml` files are the bot's conversation tests."""


def say(message: str) -> None:
    print(message, flush=True)


def story_files(intents: Path) -> list[Path]:
    folder = intents.parent / CONVERSATIONS
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def run_stories(files: list[Path], model: Model, multi_intent: bool = True) -> list[ConversationResult]:
    """Every conversation of the files against a loaded model, understanding each text once."""
    from training.stories import CachedUnderstanding, run_file

    cached: dict[str | None, CachedUnderstanding] = {}
    results: list[ConversationResult] = []
    for path in files:
        stories = load_stories(path)
        language = stories.language
        spoken = model.domain.languages or (model.domain.language,)
        if language is not None and language not in spoken:
            raise StoryFileError(f"{path}: language: {language} is none of the bot's ({', '.join(spoken)})")
        if language not in cached:
            cached[language] = CachedUnderstanding(_reading_in(model, language))
        domain = model.domain.for_language(language)
        results += run_file(stories, domain, cached[language], multi_intent)
    return results


def _reading_in(model: Model, language: str | None) -> Understand:
    """`model.understand` with every text read in `language`."""

    def understand(texts: list[str], nows: Sequence[datetime | None] | None = None) -> list[Understanding]:
        return model.understand(texts, nows, [language] * len(texts))

    return understand


def report(results: list[ConversationResult], seconds: float, files: int, version: str) -> int:
    """Print each failure's diff and the summary line; the exit status."""
    for r in results:
        if not r.ok:
            say(r.diff())
    failed = sum(not r.ok for r in results)
    rate = len(results) / seconds if seconds else 0.0
    say(f"model {version}: {files} file(s), {len(results)} conversations, {rate:.0f} conversations/s")
    say(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def check_before_promoting(intents: Path, models_dir: Path, version: str) -> bool:
    """`training.fit`'s gate: the conversations beside intents.yaml all pass on the new model."""
    from bot.model import load_model

    files = story_files(intents)
    if not files:
        return True
    model = load_model(models_dir, version=version)
    started = time.perf_counter()
    return report(run_stories(files, model), time.perf_counter() - started, len(files), version) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.test", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path, help="conversation files (default: conversations/*.yml)")
    parser.add_argument("--intents", type=Path, default=Path("intents.yaml"), help="where conversations/ is found")
    parser.add_argument("--models", type=Path, default=Path("models"), help="models directory (default: models/)")
    parser.add_argument("--model", default="latest", help="a model version in --models (default: latest)")
    parser.add_argument("--junit", type=Path, help="write JUnit XML here")
    parser.add_argument("--no-multi-intent", action="store_true", help="answer each message as one request")
    args = parser.parse_args(argv)

    files = args.files or story_files(args.intents)
    if not files:
        say(f"no conversation tests: give files, or put *.yml in {args.intents.parent / CONVERSATIONS}/")
        return 2
    from bot.model import ModelError, load_model
    from training.stories import junit_xml

    try:
        model = load_model(args.models, version=args.model)
    except ModelError as exc:
        say(f"error: {exc}")
        return 2
    started = time.perf_counter()
    try:
        results = run_stories(files, model, multi_intent=not args.no_multi_intent)
    except StoryFileError as exc:
        say(f"error: {exc}")
        return 2
    if args.junit:
        args.junit.write_text(junit_xml(results), encoding="utf-8")
    return report(results, time.perf_counter() - started, len(files), model.version)


if __name__ == "__main__":
    sys.exit(main())
