"""The WebSocket wire protocol: every frame in and out, typed by its `type` field.

docs/protocol.md describes the same frames for client authors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from bot.errors import ClientError
from bot.rows import ImagePart, LinkPart, Rich

LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,5})?")


class ProtocolError(ClientError):
    """A frame the server cannot act on; becomes an `error` frame, the connection stays."""

    def __init__(self, code: str, detail: str, reply_to: str | None = None) -> None:
        super().__init__(detail, reply_to)
        self.code = code


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- client -> server --------------------------------------------------------------------


class Hello(_Frame):
    """Opens or resumes a session; optional: a first `message` opens a guest session."""

    type: Literal["hello"]
    session_id: str | None = Field(default=None, max_length=64)
    token: str | None = Field(default=None, max_length=256)
    lang: str | None = Field(default=None, max_length=8)
    """The client's language tag ("ru", "en-GB"): the session's, if the bot speaks it."""

    @field_validator("lang")
    @classmethod
    def _language_tag(cls, value: str | None) -> str | None:
        if value is not None and not LANGUAGE_TAG.fullmatch(value):
            raise ValueError(f"{value!r} is no language tag; send one such as en or ru-RU, or none")
        return value

    timezone: str | None = Field(default=None, max_length=64)
    """The client's IANA time zone ("Europe/Paris"): what "tomorrow at 9" means to the user."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; send an IANA name such as Europe/Paris") from None
        return value

    user_token: str | None = Field(default=None, max_length=4096)
    """A host site's signed token for its logged-in user (docs/privacy.md); exchanged once for `token`."""


class UserMessage(_Frame):
    type: Literal["message"]
    text: str
    id: str | None = Field(default=None, max_length=64)
    """The client's id for the message: a resend with the same id is answered once."""


class Feedback(_Frame):
    type: Literal["feedback"]
    message_id: int
    value: Literal[-1, 0, 1]


class Ping(_Frame):
    type: Literal["ping"]


class UserTyping(_Frame):
    """The user is typing: shown to the agent holding the session (ignored while the bot answers)."""

    type: Literal["typing"]


ClientFrame = Hello | UserMessage | Feedback | Ping | UserTyping
"""Every frame a client may send."""
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(Annotated[ClientFrame, Field(discriminator="type")])
CLIENT_TYPES = ("hello", "message", "feedback", "ping", "typing")


_VISIBLE = re.compile(r"[^\s\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]")
"""A character that shows: not white space, nor a zero-width or invisible formatting one."""


def parse_frame(raw: str | bytes, *, max_chars: int) -> ClientFrame:
    """Validate one inbound text frame; raise `ProtocolError` saying what is wrong."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_json", 'frames must be JSON text, e.g. {"type": "message", "text": "hi"}') from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", 'a frame must be a JSON object with a "type" field')
    reply_to = data.get("id") if isinstance(data.get("id"), str) else None
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", 'a frame needs a "type", a string, e.g. "message"', reply_to)
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown frame type {kind!r}; expected one of {', '.join(CLIENT_TYPES)}", reply_to
        )
    if kind == "message":
        text = data.get("text")
        if not isinstance(text, str):
            raise ProtocolError("bad_frame", 'a message needs "text", a string', reply_to)
        if not _VISIBLE.search(text):
            raise ProtocolError("empty_text", "the message text is empty", reply_to)
        if len(text) > max_chars:
            raise ProtocolError(
                "too_long", f"the message has {len(text)} characters; the limit is {max_chars}", reply_to
            )
    try:
        return _client_frame.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "frame"
        raise ProtocolError("bad_frame", f"{where}: {first['msg']}", reply_to) from None


# -- server -> client --------------------------------------------------------------------


class Button(_Frame):
    title: str
    payload: str


class Image(_Frame):
    """A picture in a reply; `alt` says what it shows for those who cannot see it."""

    url: str = Field(pattern=r"^https?://", max_length=2048)
    alt: str = Field(max_length=500)


class LinkCard(_Frame):
    """A link shown as a card: opened in a new tab."""

    url: str = Field(pattern=r"^https?://", max_length=2048)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=500)


def to_rich(image: Image | None, link: LinkCard | None) -> Rich | None:
    """A reply's image and link card as `message.rich` stores them; None when it has neither."""
    if image is None and link is None:
        return None
    rich = Rich()
    if image is not None:
        rich["image"] = ImagePart(url=image.url, alt=image.alt)
    if link is not None:
        rich["link"] = LinkPart(url=link.url, title=link.title, description=link.description)
    return rich or None


def from_rich(rich: Rich | None) -> tuple[Image | None, LinkCard | None]:
    """`message.rich` as the `image` and `link` of the reply it was: what the history shows again."""
    image = rich.get("image") if rich else None
    link = rich.get("link") if rich else None
    return (Image(**image) if image else None, LinkCard(**link) if link else None)


class SessionInfo(_Frame):
    type: Literal["session"] = "session"
    session_id: str
    resumed: bool
    user: str | None = None
    slots: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["bot", "waiting", "agent", "ticket"] = "bot"
    """Who answers: the bot, a person soon (`waiting`), a person now (`agent`), or the bot
    taking a message for the team (`ticket`)."""
    agent: str | None = None
    """The name of the person holding the session when `mode` is `agent`."""
    language: str | None = None
    """The language the bot speaks in this session ("en", "ru"); None while a bot of several
    languages has not yet told it from the user's first message."""


class ExchangedSession(SessionInfo):
    """The `session` frame answering a hello's `user_token`: with the bearer token to use from now on."""

    token: str


class Typing(_Frame):
    type: Literal["typing"] = "typing"
    reply_to: str | None = None


class Reply(_Frame):
    type: Literal["reply"] = "reply"
    text: str
    intent: str | None
    confidence: float | None
    reply_to: str | None = None
    message_id: int | None = None
    """The logged reply's id: send it back in a `feedback` frame."""
    buttons: tuple[Button, ...] = ()
    slots: dict[str, Any] = Field(default_factory=dict)
    fallback: bool = False
    duplicate: bool = False
    time: str | None = None
    image: Image | None = None
    link: LinkCard | None = None


class Error(_Frame):
    type: Literal["error"] = "error"
    code: str
    detail: str
    reply_to: str | None = None


class Pong(_Frame):
    type: Literal["pong"] = "pong"


class Received(_Frame):
    """A message stored for a person (waiting or holding the session): no bot reply will come."""

    type: Literal["received"] = "received"
    reply_to: str | None = None
    message_id: int


class AgentJoined(_Frame):
    type: Literal["agent_joined"] = "agent_joined"
    agent: str


class AgentLeft(_Frame):
    type: Literal["agent_left"] = "agent_left"
    agent: str


class AgentMessage(_Frame):
    """A person's message, not the bot's."""

    type: Literal["agent_message"] = "agent_message"
    text: str
    agent: str
    message_id: int
    buttons: tuple[Button, ...] = ()
    time: str | None = None


class AgentTyping(_Frame):
    type: Literal["agent_typing"] = "agent_typing"
    agent: str


ServerFrame = (
    SessionInfo | Typing | Reply | Error | Pong | Received | AgentJoined | AgentLeft | AgentMessage | AgentTyping
)
"""Every frame the server sends."""


def dump(frame: _Frame) -> str:
    return frame.model_dump_json()
