"""The bot's own texts in the session's language over a real WebSocket: a Russian session of a
two-language bot is told of the queue, the resume and the message it may leave in Russian, an
English one in English, and the chat commands answer likewise (bot/system_texts.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from bot.system_texts import ENGLISH, RUSSIAN, SystemTexts
from tests.browser import Frames as BrowserFrames
from tests.browser import Widget
from tests.helpers import ROOT, LiveServer, make_server_env
from tests.test_handoff import PASSWORD, Frames, create_user, inbox, login, start
from training.fit import main as fit

INTENTS = ROOT / "examples" / "multilingual" / "intents.yaml"
SESSIONS = [("ru", RUSSIAN), ("en", ENGLISH)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shipped two-language bot, handing over at the first fallback, with one agent."""
    folder = tmp_path_factory.mktemp("handoff-languages")
    assert fit(["--intents", str(INTENTS), "--out", str(folder / "models"), "--quick"]) == 0
    env = {
        **make_server_env(folder, folder / "models"),
        "BOT_INTENTS_PATH": str(INTENTS),
        "BOT_HANDOFF_AFTER_FALLBACKS": "1",
    }
    create_user(env, "ada", "agent")
    live = start(env, Path(folder), "bot")
    try:
        yield live
    finally:
        live.stop()


def chat_in(server: LiveServer, lang: str) -> tuple[Frames, str]:
    chat = Frames(server.ws_url, {"type": "hello", "lang": lang})
    session_id = str(chat.wait("session")["session_id"])
    chat.wait("reply")  # the welcome
    return chat, session_id


def not_understood(chat: Frames, client_id: str) -> dict[str, object]:
    """A message without words: a fallback, which hands the conversation over."""
    chat.send({"type": "message", "text": "???", "id": client_id})
    assert chat.wait("reply", reply_to=client_id)["fallback"] is True
    return chat.wait("reply", intent="handoff")


@pytest.mark.parametrize(("lang", "texts"), SESSIONS)
def test_with_nobody_online_the_message_is_taken_in_the_sessions_language(
    server: LiveServer, lang: str, texts: SystemTexts
) -> None:
    chat, _ = chat_in(server, lang)
    offer = not_understood(chat, "f1")
    assert offer["text"] == texts.nobody_online
    assert offer["buttons"] == [{"title": texts.never_mind, "payload": "/cancel_message"}]
    chat.send({"type": "message", "text": "not an address", "id": "t1"})
    assert chat.wait("reply", reply_to="t1")["text"] == texts.ticket_bad_email
    chat.send({"type": "message", "text": "me@example.com", "id": "t2"})
    assert chat.wait("reply", reply_to="t2")["text"] == texts.ticket_ask_text
    chat.send({"type": "message", "text": "please call me", "id": "t3"})
    assert chat.wait("reply", reply_to="t3")["text"] == texts.ticket_filed.format(email="me@example.com")
    not_understood(chat, "f2")
    chat.send({"type": "message", "text": texts.never_mind, "id": "t4"})  # typed, not clicked
    assert chat.wait("reply", reply_to="t4")["text"] == texts.ticket_cancelled
    chat.close()


def test_queue_and_resume_notices_follow_each_sessions_language(server: LiveServer) -> None:
    desk = inbox(server.ws_url, login(server.url, "ada", PASSWORD))
    desk.wait("welcome")
    try:
        for lang, texts in SESSIONS:
            chat, session_id = chat_in(server, lang)
            queued = not_understood(chat, "h1")
            assert queued["text"] == texts.queued.format(ahead=texts.queued_next)
            desk.send({"type": "take", "session_id": session_id})
            desk.wait("taken", session_id=session_id)
            assert chat.wait("agent_joined")["agent"] == "ada"
            desk.send({"type": "close", "session_id": session_id})
            desk.wait("released", session_id=session_id)
            chat.wait("agent_left")
            assert chat.wait("reply", intent="handoff")["text"] == texts.resume
            chat.close()
    finally:
        desk.close()


@pytest.mark.parametrize(("lang", "texts"), SESSIONS)
def test_chat_commands_answer_in_the_sessions_language(server: LiveServer, lang: str, texts: SystemTexts) -> None:
    chat, session_id = chat_in(server, lang)
    answers, times = [], []
    for i, command in enumerate(("/whoami", "/reset", "/logout")):
        chat.send({"type": "message", "text": command, "id": f"c{i}"})
        reply = chat.wait("reply", reply_to=f"c{i}")
        answers.append(reply["text"])
        times.append(reply["time"])
    chat.close()
    assert answers == [texts.whoami_guest.format(session_id=session_id), texts.reset, texts.not_logged_in]
    assert all(datetime.fromisoformat(t).tzinfo is not None for t in times)  # stamped like any reply


@pytest.mark.parametrize(("lang", "expected"), [("ru", "ru"), ("ru-RU", "ru"), ("en", "en"), (None, None)])
def test_the_session_frame_says_the_sessions_language(
    server: LiveServer, lang: str | None, expected: str | None
) -> None:
    """What the widget words its own handoff notices in; none until a bot of two languages tells it."""
    chat = Frames(server.ws_url, {"type": "hello", "lang": lang})
    session_id = str(chat.wait("session")["session_id"])
    chat.close()
    again = Frames(server.ws_url, {"type": "hello", "session_id": session_id, "lang": "en"})
    resumed = again.wait("session")
    again.close()
    assert resumed["session_id"] == session_id and resumed["resumed"] is True
    assert resumed["language"] == expected  # the session's, not the one a later hello asks for


def agent_joins_and_leaves_in_russian(desk: Frames, w: Widget, session_id: str) -> None:
    """The agent takes the conversation and closes it: the widget says both, in Russian."""
    desk.send({"type": "take", "session_id": session_id})
    desk.wait("taken", session_id=session_id)
    joined = w.log.locator(".cbw-notice [lang=ru]")
    expect(joined).to_have_text("ada из нашей команды присоединяется к разговору.")
    desk.send({"type": "close", "session_id": session_id})
    expect(joined.last).to_have_text("ada покинул(а) разговор.")


@pytest.mark.browser
def test_the_widget_words_its_handoff_notices_in_the_sessions_language(
    server: LiveServer,
    contexts: Callable[..., BrowserContext],
) -> None:
    """An English page showing a Russian conversation (resumed from another visit): the page's
    controls stay English, what the widget says of the conversation is Russian."""
    desk = inbox(server.ws_url, login(server.url, "ada", PASSWORD))
    desk.wait("welcome")
    chat, session_id = chat_in(server, "ru")
    chat.close()
    page = contexts().new_page()
    page.goto(server.url + "/healthz")  # the server's origin, for its localStorage
    page.evaluate(
        "([k, v]) => localStorage.setItem(k, JSON.stringify(v))", [f"chatwidget:{server.ws_url}:session", session_id]
    )
    page.goto(server.url + "/")
    w = Widget(page, server)
    expect(w.input).to_be_visible()  # "Message": the page's language
    w.send("???")  # not understood: handed over
    expect(w.bot.last).to_have_text(RUSSIAN.queued.format(ahead=RUSSIAN.queued_next))
    agent_joins_and_leaves_in_russian(desk, w, session_id)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    desk.close()


@pytest.mark.browser
def test_the_widget_takes_the_language_the_first_message_settles_at_once(
    server: LiveServer,
    contexts: Callable[..., BrowserContext],
) -> None:
    """A page that says no language: the first Russian message settles the session's, and the
    widget words what it says of the conversation in Russian on this very connection."""
    desk = inbox(server.ws_url, login(server.url, "ada", PASSWORD))
    desk.wait("welcome")
    page = contexts(bypass_csp=True).new_page()
    frames = BrowserFrames(page)
    page.goto(server.url + "/healthz")  # the server's origin (Chromium's local-network checks)
    page.set_content(
        '<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body>'
        '<script src="/widget.js" data-open="true" defer></script></body></html>'
    )
    w = Widget(page, server)
    expect(w.bot.first).to_have_text(re.compile("^Hi!"))  # the welcome: nothing known yet, the first language
    w.send("расскажи анекдот")  # Russian, and not understood: handed over
    expect(w.bot.last).to_have_text(RUSSIAN.queued.format(ahead=RUSSIAN.queued_next))
    session_id = w.session_id()
    agent_joins_and_leaves_in_russian(desk, w, session_id)
    assert [f["language"] for f in frames.sessions()] == [None, "ru"]
    assert len(frames.connections()) == 1  # on the first connection, not the next
    assert len(frames.of_type("message", received=False)) == 1  # the session frame resent nothing
    desk.close()
