"""`python -m bot.shell` driven through stdin: the server's turn code in a terminal."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

from bot.shell import chat
from tests.helpers import ROOT, SHOP, make_settings


def test_the_shell_chats_through_stdin_with_debug(models_dir: Path, tmp_path: Path) -> None:
    script = "hello\nwhere is my order\nAB123456\n/quit\nnever read\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot.shell", "--models", str(models_dir), "--intents", str(SHOP), "--debug"],
        input=script,
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "you> hello" in out and "bot> " in out
    assert "· intent greet" in out
    assert "What is your order number?" in out
    assert "entities order_number='AB123456'" in out and "'order_id': 'AB123456'" in out
    assert "Order AB123456 is on its way." in out
    assert "never read" not in out
    assert not list(tmp_path.iterdir())  # the throwaway database was removed


def test_a_number_presses_a_button(models_dir: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    settings = make_settings(tmp_path, models_dir)
    status = asyncio.run(chat(settings, io.StringIO("hi\n2\n"), out, debug=False))
    assert status == 0
    text = out.getvalue()
    assert "[2] Order status" in text
    assert "(pressed 'Order status')" in text and "What is your order number?" in text
