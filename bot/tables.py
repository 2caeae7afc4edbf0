"""SQL tables (SQLModel): users, tokens, chat sessions and the conversation log.

Schema changes go through Alembic migrations in `bot/migrations`, so an upgrade keeps data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, TypeDecorator, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.rows import Rich

_USER_MESSAGES = text("direction = 'in'")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend; SQLite would otherwise hand back naive times."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _time(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs), default_factory=utcnow)


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    username_key: str = Field(max_length=64, unique=True, index=True)
    """The name case-folded: names are unique regardless of case."""
    password_hash: str
    role: str = Field(default="user", max_length=16)
    kind: str = Field(default="local", max_length=16, sa_column_kwargs={"server_default": "local"})
    """`local` (registered here, has a password) or `external` (signed in by the host site's token)."""
    external_id: str | None = Field(default=None, max_length=255)
    """The host site's `sub` for an external user."""
    traits: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """What the host site's token said about an external user besides its name (plan, email...)."""
    slots: dict[str, Any] = _json()
    """User-level slots (such as their name) that follow the user into every session."""
    created_at: datetime = _time(nullable=False)


class AuthToken(SQLModel, table=True):
    __tablename__ = "auth_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ChatSession(SQLModel, table=True):
    __tablename__ = "chat_session"

    id: str = Field(primary_key=True, max_length=32)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    created_at: datetime = _time(nullable=False)
    last_active: datetime = _time(nullable=False)
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    language: str | None = Field(default=None, max_length=8)
    """The language the session is answered in; None until known."""
    active_form: str | None = None
    requested_slot: str | None = None
    failures: int = 0
    """Wrong answers in a row to the pending question: the second offers a way out."""
    last_form: str | None = None
    """The form finished last, which a correction right after it changes."""
    slots: dict[str, Any] = _json()
    turns: int = 0
    mode: str = Field(default="bot", max_length=8, index=True)
    """`bot`, `waiting` (queued for a person), `agent` (held by `agent_id`) or `ticket`
    (taking a message for the team while no agent is online)."""
    agent_id: int | None = None
    handoff_reason: str | None = Field(default=None, max_length=200)
    handoff_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    ticket_email: str | None = Field(default=None, max_length=254)


class Ticket(SQLModel, table=True):
    """A message left for the team while no agent was online."""

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="chat_session.id", max_length=32)
    email: str = Field(max_length=254)
    text: str
    reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _time(nullable=False, index=True)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class AgentPresence(SQLModel, table=True):
    """An agent with the inbox open, on any instance; stale after a missed heartbeat or two."""

    __tablename__ = "agent_presence"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    seen_at: datetime = _time(nullable=False)


class Message(SQLModel, table=True):
    """One line of the conversation log: a user's message or a bot's reply."""

    __table_args__ = (
        # A client id names one user message; the bot's replies to it carry it too.
        Index(
            "uq_message_in_client_id",
            "session_id",
            "client_id",
            unique=True,
            sqlite_where=_USER_MESSAGES,
            postgresql_where=_USER_MESSAGES,
        ),
        Index("ix_message_session_order", "session_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="chat_session.id")
    user_id: int | None = Field(default=None, index=True)
    direction: str = Field(max_length=5)
    """`in` from the user, `out` from the bot, `agent` from a person."""
    text: str
    client_id: str | None = Field(default=None, max_length=64)
    intent: str | None = Field(default=None, max_length=128, index=True)
    confidence: float | None = None
    ranking: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    entities: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    slots: dict[str, Any] = _json()
    buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fallback: bool = False
    model_version: str | None = Field(default=None, max_length=64)
    latency_ms: float | None = None
    action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """On a reply, the action call it came from; on a user message, `{"calls": [...]}` of its
    turn (see `bot.rows.MessageRow.action`)."""
    rich: Rich | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """A bot message's image and link card, when it has either (migration 0006)."""
    feedback: int | None = None
    """+1 or -1 from the user's thumbs on a bot reply."""
    created_at: datetime = _time(nullable=False, index=True)


class ReviewedExample(SQLModel, table=True):
    """A logged message an analyst labelled; training adds these to `intents.yaml`."""

    __tablename__ = "reviewed_example"
    __table_args__ = (UniqueConstraint("text", name="uq_reviewed_text"),)

    id: int | None = Field(default=None, primary_key=True)
    text: str
    intent: str = Field(max_length=128)
    message_id: int | None = None
    created_at: datetime = _time(nullable=False)


class HostTokenUse(SQLModel, table=True):
    """A host-site token already exchanged: presenting it again is a replay.

    Keyed by the token's `jti`, or the SHA-256 of the token when it has none; a row can go
    once its token has expired (retention sweeps them).
    """

    __tablename__ = "host_token_use"

    key: str = Field(primary_key=True, max_length=128)
    user_id: int = Field(foreign_key="user.id", index=True)
    expires_at: datetime = _time(nullable=False, index=True)
    used_at: datetime = _time(nullable=False)


class AuditEvent(SQLModel, table=True):
    """Who exported, erased or changed what: kept after an erasure, without the erased user's id."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    actor_id: int | None = Field(default=None, index=True)
    """The user who did it (no foreign key: the row outlives the actor, with the id cleared)."""
    action: str = Field(max_length=32)
    subject_id: int | None = Field(default=None, index=True)
    """The user it was done to; cleared when that user is erased."""
    detail: dict[str, Any] = _json()
