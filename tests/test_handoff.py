"""Human handoff end to end on real servers: the queue, an agent's take, reply and close, tickets,
who may do what, and a user and an agent on two instances sharing PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import ClientConnection, connect

from bot import auth
from bot.conversation import Principal
from tests.helpers import ROOT, SHOP, LiveServer, free_port, make_server_env

PASSWORD = "agent-password-1"
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
    path.write_text(SHOP.read_text().rstrip("\n") + "\n" + HUMAN_INTENT)
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


@pytest.fixture(scope="session")
def handoff_domain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test shop domain with a `handoff: true` intent, trained once."""
    from training.fit import main as fit

    folder = tmp_path_factory.mktemp("handoff")
    domain = write_handoff_domain(folder)
    assert fit(["--intents", str(domain), "--out", str(folder / "models"), "--quick"]) == 0
    return domain, folder / "models"


def handoff_env(folder: Path, handoff_domain: tuple[Path, Path], **extra: str) -> dict[str, str]:
    domain, models = handoff_domain
    return {**make_server_env(folder, models), "BOT_INTENTS_PATH": str(domain), **extra}


def create_user(env: dict[str, str], name: str, role: str) -> None:
    """Through the operator's command, as a deployment would."""
    command = [sys.executable, "-m", "bot.admin", "create-user", name, "--role", role, "--password-stdin"]
    done = subprocess.run(command, cwd=ROOT, env=env, input=PASSWORD, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"created {role} {name}" in done.stdout


def start(env: dict[str, str], folder: Path, name: str) -> LiveServer:
    port = free_port()
    return LiveServer(env={**env, "BOT_PORT": str(port)}, port=port, log_path=folder / f"{name}.log").start()


@pytest.fixture
def server(tmp_path: Path, handoff_domain: tuple[Path, Path]) -> Iterator[LiveServer]:
    env = handoff_env(tmp_path, handoff_domain, BOT_HANDOFF_AFTER_FALLBACKS="2")
    for name, role in (("ada", "agent"), ("bob", "agent"), ("carol", "user")):
        create_user(env, name, role)
    live = start(env, tmp_path, "bot")
    try:
        yield live
    finally:
        live.stop()


def history(server: LiveServer, session_id: str, token: str | None = None) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{server.url}/api/sessions/{session_id}/messages?limit=500", headers=headers)
    return list(response.json()["items"])


def ask_for_a_person(chat: Frames, client_id: str = "h1") -> dict[str, object]:
    chat.send({"type": "message", "text": "I want to talk to a human", "id": client_id})
    assert chat.wait("reply", reply_to=client_id)["intent"] == "talk_to_human"
    return chat.wait("reply", intent="handoff")


def whole_handoff(user_server: LiveServer, agent_server: LiveServer) -> None:
    """Queue, take, messages both ways, a reconnect on each side, close: the bot is back."""
    token = login(agent_server.url, "ada", PASSWORD)
    desk = inbox(agent_server.ws_url, token)
    assert desk.wait("welcome")["agent"] == "ada"
    desk.wait("queue")
    chat = user(user_server.ws_url)
    chat.wait("session")
    queued = ask_for_a_person(chat)
    assert "you're next" in str(queued["text"])
    queue = desk.wait("queue", timeout=10)
    while not queue["items"]:
        queue = desk.wait("queue")
    (item,) = queue["items"]
    session_id = item["session_id"]
    assert "asked for a person" in item["reason"]
    assert [m["text"] for m in item["last_messages"]][-3:][0] == "I want to talk to a human"

    chat.send({"type": "message", "text": "hello? anyone there", "id": "w1"})
    assert chat.wait("received", reply_to="w1")["message_id"] > 0  # stored, no bot reply

    desk.send({"type": "take", "session_id": session_id})
    desk.wait("taken", session_id=session_id)
    assert chat.wait("agent_joined")["agent"] == "ada"
    detail = httpx.get(
        f"{agent_server.url}/api/inbox/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert detail["mode"] == "agent" and detail["agent"] == "ada"
    assert ["talk_to_human", 1] in detail["intents"]
    assert [m["text"] for m in detail["messages"]][:1] == ["I want to talk to a human"]

    chat.send({"type": "typing"})
    desk.wait("typing", session_id=session_id)
    chat.send({"type": "message", "text": "my parcel is late", "id": "u1"})
    chat.wait("received", reply_to="u1")
    assert desk.wait("message", session_id=session_id)["message"]["text"] == "my parcel is late"

    desk.send({"type": "typing", "session_id": session_id})
    assert chat.wait("agent_typing")["agent"] == "ada"
    desk.send(
        {
            "type": "reply",
            "session_id": session_id,
            "text": "Sorry about that! Shall I resend it?",
            "buttons": [{"title": "Yes please", "payload": "yes please"}],
            "id": "a1",
        }
    )
    ack = desk.wait("ack", reply_to="a1")
    said = chat.wait("agent_message")
    assert said["text"] == "Sorry about that! Shall I resend it?" and said["agent"] == "ada"
    assert said["message_id"] == ack["message_id"] and said["buttons"][0]["title"] == "Yes please"
    # A burst of replies, none waited for: each acknowledged once stored, all shown in order.
    burst = [f"line {i}" for i in range(5)]
    for i, text in enumerate(burst):
        desk.send({"type": "reply", "session_id": session_id, "text": text, "id": f"r{i}"})
    acked = [desk.wait("ack", reply_to=f"r{i}")["message_id"] for i in range(len(burst))]
    assert acked == sorted(acked) and acked[0] > ack["message_id"]
    shown = [chat.wait("agent_message") for _ in burst]
    assert [m["text"] for m in shown] == burst and [m["message_id"] for m in shown] == acked

    # Reconnects: the user resumes the session and sees who holds it; the agent's inbox comes back.
    chat.close()
    chat = user(user_server.ws_url, session_id)
    resumed = chat.wait("session")
    assert resumed["resumed"] is True and resumed["mode"] == "agent" and resumed["agent"] == "ada"
    chat.send({"type": "message", "text": "my parcel is late", "id": "u1"})  # a resend: stored once
    assert chat.wait("received", reply_to="u1")["message_id"] > 0
    desk.close()
    desk = inbox(agent_server.ws_url, token)
    desk.wait("welcome")
    chat.send({"type": "message", "text": "yes please", "id": "u2"})
    chat.wait("received", reply_to="u2")
    assert desk.wait("message", session_id=session_id)["message"]["text"] == "yes please"

    desk.send({"type": "close", "session_id": session_id})
    desk.wait("released", session_id=session_id)
    assert chat.wait("agent_left")["agent"] == "ada"
    assert "back with the virtual assistant" in str(chat.wait("reply", intent="handoff")["text"])
    chat.send({"type": "message", "text": "hi", "id": "b1"})
    assert chat.wait("reply", reply_to="b1")["intent"] == "greet"  # the bot answers again
    chat.close()
    desk.close()

    admin = {"Authorization": f"Bearer {login(user_server.url, 'admin', 'admin-password-1')}"}
    export = httpx.get(f"{user_server.url}/api/admin/export", headers=admin).text.splitlines()
    log = [m for m in map(json.loads, export) if m["session_id"] == session_id]
    agent_lines = [m for m in log if m["direction"] == "agent"]
    assert [m["text"] for m in agent_lines] == ["Sorry about that! Shall I resend it?", *burst]
    users = httpx.get(f"{agent_server.url}/api/inbox/agents", headers={"Authorization": f"Bearer {token}"}).json()
    ada = next(u for u in users if u["username"] == "ada")
    assert agent_lines[0]["user_id"] == ada["id"]
    assert [m["client_id"] for m in log if m["direction"] == "in"] == ["h1", "w1", "u1", "u2", "b1"]


def test_a_whole_handoff_on_one_instance(server: LiveServer) -> None:
    whole_handoff(server, server)


def test_with_nobody_online_the_user_leaves_a_ticket(server: LiveServer) -> None:
    chat = user(server.ws_url)
    chat.wait("session")
    offer = ask_for_a_person(chat)
    assert "Nobody from our team is online" in str(offer["text"])
    chat.send({"type": "message", "text": "not an address", "id": "t1"})
    assert "doesn't look like an email" in str(chat.wait("reply", reply_to="t1")["text"])
    chat.send({"type": "message", "text": "me@example.com", "id": "t2"})
    assert "type your message" in str(chat.wait("reply", reply_to="t2")["text"])
    chat.send({"type": "message", "text": "Please call me about order AB123456", "id": "t3"})
    assert "we'll reply to me@example.com" in str(chat.wait("reply", reply_to="t3")["text"])
    chat.send({"type": "message", "text": "hi", "id": "t4"})
    assert chat.wait("reply", reply_to="t4")["intent"] == "greet"
    chat.close()
    token = login(server.url, "ada", PASSWORD)
    auth = {"Authorization": f"Bearer {token}"}
    (ticket,) = httpx.get(f"{server.url}/api/inbox/tickets", headers=auth).json()
    assert ticket["email"] == "me@example.com" and ticket["text"] == "Please call me about order AB123456"
    assert httpx.post(f"{server.url}/api/inbox/tickets/{ticket['id']}/close", headers=auth).status_code == 204
    assert httpx.get(f"{server.url}/api/inbox/tickets", headers=auth).json() == []


def test_asking_for_something_else_instead_of_an_email_moves_on_from_the_ticket(server: LiveServer) -> None:
    chat = user(server.ws_url)
    chat.wait("session")
    ask_for_a_person(chat)
    chat.send({"type": "message", "text": "hi", "id": "m1"})  # a request the bot answers, not an address
    assert chat.wait("reply", reply_to="m1")["intent"] == "greet"
    chat.close()
    chat = user(server.ws_url)
    chat.wait("session")
    ask_for_a_person(chat)
    chat.send({"type": "message", "text": "actually never mind", "id": "m2"})  # a cancel intent, not the words
    assert "What else can I help" in str(chat.wait("reply", reply_to="m2")["text"])
    chat.close()
    auth = {"Authorization": f"Bearer {login(server.url, 'ada', PASSWORD)}"}
    assert httpx.get(f"{server.url}/api/inbox/tickets", headers=auth).json() == []


def test_fallbacks_in_a_row_hand_over_and_never_mind_gives_up(server: LiveServer) -> None:
    chat = user(server.ws_url)
    chat.wait("session")
    chat.send({"type": "message", "text": "zxqv blorp", "id": "f1"})
    assert chat.wait("reply", reply_to="f1")["fallback"] is True
    chat.send({"type": "message", "text": "zxqv blorp", "id": "f2"})
    assert chat.wait("reply", reply_to="f2")["fallback"] is True
    offer = chat.wait("reply", intent="handoff")
    assert "Nobody from our team is online" in str(offer["text"])
    chat.send({"type": "message", "text": offer["buttons"][0]["payload"], "id": "f3"})
    assert "What else can I help" in str(chat.wait("reply", reply_to="f3")["text"])
    chat.close()


def test_who_may_use_the_inbox(server: LiveServer) -> None:
    carol = {"Authorization": f"Bearer {login(server.url, 'carol', PASSWORD)}"}
    ada_token = login(server.url, "ada", PASSWORD)
    ada = {"Authorization": f"Bearer {ada_token}"}
    assert httpx.get(f"{server.url}/api/inbox/queue", headers=carol).status_code == 403
    assert httpx.get(f"{server.url}/api/inbox/queue").status_code == 401
    assert httpx.get(f"{server.url}/api/inbox/queue", headers=ada).status_code == 200
    assert httpx.get(f"{server.url}/api/admin/sessions", headers=ada).status_code == 403  # not an admin
    refused = inbox(server.ws_url, login(server.url, "carol", PASSWORD))
    assert refused.wait("error")["code"] == "unauthorized"
    refused.close()

    # Carol's own conversation: not another user's to read, not an agent's until it waits for one.
    chat = Frames(server.ws_url, {"type": "hello", "token": carol["Authorization"].split()[1]})
    session_id = chat.wait("session")["session_id"]
    chat.send({"type": "message", "text": "hi", "id": "c1"})
    chat.wait("reply", reply_to="c1")
    bob = {"Authorization": f"Bearer {login(server.url, 'bob', PASSWORD)}"}
    assert httpx.get(f"{server.url}/api/sessions/{session_id}/messages", headers=bob).status_code == 404
    assert httpx.get(f"{server.url}/api/inbox/sessions/{session_id}", headers=ada).status_code == 404
    desk = inbox(server.ws_url, ada_token)
    desk.wait("welcome")
    desk.send({"type": "reply", "session_id": session_id, "text": "I am not holding this", "id": "x"})
    assert desk.wait("error", reply_to="x")["code"] == "forbidden"
    desk.send({"type": "take", "session_id": session_id})
    assert desk.wait("error")["code"] == "forbidden"  # not waiting for a person
    ask_for_a_person(chat, "c2")
    desk.send({"type": "take", "session_id": session_id})
    desk.wait("taken", session_id=session_id)
    other = inbox(server.ws_url, bob["Authorization"].split()[1])
    other.wait("welcome")
    other.send({"type": "take", "session_id": session_id})
    assert other.wait("error")["code"] == "forbidden"  # taken already
    other.send({"type": "close", "session_id": session_id})
    assert other.wait("error")["code"] == "forbidden"
    # Transfer: Ada hands it to Bob, whose inbox is told; Carol sees the new name.
    users = httpx.get(f"{server.url}/api/inbox/agents", headers=ada).json()
    bob_id = next(u["id"] for u in users if u["username"] == "bob")
    desk.send({"type": "transfer", "session_id": session_id, "agent_id": bob_id})
    desk.wait("released", session_id=session_id)
    other.wait("taken", session_id=session_id)
    assert chat.wait("agent_joined", agent="bob")
    other.send({"type": "reply", "session_id": session_id, "text": "Bob here", "id": "b1"})
    assert chat.wait("agent_message")["agent"] == "bob"
    for client in (chat, desk, other):
        client.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_user_and_agent_on_two_instances_over_postgres(
    postgres_url: str, tmp_path: Path, handoff_domain: tuple[Path, Path]
) -> None:
    env = handoff_env(tmp_path, handoff_domain, BOT_DATABASE_URL=postgres_url)
    create_user(env, "ada", "agent")
    a = start(env, tmp_path, "a")
    try:
        b = start(env, tmp_path, "b")
        try:
            whole_handoff(user_server=a, agent_server=b)
        finally:
            b.stop()
    finally:
        a.stop()


def test_hand_over_is_callable_on_its_own(client: TestClient) -> None:
    """What an action's `handoff` result calls: queue positions, nobody online, nothing twice."""
    services = client.app.state.services  # type: ignore[attr-defined]
    chat, portal = services.chat, client.portal
    assert portal is not None
    alone = portal.call(chat.open, Principal())
    (offer,) = portal.call(chat.hand_over, alone, "the order action failed")
    assert "Nobody from our team is online" in offer.text and alone.mode == "ticket"

    agent = auth.create_user(services.engine, "ada", PASSWORD, "agent")
    portal.call(chat.handoff.db.seen, agent.id, chat.clock())
    first, second = portal.call(chat.open, Principal()), portal.call(chat.open, Principal())
    assert "you're next" in portal.call(chat.hand_over, first, "asked")[0].text
    assert "you're number 2 in the queue" in portal.call(chat.hand_over, second, "asked")[0].text
    assert portal.call(chat.hand_over, second, "asked again") == []  # already waiting
    queue = chat.handoff.db.queue()
    assert [item.session_id for item in queue] == [first.session_id, second.session_id]
    assert queue[0].reason == "asked" and queue[0].last_messages[-1].direction == "out"
