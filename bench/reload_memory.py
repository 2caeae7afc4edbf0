"""Memory across hot reloads: twenty reloads in a row should not grow the process by 20 MB.

    python bench/reload_memory.py [--reloads 20] [--models models] [--intents intents.yaml]

Reloads through the same `Nlu.reload` the admin endpoint uses, alternating two versions,
and prints the process's resident memory after each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ws_load import rss_mb  # noqa: E402  (bench/ is on sys.path when run as a script)

from bot.memory import return_large_blocks  # noqa: E402
from bot.model import current_version, load_model, promote  # noqa: E402
from bot.nlu_worker import Nlu  # noqa: E402


async def run(models: Path, reloads: int) -> list[float]:
    return_large_blocks()  # as the server's start-up does
    nlu = Nlu(load_model(models))
    nlu.worker.start()
    versions = sorted(p.name for p in models.iterdir() if not p.is_symlink() and (p / "model.joblib").is_file())[-2:]
    await nlu.understand("hello")
    sizes = [rss_mb(os.getpid())]
    for i in range(reloads):
        promote(models, versions[i % 2])
        await nlu.reload(models)
        await nlu.understand("where is my order")
        gc.collect()
        sizes.append(rss_mb(os.getpid()))
    nlu.worker.stop()
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--intents", type=Path, default=ROOT / "intents.yaml")
    args = parser.parse_args()
    models = Path(tempfile.mkdtemp(prefix="reload-bench-"))
    for seed in ("0", "1"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "training.fit",
                "--intents",
                str(args.intents),
                "--out",
                str(models),
                "--quick",
                "--seed",
                seed,
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(f"serving {current_version(models)}; {args.reloads} reloads")
    sizes = asyncio.run(run(models, args.reloads))
    print("RSS MB after each reload: " + " ".join(f"{s:.0f}" for s in sizes))
    print(f"growth over {args.reloads} reloads: {sizes[-1] - sizes[1]:+.1f} MB (first load {sizes[0]:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
