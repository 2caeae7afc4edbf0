"""The widget signed out by the server: a real Chromium, a real server, a token revoked elsewhere.

When the server ends the widget's login (error `token_revoked`, close 4401: a password change on
another device, the account deleted), the widget says so, forgets the token and the conversation
it kept, and goes on as a guest; nothing is sent again under the old identity.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser import ASK_ORDER, GREETING, Frames, open_widget
from tests.helpers import LiveServer, wait_for

SIGNED_OUT = "You were signed out"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(server: LiveServer, username: str, password: str) -> str:
    assert httpx.post(f"{server.url}/api/register", json={"username": username, "password": password}).is_success
    response = httpx.post(f"{server.url}/api/login", json={"username": username, "password": password})
    return str(response.json()["token"])


def log_in(context: BrowserContext, server: LiveServer, username: str, password: str) -> tuple[Any, Frames]:
    w = open_widget(context, server)
    frames = Frames(w.page)
    w.page.get_by_role("button", name="Log in", exact=True).click()
    w.page.get_by_label("User name").fill(username)
    w.page.get_by_label("Password").fill(password)
    w.page.get_by_label("Password").press("Enter")
    expect(w.page.get_by_text(f"Logged in as {username}", exact=True)).to_be_visible()
    return w, frames


@pytest.mark.browser
@pytest.mark.parametrize("how", ["password_change", "account_deleted"])
def test_signed_out_by_the_server_the_widget_starts_over_as_a_guest(
    shared_server: LiveServer, browser: Browser, how: str
) -> None:
    username, password = f"sam_{uuid.uuid4().hex[:8]}", "correct-horse-42"
    other_device = register(shared_server, username, password)
    context = browser.new_context(viewport={"width": 900, "height": 700})
    try:
        w, frames = log_in(context, shared_server, username, password)
        token = w.storage("token")
        w.send("hi")
        expect(w.bot.last).to_have_text(GREETING)
        w.send("where is my order")
        expect(w.bot.last).to_have_text(ASK_ORDER)
        old_session = w.session_id()
        sent_before = len(frames.of_type("message", received=False))

        if how == "password_change":
            response = httpx.post(
                f"{shared_server.url}/api/me/password",
                json={"current_password": password, "new_password": "battery-staple-43"},
                headers=bearer(other_device),
            )
        else:
            response = httpx.request(
                "DELETE", f"{shared_server.url}/api/me", json={"password": password}, headers=bearer(other_device)
            )
        assert response.status_code == 204, response.text

        expect(w.page.locator(".cbw-notice", has_text=SIGNED_OUT)).to_be_visible()
        expect(w.page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
        expect(w.bot).to_have_count(0)
        assert w.storage("token") is None
        assert [f["code"] for f in frames.of_type("error")] == ["token_revoked"]
        assert httpx.get(f"{shared_server.url}/api/me", headers=bearer(str(token))).status_code == 401

        # On as a guest, in a new session; what was sent before is not sent again.
        w.send("hi")
        expect(w.bot.last).to_have_text(GREETING)
        new_session = wait_for(lambda: (s := w.storage("session")) != old_session and s, what="a new session")
        assert new_session != old_session
        hellos_after = frames.hellos()[-1]
        assert not hellos_after.get("token")
        messages = [f["text"] for f in frames.of_type("message", received=False)]
        assert messages[sent_before:] == ["hi"]
        guest = httpx.get(f"{shared_server.url}/api/sessions/{new_session}/messages").json()["items"]
        assert [m["text"] for m in guest if m["direction"] == "in"] == ["hi"]
    finally:
        context.close()
