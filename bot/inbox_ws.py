"""The agent inbox's WebSocket `/inbox/ws`: take, reply, type, transfer, close; the queue live.

The first frame is `hello` with a token of an `agent` or `admin` user. The connection then
listens on the queue, on the agent's own channel (conversations transferred to them) and on
each conversation they hold, on whichever instance the users are; and on the user's channel:
when the token is revoked or the account erased, it is told `token_revoked` and closed with
4401, as a chat connection is (bot/revocation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.exc import SQLAlchemyError
from starlette import status

from bot import revocation
from bot.auth import AuthError, resolve_token
from bot.conversation import Principal
from bot.deps import Services, services_of
from bot.errors import ClientError
from bot.events import QUEUE, Event, Subscription, agent_channel, session_channel, user_channel
from bot.handoff_store import AGENT_ROLES
from bot.inbox_api import message_view, queue_view
from bot.inbox_protocol import (
    Ack,
    AgentSays,
    AgentTypingIn,
    CloseSession,
    InboxError,
    InboxHello,
    InboxMessage,
    InboxPing,
    InboxPong,
    InboxServerFrame,
    QueueNow,
    Released,
    Take,
    Taken,
    TicketsChanged,
    Transfer,
    UserIsTyping,
    Welcome,
    parse_inbox_frame,
)
from bot.ws import origin_allowed

log = logging.getLogger(__name__)
router = APIRouter()
QUEUE_COALESCE_SECONDS = 0.05
"""Queue changes within this long reach an inbox as one `queue` frame."""
REPLIES_IN_FLIGHT = 64
"""Replies of one inbox queued for the log and not yet acknowledged; the next frame waits."""


class InboxConnection:
    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        self.handoff = services.chat.handoff
        self.agent = Principal()
        self.events: Subscription | None = None
        self.heartbeat: asyncio.Task[None] | None = None
        self.refresh: asyncio.Task[None] | None = None
        """A queue frame about to go out: a burst of queue changes sends one."""
        self.replies: set[asyncio.Task[None]] = set()
        """Replies queued for the log, to acknowledge once stored."""
        self.ended = False
        """Signed out by the server (its token revoked): nothing more is read."""

    async def send(self, *frames: InboxServerFrame) -> None:
        for frame in frames:
            await self.ws.send_text(frame.model_dump_json())

    async def serve(self) -> None:
        try:
            while True:
                event = await self.ws.receive()
                if event["type"] == "websocket.disconnect" or self.ended:
                    return
                reply_to: str | None = None
                try:
                    frame = parse_inbox_frame(event.get("text") or "")
                    reply_to = getattr(frame, "id", None)
                    if self.agent.user_id is None and not isinstance(frame, InboxHello | InboxPing):
                        raise AuthError("send hello with an agent's token first")
                    await self.dispatch(frame)
                except (ClientError, SQLAlchemyError) as exc:
                    await self.refuse(exc, reply_to)
                    if isinstance(exc, AuthError):
                        await self.ws.close(status.WS_1008_POLICY_VIOLATION)
                        return
        finally:
            await self.leave()

    async def refuse(self, exc: ClientError | SQLAlchemyError, reply_to: str | None) -> None:
        """The error frame for a frame that failed; the connection stays."""
        if isinstance(exc, ClientError):
            await self.send(InboxError(code=exc.code, detail=exc.detail, reply_to=reply_to))
        else:
            detail = "the database is unavailable; try again shortly"
            await self.send(InboxError(code="unavailable", detail=detail, reply_to=reply_to))

    async def dispatch(self, frame: object) -> None:
        handoff = self.handoff
        if isinstance(frame, InboxPing):
            await self.send(InboxPong())
        elif isinstance(frame, InboxHello):
            await self.hello(frame.token)
        elif isinstance(frame, Take):
            await handoff.take(self.agent, frame.session_id)
            self.hold(frame.session_id)
            await self.send(Taken(session_id=frame.session_id))
        elif isinstance(frame, AgentSays):
            await self.reply(frame)
        elif isinstance(frame, AgentTypingIn):
            await handoff.agent_typing(self.agent, frame.session_id)
        elif isinstance(frame, Transfer):
            await handoff.transfer(self.agent, frame.session_id, frame.agent_id)
        elif isinstance(frame, CloseSession):
            await handoff.close(self.agent, frame.session_id)

    async def reply(self, frame: AgentSays) -> None:
        """Queue the reply and read the next frame: it is acknowledged (or refused) once stored.

        An agent answering many conversations is not held up by each write; replies are
        stored in the order they came, and at most `REPLIES_IN_FLIGHT` wait at a time.
        """
        while len(self.replies) >= REPLIES_IN_FLIGHT:
            await asyncio.wait(self.replies, return_when=asyncio.FIRST_COMPLETED)
        buttons = [(b.title, b.payload) for b in frame.buttons]
        stored = self.handoff.reply(self.agent, frame.session_id, frame.text, buttons, frame.id)
        task = asyncio.create_task(self.acknowledge(stored, frame.id))
        self.replies.add(task)
        task.add_done_callback(self.replies.discard)

    async def acknowledge(self, stored: Awaitable[int], reply_to: str | None) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):  # the agent may have gone meanwhile
            try:
                await self.send(Ack(reply_to=reply_to, message_id=await stored))
            except (ClientError, SQLAlchemyError) as exc:
                await self.refuse(exc, reply_to)

    async def hello(self, token: str) -> None:
        identity = await asyncio.to_thread(resolve_token, self.services.engine, token)
        user = identity.user
        if user.role not in AGENT_ROLES or user.id is None:
            raise AuthError("the inbox needs the agent or admin role")
        self.agent = Principal(user.id, user.username, user.role, {}, identity.token_hash)
        held = await asyncio.to_thread(self.handoff.db.held_by, user.id)
        if self.events is None:
            channels = (QUEUE, agent_channel(user.id), user_channel(user.id))
            self.events = self.services.bus.subscribe(self.on_event, *channels)
        for row in held:
            self.hold(row.id)
        await self.handoff.db.seen(user.id, self.handoff.clock())
        if self.heartbeat is None:
            self.heartbeat = asyncio.create_task(self.beat(user.id))
        await self.send(
            Welcome(agent=user.username, user_id=user.id, role=user.role),
            QueueNow(items=await queue_view(self.handoff)),
        )

    def hold(self, session_id: str) -> None:
        if self.events is not None:
            self.events.add(session_channel(session_id))

    async def beat(self, user_id: int) -> None:
        """Keep the agent online (for `agents_online`) while the inbox is open."""
        while True:
            await asyncio.sleep(self.services.settings.agent_presence_seconds / 3)
            with contextlib.suppress(ClientError):
                await self.handoff.db.seen(user_id, self.handoff.clock())

    async def leave(self) -> None:
        if self.refresh is not None:
            self.refresh.cancel()
        if self.events is not None:
            self.events.close()
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            if self.agent.user_id is not None:
                with contextlib.suppress(ClientError):
                    await self.handoff.db.gone(self.agent.user_id)

    async def on_event(self, event: Event) -> None:
        """Queue changes, the held conversations' messages and typing, takes and releases."""
        handoff = self.handoff
        if event.kind == "revoked":
            refusal = await revocation.signed_out(self.services.engine, self.agent, event)
            if refusal is not None:
                await self.sign_out(refusal)
        elif event.kind == "queue":
            if self.refresh is None or self.refresh.done():
                self.refresh = asyncio.create_task(self.send_queue())
        elif event.kind == "ticket":
            await self.send(TicketsChanged())
        elif event.kind == "typing" and event.user_id is None and event.session_id:
            await self.send(UserIsTyping(session_id=event.session_id))
        elif event.kind == "message" and event.message_id is not None and event.session_id:
            if event.user_id is not None and event.user_id == self.agent.user_id:
                return  # this agent's own message: acknowledged already
            message = await handoff.db.message(event.message_id, event.message)
            if message is not None:
                view = await message_view(handoff, message)
                await self.send(InboxMessage(session_id=event.session_id, message=view))
        elif event.kind == "mode" and event.session_id:
            await self.mode_changed(event.session_id)

    async def sign_out(self, refusal: revocation.SignedOut) -> None:
        """Tell the inbox why, then close (`revocation.CLOSE_CODE`): its token no longer stands."""
        if self.ended:
            return
        self.ended = True
        log.info("inbox of user %s signed out: %s", self.agent.user_id, refusal.detail)
        with contextlib.suppress(Exception):  # the inbox may be gone already
            await self.send(InboxError(code=refusal.code, detail=refusal.detail))
            await self.ws.close(revocation.CLOSE_CODE, refusal.code)

    async def send_queue(self) -> None:
        await asyncio.sleep(QUEUE_COALESCE_SECONDS)
        with contextlib.suppress(Exception):  # the socket may have closed meanwhile
            await self.send(QueueNow(items=await queue_view(self.handoff)))

    async def mode_changed(self, session_id: str) -> None:
        row = await asyncio.to_thread(self.handoff.store.get_session, session_id)
        if row is None or self.events is None:
            return
        channel = session_channel(session_id)
        if row.mode == "agent" and row.agent_id == self.agent.user_id:
            if channel not in self.events.channels:
                self.events.add(channel)
                await self.send(Taken(session_id=session_id))
        elif channel in self.events.channels:
            self.events.remove(channel)
            agent = await self.handoff.name(row.agent_id) if row.agent_id else None
            await self.send(Released(session_id=session_id, mode=row.mode, agent=agent))


@router.websocket("/inbox/ws")
async def inbox(websocket: WebSocket) -> None:
    services = services_of(websocket)
    if not origin_allowed(websocket, services.settings.allowed_origins):
        await websocket.close(status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    with contextlib.suppress(WebSocketDisconnect):
        await InboxConnection(websocket, services).serve()
