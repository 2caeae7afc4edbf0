"""Application logging (events and errors), separate from the conversation log in SQL."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from bot.config import Settings


class JsonLines(logging.Formatter):
    """One JSON object a line, for log shippers (setting BOT_LOG_JSON=true)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "spacy"):
        logging.getLogger(name).handlers[:] = []  # one handler, the root's: nothing logged twice
        logging.getLogger(name).propagate = True
    for noisy in ("uvicorn.access", "spacy", "alembic.runtime.migration", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
