"""The agent inbox's HTTP side: the page, the queue, a conversation's history, agents, tickets.

Every endpoint needs a token of a user with the `agent` or `admin` role. An agent sees the
conversations waiting for a person and the ones they hold; an admin sees any.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import FileResponse

from bot.api import IdentityDep
from bot.auth import Identity
from bot.deps import ServicesDep
from bot.handoff import Handoff
from bot.handoff_store import AGENT_ROLES, QueueItem, presence_cutoff
from bot.inbox_protocol import AgentView, MessageView, QueueItemView, SessionView, TicketView, iso
from bot.protocol import Button, from_rich
from bot.tables import Message

router = APIRouter()
WEBUI = Path(__file__).resolve().parent.parent / "webui"


async def agent_identity(identity: IdentityDep) -> Identity:
    if identity.user.role not in AGENT_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the inbox needs the agent or admin role")
    return identity


AgentDep = Annotated[Identity, Depends(agent_identity)]


async def message_view(handoff: Handoff, m: Message) -> MessageView:
    agent = await handoff.name(m.user_id) if m.direction == "agent" and m.user_id is not None else None
    image, link = from_rich(m.rich)
    return MessageView(
        id=m.id or 0,
        session_id=m.session_id,
        direction=m.direction,
        text=m.text,
        intent=m.intent,
        confidence=m.confidence,
        fallback=m.fallback,
        agent=agent,
        buttons=[Button(title=t, payload=p) for t, p in m.buttons],
        image=image,
        link=link,
        time=iso(m.created_at),
    )


async def queue_view(handoff: Handoff) -> list[QueueItemView]:
    items: list[QueueItem] = await asyncio.to_thread(handoff.db.queue)
    return [
        QueueItemView(
            session_id=item.session_id,
            reason=item.reason,
            since=iso(item.since),
            last_messages=[await message_view(handoff, m) for m in item.last_messages],
        )
        for item in items
    ]


async def session_view(handoff: Handoff, session_id: str, user_id: int, role: str) -> SessionView:
    """The conversation, if this agent may see it: waiting, held by them, or any for an admin."""
    row = await asyncio.to_thread(handoff.store.get_session, session_id)
    visible = row is not None and (
        role == "admin" or row.mode == "waiting" or (row.mode == "agent" and row.agent_id == user_id)
    )
    if row is None or not visible:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such conversation waiting or held by you")
    messages, _ = await asyncio.to_thread(handoff.store.history, session_id, limit=1000)
    seen = Counter(m.intent for m in messages if m.direction == "in" and m.intent and not m.fallback)
    return SessionView(
        session_id=row.id,
        mode=row.mode,
        agent=await handoff.name(row.agent_id) if row.agent_id else None,
        reason=row.handoff_reason,
        slots=row.slots or {},
        intents=seen.most_common(),
        messages=[await message_view(handoff, m) for m in messages],
    )


@router.get("/inbox", include_in_schema=False)
async def inbox_page() -> FileResponse:
    return FileResponse(WEBUI / "inbox.html", media_type="text/html")


@router.get("/inbox.js", include_in_schema=False)
async def inbox_js() -> FileResponse:
    return FileResponse(WEBUI / "inbox.js", media_type="text/javascript")


@router.get("/inbox.css", include_in_schema=False)
async def inbox_css() -> FileResponse:
    return FileResponse(WEBUI / "inbox.css", media_type="text/css")


@router.get("/api/inbox/queue", tags=["inbox"])
async def queue(_: AgentDep, services: ServicesDep) -> list[QueueItemView]:
    """Conversations waiting for a person, longest first, with their last messages."""
    return await queue_view(services.chat.handoff)


@router.get("/api/inbox/mine", tags=["inbox"])
async def mine(identity: AgentDep, services: ServicesDep) -> list[str]:
    """The ids of the conversations this agent holds."""
    rows = await asyncio.to_thread(services.chat.handoff.db.held_by, identity.user.id or 0)
    return [r.id for r in rows]


@router.get("/api/inbox/sessions/{session_id}", tags=["inbox"])
async def conversation(session_id: str, identity: AgentDep, services: ServicesDep) -> SessionView:
    return await session_view(services.chat.handoff, session_id, identity.user.id or 0, identity.user.role)


@router.get("/api/inbox/agents", tags=["inbox"])
async def agents(_: AgentDep, services: ServicesDep) -> list[AgentView]:
    """Who a conversation can be transferred to, and who has the inbox open."""
    handoff = services.chat.handoff
    cutoff = presence_cutoff(handoff.clock(), services.settings.agent_presence_seconds)
    rows = await asyncio.to_thread(handoff.db.agents, cutoff)
    return [AgentView(id=u.id or 0, username=u.username, role=u.role, online=online) for u, online in rows]


@router.get("/api/inbox/tickets", tags=["inbox"])
async def tickets(_: AgentDep, services: ServicesDep, all: bool = False) -> list[TicketView]:
    """Messages left while nobody was online, newest first; open ones unless `all`."""
    rows = await asyncio.to_thread(services.chat.handoff.db.tickets, open_only=not all)
    return [TicketView.model_validate(t, from_attributes=True) for t in rows]


@router.post("/api/inbox/tickets/{ticket_id}/close", status_code=status.HTTP_204_NO_CONTENT, tags=["inbox"])
async def close_ticket(ticket_id: int, _: AgentDep, services: ServicesDep) -> None:
    handoff = services.chat.handoff
    if not await handoff.db.close_ticket(ticket_id, handoff.clock()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such open ticket")
