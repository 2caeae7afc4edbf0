"""Revoked tokens and erased accounts end the WebSockets already open with them, here and on other instances.

A socket opened with a token keeps working only while the token does: `DELETE /api/me`, an
admin's `DELETE /api/admin/users/{id}`, `POST /api/me/password` (from another token) and
`/api/logout` on another device each close the sockets of the tokens they revoke, with an
`error` frame `token_revoked` and close code 4401 (docs/protocol.md). Real servers on loopback,
a real SQLite file, and two instances on one PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from bot.auth import hash_token, revoke_token
from bot.erasure import erase_user
from tests.helpers import Chat, LiveServer, free_port, say
from tests.test_privacy_api import bearer, engine_of, make_user, rows_naming

REVOKED_CLOSE = 4401


class Site:
    """A running server's HTTP side: accounts, tokens and the admin."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.url = server.url

    def register(self, name: str) -> tuple[int, str]:
        created = httpx.post(f"{self.url}/api/register", json={"username": name, "password": f"{name}-pass-1"})
        assert created.status_code == 201, created.text
        return int(created.json()["id"]), self.login(name)

    def login(self, name: str, password: str | None = None) -> str:
        body = {"username": name, "password": password or f"{name}-pass-1"}
        response = httpx.post(f"{self.url}/api/login", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def admin(self) -> str:
        return self.login("admin", "admin-password-1")

    def inbound(self, token: str, session_id: str) -> list[str | None]:
        response = httpx.get(f"{self.url}/api/sessions/{session_id}/messages", headers=bearer(token))
        assert response.status_code == 200, response.text
        return [m["client_id"] for m in response.json()["items"] if m["direction"] == "in"]


def booking(url: str, token: str, id: str) -> Chat:
    chat = Chat(url, token=token)
    assert chat.session["user"] is not None
    assert chat.say("book an appointment", id)["text"] == "Which day suits you?"
    return chat


def signed_out(chat: Chat) -> None:
    """The server sends the `token_revoked` error and closes with 4401, unasked."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(chat.recv(timeout=15))
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
    assert [f.get("code") for f in frames] == ["token_revoked"], frames
    assert code == REVOKED_CLOSE
    chat.close()


def still_open(chat: Chat, id: str) -> None:
    assert chat.say("monday", id)["text"] == "What name should I put it under?"
    chat.close()


@pytest.fixture(scope="module")
def site(shared_server: LiveServer) -> Site:
    return Site(shared_server)


def test_deleting_the_account_closes_its_sockets_and_nothing_of_it_stays(site: Site) -> None:
    alice_id, alice = site.register("alice")
    _, bob = site.register("bob")
    mine, bobs = booking(site.server.ws_url, alice, "a1"), booking(site.server.ws_url, bob, "b1")
    deleted = httpx.request("DELETE", f"{site.url}/api/me", json={"password": "alice-pass-1"}, headers=bearer(alice))
    assert deleted.status_code == 204
    signed_out(mine)
    still_open(bobs, "b2")  # another user's socket goes on
    engine = create_engine(site.server.env["BOT_DATABASE_URL"])
    try:
        assert rows_naming(engine, alice_id, "alice", [mine.session_id]) == []
    finally:
        engine.dispose()


def test_an_admin_erasing_a_user_closes_every_socket_of_that_user(site: Site) -> None:
    carol_id, carol = site.register("carol")
    one, two = booking(site.server.ws_url, carol, "c1"), booking(site.server.ws_url, site.login("carol"), "c1")
    erased = httpx.delete(f"{site.url}/api/admin/users/{carol_id}", headers=bearer(site.admin()))
    assert erased.status_code == 200 and erased.json()["users"] == 1
    signed_out(one)
    signed_out(two)


def test_a_password_change_closes_the_other_tokens_sockets_and_keeps_what_they_sent(site: Site) -> None:
    _, elsewhere = site.register("erin")
    here = site.login("erin")
    old, mine = booking(site.server.ws_url, elsewhere, "e1"), booking(site.server.ws_url, here, "h1")
    changed = httpx.post(
        f"{site.url}/api/me/password",
        json={"current_password": "erin-pass-1", "new_password": "erin-pass-2"},
        headers=bearer(here),
    )
    assert changed.status_code == 204
    signed_out(old)
    still_open(mine, "h2")  # the token that changed the password keeps its socket
    assert site.inbound(here, old.session_id) == ["e1"]  # what the revoked device sent is kept


def test_logging_out_on_another_device_closes_that_tokens_sockets_only(site: Site) -> None:
    _, phone = site.register("fay")
    laptop = site.login("fay")
    on_phone, on_laptop = booking(site.server.ws_url, phone, "p1"), booking(site.server.ws_url, laptop, "l1")
    guest = Chat(site.server.ws_url)
    assert httpx.post(f"{site.url}/api/logout", headers=bearer(phone)).status_code == 204
    signed_out(on_phone)
    still_open(on_laptop, "l2")
    assert guest.say("book an appointment", "g1")["text"] == "Which day suits you?"
    guest.close()


def test_a_message_racing_the_erasure_writes_nothing_and_signs_out(client: TestClient) -> None:
    """The erasure committed, its event not arrived yet (as on a slow instance): the turn finds the
    session gone and the token with it, stores nothing and ends the socket all the same."""
    engine = engine_of(client)
    gus_id, gus = make_user(client, "gus")
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": gus}))
        session_id = ws.receive_json()["session_id"]
        assert say(ws, "book an appointment", "m1")[-1]["text"] == "Which day suits you?"
        erase_user(engine, gus_id)  # the database alone: no event published
        frames = say(ws, "monday", "m2")
        assert [f["code"] for f in frames if f["type"] == "error"] == ["token_revoked"], frames
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == REVOKED_CLOSE
    assert rows_naming(engine, gus_id, "gus", [session_id]) == []


def test_a_token_revoked_between_hello_and_listening_still_signs_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token stood when `hello` read it and was revoked (its event already gone by) before the
    connection listened on its user's channel: it is read again once listened, so the socket ends."""
    engine = engine_of(client)
    _, hal = make_user(client, "hal")
    chat = client.app.state.services.chat  # type: ignore[attr-defined]
    hello = chat.hello

    async def hello_then_revoked(*args: Any, **kwargs: Any) -> Any:
        opened = await hello(*args, **kwargs)
        revoke_token(engine, hash_token(hal))  # the database alone: its event came before anyone listened
        return opened

    monkeypatch.setattr(chat, "hello", hello_then_revoked)
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": hal}))
        frame = ws.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "token_revoked"), frame
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == REVOKED_CLOSE


# -- two instances on one PostgreSQL ---------------------------------------------------------------


@pytest.fixture
def pair(postgres_url: str, server_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Site, Site]]:
    servers: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = {**server_env, "BOT_DATABASE_URL": postgres_url, "BOT_PORT": str(port)}
            servers.append(LiveServer(env=env, port=port, log_path=tmp_path / f"{name}.log").start())
        yield Site(servers[0]), Site(servers[1])
    finally:
        for server in servers:
            server.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_revoking_on_one_instance_closes_the_socket_on_the_other(pair: tuple[Site, Site]) -> None:
    a, b = pair
    hana_id, hana = a.register("hana")
    _, ivan_old = a.register("ivan")
    ivan_new = a.login("ivan")
    # Ivan changes his password on instance a: his other token's socket on b closes.
    old, new = booking(b.server.ws_url, ivan_old, "v1"), booking(b.server.ws_url, ivan_new, "n1")
    changed = httpx.post(
        f"{a.url}/api/me/password",
        json={"current_password": "ivan-pass-1", "new_password": "ivan-pass-2"},
        headers=bearer(ivan_new),
    )
    assert changed.status_code == 204
    signed_out(old)
    still_open(new, "n2")
    # Hana deletes her account on a: her socket on b closes.
    on_b = booking(b.server.ws_url, hana, "h1")
    deleted = httpx.request("DELETE", f"{a.url}/api/me", json={"password": "hana-pass-1"}, headers=bearer(hana))
    assert deleted.status_code == 204
    signed_out(on_b)
    sessions = httpx.get(f"{a.url}/api/admin/sessions", headers=bearer(a.admin())).json()
    assert on_b.session_id not in [s["id"] for s in sessions]
    assert hana_id not in [s["user_id"] for s in sessions]
