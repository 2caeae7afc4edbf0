"""The WebSocket endpoint `/ws`: frames in, frames out; the conversation lives in the service.

Every bad frame is answered with an `error` frame and the connection stays open, until a
client sends `max_bad_frames` bad frames in a row (then 1008, policy violation).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.exc import SQLAlchemyError
from starlette import status

from bot.auth import AuthError, resolve_token, revoke_token
from bot.deps import Services, services_of
from bot.protocol import (
    Error,
    Feedback,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    Reply,
    SessionInfo,
    Typing,
    UserMessage,
    dump,
    parse_frame,
)
from bot.service import Conversation, Principal
from bot.store import DatabaseUnavailable, DuplicateMessage, StaleSession

log = logging.getLogger(__name__)
router = APIRouter()
COMMANDS = ("/whoami", "/reset", "/logout")


class TokenBucket:
    """Per-connection rate limit: `rate` frames a second with bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Same-origin by default, against cross-site WebSocket hijacking; non-browsers send none."""
    origin = websocket.headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host


class Connection:
    """One client's WebSocket: its conversation, limits and the frames it sent."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        self.settings = services.settings
        self.conv: Conversation | None = None
        self.token_hash: str | None = None
        self.bad_frames = 0
        self.bucket = TokenBucket(self.settings.rate_per_second, self.settings.rate_burst)

    async def send(self, frame: object) -> None:
        await self.ws.send_text(dump(frame))  # type: ignore[arg-type]

    async def error(self, code: str, detail: str, reply_to: str | None = None) -> None:
        self.services.metrics.errors.labels(code=code).inc()
        await self.send(Error(code=code, detail=detail, reply_to=reply_to))

    async def serve(self) -> None:
        while True:
            event = await self.ws.receive()
            if event["type"] == "websocket.disconnect":
                return
            raw = event.get("text")
            try:
                if raw is None:
                    raise ProtocolError("binary_frame", "binary frames are not supported; send JSON text frames")
                if len(raw) > self.settings.max_frame_bytes:
                    raise ProtocolError(
                        "frame_too_large", f"frames may have at most {self.settings.max_frame_bytes} bytes"
                    )
                frame = parse_frame(raw, max_chars=self.settings.max_message_chars)
            except ProtocolError as exc:
                self.bad_frames += 1
                log.info("bad frame (%s) on session %s", exc.code, self.conv.session_id if self.conv else "-")
                await self.error(exc.code, exc.detail, exc.reply_to)
                if self.bad_frames >= self.settings.max_bad_frames:
                    await self.ws.close(status.WS_1008_POLICY_VIOLATION, "too many bad frames")
                    return
                continue
            self.bad_frames = 0
            if not self.bucket.take():
                await self.error("rate_limited", "too many messages; slow down", getattr(frame, "id", None))
                continue
            try:
                await self.dispatch(frame)
            except ProtocolError as exc:
                await self.error(exc.code, exc.detail, exc.reply_to)
            except AuthError as exc:
                await self.error(exc.code, str(exc))
            except StaleSession as exc:
                await self.error("conflict", f"{exc}: send the message again", getattr(frame, "id", None))
            except (DatabaseUnavailable, SQLAlchemyError) as exc:
                detail = (
                    str(exc)
                    if isinstance(exc, DatabaseUnavailable)
                    else "the database is unavailable; try again shortly"
                )
                await self.error("unavailable", detail, getattr(frame, "id", None))
            except Exception:  # a bug must cost one message, not the connection
                log.exception(
                    "failed on a %s frame in session %s", frame.type, self.conv.session_id if self.conv else "-"
                )
                await self.error(
                    "internal",
                    "the bot failed on this message; nothing was stored, try again",
                    getattr(frame, "id", None),
                )

    async def dispatch(self, frame: Hello | UserMessage | Feedback | Ping) -> None:
        if isinstance(frame, Ping):
            await self.send(Pong())
        elif isinstance(frame, Hello):
            await self.hello(frame)
        elif isinstance(frame, UserMessage):
            await self.message(frame)
        elif isinstance(frame, Feedback):
            await self.feedback(frame)

    async def hello(self, frame: Hello) -> None:
        principal = Principal()
        if frame.token:
            identity = await asyncio.to_thread(resolve_token, self.services.engine, frame.token)
            user = identity.user
            principal = Principal(user.id, user.username, user.role, dict(user.slots or {}))
            self.token_hash = identity.token_hash
        elif not self.settings.allow_guests:
            raise AuthError("this bot needs an account: log in and send the token in the hello frame")
        self.conv = await self.services.chat.open(principal, frame.session_id)
        await self.send_session()

    async def send_session(self) -> None:
        assert self.conv is not None
        conv = self.conv
        await self.send(
            SessionInfo(
                session_id=conv.session_id,
                resumed=conv.resumed,
                user=conv.principal.username,
                slots=dict(conv.state.slots),
            )
        )

    async def message(self, frame: UserMessage) -> None:
        if self.conv is None:
            await self.hello(Hello(type="hello"))
        assert self.conv is not None
        # A resent id is answered by the service from what it stored: no typing, no rerun.
        fresh = frame.id is None or frame.id not in self.conv.answered
        command = frame.text.strip().lower()
        if fresh and command in COMMANDS:
            await self.command(command, frame)
            return
        try:
            answer = self.services.chat.handle(self.conv, frame.text, frame.id)
            replies = await (self.typing_while(answer, frame.id) if fresh else answer)
        except DuplicateMessage:
            await self.error("duplicate", "this message id was already answered in another connection", frame.id)
            return
        for reply in replies:
            await self.send(reply)

    async def typing_while(self, answer: Awaitable[list[Reply]], reply_to: str | None) -> list[Reply]:
        """Await the replies, sending `typing` if they take longer than `typing_after_ms`.

        Most replies take a few milliseconds, where a typing frame is one more write per
        message (a tenth of the server's CPU at full load) for an indicator nobody sees.
        """
        delay = self.settings.typing_after_ms / 1000
        if delay == 0:
            await self.send(Typing(reply_to=reply_to))
            return await answer
        typing: asyncio.Task[None] | None = None

        def start_typing() -> None:
            nonlocal typing
            typing = asyncio.ensure_future(self.send(Typing(reply_to=reply_to)))

        timer = asyncio.get_running_loop().call_later(delay, start_typing)
        try:
            return await answer
        finally:
            timer.cancel()
            if typing is not None:  # so that it goes out before the replies
                with contextlib.suppress(Exception):
                    await typing

    async def command(self, command: str, frame: UserMessage) -> None:
        assert self.conv is not None
        principal = self.conv.principal
        if command == "/whoami":
            who = (
                f"You are logged in as {principal.username} ({principal.role})."
                if principal.username
                else "You are chatting as a guest."
            )
            await self.notice(f"{who} Session {self.conv.session_id}.", frame)
        elif command == "/reset":
            await self.services.chat.reset(self.conv)
            await self.notice("Starting over: I've forgotten this conversation's details.", frame)
        elif command == "/logout":
            if self.token_hash is None:
                await self.notice("You are not logged in.", frame)
                return
            await asyncio.to_thread(revoke_token, self.services.engine, self.token_hash)
            self.token_hash = None
            self.conv = await self.services.chat.open(Principal())
            await self.notice("You are logged out; this is a new guest session.", frame)
            await self.send_session()

    async def notice(self, text: str, frame: UserMessage) -> None:
        """Answer a chat command; commands are not classified, so no intent.

        The answer is remembered under the client id, so a resend does not run it twice.
        """
        reply = Reply(text=text, intent=None, confidence=None, reply_to=frame.id)
        if frame.id is not None and self.conv is not None:
            self.conv.remember(frame.id, [reply])
        await self.send(reply)

    async def feedback(self, frame: Feedback) -> None:
        if self.conv is None:
            raise ProtocolError("no_session", "send hello or a message first")
        stored = await self.services.store.set_feedback([self.conv.session_id], frame.message_id, frame.value)
        if not stored:
            await self.error("not_found", f"no bot reply {frame.message_id} in this session")


@router.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    services = services_of(websocket)
    if not origin_allowed(websocket, services.settings.allowed_origins):
        log.warning("refused WebSocket from origin %s", websocket.headers.get("origin"))
        await websocket.close(status.WS_1008_POLICY_VIOLATION)
        return
    client = websocket.client.host if websocket.client else "?"
    if not services.connections.acquire(client):
        # Opened first so that the client sees 1013 and retries later; closing before
        # accept would be an HTTP 403, which clients take as final.
        await websocket.accept()
        await websocket.close(status.WS_1013_TRY_AGAIN_LATER)
        return
    services.metrics.connections.inc()
    try:
        await websocket.accept()
        await Connection(websocket, services).serve()
    except WebSocketDisconnect:
        pass
    finally:
        services.metrics.connections.dec()
        services.connections.release(client)
