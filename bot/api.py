"""HTTP endpoints: health, accounts, history and the admin's tools."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from bot.auth import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    AuthError,
    Identity,
    InvalidCredentials,
    RegistrationError,
    UsernameTaken,
    authenticate,
    create_user,
    issue_token,
    resolve_token,
    revoke_token,
)
from bot.deps import ServicesDep
from bot.limits import TooManyAttempts
from bot.model import ModelError
from bot.protocol import Image, LinkCard, from_rich
from bot.revocation import announce
from bot.tables import Message, User

router = APIRouter()
_bearer = HTTPBearer(auto_error=False)


class Credentials(BaseModel):
    """Loose limits here: login reports any wrong pair alike; registration checks the rules."""

    username: str = Field(min_length=1, max_length=64, description="to register: 3 to 32 of a-z, 0-9, _ . -")
    password: str = Field(
        min_length=1,
        max_length=1024,
        description=f"to register: {MIN_PASSWORD} to {MAX_PASSWORD} characters, not the user name",
    )


class UserPublic(BaseModel):
    id: int
    username: str
    role: str
    slots: dict[str, Any] = {}


class LoginResult(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserPublic


class SessionPublic(BaseModel):
    id: str
    user_id: int | None
    created_at: datetime
    last_active: datetime
    ended_at: datetime | None
    active_form: str | None
    slots: dict[str, Any]
    turns: int


class MessagePublic(BaseModel):
    id: int
    session_id: str
    direction: str
    text: str
    client_id: str | None
    intent: str | None
    confidence: float | None
    buttons: list[Any]
    slots: dict[str, Any]
    fallback: bool
    feedback: int | None
    model_version: str | None
    created_at: datetime
    image: Image | None = None
    """A bot message's picture, as its `reply` frame had it."""
    link: LinkCard | None = None
    """A bot message's link card, as its `reply` frame had it."""

    @classmethod
    def of(cls, message: Message) -> MessagePublic:
        image, link = from_rich(message.rich)
        return cls.model_validate(message, from_attributes=True).model_copy(update={"image": image, "link": link})


class Page(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[MessagePublic]


def _public(user: User) -> UserPublic:
    return UserPublic(id=user.id or 0, username=user.username, role=user.role, slots=user.slots or {})


async def optional_identity(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Identity | None:
    """The caller's identity; a bad token is an error, never a silent guest."""
    if credentials is None:
        return None
    try:
        return await asyncio.to_thread(resolve_token, services.engine, credentials.credentials)
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"{exc.code}: {exc}", {"WWW-Authenticate": "Bearer"}
        ) from None


MaybeIdentity = Annotated[Identity | None, Depends(optional_identity)]


async def required_identity(identity: MaybeIdentity) -> Identity:
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in first: send Authorization: Bearer <token>",
            {"WWW-Authenticate": "Bearer"},
        )
    return identity


IdentityDep = Annotated[Identity, Depends(required_identity)]


async def admin_identity(identity: IdentityDep) -> Identity:
    if identity.user.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the admin role")
    return identity


AdminDep = Annotated[Identity, Depends(admin_identity)]


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when a model is loaded and the database answers."""
    database = await asyncio.to_thread(services.store.ping)
    body = {"ready": database, "database": database, "model": services.nlu.model.version}
    return JSONResponse(body, status_code=200 if database else 503)


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
async def metrics(services: ServicesDep) -> PlainTextResponse:
    """Prometheus text format: messages by intent, latency, connections, fallbacks, model."""
    return PlainTextResponse(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.post("/api/register", status_code=status.HTTP_201_CREATED, tags=["accounts"])
async def register(body: Credentials, services: ServicesDep) -> UserPublic:
    try:
        user = await asyncio.to_thread(create_user, services.engine, body.username, body.password)
    except UsernameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except RegistrationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return _public(user)


@router.post("/api/login", tags=["accounts"])
async def login(body: Credentials, request: Request, services: ServicesDep) -> LoginResult:
    client = request.client.host if request.client else "?"
    try:
        services.login_limiter.check(f"user:{body.username.strip().casefold()}", f"ip:{client}")
        user = await asyncio.to_thread(authenticate, services.engine, body.username, body.password)
    except TooManyAttempts as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc), {"Retry-After": f"{exc.retry_after:.0f}"}
        ) from None
    except InvalidCredentials as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    ttl = timedelta(hours=services.settings.token_ttl_hours)
    token, expires_at = await asyncio.to_thread(issue_token, services.engine, user.id or 0, ttl)
    return LoginResult(token=token, expires_at=expires_at, user=_public(user))


@router.post("/api/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["accounts"])
async def logout(identity: IdentityDep, services: ServicesDep) -> Response:
    await asyncio.to_thread(revoke_token, services.engine, identity.token_hash)
    await announce(services.bus, identity.user.id)  # connections open with this token end
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/me", tags=["accounts"])
async def me(identity: IdentityDep) -> UserPublic:
    return _public(identity.user)


@router.get("/api/sessions", tags=["history"])
async def my_sessions(
    identity: IdentityDep, services: ServicesDep, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=500)
) -> list[SessionPublic]:
    rows = await asyncio.to_thread(services.store.sessions, user_id=identity.user.id, offset=offset, limit=limit)
    return [SessionPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/api/sessions/{session_id}/messages", tags=["history"])
async def session_messages(
    session_id: str,
    identity: MaybeIdentity,
    services: ServicesDep,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page:
    """A session's history: its owner's, an admin's, or (guest sessions) whoever holds its id."""
    row = await asyncio.to_thread(services.store.get_session, session_id)
    is_admin = identity is not None and identity.user.role == "admin"
    owner_ok = row is not None and (row.user_id is None or (identity is not None and row.user_id == identity.user.id))
    if row is None or not (is_admin or owner_ok):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such session")
    messages, total = await asyncio.to_thread(services.store.history, session_id, offset=offset, limit=limit)
    items = [MessagePublic.of(m) for m in messages]
    return Page(total=total, offset=offset, limit=limit, items=items)


@router.get("/api/admin/sessions", tags=["admin"])
async def all_sessions(
    _: AdminDep, services: ServicesDep, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=500)
) -> list[SessionPublic]:
    rows = await asyncio.to_thread(services.store.sessions, offset=offset, limit=limit)
    return [SessionPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/api/admin/export", tags=["admin"])
async def export_log(_: AdminDep, services: ServicesDep, since: datetime | None = None) -> StreamingResponse:
    """The conversation log as JSON Lines, oldest first."""

    def rows() -> list[bytes]:  # serialised on the thread too: a big log is CPU work, kept off the event loop
        return [orjson.dumps(m.model_dump(mode="json")) + b"\n" for m in services.store.messages_since(since)]

    return StreamingResponse(iter(await asyncio.to_thread(rows)), media_type="application/x-ndjson")


class ReloadResult(BaseModel):
    version: str
    previous: str


@router.post("/api/admin/reload", tags=["admin"])
async def reload_model(_: AdminDep, services: ServicesDep) -> ReloadResult:
    """Serve `models/latest` now; a model that fails to load leaves the old one serving."""
    try:
        previous, version = await services.nlu.reload(services.settings.models_dir)
        services.metrics.serve_model(version)
    except ModelError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"reload failed, still serving {services.nlu.model.version}: {exc}"
        ) from None
    return ReloadResult(version=version, previous=previous)


from bot.api_privacy import router as privacy_router  # noqa: E402  (it uses the dependencies above)

router.include_router(privacy_router)
