"""The demo page at `/` is in the bot's language, so the widget on it (which takes the page's) is too."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from tests.helpers import make_settings
from training.fit import main as fit

RUSSIAN = """
version: 1
language: ru
fallback: {threshold: 0.3, responses: ["Извините, не понял."]}
intents:
  greet:
    examples: [привет, здравствуйте, добрый день, доброе утро]
    responses: ["Здравствуйте! Чем помочь?"]
  hours:
    examples: [когда вы работаете, часы работы, во сколько открываетесь, до скольки работаете]
    responses: ["Мы работаем с 9 до 17."]
"""


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z-]+)"', page)
    assert found is not None, page[:200]
    return found.group(1)


def test_the_english_bot_serves_the_english_page(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and html_lang(page.text) == "en"
    assert "Chat bot demo" in page.text and '<script src="/widget.js"' in page.text
    asked = client.get("/?lang=ru")  # a language this bot does not speak: its own page, not a Russian one
    assert html_lang(asked.text) == "en" and "Chat bot demo" in asked.text


def test_a_russian_bot_serves_the_russian_page(tmp_path: Path) -> None:
    intents = tmp_path / "intents.yaml"
    intents.write_text(RUSSIAN)
    assert fit(["--intents", str(intents), "--out", str(tmp_path / "models"), "--quick"]) == 0
    with TestClient(create_app(make_settings(tmp_path, tmp_path / "models", intents_path=intents))) as client:
        page = client.get("/")
    assert page.status_code == 200 and html_lang(page.text) == "ru"
    assert "Демонстрация чат-бота" in page.text and '<script src="/widget.js"' in page.text
