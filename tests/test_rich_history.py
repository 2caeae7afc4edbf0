"""A reply's image and link card are stored with it: over a real WebSocket, a reconnect's resend,
the history and the user's data export show them again (docs/protocol.md, Rich replies).

One server (`python -m bot` on loopback, a SQLite file) serves the module: the shop test domain
with an action whose reply has an image and a link card, trained once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.helpers import RICH_TEXT, Chat, LiveServer, run_rich_server

IMAGE_ALT = "A map of the store"
LINK = {"url": "https://example.com/stores?id=1", "title": "Find a <i>store</i>", "description": "Opening hours"}


@pytest.fixture(scope="module")
def rich_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("rich-server")
    yield from run_rich_server(folder)


def account(server: LiveServer) -> str:
    """A new user's bearer token."""
    credentials = {"username": f"rich_{uuid.uuid4().hex[:8]}", "password": "correct-horse-42"}
    assert httpx.post(f"{server.url}/api/register", json=credentials).status_code in (200, 201)
    response = httpx.post(f"{server.url}/api/login", json=credentials)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def rich_parts(item: dict[str, Any]) -> tuple[Any, Any]:
    return item["image"], item["link"]


def test_a_rich_reply_comes_back_after_a_reconnect_in_the_history_and_in_the_export(rich_server: LiveServer) -> None:
    token = account(rich_server)
    expected_image = {"url": f"{rich_server.url}/map.png", "alt": IMAGE_ALT}

    chat = Chat(rich_server.ws_url, token=token)
    try:
        live = chat.say("show me the store map", id="map-1")
        plain = chat.say("when are you open", id="hours-1")
    finally:
        chat.close()
    assert live["type"] == "reply" and live["text"] == RICH_TEXT
    assert rich_parts(live) == (expected_image, LINK)
    assert rich_parts(plain) == (None, None)

    # A new connection (a reload): the resent client id is answered from the log, image and card included.
    again = Chat(rich_server.ws_url, session_id=chat.session_id, token=token)
    try:
        assert again.session["resumed"] is True
        resent = again.say("show me the store map", id="map-1")
    finally:
        again.close()
    assert resent["duplicate"] is True and resent["message_id"] == live["message_id"]
    assert (resent["text"], rich_parts(resent)) == (RICH_TEXT, (expected_image, LINK))

    # The history, as the widget reads it after a reload.
    headers = {"Authorization": f"Bearer {token}"}
    page = httpx.get(f"{rich_server.url}/api/sessions/{chat.session_id}/messages", headers=headers).json()
    replies = {m["id"]: m for m in page["items"] if m["direction"] == "out"}
    assert rich_parts(replies[live["message_id"]]) == (expected_image, LINK)
    assert rich_parts(replies[plain["message_id"]]) == (None, None)
    assert [m["text"] for m in page["items"] if m["direction"] == "in"] == [
        "show me the store map",
        "when are you open",
    ]

    # The user's data export.
    export = httpx.get(f"{rich_server.url}/api/me/export", headers=headers).json()
    exported = {m["id"]: m for m in export["messages"]}
    assert rich_parts(exported[live["message_id"]]) == (expected_image, LINK)
    assert rich_parts(exported[plain["message_id"]]) == (None, None)


def test_a_guest_reload_after_a_server_restart_still_has_the_image_and_the_card(rich_server: LiveServer) -> None:
    """Stored, not cached: the server restarts on the same database and the history still has them."""
    chat = Chat(rich_server.ws_url)
    try:
        live = chat.say("show me the store map", id="map-guest")
    finally:
        chat.close()
    rich_server.restart()
    items = httpx.get(f"{rich_server.url}/api/sessions/{chat.session_id}/messages").json()["items"]
    (stored,) = [m for m in items if m["id"] == live["message_id"]]
    assert (stored["text"], rich_parts(stored)) == (RICH_TEXT, rich_parts(live))
    assert stored["image"] is not None and stored["link"] is not None
