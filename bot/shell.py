"""`python -m bot.shell`: chat with the bot in the terminal, through the server's own turn code.

python -m bot.shell                 # a throwaway SQLite session database, models/latest
python -m bot.shell --debug         # after each turn: intent, confidence, entities, slots, form
python -m bot.shell --database-url sqlite:///bot.db   # keep the conversation in a real database

Type a message; a number picks one of the last reply's buttons; /reset forgets the session's
details; /quit (or end of input) leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from bot.app import build_services
from bot.config import Settings
from bot.conversation import Conversation, Principal
from bot.deps import Services
from bot.protocol import Reply, UserMessage

QUIT = ("/quit", "/exit")


def _print(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def show(replies: list[Reply], out: TextIO) -> list[tuple[str, str]]:
    """Print the bot's replies with numbered buttons; the buttons, to pick by number."""
    buttons: list[tuple[str, str]] = []
    for reply in replies:
        _print(out, f"bot> {reply.text}")
        for button in reply.buttons:
            buttons.append((button.title, button.payload))
            _print(out, f"     [{len(buttons)}] {button.title}")
    return buttons


async def debug_line(services: Services, conv: Conversation, text: str) -> str:
    """What the model made of the message and where the session stands now."""
    _, understanding = await services.nlu.understand(text)
    p = understanding.prediction
    intent = "fallback" if p.is_fallback else p.intent
    entities = ", ".join(f"{e.entity}={e.value!r}" for e in understanding.entities) or "-"
    state = conv.state
    form = f"{state.active_form} asks {state.requested_slot}" if state.active_form else "-"
    return (
        f"     · intent {intent} ({p.confidence:.2f}) · entities {entities} · slots {dict(state.slots)} · form {form}"
    )


async def chat(settings: Settings, lines: TextIO, out: TextIO, debug: bool = False) -> int:
    services = await build_services(settings)
    services.store.start()
    services.nlu.worker.start()
    try:
        conv = await services.chat.open(Principal())
        _print(out, f"Northwind shell: model {services.nlu.model.version}. A number picks a button; /quit leaves.")
        buttons: list[tuple[str, str]] = []
        turn = 0
        while True:
            out.write("you> ")
            out.flush()
            line = await asyncio.to_thread(lines.readline)
            if not line:
                _print(out, "")
                break
            text = line.strip()
            if not lines.isatty():  # piped input: show what was said, as a terminal would
                _print(out, text)
            if not text:
                continue
            if text.lower() in QUIT:
                break
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                title, text = buttons[int(text) - 1]
                _print(out, f"     (pressed {title!r})")
            turn += 1
            conv, frames = await services.chat.message(conv, UserMessage(type="message", text=text, id=f"shell-{turn}"))
            buttons = show([f for f in frames if isinstance(f, Reply)], out)
            if debug:
                _print(out, await debug_line(services, conv, text))
        return 0
    finally:
        services.nlu.worker.stop()
        services.store.stop()
        services.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.shell", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--intents", type=Path, default=Path("intents.yaml"))
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--database-url", help="keep the sessions here (default: a throwaway SQLite file)")
    parser.add_argument("--debug", action="store_true", help="show intent, confidence, entities and slots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bot-shell-") as tmp:
        settings = Settings(
            _env_file=None,
            database_url=args.database_url or f"sqlite:///{Path(tmp) / 'shell.db'}",
            intents_path=args.intents,
            models_dir=args.models,
            train_if_needed=False,
            rate_per_second=1000,
        )
        return asyncio.run(chat(settings, sys.stdin, sys.stdout, args.debug))


if __name__ == "__main__":
    sys.exit(main())
