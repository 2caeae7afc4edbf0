"""The WebSocket endpoint `/ws`: frames in, frames out; what they mean is the service's.

Every bad frame is answered with an `error` frame and the connection stays open, until a
client sends `max_bad_frames` bad frames in a row (then 1008, policy violation). A connection
whose token is revoked meanwhile is told `token_revoked` and closed with 4401 (bot/revocation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.exc import SQLAlchemyError
from starlette import status
from starlette.websockets import WebSocketDisconnected

from bot.conversation import Conversation
from bot.deps import Services, services_of
from bot.errors import ClientError
from bot.events import Event, Subscription, session_channel, user_channel
from bot.limits import TokenBucket
from bot.protocol import (
    ClientFrame,
    Error,
    Hello,
    Ping,
    Pong,
    ProtocolError,
    ServerFrame,
    Typing,
    UserMessage,
    UserTyping,
    dump,
    parse_frame,
)
from bot.revocation import CLOSE_CODE, SignedOut

log = logging.getLogger(__name__)
router = APIRouter()
_T = TypeVar("_T")


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Same-origin by default, against cross-site WebSocket hijacking; non-browsers send none."""
    origin = websocket.headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host


class Connection:
    """One client's WebSocket: its conversation, its rate limit and the frames it sent."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        self.settings = services.settings
        self.chat = services.chat
        self.conv: Conversation | None = None
        self.bad_frames = 0
        self.bucket = TokenBucket(self.settings.rate_per_second, self.settings.rate_burst)
        self.events: Subscription | None = None
        """The session's channel (agents joining, leaving, typing and their messages) and the user's
        (tokens revoked)."""
        self.busy = asyncio.Lock()
        """Held while a frame is handled: a revocation waits for the frame in hand, then ends the connection."""
        self.ended = False
        self.followed: tuple[str, int | None] | None = None
        """The session and user whose channels `events` has."""

    async def send(self, *frames: ServerFrame) -> None:
        conv = self.conv
        for frame in frames:
            await self.ws.send_text(dump(frame) if conv is None else conv.wire(frame))

    async def error(self, code: str, detail: str, reply_to: str | None = None) -> None:
        self.services.metrics.errors.labels(code=code).inc()
        await self.send(Error(code=code, detail=detail, reply_to=reply_to))

    async def follow(self) -> None:
        """Listen on the current session's channel and the user's (a command may have changed either).

        The token was read before its user's channel was listened to: a revocation announced in
        between was missed, so the token is read once more after (raises `SignedOut`)."""
        if self.events is None:
            self.events = self.services.bus.subscribe(self.on_event)
        if self.conv is None or self.followed == (self.conv.session_id, self.conv.principal.user_id):
            return  # the common case, once a message: nothing changed
        self.followed = (self.conv.session_id, self.conv.principal.user_id)
        wanted = {session_channel(self.conv.session_id)}
        if self.conv.principal.user_id is not None:
            wanted.add(user_channel(self.conv.principal.user_id))
        for old in self.events.channels - wanted:
            self.events.remove(old)
        added = wanted - self.events.channels
        for channel in added:
            self.events.add(channel)
        if self.conv.principal.user_id is not None and user_channel(self.conv.principal.user_id) in added:
            await self.chat.check_signed_in(self.conv)

    async def on_event(self, event: Event) -> None:
        if event.kind == "revoked":
            async with self.busy:  # decided on the principal as it is once the frame in hand is answered
                if not self.ended and (refusal := await self.chat.signed_out(self.conv, event)) is not None:
                    await self.sign_out(refusal)
        elif self.conv is not None and event.session_id == self.conv.session_id:
            await self.send(*await self.chat.handoff.for_user(self.conv, event))

    async def sign_out(self, refusal: SignedOut, reply_to: str | None = None) -> None:
        """Tell the client why, then close: nothing more is read from this connection."""
        if self.ended:
            return
        self.ended = True
        log.info("signed out on session %s: %s", self.session_id, refusal.detail)
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.error(refusal.code, refusal.detail, reply_to)
            await self.ws.close(CLOSE_CODE, refusal.code)

    def unfollow(self) -> None:
        if self.events is not None:
            self.events.close()

    async def serve(self) -> None:
        try:
            await self._serve()
        finally:
            self.unfollow()

    async def _serve(self) -> None:
        while True:
            event = await self.ws.receive()
            if event["type"] == "websocket.disconnect" or self.ended:
                return
            try:
                frame = self.parse(event.get("text"))
            except ProtocolError as exc:
                self.bad_frames += 1
                log.info("bad frame (%s) on session %s", exc.code, self.session_id)
                await self.error(exc.code, exc.detail, exc.reply_to)
                if self.bad_frames >= self.settings.max_bad_frames:
                    await self.ws.close(status.WS_1008_POLICY_VIOLATION, "too many bad frames")
                    return
                continue
            self.bad_frames = 0
            reply_to = getattr(frame, "id", None)
            if not self.bucket.take():
                await self.error("rate_limited", "too many messages; slow down", reply_to)
                continue
            try:
                async with self.busy:
                    if self.ended:
                        return
                    await self.dispatch(frame)
            except SignedOut as exc:
                await self.sign_out(exc, reply_to)
                return
            except ClientError as exc:
                await self.error(exc.code, exc.detail, exc.reply_to or reply_to)
            except SQLAlchemyError:
                await self.error("unavailable", "the database is unavailable; try again shortly", reply_to)
            except (WebSocketDisconnect, WebSocketDisconnected):  # gone before its replies: logged, a resend gets them
                log.info("client left before its replies on session %s", self.session_id)
                return
            except Exception:  # a bug must cost one message, not the connection
                log.exception("failed on a %s frame in session %s", frame.type, self.session_id)
                await self.error("internal", "the bot failed on this message; nothing was stored, try again", reply_to)

    def parse(self, raw: str | None) -> ClientFrame:
        if raw is None:
            raise ProtocolError("binary_frame", "binary frames are not supported; send JSON text frames")
        if len(raw) > self.settings.max_frame_bytes:
            raise ProtocolError("frame_too_large", f"frames may have at most {self.settings.max_frame_bytes} bytes")
        return parse_frame(raw, max_chars=self.settings.max_message_chars)

    @property
    def session_id(self) -> str:
        return self.conv.session_id if self.conv else "-"

    async def dispatch(self, frame: ClientFrame) -> None:
        if isinstance(frame, Ping):
            await self.send(Pong())
        elif isinstance(frame, Hello):
            self.conv, frames = await self.chat.hello(frame)
            await self.follow()
            await self.send(*frames)
        elif isinstance(frame, UserMessage):
            if self.conv is None:  # a first message opens a guest session
                self.conv, frames = await self.chat.hello(Hello(type="hello"), welcome=False)
                await self.follow()
                await self.send(*frames)
            answer = self.chat.message(self.conv, frame)
            # A resent id is answered from what was stored: no typing indicator, no new work.
            fresh = not self.conv.has_answered(frame.id) and self.conv.mode == "bot"
            self.conv, frames = await (self.typing_while(answer, frame.id) if fresh else answer)
            await self.follow()
            await self.send(*frames)
        elif isinstance(frame, UserTyping):
            if self.conv is not None:
                await self.chat.handoff.user_typing(self.conv)
        else:
            await self.send(*await self.chat.feedback(self.conv, frame))

    async def typing_while(self, answer: Awaitable[_T], reply_to: str | None) -> _T:
        """Await the answer, sending `typing` if it takes longer than `typing_after_ms`.

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
