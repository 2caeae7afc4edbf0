"""Conversation tests in-process: conversations a second, as `python -m training.test` runs them.

    python bench/conversations.py --models models [--intents intents.yaml] [--repeat 5]

Cold: every text is understood by the model once (the first pass); warm: later passes reuse
the understanding of each text, as a watch-mode run after an edit to the dialogue would.
Both include the policy, fake actions and the checks of every step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.model import load_model  # noqa: E402
from training.stories import CachedUnderstanding, run_file  # noqa: E402
from training.story_format import load_stories  # noqa: E402
from training.test import story_files  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--model", default="latest")
    parser.add_argument("--intents", type=Path, default=ROOT / "intents.yaml")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    model = load_model(args.models, version=args.model)
    files = [load_stories(p) for p in story_files(args.intents)]
    understand = CachedUnderstanding(model.understand)
    for repeat in range(args.repeat + 1):
        started = time.perf_counter()
        results = [r for f in files for r in run_file(f, model.domain, understand)]
        seconds = time.perf_counter() - started
        turns = sum(len(c.steps) for f in files for c in f.conversations)
        label = "cold" if repeat == 0 else f"warm {repeat}"
        failed = sum(not r.ok for r in results)
        print(
            f"{label:<7} {len(results)} conversations, {turns} turns in {seconds:.3f} s: "
            f"{len(results) / seconds:.0f} conversations/s, {1000 * seconds / turns:.2f} ms a turn ({failed} failed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
