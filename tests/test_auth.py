"""Accounts, tokens and who may reach what: the access matrix over HTTP and the WebSocket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.auth import DUMMY_HASH, create_user
from bot.config import Settings
from bot.tables import AuthToken, utcnow
from tests.helpers import login, make_settings, say


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    sessions: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}


def open_session(client: TestClient, token: str | None) -> str:
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": token}))
        session_id = ws.receive_json()["session_id"]
        say(ws, "hello")
    return str(session_id)


def build_world(folder: Path, models_dir: Path) -> Iterator[World]:
    """Users, tokens in every state and sessions."""
    settings = make_settings(folder, models_dir, admin_username="root", admin_password="root-password-1")
    app = create_app(settings)
    with TestClient(app) as client:
        services = app.state.services
        create_user(services.engine, "alice", "alice-password")
        create_user(services.engine, "bob", "bob-password")
        tokens = {
            "alice": login(client, "alice", "alice-password"),
            "bob": login(client, "bob", "bob-password"),
            "admin": login(client, "root", "root-password-1"),
        }
        expired = login(client, "alice", "alice-password")
        revoked = login(client, "alice", "alice-password")
        with Session(services.engine) as db:
            from bot.auth import hash_token

            db.execute(
                update(AuthToken)
                .where(AuthToken.token_hash == hash_token(expired))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            db.commit()
        assert client.post("/api/logout", headers={"Authorization": f"Bearer {revoked}"}).status_code == 204
        tokens.update(expired=expired, revoked=revoked, garbage="not-a-token")
        sessions = {"alice": open_session(client, tokens["alice"]), "guest": open_session(client, None)}
        yield World(client, tokens, sessions)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[World]:
    """One world for the module's tests that only read it (the matrix and the like)."""
    yield from build_world(tmp_path_factory.mktemp("world"), models_dir)


@pytest.fixture
def own_world(tmp_path: Path, models_dir: Path) -> Iterator[World]:
    """A world for one test that changes it: logs in or out, registers, opens sessions."""
    yield from build_world(tmp_path, models_dir)


# (who, method, path, expected status); paths may name {alice} and {guest} sessions.
MATRIX = [
    ("nobody", "GET", "/api/me", 401),
    ("alice", "GET", "/api/me", 200),
    ("expired", "GET", "/api/me", 401),
    ("revoked", "GET", "/api/me", 401),
    ("garbage", "GET", "/api/me", 401),
    ("nobody", "GET", "/api/sessions", 401),
    ("alice", "GET", "/api/sessions", 200),
    ("alice", "GET", "/api/sessions/{alice}/messages", 200),
    ("bob", "GET", "/api/sessions/{alice}/messages", 404),
    ("nobody", "GET", "/api/sessions/{alice}/messages", 404),
    ("admin", "GET", "/api/sessions/{alice}/messages", 200),
    ("expired", "GET", "/api/sessions/{alice}/messages", 401),
    ("revoked", "GET", "/api/sessions/{alice}/messages", 401),
    ("nobody", "GET", "/api/sessions/{guest}/messages", 200),
    ("nobody", "GET", "/api/sessions/unknown/messages", 404),
    ("nobody", "GET", "/api/admin/sessions", 401),
    ("alice", "GET", "/api/admin/sessions", 403),
    ("admin", "GET", "/api/admin/sessions", 200),
    ("alice", "GET", "/api/admin/export", 403),
    ("admin", "GET", "/api/admin/export", 200),
    ("nobody", "POST", "/api/admin/reload", 401),
    ("bob", "POST", "/api/admin/reload", 403),
    ("admin", "POST", "/api/admin/reload", 200),
    ("expired", "POST", "/api/admin/reload", 401),
    ("nobody", "POST", "/api/logout", 401),
    ("revoked", "POST", "/api/logout", 401),
]


@pytest.mark.parametrize(("who", "method", "path", "expected"), MATRIX, ids=[f"{w}-{m}-{p}" for w, m, p, _ in MATRIX])
def test_access_matrix(world: World, who: str, method: str, path: str, expected: int) -> None:
    url = path.format(**world.sessions)
    response = world.client.request(method, url, headers=world.auth(who))
    assert response.status_code == expected, response.text


def test_dummy_hash_has_the_hashers_parameters() -> None:
    """An unknown user name must cost as much as a wrong password: same argon2 parameters."""
    assert not PasswordHasher().check_needs_rehash(DUMMY_HASH)


def test_token_errors_say_why(world: World) -> None:
    for who, code in [("expired", "token_expired"), ("revoked", "token_revoked"), ("garbage", "token_invalid")]:
        assert world.client.get("/api/me", headers=world.auth(who)).json()["detail"].startswith(code)


@pytest.mark.parametrize(
    ("who", "code"), [("expired", "token_expired"), ("revoked", "token_revoked"), ("garbage", "token_invalid")]
)
def test_websocket_refuses_bad_tokens_without_a_guest_session(world: World, who: str, code: str) -> None:
    with world.client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": world.tokens[who]}))
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code


def test_user_sees_only_own_sessions(world: World) -> None:
    mine = world.client.get("/api/sessions", headers=world.auth("alice")).json()
    assert [s["id"] for s in mine] == [world.sessions["alice"]]
    everyone = {s["id"] for s in world.client.get("/api/admin/sessions", headers=world.auth("admin")).json()}
    assert set(world.sessions.values()) <= everyone


def test_another_user_cannot_resume_my_session(own_world: World) -> None:
    with own_world.client.websocket_connect("/ws") as ws:
        ws.send_text(
            json.dumps({"type": "hello", "token": own_world.tokens["bob"], "session_id": own_world.sessions["alice"]})
        )
        info = ws.receive_json()
    assert info["resumed"] is False and info["session_id"] != own_world.sessions["alice"]


def test_guest_who_logs_in_keeps_the_conversation(own_world: World) -> None:
    guest = open_session(own_world.client, None)
    with own_world.client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": own_world.tokens["bob"], "session_id": guest}))
        info = ws.receive_json()
    assert info == {
        "type": "session",
        "session_id": guest,
        "resumed": True,
        "user": "bob",
        "slots": {},
        "mode": "bot",
        "agent": None,
        "language": "en",  # the bot's one language
    }
    bobs = own_world.client.get("/api/sessions", headers=own_world.auth("bob")).json()
    assert guest in [s["id"] for s in bobs]
    assert own_world.client.get(f"/api/sessions/{guest}/messages").status_code == 404  # no longer a guest's


def test_logout_command_revokes_token(own_world: World) -> None:
    token = login(own_world.client, "bob", "bob-password")
    with own_world.client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": token}))
        assert ws.receive_json()["user"] == "bob"
        assert "logged in as bob" in say(ws, "/whoami")[-1]["text"]
        frames = say(ws, "/logout")
        assert frames[-1]["text"] == "You are logged out; this is a new guest session."
        assert ws.receive_json()["user"] is None
    assert own_world.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_user_slots_follow_the_user(own_world: World) -> None:
    own_world.client.post("/api/register", json={"username": "liddell", "password": "liddell-password"})
    token = login(own_world.client, "liddell", "liddell-password")
    with own_world.client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": token}))
        assert ws.receive_json()["slots"] == {}
        assert say(ws, "book an appointment on monday")[-1]["text"] == "What name should I put it under?"
        assert say(ws, "Alice Liddell")[-1]["text"] == "Booked for Alice Liddell on monday."
    with own_world.client.websocket_connect("/ws") as ws:  # another device, a new session: the name comes back
        ws.send_text(json.dumps({"type": "hello", "token": token}))
        assert ws.receive_json()["slots"] == {"name": "Alice Liddell"}
    me = own_world.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["slots"] == {"name": "Alice Liddell"}


def test_registration_rules(client: TestClient) -> None:
    ok = client.post("/api/register", json={"username": "Carol", "password": "carol-secret"})
    assert ok.status_code == 201 and ok.json()["role"] == "user"
    taken = client.post("/api/register", json={"username": "CAROL", "password": "carol-secret"})
    assert taken.status_code == 409 and "taken" in taken.json()["detail"]
    for username, password, message in [
        ("dave", "short", "at least 8 characters"),
        ("dave", "aaaaaaaaaaaa", "too easy to guess"),
        ("dave", "dave", "at least 8 characters"),
        ("x", "good-password", "3 to 32 characters"),
        ("bad name!", "good-password", "only letters"),
    ]:
        response = client.post("/api/register", json={"username": username, "password": password})
        assert response.status_code == 422 and message in response.json()["detail"], response.text


def test_login_does_not_reveal_which_part_was_wrong(client: TestClient) -> None:
    client.post("/api/register", json={"username": "erin", "password": "erin-password"})
    unknown = client.post("/api/login", json={"username": "nobody", "password": "erin-password"})
    wrong = client.post("/api/login", json={"username": "erin", "password": "wrong-password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_login_is_throttled(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"login_attempts_per_minute": 3}))
    with TestClient(app) as client:
        codes = [
            client.post("/api/login", json={"username": "zed", "password": "wrong-password"}).status_code
            for _ in range(4)
        ]
    assert codes == [401, 401, 401, 429]


def test_admin_from_command(settings: Settings) -> None:
    from bot.admin import main as admin

    assert (
        admin(["create-user", "chief", "--admin", "--password-stdin"], stdin="chief-password\n", settings=settings) == 0
    )
    with TestClient(create_app(settings)) as client:
        token = login(client, "chief", "chief-password")
        assert client.get("/api/admin/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_origin_allow_list(settings: Settings) -> None:
    from starlette.websockets import WebSocketDisconnect

    app = create_app(settings.model_copy(update={"allowed_origins": ["https://shop.example"]}))
    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers={"Origin": "https://shop.example"}) as ws:
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json() == {"type": "pong"}
        with client.websocket_connect("/ws", headers={"Origin": "http://testserver"}) as ws:  # same origin
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json() == {"type": "pong"}
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws", headers={"Origin": "https://evil.example"}),
        ):
            pass
        assert refused.value.code == 1008


def test_connections_per_address_are_limited(settings: Settings) -> None:
    from starlette.websockets import WebSocketDisconnect

    app = create_app(settings.model_copy(update={"max_connections_per_ip": 1}))
    with TestClient(app) as client, client.websocket_connect("/ws") as first:
        first.send_text('{"type": "ping"}')
        first.receive_json()
        with client.websocket_connect("/ws") as second, pytest.raises(WebSocketDisconnect) as refused:
            second.receive_text()
        assert refused.value.code == 1013


def test_guests_can_be_turned_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"allow_guests": False}))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "message", "text": "hi"}))
        assert ws.receive_json()["code"] == "unauthorized"


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/healthz").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_cors_for_allowed_origins(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"allowed_origins": ["https://shop.example"]}))
    with TestClient(app) as client:
        preflight = client.options(
            "/api/login",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_admin_password_from_a_named_variable(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.admin import main as admin

    monkeypatch.setenv("CHIEF_PASSWORD", "chief-password")
    assert admin(["create-user", "chief", "--admin", "--password-env", "CHIEF_PASSWORD"], settings=settings) == 0
    with TestClient(create_app(settings)) as client:
        assert login(client, "chief", "chief-password")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["create-user", "chief"],  # no terminal under pytest, as in a script or a container
            "error: no terminal to ask for the password on: pipe it in with --password-stdin, "
            "or name an environment variable that holds it with --password-env VAR\n",
        ),
        (
            ["create-user", "chief", "--password-env", "UNSET_PASSWORD_VARIABLE"],
            "error: the environment variable UNSET_PASSWORD_VARIABLE is not set or empty\n",
        ),
    ],
)
def test_admin_without_a_password_says_how_to_give_one(
    settings: Settings, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    from bot.admin import main as admin

    assert admin(args, settings=settings) == 2
    assert capsys.readouterr().err == error
    assert not Path(settings.database_url.removeprefix("sqlite:///")).exists()  # nothing done
