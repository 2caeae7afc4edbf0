"""One bot in two languages, served: one model, each session answered in its own language.

The shipped `examples/multilingual` bot, trained once; a real server on loopback and real
WebSocket clients.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from websockets.sync.client import ClientConnection, connect

from bot.language import detect_language
from bot.model import load_model
from tests.helpers import ROOT, LiveServer, make_server_env, run_server
from training.fit import main as fit

INTENTS = ROOT / "examples" / "multilingual" / "intents.yaml"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("multilingual-models")
    assert fit(["--intents", str(INTENTS), "--out", str(folder), "--quick"]) == 0
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, models: Path) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("multilingual-server")
    env = make_server_env(folder, models) | {"BOT_INTENTS_PATH": str(INTENTS)}
    yield from run_server(folder, env)


def hello(server: LiveServer, **fields: Any) -> tuple[ClientConnection, list[dict[str, Any]]]:
    """A connection and the frames answering its hello: session and, for a new one, the welcome."""
    ws = connect(server.ws_url, open_timeout=10)
    ws.send(json.dumps({"type": "hello", **fields}))
    frames = [json.loads(ws.recv(10))]
    if frames[0]["type"] == "session" and not frames[0]["resumed"]:
        frames.append(json.loads(ws.recv(10)))
    return ws, frames


def say(ws: ClientConnection, said: str) -> dict[str, Any]:
    ws.send(json.dumps({"type": "message", "text": said}))
    while True:
        frame: dict[str, Any] = json.loads(ws.recv(10))
        if frame["type"] in ("reply", "error"):
            return frame


def stored_language(server: LiveServer, session_id: str) -> str | None:
    engine = create_engine(server.env["BOT_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT language FROM chat_session WHERE id = :id"), {"id": session_id}).one()
    finally:
        engine.dispose()
    return row[0]


def test_one_model_reads_each_text_in_its_language(models: Path) -> None:
    model = load_model(models, INTENTS)
    assert model.metadata["languages"] == ["en", "ru"]
    ru, en = model.understand(["где мои заказы", "where are my orders"], languages=["ru", "en"])
    assert (ru.prediction.intent, en.prediction.intent) == ("order_status", "order_status")
    assert ru.normalized.split()[:3] == ["где", "мой", "заказ"]  # pymorphy3's lemmas
    assert "order" in en.normalized.split()  # spaCy's English lemma of "orders"
    assert model.preprocessor_for("ru").language == "ru" and model.preprocessor_for("de").language == "en"


def test_a_ru_session_and_an_en_session_of_one_server_each_get_their_language(server: LiveServer) -> None:
    ru, (session_ru, welcome_ru) = hello(server, lang="ru-RU")
    en, (session_en, welcome_en) = hello(server, lang="en")
    with ru, en:
        assert welcome_ru["text"].startswith("Здравствуйте! Я помощник Northwind")
        assert [b["title"] for b in welcome_ru["buttons"]] == ["Часы работы", "Записаться на ремонт"]
        assert welcome_en["text"].startswith("Hi! I'm the Northwind assistant")
        asked_ru, asked_en = say(ru, "где мой заказ"), say(en, "where is my order")
        assert asked_ru["intent"] == asked_en["intent"] == "order_status"
        assert asked_ru["text"].startswith("Назовите номер заказа")
        assert asked_en["text"].startswith("What's your order number?")
        assert say(ru, "AB123456")["text"] == "Заказ AB123456 уже в пути и приедет в течение 2 рабочих дней."
        assert say(en, "AB123456")["text"] == "Order AB123456 is on its way and should arrive within 2 working days."
        confirm = say(ru, "отмените заказ NW-204518")
        assert confirm["text"] == "Отменить заказ NW-204518? Вернуть его будет нельзя."
        assert [b["title"] for b in confirm["buttons"]] == ["Да", "Нет"]
        assert say(ru, "нет")["text"] == "Хорошо, оставим как есть."
        assert say(en, "tell me a joke")["text"].startswith("Sorry, I didn't get that.")
        assert say(ru, "расскажи анекдот")["text"].startswith("Простите, я не понял.")
    assert stored_language(server, session_ru["session_id"]) == "ru"
    assert stored_language(server, session_en["session_id"]) == "en"


def test_without_a_language_the_first_message_with_letters_decides(server: LiveServer) -> None:
    ws, (session, welcome) = hello(server)
    with ws:
        assert welcome["text"].startswith("Hi!")  # nothing known yet: the first language
        assert stored_language(server, session["session_id"]) is None
        assert detect_language(say(ws, "👍")["text"], ("en", "ru")) == "en"  # no letters: still undecided
        assert stored_language(server, session["session_id"]) is None
        assert say(ws, "привет")["text"] == "Здравствуйте! Чем могу помочь?"
        assert say(ws, "хочу записаться на ремонт")["text"].startswith("На какой день вас записать?")
    assert stored_language(server, session["session_id"]) == "ru"
    ws, (session, _) = hello(server, lang="de")  # a language the bot lacks: as if none was asked
    with ws:
        assert say(ws, "hello there")["text"] == "Hello! How can I help you today?"
    assert stored_language(server, session["session_id"]) == "en"


def until_reply(ws: ClientConnection, said: str, client_id: str) -> list[dict[str, Any]]:
    """The frames answering a message, up to its first reply (typing indicators left out)."""
    ws.send(json.dumps({"type": "message", "text": said, "id": client_id}))
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1].get("reply_to") != client_id or frames[-1]["type"] != "reply":
        frame = json.loads(ws.recv(10))
        if frame["type"] != "typing":
            frames.append(frame)
    return frames


def test_the_message_that_settles_the_language_is_answered_after_a_session_frame_saying_it(
    server: LiveServer,
) -> None:
    """So a client words its own texts in the session's language at once, not at its next connection."""
    ws, (session, _) = hello(server)
    with ws:
        assert session["language"] is None
        assert [f["type"] for f in until_reply(ws, "👍", "m1")] == ["reply"]  # no letters: nothing settled
        told, answer = until_reply(ws, "привет", "m2")
        assert told["type"] == "session" and told["language"] == "ru"
        assert told["session_id"] == session["session_id"] and told["mode"] == "bot"
        assert answer["text"] == "Здравствуйте! Чем могу помочь?"
        assert [f["type"] for f in until_reply(ws, "hello", "m3")] == ["reply"]  # settled once


def test_a_resumed_session_keeps_its_language(server: LiveServer) -> None:
    ws, (session, _) = hello(server, lang="ru")
    ws.close()
    ws, frames = hello(server, session_id=session["session_id"], lang="en")
    with ws:
        assert frames[0]["resumed"] is True
        assert say(ws, "привет")["text"] == "Здравствуйте! Чем могу помочь?"


def test_a_lang_that_is_no_language_tag_gets_an_error_frame_and_the_connection_stays(server: LiveServer) -> None:
    ws = connect(server.ws_url, open_timeout=10)
    with ws:
        ws.send(json.dumps({"type": "hello", "lang": "ru!"}))
        error = json.loads(ws.recv(10))
        assert error["type"] == "error" and error["code"] == "bad_frame"
        assert "'ru!' is no language tag; send one such as en or ru-RU, or none" in error["detail"]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(10)) == {"type": "pong"}


def test_the_demo_page_takes_its_language_from_the_address(server: LiveServer) -> None:
    assert '<html lang="ru">' in httpx.get(f"{server.url}/?lang=ru").text
    assert '<html lang="en">' in httpx.get(f"{server.url}/").text
    assert '<html lang="en">' in httpx.get(f"{server.url}/", params={"lang": '"><script>'}).text
