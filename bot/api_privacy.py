"""HTTP endpoints for a user's data: export, erase, change the password; host-site login.

Every export and erasure, by the user or by an admin, is recorded in `audit_event`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from bot.api import AdminDep, IdentityDep, LoginResult, _public
from bot.auth import MAX_PASSWORD
from bot.deps import Services, ServicesDep
from bot.erasure import (
    ErasureReport,
    PasswordNotAccepted,
    UserExport,
    UserNotFound,
    audit,
    audit_events,
    change_password,
    erase_history,
    erase_user,
    export_user,
    verify_password,
)
from bot.host_identity import HostTokenError, exchange_host_token
from bot.limits import TooManyAttempts
from bot.revocation import announce
from bot.tables import utcnow

router: APIRouter = APIRouter()


class HostLoginRequest(BaseModel):
    user_token: str = Field(min_length=1, max_length=4096, description="the JWT the host site's backend signed")


class PasswordConfirmation(BaseModel):
    password: str = Field(default="", max_length=1024, description="the current password (external users: none)")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class AuditPublic(BaseModel):
    id: int
    at: str
    actor_id: int | None
    action: str
    subject_id: int | None
    detail: dict[str, object]


def _download(export: UserExport, filename: str) -> Response:
    return Response(
        export.model_dump_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.post("/api/host-login", tags=["accounts"])
async def host_login(body: HostLoginRequest, request: Request, services: ServicesDep) -> LoginResult:
    """Exchange a host site's signed user token (once) for a bearer token; see docs/privacy.md."""
    secret = services.settings.host_token_secret
    client = request.client.host if request.client else "?"
    try:
        services.login_limiter.check(f"ip:{client}")
        login = await asyncio.to_thread(
            exchange_host_token,
            services.engine,
            body.user_token,
            secret.get_secret_value() if secret else None,
            utcnow(),
            timedelta(hours=services.settings.token_ttl_hours),
        )
    except TooManyAttempts as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    except HostTokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"{exc.code}: {exc}") from None
    return LoginResult(token=login.token, expires_at=login.expires_at, user=_public(login.user))


@router.get("/api/me/export", tags=["privacy"])
async def export_me(identity: IdentityDep, services: ServicesDep) -> Response:
    """Everything stored about the caller, as one JSON document."""
    user_id = identity.user.id or 0
    export = await asyncio.to_thread(export_user, services.engine, user_id)
    await asyncio.to_thread(audit, services.engine, user_id, "export", user_id)
    return _download(export, "my-chat-data.json")


@router.delete("/api/me/history", tags=["privacy"])
async def delete_my_history(identity: IdentityDep, services: ServicesDep) -> ErasureReport:
    """Delete the caller's conversations; the account stays."""
    user_id = identity.user.id or 0
    report = await asyncio.to_thread(erase_history, services.engine, user_id)
    await asyncio.to_thread(audit, services.engine, user_id, "erase_history", user_id, **report.model_dump())
    return report


@router.delete("/api/me", status_code=status.HTTP_204_NO_CONTENT, tags=["privacy"])
async def delete_me(body: PasswordConfirmation, identity: IdentityDep, services: ServicesDep) -> Response:
    """Delete the caller's account and all its data; the password must be given again.

    External users (signed in by the host site) have no password here: their bearer token is
    the proof, as for their other requests.
    """
    user = identity.user
    if user.kind != "external":
        try:
            await asyncio.to_thread(verify_password, services.engine, user.id or 0, body.password)
        except PasswordNotAccepted as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{exc}: send the account's password again") from None
    await _erase(services, user.id or 0, actor=None, by="self")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/me/password", status_code=status.HTTP_204_NO_CONTENT, tags=["privacy"])
async def change_my_password(body: PasswordChange, identity: IdentityDep, services: ServicesDep) -> Response:
    """Change the password; every other token of the account is revoked (other devices log in again)."""
    user_id = identity.user.id or 0
    try:
        revoked = await asyncio.to_thread(
            change_password, services.engine, user_id, body.current_password, body.new_password, identity.token_hash
        )
    except PasswordNotAccepted as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    if revoked:
        await announce(services.bus, user_id)  # the other tokens' open connections end
    await asyncio.to_thread(audit, services.engine, user_id, "password_change", user_id, tokens_revoked=revoked)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/admin/users/{user_id}/export", tags=["admin"])
async def export_any_user(user_id: int, admin: AdminDep, services: ServicesDep) -> Response:
    try:
        export = await asyncio.to_thread(export_user, services.engine, user_id)
    except UserNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user") from None
    await asyncio.to_thread(audit, services.engine, admin.user.id, "export", user_id)
    return _download(export, f"user-{user_id}-chat-data.json")


@router.delete("/api/admin/users/{user_id}", tags=["admin"])
async def delete_any_user(user_id: int, admin: AdminDep, services: ServicesDep) -> ErasureReport:
    actor = None if admin.user.id == user_id else admin.user.id
    try:
        return await _erase(services, user_id, actor=actor, by="admin")
    except UserNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user") from None


async def _erase(services: Services, user_id: int, actor: int | None, by: str) -> ErasureReport:
    """Erase an account, end its open connections on every instance, tell the users it helped
    as an agent, and audit it (without naming who was erased)."""
    erased = await asyncio.to_thread(erase_user, services.engine, user_id)
    await announce(services.bus, user_id)
    await services.chat.handoff.agent_gone(erased.released, user_id)
    await asyncio.to_thread(audit, services.engine, actor, "erase_user", None, by=by, **erased.report.model_dump())
    return erased.report


@router.get("/api/admin/audit", tags=["admin"])
async def audit_log(
    _: AdminDep, services: ServicesDep, offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)
) -> list[AuditPublic]:
    """Exports, erasures and password changes, newest first."""
    rows = await asyncio.to_thread(audit_events, services.engine, offset, limit)
    return [
        AuditPublic(
            id=r.id or 0,
            at=r.at.isoformat(),
            actor_id=r.actor_id,
            action=r.action,
            subject_id=r.subject_id,
            detail=r.detail,
        )
        for r in rows
    ]
