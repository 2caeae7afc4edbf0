"""Accounts and tokens: argon2id passwords, opaque bearer tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.errors import ClientError
from bot.tables import AuthToken, User, utcnow

USERNAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_.-"
MIN_PASSWORD = 8
MAX_PASSWORD = 256
ROLES = ("user", "agent", "admin")
"""`agent`: answers conversations handed to a person (the inbox); `admin`: that and everything else."""

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$JV1g1VAgUfRKdFXGW4L2DQ$1Tr5tbXiIZzB8blSZ5KtedaWm4sTe+eCqgKs1RndlbA"
"""Verified against when the user does not exist, so that takes as long as a wrong password.
A constant: hashing at import would add a quarter of a second to every start-up. A test
checks that its parameters are still the hasher's."""


class AuthError(ClientError):
    """Authentication failed; `code` goes into the error frame or HTTP answer."""

    code = "unauthorized"


class InvalidCredentials(AuthError):
    code = "invalid_credentials"


class TokenInvalid(AuthError):
    code = "token_invalid"


class TokenExpired(AuthError):
    code = "token_expired"


class TokenRevoked(AuthError):
    code = "token_revoked"


class RegistrationError(Exception):
    """The user name or password cannot be used; the message says why."""


class UsernameTaken(RegistrationError):
    pass


@dataclass(frozen=True)
class Identity:
    """The user behind a valid token."""

    user: User
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> str:
    name = username.strip()
    if not 3 <= len(name) <= 32:
        raise RegistrationError("the user name must have 3 to 32 characters")
    if any(c not in USERNAME_CHARS for c in name.lower()):
        raise RegistrationError("the user name may use only letters a-z, digits and _ . -")
    return name


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise RegistrationError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise RegistrationError(f"the password must have at most {MAX_PASSWORD} characters")
    if password.lower() == username.lower() or len(set(password)) < 4:
        raise RegistrationError("the password is too easy to guess: avoid the user name and repeated characters")


def create_user(engine: Engine, username: str, password: str, role: str = "user") -> User:
    """Register a user; names are unique regardless of case."""
    name = check_username(username)
    check_password(password, name)
    if role not in ROLES:
        raise RegistrationError(f"role must be one of {', '.join(ROLES)}")
    user = User(username=name, username_key=name.casefold(), password_hash=_hasher.hash(password), role=role)
    with Session(engine) as db:
        db.add(user)
        try:
            db.commit()
        except IntegrityError:
            raise UsernameTaken(f"the user name '{name}' is taken") from None
        db.refresh(user)
        db.expunge(user)
    return user


def authenticate(engine: Engine, username: str, password: str) -> User:
    """The user with these credentials; unknown names cost the same hash as wrong passwords."""
    with Session(engine) as db:
        key = username.strip().casefold()
        user = db.execute(select(User).where(col(User.username_key) == key)).scalar_one_or_none()
        if user is not None:
            db.expunge(user)
    try:
        _hasher.verify(user.password_hash if user else DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials("wrong user name or password") from None
    if user is None:
        raise InvalidCredentials("wrong user name or password")
    return user


def issue_token(engine: Engine, user_id: int, ttl: timedelta) -> tuple[str, datetime]:
    """A new random token (256 bits) and its expiry; only the token's hash is stored."""
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + ttl
    with Session(engine) as db:
        db.add(AuthToken(token_hash=hash_token(token), user_id=user_id, expires_at=expires_at))
        db.commit()
    return token, expires_at


def resolve_token(engine: Engine, token: str) -> Identity:
    """The user behind a token, or why the token cannot be used."""
    return resolve_token_hash(engine, hash_token(token))


def resolve_token_hash(engine: Engine, digest: str) -> Identity:
    """The user behind a token's hash (a connection keeps only that), or why it cannot be used."""
    with Session(engine) as db:
        row = db.execute(
            select(AuthToken, User)
            .join(User, col(AuthToken.user_id) == col(User.id))
            .where(col(AuthToken.token_hash) == digest)
        ).first()
        if row is None:
            raise TokenInvalid("the token is not valid; log in again")
        auth, user = row
        db.expunge(user)
    if auth.revoked_at is not None:
        raise TokenRevoked("the token was revoked (a logout or a password change); log in again")
    if auth.expires_at <= utcnow():
        raise TokenExpired("the token has expired; log in again")
    return Identity(user, digest)


def revoke_token(engine: Engine, token_hash: str) -> None:
    with Session(engine) as db:
        db.execute(
            update(AuthToken)
            .where(col(AuthToken.token_hash) == token_hash, col(AuthToken.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
        db.commit()
