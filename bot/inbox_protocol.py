"""The agent inbox's frames (WebSocket `/inbox/ws`) and the views its REST endpoints return.

docs/protocol.md describes them for client authors, next to the widget's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.protocol import Button, Image, LinkCard, ProtocolError


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- inbox -> server ---------------------------------------------------------------------


class InboxHello(_Frame):
    type: Literal["hello"]
    token: str = Field(max_length=256)


class Take(_Frame):
    type: Literal["take"]
    session_id: str = Field(max_length=64)


class AgentSays(_Frame):
    type: Literal["reply"]
    session_id: str = Field(max_length=64)
    text: str = Field(min_length=1, max_length=4000)
    buttons: tuple[Button, ...] = Field(default=(), max_length=8)
    id: str | None = Field(default=None, max_length=64)


class AgentTypingIn(_Frame):
    type: Literal["typing"]
    session_id: str = Field(max_length=64)


class Transfer(_Frame):
    type: Literal["transfer"]
    session_id: str = Field(max_length=64)
    agent_id: int


class CloseSession(_Frame):
    type: Literal["close"]
    session_id: str = Field(max_length=64)


class InboxPing(_Frame):
    type: Literal["ping"]


InboxClientFrame = InboxHello | Take | AgentSays | AgentTypingIn | Transfer | CloseSession | InboxPing
_inbox_frame: TypeAdapter[InboxClientFrame] = TypeAdapter(Annotated[InboxClientFrame, Field(discriminator="type")])


def parse_inbox_frame(raw: str) -> InboxClientFrame:
    try:
        return _inbox_frame.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "frame"
        raise ProtocolError("bad_frame", f"{where}: {first['msg']}") from None


# -- views -------------------------------------------------------------------------------


class MessageView(BaseModel):
    """One line of a conversation as the inbox shows it."""

    id: int
    session_id: str
    direction: str
    text: str
    intent: str | None = None
    confidence: float | None = None
    fallback: bool = False
    agent: str | None = None
    """The person's name on an `agent` line."""
    buttons: list[Button] = Field(default_factory=list)
    image: Image | None = None
    """A bot reply's picture (`alt` says what it shows), as the widget showed it."""
    link: LinkCard | None = None
    """A bot reply's link card."""
    time: str


class QueueItemView(BaseModel):
    session_id: str
    reason: str | None
    since: str
    last_messages: list[MessageView]


class SessionView(BaseModel):
    """A conversation an agent may take or holds: its whole history, slots and what the bot understood."""

    session_id: str
    mode: str
    agent: str | None
    reason: str | None
    slots: dict[str, Any]
    intents: list[tuple[str, int]]
    """Intents the bot saw in the user's messages, with how often, most frequent first."""
    messages: list[MessageView]


class AgentView(BaseModel):
    id: int
    username: str
    role: str
    online: bool


class TicketView(BaseModel):
    id: int
    session_id: str
    email: str
    text: str
    reason: str | None
    created_at: datetime
    closed_at: datetime | None


# -- server -> inbox ---------------------------------------------------------------------


class Welcome(_Frame):
    type: Literal["welcome"] = "welcome"
    agent: str
    user_id: int
    role: str


class QueueNow(_Frame):
    type: Literal["queue"] = "queue"
    items: list[QueueItemView]


class TicketsChanged(_Frame):
    type: Literal["tickets"] = "tickets"


class InboxMessage(_Frame):
    type: Literal["message"] = "message"
    session_id: str
    message: MessageView


class UserIsTyping(_Frame):
    type: Literal["typing"] = "typing"
    session_id: str


class Taken(_Frame):
    """The session is now held by this agent (taken here, or transferred to them)."""

    type: Literal["taken"] = "taken"
    session_id: str


class Released(_Frame):
    """The session left this agent: closed, or transferred to someone else."""

    type: Literal["released"] = "released"
    session_id: str
    mode: str
    agent: str | None = None


class Ack(_Frame):
    type: Literal["ack"] = "ack"
    reply_to: str | None = None
    message_id: int | None = None


class InboxError(_Frame):
    type: Literal["error"] = "error"
    code: str
    detail: str
    reply_to: str | None = None


class InboxPong(_Frame):
    type: Literal["pong"] = "pong"


InboxServerFrame = (
    Welcome | QueueNow | TicketsChanged | InboxMessage | UserIsTyping | Taken | Released | Ack | InboxError | InboxPong
)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
