"""The README's shell blocks, run as a newcomer would, in a copy of the repository.

Every ```sh block runs unless a comment just above it says `<!-- readme-test: skip (why) -->`;
`<!-- readme-test: server -->` blocks run against a real `python -m bot` in the copy, with
`localhost:8000` pointed at its port. The copy's intents.yaml is the small test domain, so the
training the README shows stays quick.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, SHOP, LiveServer, free_port

pytestmark = pytest.mark.slow

_BLOCK = re.compile(r"(?:<!-- readme-test: (?P<mark>[^>]*?) -->\n)?```sh\n(?P<code>.*?)```", re.DOTALL)
_LOCAL = re.compile(r"\b(?:localhost|127\.0\.0\.1):8000\b")
_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "node_modules", "models", "models-*", "*.db", "__pycache__")


@dataclass(frozen=True)
class Block:
    line: int
    mark: str | None
    code: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def readme_blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        Block(text.count("\n", 0, m.start("code")), m.group("mark"), m.group("code")) for m in _BLOCK.finditer(text)
    ]


BLOCKS = readme_blocks()


def test_every_block_runs_or_says_why_not() -> None:
    assert len(BLOCKS) >= 6
    for block in BLOCKS:
        assert block.mark in (None, "server") or re.fullmatch(r"skip \(.+\)", block.mark or ""), block.id
    assert any(b.mark is None for b in BLOCKS) and any(b.mark == "server" for b in BLOCKS)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository as a clone has it, with this environment as its .venv and a small domain."""
    copy = tmp_path_factory.mktemp("readme") / "chatbot"
    shutil.copytree(ROOT, copy, ignore=_COPY_IGNORE)
    (copy / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    shutil.copy(SHOP, copy / "intents.yaml")
    shutil.rmtree(copy / "conversations")  # the demo's conversation tests, for the small domain's own
    (copy / "conversations").mkdir()
    shutil.copy(SHOP.with_name("shop_conversations.yml"), copy / "conversations" / "shop.yml")
    return copy


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return {**clean, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def run_block(code: str, cwd: Path, env: dict[str, str]) -> str:
    # curl fails on an HTTP error, as the reader would notice one
    script = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n' + code
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def server(checkout: Path, env: dict[str, str]) -> Iterator[LiveServer]:
    port = free_port()
    live = LiveServer(env={**env, "BOT_PORT": str(port)}, port=port, log_path=checkout / "server.log", cwd=checkout)
    live.start(timeout=180)  # trains the copy's model first if no block has
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mark is None], ids=lambda b: b.id)
def test_offline_block(block: Block, checkout: Path, env: dict[str, str]) -> None:
    run_block(block.code, checkout, env)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mark == "server"], ids=lambda b: b.id)
def test_block_against_a_server(block: Block, checkout: Path, env: dict[str, str], server: LiveServer) -> None:
    out = run_block(_LOCAL.sub(f"127.0.0.1:{server.port}", block.code), checkout, env)
    assert out.strip(), "the block printed nothing"
