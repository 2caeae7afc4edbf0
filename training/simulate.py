"""`python -m training.simulate`: fill a bot database with realistic conversations.

    python -m training.simulate --database-url sqlite:///demo.db     # in-process, no server
    python -m training.simulate --url ws://127.0.0.1:8000/ws         # talk to a running bot

Simulated users talk to the bot through its real WebSocket protocol, so the log, sessions
and thumbs are exactly what real traffic leaves behind: the notebooks, the review queue and
load tests get data without waiting for users. Users say the domain's own examples, a bit
perturbed (lower case, a dropped word, a typo), answer the forms' questions with the
entity texts of the examples or the entities' values, go out of scope now and then, often
give a thumbs down when the bot got them wrong, and sometimes abandon a form. The same seed
and model give the same conversations.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update

from bot.domain import Domain, DomainError, load_domain
from training.data import database_url
from training.simulated_users import UNSURE, Speaker


class Transport(Protocol):
    """One WebSocket connection carrying JSON frames."""

    def send(self, frame: dict[str, Any]) -> None: ...

    def recv(self) -> dict[str, Any]: ...


class SimulationError(Exception):
    """The bot answered something a simulated user cannot go on from."""


@dataclass
class Summary:
    conversations: int = 0
    messages: int = 0
    replies: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    forms_started: int = 0
    forms_abandoned: int = 0
    session_ids: list[str] = field(default_factory=list)


class Pacer:
    """Client-side rate limit, so a real server's per-connection limit is never hit."""

    def __init__(self, rate: float | None, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def wait(self) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            time.sleep((1 - self.tokens) / self.rate)
            self.tokens, self.stamp = 1.0, time.monotonic()
        self.tokens -= 1


class Chat:
    """One simulated user's connection: send a frame, collect every reply to it."""

    def __init__(self, transport: Transport, pacer: Pacer, summary: Summary) -> None:
        self.transport, self.pacer, self.summary = transport, pacer, summary
        self.ids = itertools.count(1)
        self.session_id: str | None = None

    def _send(self, frame: dict[str, Any]) -> None:
        self.pacer.wait()
        self.transport.send(frame)

    def _exchange(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a frame, then a ping: replies to one connection come in order, so the pong ends them."""
        self._send(frame)
        self._send({"type": "ping"})
        replies: list[dict[str, Any]] = []
        while True:
            answer = self.transport.recv()
            kind = answer.get("type")
            if kind == "pong":
                return replies
            if kind == "session":
                self.session_id = answer["session_id"]
            elif kind == "reply":
                replies.append(answer)
            elif kind == "error":
                if answer.get("code") == "rate_limited":
                    raise SimulationError("the bot rate-limited the simulation; lower --rate")
                raise SimulationError(
                    f"the bot answered {frame['type']} with error {answer.get('code')}: {answer.get('detail')}"
                )

    def say(self, text: str) -> list[dict[str, Any]]:
        replies = self._exchange({"type": "message", "text": text, "id": f"sim-{next(self.ids)}"})
        self.summary.messages += 1
        self.summary.replies += len(replies)
        return replies

    def thumbs(self, reply: dict[str, Any], value: int) -> None:
        if reply.get("message_id") is None:
            return
        self._exchange({"type": "feedback", "message_id": reply["message_id"], "value": value})
        if value < 0:
            self.summary.thumbs_down += 1
        else:
            self.summary.thumbs_up += 1


def converse(chat: Chat, speaker: Speaker, rng: random.Random, summary: Summary) -> None:
    """One conversation: a few topics; forms answered slot by slot unless abandoned.

    Users know what they meant: a reply to the wrong intent (or an answer to an off-topic
    question) often gets a thumbs down, a right one now and then a thumbs up.
    """

    def react(replies: list[dict[str, Any]], meant: str | None) -> None:
        if not replies:
            return
        last = replies[-1]
        wrong = not last.get("fallback") if meant is None else bool(last.get("fallback")) or last.get("intent") != meant
        roll = rng.random()
        if roll < (0.5 if wrong else 0.03):
            chat.thumbs(last, -1)
        elif roll > 0.9 and not wrong:
            chat.thumbs(last, 1)

    for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
        if rng.random() < 0.12:
            react(chat.say(speaker.out_of_scope()), None)
            continue
        intent = rng.choice(speaker.topics)
        replies = chat.say(speaker.example(intent))
        react(replies, intent.name)
        asked = speaker.asked(replies)
        if asked is None or asked[0].name != intent.name:
            continue  # no form, or one the user did not mean: on to something else
        summary.forms_started += 1
        for _ in range(2 * len(intent.slots) + 2):  # the bot may ask again, but not forever
            if asked is None:
                break
            form, slot = asked
            if rng.random() < 0.12:
                summary.forms_abandoned += 1
                cancel = speaker.cancel() if rng.random() < 0.5 else None
                if cancel is None:
                    return  # the user just leaves
                react(chat.say(cancel[0]), cancel[1])
                break
            text = rng.choice(UNSURE[speaker.lang]) if rng.random() < 0.08 else speaker.answer(form, slot)
            replies = chat.say(text)
            react(replies, form.name)
            asked = speaker.asked(replies)


# -- transports -------------------------------------------------------------------------------


class JsonSocket:
    """Adapts a connection with `send(str)` / `recv() -> str` to JSON frames."""

    def __init__(self, send: Callable[[str], Any], recv: Callable[[], Any]) -> None:
        self._send, self._recv = send, recv

    def send(self, frame: dict[str, Any]) -> None:
        self._send(json.dumps(frame))

    def recv(self) -> dict[str, Any]:
        return json.loads(self._recv())


Connect = Callable[[], Any]
"""Opens one connection as a context manager yielding a `Transport`."""


def run(
    connect: Connect, domain: Domain, conversations: int, seed: int, *, rate: float | None = None, burst: int = 16
) -> Summary:
    """Hold `conversations` conversations, each on its own connection (so its own session)."""
    rng = random.Random(seed)
    speaker = Speaker(domain, rng)
    summary = Summary()
    for _ in range(conversations):
        with connect() as transport:
            chat = Chat(transport, Pacer(rate, burst), summary)
            converse(chat, speaker, rng, summary)
        summary.conversations += 1
        if chat.session_id:
            summary.session_ids.append(chat.session_id)
    return summary


def over_websocket(url: str, timeout: float = 30.0) -> Connect:
    from websockets.sync.client import connect

    @contextmanager
    def opened() -> Iterator[Transport]:
        with connect(url, open_timeout=timeout, close_timeout=5) as ws:
            yield JsonSocket(ws.send, lambda: ws.recv(timeout=timeout))

    return opened


@contextmanager
def in_process(settings: Any) -> Iterator[Connect]:
    """The app itself in this process (no server, no port), via Starlette's test client."""
    from fastapi.testclient import TestClient

    from bot.app import create_app

    with TestClient(create_app(settings)) as client:

        @contextmanager
        def opened() -> Iterator[Transport]:
            with client.websocket_connect("/ws") as ws:
                yield JsonSocket(ws.send_text, ws.receive_text)

        yield opened


def spread_over_days(
    url: str, session_ids: list[str], days: float, seed: int, expiry: timedelta = timedelta(minutes=30)
) -> None:
    """Move the simulated sessions back in time, oldest first, over the last `days` days.

    Real logs span weeks and users take seconds to type: this lets per-day charts show a
    history. Turns get human gaps, sessions end `expiry` after their last turn (as the bot's
    sweeper would end them). Only the given sessions change.
    """
    from bot.database import make_engine
    from bot.tables import ChatSession, Message, utcnow

    if not session_ids or days <= 0:
        return
    rng = random.Random(seed)
    engine = make_engine(url)
    message, chat = Message.__table__, ChatSession.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on a table class; its type does not declare it
    now, n = utcnow(), len(session_ids)
    try:
        with engine.begin() as conn:
            for i, session_id in enumerate(session_ids):
                rows = conn.execute(
                    select(message.c.id, message.c.created_at).where(message.c.session_id == session_id)
                ).all()
                turns = sorted({r.created_at for r in rows})  # a turn's messages share one time
                gaps = [timedelta(seconds=rng.uniform(2, 10 if k == 0 else 45)) for k in range(len(turns))]
                end = now - timedelta(days=days * (n - 1 - i) / n, hours=rng.uniform(0, 6))
                start = end - sum(gaps, timedelta())
                moved, at = {}, start
                for turn, gap in zip(turns, gaps, strict=False):
                    at += gap
                    moved[turn] = at
                if rows:
                    conn.execute(
                        update(message).where(message.c.id == bindparam("b_id")).values(created_at=bindparam("b_at")),
                        [{"b_id": r.id, "b_at": moved[r.created_at]} for r in rows],
                    )
                conn.execute(
                    update(chat)
                    .where(chat.c.id == session_id)
                    .values(created_at=start, last_active=end, ended_at=end + expiry)
                )
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    from subprocess import CalledProcessError

    from websockets.exceptions import WebSocketException

    from bot.__main__ import ensure_model
    from bot.config import Settings
    from bot.model import ModelError

    parser = argparse.ArgumentParser(
        prog="python -m training.simulate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        metavar="WS_URL",
        help="talk to a running bot at this WebSocket URL, e.g. ws://127.0.0.1:8000/ws "
        "(default: run the bot in this process on --database-url)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="the database to fill in-process (default: BOT_DATABASE_URL, else "
        "sqlite:///bot.db); with --url, only used to spread the timestamps (--spread-days)",
    )
    parser.add_argument(
        "--intents",
        type=Path,
        metavar="PATH",
        help="the domain users talk about; with --url it must be the "
        "server's (default: BOT_INTENTS_PATH, else intents.yaml)",
    )
    parser.add_argument(
        "--models",
        type=Path,
        metavar="DIR",
        help="in-process: the models directory, trained if stale unless "
        "BOT_TRAIN_IF_NEEDED=false (default: BOT_MODELS_DIR, else models/)",
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=50,
        metavar="N",
        help="how many conversations, one session each (default 50)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed: the same seed and model give the same conversations (default 0)",
    )
    parser.add_argument(
        "--spread-days",
        type=float,
        default=7.0,
        metavar="D",
        help="move the simulated conversations back in time over "
        "the last D days, so per-day charts show a history (default 7; 0 keeps real times). Needs the database: "
        "in-process, or --url with --database-url",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=4.0,
        metavar="R",
        help="with --url: frames a second after a burst of 16, under the "
        "server's per-connection limit (default 4; BOT_RATE_PER_SECOND is 5)",
    )
    args = parser.parse_args(argv)
    if args.conversations < 0:
        parser.error("--conversations must be 0 or more")

    defaults = Settings()
    try:
        domain = load_domain(args.intents or defaults.intents_path)
    except DomainError as exc:
        print(exc, file=sys.stderr)
        return 2
    url = database_url(args.database_url) if args.database_url or not args.url else None
    try:
        if args.url:
            summary = run(over_websocket(args.url), domain, args.conversations, args.seed, rate=args.rate)
            target = args.url
        else:
            settings = Settings(
                database_url=url,
                intents_path=args.intents or defaults.intents_path,
                models_dir=args.models or defaults.models_dir,
                rate_per_second=1000,
                rate_burst=1000,
            )
            ensure_model(settings)
            with in_process(settings) as connect:
                summary = run(connect, domain, args.conversations, args.seed)
            target = settings.database_url
    except (SimulationError, ModelError, CalledProcessError, WebSocketException, OSError, TimeoutError) as exc:
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    if url and args.spread_days > 0:
        spread_over_days(url, summary.session_ids, args.spread_days, args.seed)
    print(
        f"{summary.conversations} conversations, {summary.messages} messages sent ({summary.replies} replies); "
        f"{summary.thumbs_down} thumbs down, {summary.thumbs_up} up; {summary.forms_started} forms started, "
        f"{summary.forms_abandoned} abandoned -> {target}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
