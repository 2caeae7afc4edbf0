"""A user's data, whole: exported as one document, erased in one transaction, audited.

Everything stored about a user: the account row, its tokens (metadata only, never the
hashes), its sessions, every message of those sessions (the user's and the bot's replies to
them, with the feedback given), messages that carry the user's id elsewhere, replay records
of host tokens, and the audit events about the user. Reviewed examples labelled for training
are not personal data once unlinked: an erasure keeps their text and clears their link to
the message they came from.

Erasing an agent hands back every conversation they hold: it waits for a person again, in the
same transaction, so that no conversation is left held by an account that is gone (handoff
then tells each user, `Handoff.agent_gone`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Row, delete, insert, or_, select, update
from sqlmodel import col

from bot.auth import MAX_PASSWORD, RegistrationError, _hasher, check_password
from bot.protocol import Image, LinkCard, from_rich
from bot.tables import (
    AgentPresence,
    AuditEvent,
    AuthToken,
    ChatSession,
    HostTokenUse,
    Message,
    ReviewedExample,
    User,
    utcnow,
)

log = logging.getLogger(__name__)


class UserNotFound(Exception):
    """No user with this id (it may have been erased already)."""


class PasswordNotAccepted(Exception):
    """The current password was wrong, or the new one breaks the rules; the message says which."""


class AccountExport(BaseModel):
    id: int
    username: str
    role: str
    kind: str
    external_id: str | None
    traits: dict[str, Any] | None
    slots: dict[str, Any]
    created_at: datetime


class TokenExport(BaseModel):
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class SessionExport(BaseModel):
    id: str
    created_at: datetime
    last_active: datetime
    ended_at: datetime | None
    active_form: str | None
    slots: dict[str, Any]
    turns: int


class MessageExport(BaseModel):
    id: int
    session_id: str
    direction: str
    text: str
    intent: str | None
    confidence: float | None
    entities: list[Any]
    slots: dict[str, Any]
    buttons: list[Any]
    image: Image | None = None
    """A bot message's picture, as the user saw it."""
    link: LinkCard | None = None
    """A bot message's link card, as the user saw it."""
    feedback: int | None
    created_at: datetime


class FeedbackExport(BaseModel):
    message_id: int
    session_id: str
    value: int
    reply: str


class AuditExport(BaseModel):
    at: datetime
    action: str
    by_self: bool


class UserExport(BaseModel):
    """Everything stored about one user (GDPR art. 15 and 20: access and portability)."""

    exported_at: datetime
    account: AccountExport
    tokens: list[TokenExport]
    sessions: list[SessionExport]
    messages: list[MessageExport]
    feedback: list[FeedbackExport]
    audit: list[AuditExport]


class ErasureReport(BaseModel):
    """How many rows an erasure removed, by table (no names: it goes into the audit log)."""

    users: int = 0
    tokens: int = 0
    sessions: int = 0
    messages: int = 0
    host_tokens: int = 0
    examples_unlinked: int = 0
    conversations_released: int = 0
    """Conversations the user held as an agent, sent back to the queue."""


@dataclass(frozen=True)
class Erasure:
    """What `erase_user` did: the counts, and the conversations the erased agent held (now waiting)."""

    report: ErasureReport
    released: list[str]


def _session_ids(conn: Connection, user_id: int) -> list[str]:
    return list(conn.execute(select(col(ChatSession.id)).where(col(ChatSession.user_id) == user_id)).scalars())


def _messages_of(user_id: int, session_ids: list[str]) -> Any:
    return or_(col(Message.user_id) == user_id, col(Message.session_id).in_(session_ids))


def _message_export(message: Row[Any]) -> MessageExport:
    """A `message` row (as read by Core) for the export, its `rich` column as `image` and `link`."""
    image, link = from_rich(message.rich)
    return MessageExport.model_validate(message, from_attributes=True).model_copy(update={"image": image, "link": link})


def export_user(engine: Engine, user_id: int) -> UserExport:
    """The document `GET /api/me/export` answers with."""
    with engine.connect() as conn:
        user = conn.execute(select(User).where(col(User.id) == user_id)).first()
        if user is None:
            raise UserNotFound(f"no user {user_id}")
        account = AccountExport.model_validate(user, from_attributes=True)
        tokens = [
            TokenExport.model_validate(t, from_attributes=True)
            for t in conn.execute(
                select(AuthToken).where(col(AuthToken.user_id) == user_id).order_by(col(AuthToken.id))
            )
        ]
        sessions = [
            SessionExport.model_validate(s, from_attributes=True)
            for s in conn.execute(
                select(ChatSession).where(col(ChatSession.user_id) == user_id).order_by(col(ChatSession.created_at))
            )
        ]
        ids = [s.id for s in sessions]
        rows = conn.execute(select(Message).where(_messages_of(user_id, ids)).order_by(col(Message.id))).all()
        audit = [
            AuditExport(at=a.at, action=a.action, by_self=a.actor_id == user_id)
            for a in conn.execute(
                select(AuditEvent).where(col(AuditEvent.subject_id) == user_id).order_by(col(AuditEvent.id))
            )
        ]
    messages = [_message_export(m) for m in rows]
    feedback = [
        FeedbackExport(message_id=m.id, session_id=m.session_id, value=m.feedback, reply=m.text)
        for m in messages
        if m.feedback
    ]
    return UserExport(
        exported_at=utcnow(),
        account=account,
        tokens=tokens,
        sessions=sessions,
        messages=messages,
        feedback=feedback,
        audit=audit,
    )


def _erase_history(conn: Connection, user_id: int, report: ErasureReport) -> None:
    ids = _session_ids(conn, user_id)
    message_ids = select(col(Message.id)).where(_messages_of(user_id, ids))
    report.examples_unlinked += conn.execute(
        update(ReviewedExample).where(col(ReviewedExample.message_id).in_(message_ids)).values(message_id=None)
    ).rowcount
    report.messages += conn.execute(delete(Message).where(_messages_of(user_id, ids))).rowcount
    if ids:
        report.sessions += conn.execute(delete(ChatSession).where(col(ChatSession.id).in_(ids))).rowcount


def erase_history(engine: Engine, user_id: int) -> ErasureReport:
    """Delete a user's conversations (sessions, messages, feedback); the account stays."""
    report = ErasureReport()
    with engine.begin() as conn:
        _erase_history(conn, user_id, report)
    return report


def _release_held(conn: Connection, agent_id: int) -> list[str]:
    """Send the conversations this agent holds back to the queue, at their place (they keep
    their `handoff_at`, when they first asked for a person); their ids."""
    held = (col(ChatSession.mode) == "agent", col(ChatSession.agent_id) == agent_id)
    ids = list(conn.execute(select(col(ChatSession.id)).where(*held)).scalars())
    if ids:
        conn.execute(update(ChatSession).where(*held).values(mode="waiting", agent_id=None))
    return ids


def erase_user(engine: Engine, user_id: int) -> Erasure:
    """Delete the account and everything naming it, in one transaction (GDPR art. 17).

    The audit trail stays, anonymised: events about or by the user lose the user's id. The
    conversations the user held as an agent wait for another person again.
    """
    report = ErasureReport()
    with engine.begin() as conn:
        if conn.execute(select(col(User.id)).where(col(User.id) == user_id)).first() is None:
            raise UserNotFound(f"no user {user_id}")
        _erase_history(conn, user_id, report)
        released = _release_held(conn, user_id)
        report.conversations_released = len(released)
        report.tokens = conn.execute(delete(AuthToken).where(col(AuthToken.user_id) == user_id)).rowcount
        report.host_tokens = conn.execute(delete(HostTokenUse).where(col(HostTokenUse.user_id) == user_id)).rowcount
        conn.execute(delete(AgentPresence).where(col(AgentPresence.user_id) == user_id))  # an agent's open inbox
        conn.execute(update(AuditEvent).where(col(AuditEvent.subject_id) == user_id).values(subject_id=None))
        conn.execute(update(AuditEvent).where(col(AuditEvent.actor_id) == user_id).values(actor_id=None))
        report.users = conn.execute(delete(User).where(col(User.id) == user_id)).rowcount
    log.info("erased a user: %s", report.model_dump())
    return Erasure(report, released)


def verify_password(engine: Engine, user_id: int, password: str) -> None:
    """Raise `PasswordNotAccepted` unless this is the user's password (external users have none)."""
    with engine.connect() as conn:
        stored = conn.execute(select(col(User.password_hash)).where(col(User.id) == user_id)).scalar_one_or_none()
    if stored is None:
        raise UserNotFound(f"no user {user_id}")
    try:
        ok = bool(stored) and len(password) <= MAX_PASSWORD and _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise PasswordNotAccepted("the current password is wrong")


def change_password(engine: Engine, user_id: int, current: str, new: str, keep_token_hash: str | None) -> int:
    """Set a new password and revoke every token but the one in use; the number revoked."""
    verify_password(engine, user_id, current)
    with engine.connect() as conn:
        username = conn.execute(select(col(User.username)).where(col(User.id) == user_id)).scalar_one()
    try:
        check_password(new, username)
    except RegistrationError as exc:
        raise PasswordNotAccepted(str(exc)) from None
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(update(User).where(col(User.id) == user_id).values(password_hash=_hasher.hash(new)))
        revoked = conn.execute(
            update(AuthToken)
            .where(
                col(AuthToken.user_id) == user_id,
                col(AuthToken.revoked_at).is_(None),
                col(AuthToken.token_hash) != (keep_token_hash or ""),
            )
            .values(revoked_at=now)
        ).rowcount
    return int(revoked)


def audit(engine: Engine, actor_id: int | None, action: str, subject_id: int | None, **detail: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(AuditEvent).values(
                at=utcnow(), actor_id=actor_id, action=action, subject_id=subject_id, detail=detail
            )
        )


def audit_events(engine: Engine, offset: int = 0, limit: int = 100) -> list[AuditEvent]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEvent).order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)).all()
    return [AuditEvent.model_validate(r, from_attributes=True) for r in rows]
