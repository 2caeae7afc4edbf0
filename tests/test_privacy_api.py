"""The user's data over HTTP: export, erase, change the password; admins for anyone; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Engine, Integer, String, Text, inspect, select

from bot.app import create_app
from bot.auth import create_user
from bot.tables import Message, ReviewedExample
from tests.helpers import make_settings, say
from tests.test_auth import login

ADMIN = ("root", "root-password-1")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_client(request: pytest.FixtureRequest, tmp_path: Path, models_dir: Path) -> Iterator[TestClient]:
    overrides: dict[str, Any] = {"admin_username": ADMIN[0], "admin_password": ADMIN[1]}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    app = create_app(make_settings(tmp_path, models_dir, **overrides))
    with TestClient(app) as client:
        yield client


def engine_of(client: TestClient) -> Engine:
    return client.app.state.services.engine  # type: ignore[attr-defined,no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def chat(client: TestClient, token: str, *texts: str) -> str:
    """One session with these messages; its id."""
    with client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "hello", "token": token}))
        session_id = str(ws.receive_json()["session_id"])
        for text in texts:
            replies = say(ws, text)
            ws.send_text(json.dumps({"type": "feedback", "message_id": replies[-1]["message_id"], "value": 1}))
    return session_id


def make_user(client: TestClient, name: str) -> tuple[int, str]:
    user = create_user(engine_of(client), name, f"{name}-password")
    return user.id or 0, login(client, name, f"{name}-password")


def rows_naming(engine: Engine, user_id: int, username: str, session_ids: list[str]) -> list[str]:
    """Every row in every table whose user columns hold the id, or whose text holds the name or a session id."""
    found: list[str] = []
    names = [username, *session_ids]
    with engine.connect() as conn:
        for table_name in inspect(conn).get_table_names():
            if table_name == "alembic_version":
                continue
            table = __import__("sqlmodel").SQLModel.metadata.tables[table_name]
            for row in conn.execute(select(table)).mappings():
                for column in table.columns:
                    value = row[column.name]
                    if value is None:
                        continue
                    if isinstance(column.type, Integer) and (
                        column.name.endswith(("user_id", "actor_id", "subject_id"))
                        or (table_name == "user" and column.name == "id")
                    ):
                        if value == user_id:
                            found.append(f"{table_name}.{column.name}={value}")
                    elif isinstance(column.type, String | Text | JSON):
                        text = value if isinstance(value, str) else json.dumps(value)
                        found += [f"{table_name}.{column.name} names {n!r}" for n in names if n in text]
    return found


def test_export_has_everything_and_nobody_reads_another_users_data(app_client: TestClient) -> None:
    client = app_client
    alice_id, alice = make_user(client, "alice")
    bob_id, bob = make_user(client, "bob")
    session_id = chat(client, alice, "hi", "book an appointment", "monday", "Alice Liddell")
    chat(client, bob, "hi")

    response = client.get("/api/me/export", headers=bearer(alice))
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["account"]["id"] == alice_id and data["account"]["username"] == "alice"
    assert data["account"]["kind"] == "local"
    assert data["account"]["slots"] == {"name": "Alice Liddell"}  # a user-scoped slot
    assert [s["id"] for s in data["sessions"]] == [session_id]
    inbound = [m["text"] for m in data["messages"] if m["direction"] == "in"]
    assert inbound == ["hi", "book an appointment", "monday", "Alice Liddell"]
    assert len([m for m in data["messages"] if m["direction"] == "out"]) >= 4
    assert len(data["feedback"]) == 4 and all(f["value"] == 1 for f in data["feedback"])
    assert data["tokens"] and "token_hash" not in data["tokens"][0]
    assert "password_hash" not in json.dumps(data)

    # Bob's export holds nothing of Alice's; nobody reaches another's export or account.
    bob_data = client.get("/api/me/export", headers=bearer(bob)).json()
    assert bob_data["account"]["id"] == bob_id
    assert session_id not in json.dumps(bob_data) and "Alice" not in json.dumps(bob_data)
    assert client.get(f"/api/admin/users/{alice_id}/export", headers=bearer(bob)).status_code == 403
    assert client.request("DELETE", f"/api/admin/users/{alice_id}", headers=bearer(bob)).status_code == 403
    assert client.get("/api/me/export").status_code == 401
    assert client.request("DELETE", "/api/me", json={"password": "x"}).status_code == 401

    # An admin can export anyone; it is audited.
    admin = login(client, *ADMIN)
    admin_view = client.get(f"/api/admin/users/{alice_id}/export", headers=bearer(admin))
    assert admin_view.status_code == 200 and admin_view.json()["account"]["username"] == "alice"
    assert client.get("/api/admin/users/999999/export", headers=bearer(admin)).status_code == 404
    events = client.get("/api/admin/audit", headers=bearer(admin)).json()
    assert [(e["action"], e["subject_id"]) for e in events][:3] == [
        ("export", alice_id),
        ("export", bob_id),
        ("export", alice_id),
    ]
    assert client.get("/api/admin/audit", headers=bearer(alice)).status_code == 403


def test_deleting_the_account_leaves_no_row_naming_the_user(app_client: TestClient) -> None:
    client = app_client
    engine = engine_of(client)
    alice_id, alice = make_user(client, "alice")
    _, bob = make_user(client, "bob")
    other_alice_token = login(client, "alice", "alice-password")
    sessions = [
        chat(client, alice, "hi", "book an appointment", "monday", "Alice Liddell"),
        chat(client, alice, "when are you open"),
    ]
    bob_session = chat(client, bob, "hi")
    client.get("/api/me/export", headers=bearer(alice))  # an audit event about alice
    # An analyst labelled one of Alice's messages for training: the example stays, unlinked.
    with engine.begin() as conn:
        message_id = conn.execute(
            select(Message.id).where(Message.session_id == sessions[1], Message.direction == "in")
        ).scalar_one()
        conn.execute(
            ReviewedExample.__table__.insert().values(  # type: ignore[attr-defined]
                text="when are you open",
                intent="hours",
                message_id=message_id,
                created_at=__import__("bot.tables").tables.utcnow(),
            )
        )

    # Bob cannot delete Alice; Alice must give her password.
    assert (
        client.request("DELETE", "/api/me", json={"password": "alice-password"}, headers=bearer(bob)).status_code == 403
    )
    assert client.get("/api/me", headers=bearer(bob)).status_code == 200  # Bob's own password was wrong, he stays
    wrong = client.request("DELETE", "/api/me", json={"password": "not-her-password"}, headers=bearer(alice))
    assert wrong.status_code == 403 and "password" in wrong.json()["detail"]
    assert rows_naming(engine, alice_id, "alice", sessions)  # still there

    assert (
        client.request("DELETE", "/api/me", json={"password": "alice-password"}, headers=bearer(alice)).status_code
        == 204
    )
    assert rows_naming(engine, alice_id, "alice", sessions) == []
    for token in (alice, other_alice_token):
        assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.post("/api/login", json={"username": "alice", "password": "alice-password"}).status_code == 401
    with engine.connect() as conn:
        example = conn.execute(select(ReviewedExample)).one()
    assert example.text == "when are you open" and example.message_id is None
    # Bob's data is untouched.
    assert client.get(f"/api/sessions/{bob_session}/messages", headers=bearer(bob)).json()["total"] == 2
    admin = login(client, *ADMIN)
    events = client.get("/api/admin/audit", headers=bearer(admin)).json()
    assert events[0]["action"] == "erase_user" and events[0]["subject_id"] is None
    assert events[0]["detail"]["messages"] >= 10 and events[0]["detail"]["sessions"] == 2


def test_admin_deletes_a_user_and_the_user_deletes_only_history(app_client: TestClient) -> None:
    client = app_client
    engine = engine_of(client)
    carol_id, carol = make_user(client, "carol")
    dave_id, dave = make_user(client, "dave")
    carol_sessions = [chat(client, carol, "hi")]
    dave_session = chat(client, dave, "hi")

    # "Delete my history": conversations go, the account stays and still works.
    report = client.request("DELETE", "/api/me/history", headers=bearer(dave))
    assert report.status_code == 200 and report.json()["sessions"] == 1 and report.json()["messages"] == 2
    assert client.get(f"/api/sessions/{dave_session}/messages", headers=bearer(dave)).status_code == 404
    assert client.get("/api/me", headers=bearer(dave)).json()["id"] == dave_id

    admin = login(client, *ADMIN)
    assert client.request("DELETE", "/api/admin/users/999999", headers=bearer(admin)).status_code == 404
    gone = client.request("DELETE", f"/api/admin/users/{carol_id}", headers=bearer(admin))
    assert gone.status_code == 200 and gone.json()["users"] == 1
    assert rows_naming(engine, carol_id, "carol", carol_sessions) == []
    assert client.get("/api/me", headers=bearer(carol)).status_code == 401
    event = client.get("/api/admin/audit", headers=bearer(admin)).json()[0]
    assert event["action"] == "erase_user" and event["detail"]["by"] == "admin" and event["actor_id"] is not None


def test_password_change_revokes_the_other_tokens(app_client: TestClient) -> None:
    client = app_client
    _, here = make_user(client, "erin")
    elsewhere = login(client, "erin", "erin-password")

    bad = client.post(
        "/api/me/password", json={"current_password": "wrong", "new_password": "new-password-9"}, headers=bearer(here)
    )
    assert bad.status_code == 403
    weak = client.post(
        "/api/me/password", json={"current_password": "erin-password", "new_password": "short"}, headers=bearer(here)
    )
    assert weak.status_code == 403 and "at least" in weak.json()["detail"]
    ok = client.post(
        "/api/me/password",
        json={"current_password": "erin-password", "new_password": "new-password-9"},
        headers=bearer(here),
    )
    assert ok.status_code == 204
    assert client.get("/api/me", headers=bearer(here)).status_code == 200  # the device that changed it stays in
    assert client.get("/api/me", headers=bearer(elsewhere)).status_code == 401
    assert client.post("/api/login", json={"username": "erin", "password": "erin-password"}).status_code == 401
    login(client, "erin", "new-password-9")
