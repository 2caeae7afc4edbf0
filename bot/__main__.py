"""`python -m bot`: train if the model is missing or stale, then serve with uvicorn."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from bot.actions.python_actions import check_actions
from bot.config import Settings
from bot.database import SchemaTooNew, make_engine, migrate
from bot.domain import DomainError, load_domain
from bot.logs import configure_logging
from bot.model import FIT_COMMAND, ModelError, check_model

log = logging.getLogger("bot")

CLOSE_ABOVE = 16
"""uvicorn closes the connection (1009) on frames this many times `max_frame_bytes` (1 MiB by
default) before reading them; smaller frames over the limit get a `frame_too_large` error
frame and the connection stays open."""


def ensure_model(settings: Settings) -> None:
    """Train when `models/latest` does not match intents.yaml (setting BOT_TRAIN_IF_NEEDED).

    The one place the service trains, and by design through the documented command line
    (`python -m training.fit --quick`) in its own process: `bot` imports nothing from
    `training`, and the server does not hold scikit-learn's memory after training.
    """
    try:
        check_model(settings.models_dir, settings.intents_path)
        return
    except ModelError as exc:
        if not settings.train_if_needed:
            raise
        reason = str(exc).removesuffix(f"; run `{FIT_COMMAND}`")
        print(f"{reason}: training one now ...", file=sys.stderr, flush=True)
    command = [
        sys.executable,
        "-m",
        "training.fit",
        "--intents",
        str(settings.intents_path),
        "--out",
        str(settings.models_dir),
        "--quick",
        *(["--pipeline", settings.pipeline] if settings.pipeline else []),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise ModelError(f"training failed (see above): fix {settings.intents_path} and start again")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Serve the chat bot (settings: BOT_* variables)."
    )
    parser.add_argument("--host", help="address to listen on (BOT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (BOT_PORT, default 8000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (share one PostgreSQL for more than 1)"
    )
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings)
    try:
        ensure_model(settings)
        problems = check_actions(load_domain(settings.intents_path), settings.intents_path)
        if problems:
            raise DomainError(settings.intents_path, problems)
        engine = make_engine(settings.database_url)
        migrate(engine)  # once here, so that workers start on an up-to-date schema
        engine.dispose()
    except (ModelError, DomainError, SchemaTooNew, SQLAlchemyError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    print(
        f"Chat bot on http://{settings.host}:{settings.port}/  (WebSocket ws://{settings.host}:{settings.port}/ws)",
        flush=True,
    )
    uvicorn.run(
        "bot.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers,
        ws_max_size=CLOSE_ABOVE * settings.max_frame_bytes,
        ws_per_message_deflate=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
