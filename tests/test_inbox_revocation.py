"""The agent inbox's WebSocket ends with the agent's token, as a chat's does (bot/revocation.py):
a logout elsewhere, a password change and an erasure each tell the inbox `token_revoked` and
close it with 4401; other agents' inboxes and the token that changed the password go on.
A real server on loopback and real WebSocket clients."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.helpers import LiveServer
from tests.test_handoff import PASSWORD, Frames, create_user, inbox, login
from tests.test_privacy_api import bearer
from tests.test_revocation import REVOKED_CLOSE


@pytest.fixture(scope="module")
def server(shared_server: LiveServer) -> LiveServer:
    for name in ("ada", "bob", "cleo", "dan"):
        create_user(shared_server.env, name, "agent")
    return shared_server


def open_inbox(server: LiveServer, token: str) -> Frames:
    desk = inbox(server.ws_url, token)
    desk.wait("welcome")
    desk.wait("queue")
    return desk


def signed_out(desk: Frames) -> None:
    """The server sends the `token_revoked` error and closes with 4401, unasked."""
    try:
        error = desk.wait("error", timeout=15)
        desk.wait("never sent", timeout=15)
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
    assert error["code"] == "token_revoked" and error["detail"].startswith("you were signed out")
    assert code == REVOKED_CLOSE
    desk.close()


def still_open(desk: Frames) -> None:
    desk.send({"type": "ping"})
    desk.wait("pong")
    desk.close()


def test_logging_out_elsewhere_closes_that_tokens_inbox_only(server: LiveServer) -> None:
    ada, other = login(server.url, "ada", PASSWORD), login(server.url, "ada", PASSWORD)
    mine, elsewhere, bobs = (open_inbox(server, t) for t in (ada, other, login(server.url, "bob", PASSWORD)))
    assert httpx.post(f"{server.url}/api/logout", headers=bearer(ada)).status_code == 204
    signed_out(mine)
    still_open(elsewhere)  # the same agent's other login
    still_open(bobs)


def test_a_password_change_closes_the_inboxes_of_the_other_tokens(server: LiveServer) -> None:
    old, here = login(server.url, "cleo", PASSWORD), login(server.url, "cleo", PASSWORD)
    stale, mine = open_inbox(server, old), open_inbox(server, here)
    body = {"current_password": PASSWORD, "new_password": "cleo-new-pass-2"}
    assert httpx.post(f"{server.url}/api/me/password", json=body, headers=bearer(here)).status_code == 204
    signed_out(stale)
    still_open(mine)


def test_erasing_the_agent_closes_their_inbox(server: LiveServer) -> None:
    desk = open_inbox(server, login(server.url, "dan", PASSWORD))
    admin = bearer(login(server.url, "admin", "admin-password-1"))
    agents = httpx.get(f"{server.url}/api/inbox/agents", headers=admin).json()
    dan = next(a["id"] for a in agents if a["username"] == "dan")
    assert httpx.delete(f"{server.url}/api/admin/users/{dan}", headers=admin).status_code == 200
    signed_out(desk)
