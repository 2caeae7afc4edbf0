"""bot.logs: one handler on the root logger, plain or JSON lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.config import Settings
from bot.logs import JsonLines, configure_logging


def test_json_lines_carry_time_level_logger_message_and_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    entry = json.loads(JsonLines().format(record))
    assert entry["level"] == "ERROR" and entry["logger"] == "bot.test" and entry["message"] == "failed here"
    assert entry["time"].endswith("+00:00") and "ValueError: boom" in entry["exception"]


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(_env_file=None, log_json=True, log_level="debug"))
    root = logging.getLogger()
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonLines)
    assert root.level == logging.DEBUG
    logging.getLogger("uvicorn.error").warning("started")
    logging.getLogger("uvicorn.access").info("GET / 200")  # quietened to warnings
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["started"]  # once: no second handler


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_plain(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(_env_file=None))
    logging.getLogger("bot.service").info("model %s loaded", "v1")
    logging.getLogger("bot.service").debug("not shown at INFO")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "INFO    bot.service: model v1 loaded" in err
