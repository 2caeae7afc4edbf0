"""Signing out what is already open: revoked tokens and erased accounts end their connections.

A connection checks its token at `hello` (and once more when it starts listening on its
user's channel); after that it holds a `Principal`. A token revoked or deleted (a logout, a
password change, an erasure) sends a `revoked` event on the user's channel: on PostgreSQL the
database sends it to every instance from a trigger in the revoking transaction (migration
0007), so it leaves exactly when the change commits; on SQLite `announce` publishes it
in-process after the commit. Each connection of that user then reads its own token again (the
event says whose, the database says which) and, if the token no longer stands, is told
`token_revoked` and closed with `CLOSE_CODE`.

A turn that meets its session gone before the event arrives checks the same way, so a message
racing an erasure stores nothing of the erased account.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from bot.auth import AuthError, TokenInvalid, resolve_token_hash
from bot.conversation import Principal
from bot.errors import ClientError
from bot.events import Event, LocalBus, user_channel

log = logging.getLogger(__name__)

CLOSE_CODE = 4401
"""The WebSocket close code after `token_revoked`: signed out by the server; log in again (docs/protocol.md)."""


class SignedOut(ClientError):
    """The connection's token was revoked, or its account erased, while it was open."""

    code = "token_revoked"


async def announce(bus: LocalBus, user_id: int | None) -> None:
    """Tell this instance's connections that tokens of this user were revoked (or the user erased).

    Called after the change is committed; on PostgreSQL the database has announced it already.
    An event that cannot be sent is logged: the change stands, and a connection of an erased
    account still signs out at its next message.
    """
    if user_id is None or bus.database_announces_revocations:
        return
    try:
        await bus.publish(user_channel(user_id), Event("revoked", user_id=user_id))
    except Exception as exc:  # the database is down: the revocation itself is already stored
        log.warning("could not announce revoked tokens of user %s (%s)", user_id, exc.__class__.__name__)


async def check(engine: Engine, principal: Principal) -> None:
    """Raise `SignedOut` unless the principal's token still stands (guests always do)."""
    if principal.token_hash is None:
        return
    try:
        await asyncio.to_thread(resolve_token_hash, engine, principal.token_hash)
    except TokenInvalid:  # its row is gone: the account was erased
        raise SignedOut("you were signed out: the account was deleted") from None
    except AuthError as exc:
        raise SignedOut(f"you were signed out: {exc.detail}") from None


async def signed_out(engine: Engine, principal: Principal | None, event: Event) -> SignedOut | None:
    """Why a connection of `principal` must end on this `revoked` event; None when it stays."""
    if event.kind != "revoked" or principal is None or principal.user_id != event.user_id:
        return None
    try:
        await check(engine, principal)
    except SignedOut as exc:
        return exc
    return None
