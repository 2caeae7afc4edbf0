"""An agent's account erased while they hold conversations, over real servers: each conversation
goes back to the queue (at its place) and its user is told, live and in the log, in the session's
language; another agent takes it. On one instance (SQLite) and across two on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.system_texts import ENGLISH, RUSSIAN
from tests.helpers import LiveServer, make_settings
from tests.test_handoff import (  # noqa: F401 (handoff_domain: a fixture)
    PASSWORD,
    Frames,
    ask_for_a_person,
    create_user,
    handoff_domain,
    handoff_env,
    history,
    inbox,
    login,
)
from tests.test_handoff import start as start_server
from tests.test_handoff_languages import INTENTS, chat_in, not_understood
from training.fit import main as fit


@pytest.fixture(scope="module")
def two_languages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shipped English and Russian bot, trained once."""
    folder = tmp_path_factory.mktemp("erased-agent")
    assert fit(["--intents", str(INTENTS), "--out", str(folder / "models"), "--quick"]) == 0
    return INTENTS, folder / "models"


@pytest.fixture
def server(tmp_path: Path, two_languages: tuple[Path, Path]) -> Iterator[LiveServer]:
    env = handoff_env(tmp_path, two_languages, BOT_HANDOFF_AFTER_FALLBACKS="1")
    for name, role in (("ada", "agent"), ("bob", "agent"), ("root", "admin")):
        create_user(env, name, role)
    live = start_server(env, tmp_path, "bot")
    try:
        yield live
    finally:
        live.stop()


def take(desk: Frames, session_id: str) -> None:
    desk.send({"type": "take", "session_id": session_id})
    desk.wait("taken", session_id=session_id)


def wait_queue(desk: Frames, session_ids: list[str]) -> None:
    """Until the inbox's queue lists exactly these conversations, in this order."""
    while [item["session_id"] for item in desk.wait("queue")["items"]] != session_ids:
        pass


def test_an_erased_agents_conversations_wait_again_and_each_user_is_told_in_its_language(server: LiveServer) -> None:
    ada = login(server.url, "ada", PASSWORD)
    ada_desk, bob_desk = inbox(server.ws_url, ada), inbox(server.ws_url, login(server.url, "bob", PASSWORD))
    ada_desk.wait("welcome")
    bob_desk.wait("welcome")
    ru, ru_id = chat_in(server, "ru")
    en, en_id = chat_in(server, "en")
    not_understood(ru, "f1")  # handed over: first in the queue
    not_understood(en, "f1")
    for chat, session_id in ((ru, ru_id), (en, en_id)):
        take(ada_desk, session_id)
        assert chat.wait("agent_joined")["agent"] == "ada"
    wait_queue(bob_desk, [])

    gone = httpx.request(
        "DELETE", f"{server.url}/api/me", headers={"Authorization": f"Bearer {ada}"}, json={"password": PASSWORD}
    )
    assert gone.status_code == 204

    told = {}
    for chat, session_id in ((ru, ru_id), (en, en_id)):
        assert chat.wait("agent_left")["agent"] == "ada"
        told[session_id] = chat.wait("reply", intent="handoff")
    # Back at their places: the Russian conversation asked first.
    assert told[ru_id]["text"] == RUSSIAN.agent_gone.format(ahead=RUSSIAN.queued_next)
    assert told[en_id]["text"] == ENGLISH.agent_gone.format(ahead=ENGLISH.queued_position.format(position=2))
    for session_id, notice in told.items():  # in the log as the bot's notice, as the user saw it
        logged = [m for m in history(server, session_id) if m["id"] == notice["message_id"]]
        assert [(m["direction"], m["text"]) for m in logged] == [("out", notice["text"])]
    wait_queue(bob_desk, [ru_id, en_id])

    # The queue works as before: another agent takes one, and the user talks to them.
    take(bob_desk, en_id)
    assert en.wait("agent_joined")["agent"] == "bob"
    en.send({"type": "message", "text": "still there?", "id": "m1"})
    en.wait("received", reply_to="m1")
    assert bob_desk.wait("message", session_id=en_id)["message"]["text"] == "still there?"
    for client in (ru, en, ada_desk, bob_desk):
        client.close()


def test_an_admin_erasing_an_agent_releases_only_what_they_held(server: LiveServer) -> None:
    ada, root = login(server.url, "ada", PASSWORD), login(server.url, "root", PASSWORD)
    ada_desk, bob_desk = inbox(server.ws_url, ada), inbox(server.ws_url, login(server.url, "bob", PASSWORD))
    ada_id = ada_desk.wait("welcome")["user_id"]
    bob_desk.wait("welcome")
    mine, mine_id = chat_in(server, "en")
    bobs, bobs_id = chat_in(server, "en")
    not_understood(mine, "f1")
    not_understood(bobs, "f1")
    take(ada_desk, mine_id)
    take(bob_desk, bobs_id)

    report = httpx.delete(f"{server.url}/api/admin/users/{ada_id}", headers=auth(root))
    assert report.status_code == 200 and report.json()["conversations_released"] == 1
    assert mine.wait("agent_left")["agent"] == "ada"
    assert mine.wait("reply", intent="handoff")["text"] == ENGLISH.agent_gone.format(ahead=ENGLISH.queued_next)
    bobs.send({"type": "message", "text": "hello bob", "id": "m1"})  # bob's conversation is untouched
    bobs.wait("received", reply_to="m1")
    assert bob_desk.wait("message", session_id=bobs_id)["message"]["text"] == "hello bob"
    assert not [f for f in bobs.seen if f["type"] in ("agent_left", "reply")]
    for client in (mine, bobs, ada_desk, bob_desk):
        client.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.postgres
@pytest.mark.slow
def test_an_agent_erased_on_one_instance_releases_a_user_on_the_other(
    postgres_url: str,
    tmp_path: Path,
    handoff_domain: tuple[Path, Path],  # noqa: F811 (the fixture)
) -> None:
    env = handoff_env(tmp_path, handoff_domain, BOT_DATABASE_URL=postgres_url)
    for name, role in (("ada", "agent"), ("bob", "agent")):
        create_user(env, name, role)
    a = start_server(env, tmp_path, "a")
    try:
        b = start_server(env, tmp_path, "b")
        try:
            ada = login(b.url, "ada", PASSWORD)
            ada_desk, bob_desk = inbox(b.ws_url, ada), inbox(a.ws_url, login(a.url, "bob", PASSWORD))
            ada_desk.wait("welcome")
            bob_desk.wait("welcome")
            chat = Frames(a.ws_url, {"type": "hello"})
            session_id = str(chat.wait("session")["session_id"])
            ask_for_a_person(chat)
            take(ada_desk, session_id)
            assert chat.wait("agent_joined")["agent"] == "ada"

            gone = httpx.request("DELETE", f"{b.url}/api/me", headers=auth(ada), json={"password": PASSWORD})
            assert gone.status_code == 204
            assert chat.wait("agent_left")["agent"] == "ada"
            notice = chat.wait("reply", intent="handoff")
            assert notice["text"] == ENGLISH.agent_gone.format(ahead=ENGLISH.queued_next)
            assert notice["message_id"] in [m["id"] for m in history(a, session_id)]
            wait_queue(bob_desk, [session_id])
            take(bob_desk, session_id)
            assert chat.wait("agent_joined")["agent"] == "bob"
            for client in (chat, ada_desk, bob_desk):
                client.close()
        finally:
            b.stop()
    finally:
        a.stop()


def test_an_agent_whose_account_is_gone_is_named_in_the_sessions_language(
    tmp_path: Path, two_languages: tuple[Path, Path]
) -> None:
    intents, models = two_languages
    with TestClient(create_app(make_settings(tmp_path, models, intents_path=intents))) as client:
        handoff, portal = client.app.state.services.chat.handoff, client.portal  # type: ignore[attr-defined]
        assert portal is not None
        assert portal.call(handoff.name, 999_999, "ru") == RUSSIAN.colleague == "Коллега"
        assert portal.call(handoff.name, 999_999, "en") == ENGLISH.colleague == "A colleague"
        assert portal.call(handoff.name, 999_999, None) == ENGLISH.colleague  # the bot's default language
