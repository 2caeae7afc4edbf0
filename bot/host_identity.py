"""Users of the host site, signed in by a token its backend signs (HMAC-SHA256 JWT).

The site and the bot share `BOT_HOST_TOKEN_SECRET`. The site's backend signs, per page view,
a short-lived token `{"sub": ..., "name": ..., "exp": ..., "jti": ...}` (plus optional
traits); the widget hands it over in its `hello` frame. The bot checks the signature and the
expiry, maps `sub` to a user of kind `external` (created on first sight) and exchanges the
token, once, for one of its own bearer tokens.

Replay protection: a token is exchanged at most once. Its `jti` (or, without one, the
SHA-256 of the whole token) is recorded in `host_token_use` until the token expires; a token
whose key is already there is refused with `host_token_replayed`, whether it is a copy of one
exchanged before or a different token reusing a `jti`. A token may live at most
`MAX_LIFETIME` (its `exp` no further ahead), which bounds how long those rows are kept.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.auth import AuthError, issue_token
from bot.tables import HostTokenUse, User

log = logging.getLogger(__name__)
ALGORITHM = "HS256"
MAX_LIFETIME = timedelta(hours=1)
"""How far ahead a host token's `exp` may be: they are meant to be short-lived."""
LEEWAY = timedelta(seconds=30)
"""Clock difference tolerated between the site's backend and the bot."""
MAX_SUB = 255
MAX_NAME = 64
RESERVED_CLAIMS = frozenset({"sub", "name", "exp", "iat", "nbf", "jti", "iss", "aud"})


class HostTokenError(AuthError):
    """A host-site token that cannot be used; `code` goes into the error frame."""

    code = "host_token_invalid"


class HostLoginDisabled(HostTokenError):
    code = "host_login_disabled"


class HostTokenInvalid(HostTokenError):
    code = "host_token_invalid"


class HostTokenExpired(HostTokenError):
    code = "host_token_expired"


class HostTokenReplayed(HostTokenError):
    code = "host_token_replayed"


@dataclass(frozen=True)
class HostClaims:
    """What a verified host token says about its user."""

    sub: str
    name: str
    expires_at: datetime
    jti: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HostUser:
    """The bot's user behind a host token, and the token's claims."""

    user: User
    claims: HostClaims
    created: bool


@dataclass(frozen=True)
class HostLogin:
    """A host token exchanged for the bot's own bearer token."""

    user: User
    token: str
    expires_at: datetime
    created: bool


def verify_host_token(token: str, secret: str | None, now: datetime) -> HostClaims:
    """Check the signature, the expiry and the claims; no database involved."""
    if not secret:
        raise HostLoginDisabled("this bot does not accept host-site logins (BOT_HOST_TOKEN_SECRET is not set)")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError as exc:
        raise HostTokenInvalid(f"the host token is not valid ({exc}); the site must sign a new one") from None
    exp = payload["exp"]
    if not isinstance(exp, int | float):
        raise HostTokenInvalid("the host token's exp must be a number of seconds since 1970")
    expires_at = datetime.fromtimestamp(exp, UTC)
    if expires_at + LEEWAY <= now:
        raise HostTokenExpired("the host token has expired; the site must sign a new one")
    if expires_at - MAX_LIFETIME - LEEWAY > now:
        raise HostTokenInvalid(
            f"the host token lives too long: exp may be at most {MAX_LIFETIME.total_seconds():.0f} s ahead"
        )
    nbf = payload.get("nbf")
    if isinstance(nbf, int | float) and datetime.fromtimestamp(nbf, UTC) - LEEWAY > now:
        raise HostTokenInvalid("the host token is not valid yet (nbf is in the future)")
    sub, name, jti = payload["sub"], payload.get("name"), payload.get("jti")
    if not isinstance(sub, str) or not 1 <= len(sub) <= MAX_SUB:
        raise HostTokenInvalid(f"the host token's sub must be a string of 1 to {MAX_SUB} characters")
    if name is not None and not isinstance(name, str):
        raise HostTokenInvalid("the host token's name must be a string")
    if jti is not None and (not isinstance(jti, str) or not 1 <= len(jti) <= 100):
        raise HostTokenInvalid("the host token's jti must be a string of 1 to 100 characters")
    traits = {k: v for k, v in payload.items() if k not in RESERVED_CLAIMS}
    display = (name or sub).strip()[:MAX_NAME] or sub[:MAX_NAME]
    return HostClaims(sub=sub, name=display, expires_at=expires_at, jti=jti, traits=traits)


def user_key(sub: str) -> str:
    """The `username_key` of an external user: never a local name (those have no ':')."""
    return "ext:" + hashlib.sha256(sub.encode()).hexdigest()[:40]


def replay_key(token: str, claims: HostClaims) -> str:
    return "jti:" + claims.jti if claims.jti else "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def resolve_host_token(engine: Engine, token: str, secret: str | None, now: datetime) -> HostUser:
    """Verify a host token, refuse a replay, and find or create its external user.

    The token is marked used in the same transaction that finds the user: of two
    connections racing with one token, one wins and the other gets `host_token_replayed`.
    """
    claims = verify_host_token(token, secret, now)
    key = user_key(claims.sub)
    with Session(engine, expire_on_commit=False) as db:
        user = db.execute(select(User).where(col(User.username_key) == key)).scalar_one_or_none()
        created = user is None
        if user is None:
            user = User(
                username=claims.name,
                username_key=key,
                password_hash="",
                role="user",
                kind="external",
                external_id=claims.sub,
                traits=claims.traits,
            )
            db.add(user)
        else:
            user.username = claims.name
            user.traits = claims.traits
        try:
            db.flush()
            db.add(
                HostTokenUse(
                    key=replay_key(token, claims), user_id=user.id or 0, expires_at=claims.expires_at, used_at=now
                )
            )
            db.commit()
        except IntegrityError:
            db.rollback()
            if created and _user_exists(engine, key):
                return resolve_host_token(engine, token, secret, now)  # another connection created the user first
            raise HostTokenReplayed("this host token was used already; the site must sign a new one") from None
        db.expunge(user)
    if created:
        log.info("new external user %s", user.id)
    return HostUser(user=user, claims=claims, created=created)


def _user_exists(engine: Engine, key: str) -> bool:
    with Session(engine) as db:
        return db.execute(select(col(User.id)).where(col(User.username_key) == key)).first() is not None


def exchange_host_token(engine: Engine, token: str, secret: str | None, now: datetime, ttl: timedelta) -> HostLogin:
    """A host token for a bearer token of the bot's own, valid `ttl`; the host token is then spent."""
    host = resolve_host_token(engine, token, secret, now)
    bearer, expires_at = issue_token(engine, host.user.id or 0, ttl)
    return HostLogin(user=host.user, token=bearer, expires_at=expires_at, created=host.created)


def forget_spent_tokens(engine: Engine, now: datetime) -> int:
    """Drop the replay records of host tokens that have expired (they would be refused anyway)."""
    with Session(engine) as db:
        result = db.execute(delete(HostTokenUse).where(col(HostTokenUse.expires_at) < now - LEEWAY))
        db.commit()
        # a DELETE's result is a CursorResult, with rowcount; Session.execute is typed as returning any Result
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
