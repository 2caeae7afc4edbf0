"""Shared by the handoff tests and bench/handoff.py: a domain with a person to talk to, and clients."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

DATA = Path(__file__).resolve().parent / "data"
HUMAN_INTENT = """
  talk_to_human:
    title: Talk to a person
    handoff: true
    examples:
      - I want to talk to a human
      - connect me to an agent
      - can I speak to a real person
      - human please
      - put me through to a person
      - I need a live agent
    responses:
      - "Of course, let me get a colleague for you."
"""


def write_handoff_domain(folder: Path) -> Path:
    """The shop test domain plus an intent that hands over to a person."""
    path = folder / "handoff.yaml"
    path.write_text((DATA / "shop.yaml").read_text().rstrip("\n") + "\n" + HUMAN_INTENT)
    return path


def login(base_url: str, username: str, password: str) -> str:
    response = httpx.post(f"{base_url}/api/login", json={"username": username, "password": password}, timeout=30)
    response.raise_for_status()
    return str(response.json()["token"])


class Frames:
    """A synchronous WebSocket client that waits for a frame of a given type, keeping the others."""

    def __init__(self, url: str, hello: dict[str, Any]) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(connect(url, open_timeout=10))
        self.seen: list[dict[str, Any]] = []
        self.send(hello)

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def wait(self, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The first frame of `kind` (with the given fields) not consumed yet."""
        deadline = time.monotonic() + timeout
        while True:
            for i, frame in enumerate(self.seen):
                if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                    return self.seen.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} frame {match or ''}; seen {self.seen}")
            self.seen.append(json.loads(self.ws.recv(left)))

    def close(self) -> None:
        self._stack.close()


def user(ws_url: str, session_id: str | None = None) -> Frames:
    return Frames(ws_url, {"type": "hello", "session_id": session_id})


def inbox(ws_url: str, token: str) -> Frames:
    return Frames(ws_url.removesuffix("/ws") + "/inbox/ws", {"type": "hello", "token": token})
