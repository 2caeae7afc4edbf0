"""Users of the host site: its signed token verified, mapped to an external user, spent once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.database import make_engine, migrate
from bot.host_identity import (
    HostLoginDisabled,
    HostTokenExpired,
    HostTokenInvalid,
    HostTokenReplayed,
    exchange_host_token,
    forget_spent_tokens,
    resolve_host_token,
)
from bot.tables import HostTokenUse, User
from tests.helpers import make_settings

SECRET = "a-secret-shared-with-the-site-0123456789"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sign(secret: str = SECRET, ttl: float = 300, now: datetime = NOW, **claims: Any) -> str:
    payload = {"sub": "cust-42", "name": "Ann Smith", "exp": int((now + timedelta(seconds=ttl)).timestamp()), **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'host.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_first_sight_creates_an_external_user_then_finds_it(engine: Engine) -> None:
    first = resolve_host_token(engine, sign(jti="a1", plan="gold"), SECRET, NOW)
    assert first.created and first.user.kind == "external" and first.user.username == "Ann Smith"
    assert first.user.external_id == "cust-42" and first.user.traits == {"plan": "gold"}
    # Another device, a new token, a new name: the same user.
    second = resolve_host_token(engine, sign(jti="a2", name="Ann Jones"), SECRET, NOW + timedelta(minutes=1))
    assert not second.created and second.user.id == first.user.id and second.user.username == "Ann Jones"
    other = resolve_host_token(engine, sign(jti="b1", sub="cust-43"), SECRET, NOW)
    assert other.user.id != first.user.id
    with Session(engine) as db:
        assert db.execute(select(func.count()).select_from(User)).scalar_one() == 2


def test_forged_expired_and_replayed_tokens_are_refused_with_their_codes(engine: Engine) -> None:
    with pytest.raises(HostTokenInvalid) as forged:
        resolve_host_token(engine, sign(secret="not-the-secret-0123456789abcdef-0123456789"), SECRET, NOW)
    assert forged.value.code == "host_token_invalid" and "sign a new one" in str(forged.value)
    with pytest.raises(HostTokenInvalid):
        resolve_host_token(engine, "not.a.jwt", SECRET, NOW)
    with pytest.raises(HostTokenInvalid):  # "none" algorithm: never accepted
        resolve_host_token(engine, jwt.encode({"sub": "x", "exp": 9999999999}, None, algorithm="none"), SECRET, NOW)
    with pytest.raises(HostTokenInvalid, match="sub"):
        resolve_host_token(engine, jwt.encode({"exp": int(NOW.timestamp()) + 60}, SECRET), SECRET, NOW)
    with pytest.raises(HostTokenInvalid, match="too long"):
        resolve_host_token(engine, sign(ttl=86_400), SECRET, NOW)
    with pytest.raises(HostTokenExpired) as expired:
        resolve_host_token(engine, sign(ttl=60), SECRET, NOW + timedelta(minutes=5))
    assert expired.value.code == "host_token_expired"
    with pytest.raises(HostLoginDisabled) as disabled:
        resolve_host_token(engine, sign(), None, NOW)
    assert disabled.value.code == "host_login_disabled"

    token = sign(jti="once")
    resolve_host_token(engine, token, SECRET, NOW)
    with pytest.raises(HostTokenReplayed) as replayed:  # the same token again
        resolve_host_token(engine, token, SECRET, NOW + timedelta(seconds=5))
    assert replayed.value.code == "host_token_replayed"
    with pytest.raises(HostTokenReplayed):  # another token reusing the jti
        resolve_host_token(engine, sign(jti="once", name="Other"), SECRET, NOW)
    without_jti = sign()
    resolve_host_token(engine, without_jti, SECRET, NOW)
    with pytest.raises(HostTokenReplayed):  # no jti: the token itself is the key
        resolve_host_token(engine, without_jti, SECRET, NOW)

    # Replay records outlive their tokens only until those expire.
    assert forget_spent_tokens(engine, NOW) == 0
    assert forget_spent_tokens(engine, NOW + timedelta(hours=2)) == 2
    with Session(engine) as db:
        assert db.execute(select(func.count()).select_from(HostTokenUse)).scalar_one() == 0


def test_exchange_gives_a_bearer_token_of_the_bot(engine: Engine) -> None:
    now = datetime.now(UTC)
    login = exchange_host_token(engine, sign(jti="x", now=now), SECRET, now, timedelta(hours=1))
    from bot.auth import resolve_token

    assert resolve_token(engine, login.token).user.id == login.user.id


def test_host_login_over_http(tmp_path: Path, models_dir: Path) -> None:
    app = create_app(make_settings(tmp_path, models_dir, host_token_secret=SECRET))
    now = datetime.now(UTC)
    with TestClient(app) as client:
        token = sign(now=now, jti="http-1")
        response = client.post("/api/host-login", json={"user_token": token})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["user"]["username"] == "Ann Smith"
        me = client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
        assert me.json()["id"] == body["user"]["id"]
        again = client.post("/api/host-login", json={"user_token": token})
        assert again.status_code == 401 and again.json()["detail"].startswith("host_token_replayed")
        forged = client.post("/api/host-login", json={"user_token": sign(secret="x" * 40, now=now)})
        assert forged.json()["detail"].startswith("host_token_invalid")
        # An external user has no password: it cannot log in with one.
        assert client.post("/api/login", json={"username": "Ann Smith", "password": ""}).status_code == 422
        assert client.post("/api/login", json={"username": "Ann Smith", "password": "x"}).status_code == 401
        # It may erase its account without one (the host site vouched for it).
        headers = {"Authorization": f"Bearer {body['token']}"}
        assert client.request("DELETE", "/api/me", json={}, headers=headers).status_code == 204
        assert client.get("/api/me", headers=headers).status_code == 401


def test_host_login_over_the_websocket(tmp_path: Path, models_dir: Path) -> None:
    """The widget's way: the hello frame's user_token comes back as a bearer token in the session frame."""
    app = create_app(make_settings(tmp_path, models_dir, host_token_secret=SECRET, allow_guests=False))
    now = datetime.now(UTC)
    token = sign(now=now, jti="ws-1")
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "hello", "user_token": token})
            session = ws.receive_json()
            assert session["type"] == "session" and session["user"] == "Ann Smith" and session["token"]
            ws.send_json({"type": "message", "text": "/whoami", "id": "w1"})
            assert "logged in as Ann Smith" in ws.receive_json()["text"]
        with client.websocket_connect("/ws") as ws:  # the same host token again: refused
            ws.send_json({"type": "hello", "user_token": token})
            assert ws.receive_json()["code"] == "host_token_replayed"
            ws.send_json({"type": "hello", "token": session["token"], "session_id": session["session_id"]})
            resumed = ws.receive_json()
            assert resumed["resumed"] is True and "token" not in resumed
