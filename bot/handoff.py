"""Human handoff: the bot hands a conversation to a person and takes it back.

A session is `bot` (the default), `waiting` (queued for a person), `agent` (held by one) or
`ticket` (nobody was online, so the bot takes a message: an email, then the text). While a
person waits or holds it the bot does not answer: the user's messages are logged (`in`) and
delivered to the agent; the agent's are logged as `agent` with the agent's user id. Every
change is stored first and then published on the event bus (ids only), which carries it to
the other side's connection on whichever instance that is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot.config import Settings
from bot.conversation import Conversation, Principal
from bot.domain import Domain
from bot.errors import ClientError
from bot.events import QUEUE, Event, LocalBus, agent_channel, session_channel
from bot.handoff_store import AGENT_ROLES, HandoffStore, presence_cutoff
from bot.protocol import (
    AgentJoined,
    AgentLeft,
    AgentMessage,
    AgentTyping,
    Button,
    Received,
    Reply,
    ServerFrame,
)
from bot.rows import MessageRow, note
from bot.store import Store
from bot.system_texts import SystemTexts
from bot.tables import Message, Ticket, utcnow
from bot.values.contacts import EMAIL
from bot.writes import DuplicateMessage

log = logging.getLogger(__name__)
HANDOFF_INTENT = "handoff"
"""The intent named on the bot's own handoff notices."""
CANCEL = "/cancel_message"
"""The payload of the button that gives up leaving a message."""
HELD = ("waiting", "agent")


Instead = Literal["cancel", "request"] | None
"""What a message in `ticket` mode was understood as, instead of the email or message asked for."""
Understood = Callable[[], Awaitable[Instead]]


class NotAllowed(ClientError):
    """The agent may not do this to this conversation (not theirs, or no longer waiting)."""

    code = "forbidden"


class NotFound(ClientError):
    code = "not_found"


@dataclass
class Handoff:
    """Handoff for every connection of the process: the user's side and the agents'."""

    settings: Settings
    store: Store
    bus: LocalBus
    domain: Callable[[], Domain]
    """The domain being served (it changes on a model reload)."""
    clock: Callable[[], datetime] = utcnow
    db: HandoffStore = field(init=False)
    _names: dict[int, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.db = HandoffStore(self.store, self.bus)

    # -- the user's side -----------------------------------------------------------------

    async def after_turn(self, conv: Conversation, frames: Sequence[ServerFrame]) -> list[Reply]:
        """Hand over when the bot's reply served a `handoff: true` intent, or after N fallbacks in a row."""
        if conv.mode != "bot":
            return []
        domain, limit = self.domain(), self.settings.handoff_after_fallbacks
        if not limit and not domain.hands_over:  # nothing could hand over: no need to look at the replies
            return []
        replies = [f for f in frames if isinstance(f, Reply) and not f.duplicate]
        if not replies:
            return []
        asked = next((r.intent for r in replies if domain.asks_for_person(r.intent)), None)
        if asked is not None and not replies[-1].fallback:
            conv.fallbacks = 0
            return await self.hand_over(conv, f"asked for a person ({domain.intents[asked].title})")
        conv.fallbacks = conv.fallbacks + 1 if all(r.fallback for r in replies) else 0
        if limit and conv.fallbacks >= limit:
            conv.fallbacks = 0
            return await self.hand_over(conv, f"the bot did not understand {limit} messages in a row")
        return []

    async def hand_over(self, conv: Conversation, reason: str) -> list[Reply]:
        """Queue the conversation for a person, or, with nobody online, offer to take a message."""
        now = self.clock()
        cutoff = presence_cutoff(now, self.settings.agent_presence_seconds)
        if await asyncio.to_thread(self.db.agents_online, cutoff):
            ids = await self.db.set_mode(
                conv.session_id, "waiting", only_from=("bot", "ticket"), reason=reason, now=now
            )
            if ids is None:
                return []
            conv.mode = "waiting"
            position = await asyncio.to_thread(self.db.position, conv.session_id)
            await self.bus.publish(QUEUE, Event("queue", conv.session_id))
            texts = self.texts(conv.language)
            return await self._say(conv, texts.queued.format(ahead=_ahead(texts, position)), now)
        ids = await self.db.set_mode(conv.session_id, "ticket", only_from=("bot",), reason=reason, now=now)
        if ids is None:
            return []
        conv.mode = "ticket"
        await self.bus.publish(QUEUE, Event("queue", conv.session_id))
        texts = self.texts(conv.language)
        return await self._say(conv, texts.nobody_online, now, buttons=((texts.never_mind, CANCEL),))

    async def hold(self, conv: Conversation, text: str, client_id: str | None) -> list[ServerFrame]:
        """A message while a person waits or holds the session: logged, delivered, no bot reply."""
        row = note(conv.session_id, conv.principal.user_id, "in", text, self.clock(), client_id=client_id)
        session_id, waiting = conv.session_id, conv.mode == "waiting"

        def announce(ids: list[int]) -> list[tuple[str, Event]]:
            events = [(session_channel(session_id), Event("message", session_id, ids[0], message=row))]
            return [*events, (QUEUE, Event("queue", session_id))] if waiting else events

        try:
            (message_id,) = await self.db.append([row], announce)
        except DuplicateMessage:  # a resend after a reconnect: acknowledge what is stored
            message_id = await asyncio.to_thread(self.db.inbound_id, conv.session_id, client_id)
        return [Received(reply_to=client_id, message_id=message_id)]

    async def take_message(
        self, conv: Conversation, text: str, client_id: str | None, instead: Understood | None = None
    ) -> list[Reply] | None:
        """`ticket` mode: the email first, then the message; the button or "cancel" gives up.

        Where an email is awaited and the message is none, `instead` says what the bot makes of
        it: a cancellation gives up too, another request hands the session back to the bot (None:
        the message is then a turn like any other). Once the email is given, anything is the message.
        """
        replies = await self._take_message(conv, text, client_id, instead)
        if client_id is not None and replies is not None:
            conv.remember(client_id, replies)
        return replies

    async def _take_message(
        self, conv: Conversation, text: str, client_id: str | None, instead: Understood | None
    ) -> list[Reply] | None:
        now = self.clock()
        inbound = note(conv.session_id, conv.principal.user_id, "in", text, now, client_id=client_id)
        answer = text.strip()
        texts = self.texts(conv.language)
        row = await asyncio.to_thread(self.store.get_session, conv.session_id)
        email = row.ticket_email if row is not None else None
        awaited = email is None and not EMAIL.fullmatch(answer)
        typed = answer == CANCEL or answer.lower() in ("cancel", "never mind", texts.never_mind.lower())
        meant = await instead() if awaited and not typed and instead is not None else None  # asked only here
        if typed or meant == "cancel":
            out = self._out(conv, texts.ticket_cancelled, now, client_id)
            ids = await self.db.set_mode(conv.session_id, "bot", only_from=("ticket",), rows=[inbound, out])
            conv.mode = "bot"
            return _replies([out], (ids or [0, 0])[1:], client_id)
        moved = meant == "request"
        if moved and await self.db.set_mode(conv.session_id, "bot", only_from=("ticket",)) is not None:
            conv.mode = "bot"
            return None
        if awaited:
            out = self._out(conv, texts.ticket_bad_email, now, client_id, cancel=True)
            return _replies([out], (await self.db.append([inbound, out]))[1:], client_id)
        if email is None:
            out = self._out(conv, texts.ticket_ask_text, now, client_id, cancel=True)
            ids = await self.db.set_ticket_email(conv.session_id, answer, [inbound, out])
            return _replies([out], ids[1:], client_id)
        reason = row.handoff_reason if row is not None else None
        ticket = Ticket(session_id=conv.session_id, email=email, text=text, reason=reason, created_at=now)
        out = self._out(conv, texts.ticket_filed.format(email=email), now, client_id)
        ticket_id, ids = await self.db.file_ticket(ticket, [inbound, out])
        conv.mode = "bot"
        await self.bus.publish(QUEUE, Event("ticket", conv.session_id, ticket_id))
        return _replies([out], ids[1:], client_id)

    async def user_typing(self, conv: Conversation) -> None:
        if conv.mode == "agent":
            await self.bus.publish(session_channel(conv.session_id), Event("typing", conv.session_id))

    async def for_user(self, conv: Conversation, event: Event) -> list[ServerFrame]:
        """What an event on the user's session channel shows the user (their own echoes show nothing)."""
        if event.kind == "typing" and event.user_id is not None:
            return [AgentTyping(agent=await self.name(event.user_id, conv.language))]
        if event.kind == "message" and event.message_id is not None and event.user_id is not None:
            message = await self.db.message(event.message_id, event.message)
            if message is None or message.direction != "agent":
                return []
            return [await self.agent_message(message, conv.language)]
        if event.kind != "mode":
            return []
        row = await asyncio.to_thread(self.store.get_session, conv.session_id)
        if row is None:
            return []
        frames: list[ServerFrame] = []
        before = conv.agent
        conv.mode = row.mode
        if row.mode == "agent" and row.agent_id is not None:
            conv.agent = await self.name(row.agent_id, conv.language)
            if conv.agent != before:
                frames.append(AgentJoined(agent=conv.agent))
        elif before is not None:
            conv.agent = None
            frames.append(AgentLeft(agent=before))
        if event.message_id is not None and (message := await self.db.message(event.message_id, event.message)):
            frames.append(_notice(message))
        return frames

    async def agent_message(self, message: Message, language: str | None = None) -> AgentMessage:
        return AgentMessage(
            text=message.text,
            agent=await self.name(message.user_id or 0, language),
            message_id=message.id or 0,
            buttons=tuple(Button(title=t, payload=p) for t, p in message.buttons),
            time=message.created_at.astimezone(UTC).isoformat(),
        )

    async def describe(self, conv: Conversation) -> None:
        """Fill the conversation's mode and agent from the stored session (on hello)."""
        row = await asyncio.to_thread(self.store.get_session, conv.session_id)
        if row is not None:
            conv.mode = row.mode
            conv.agent = await self.name(row.agent_id, conv.language) if row.mode == "agent" and row.agent_id else None

    # -- the agents' side ----------------------------------------------------------------

    async def take(self, agent: Principal, session_id: str) -> None:
        agent_id = _agent_id(agent)
        if await self.db.set_mode(session_id, "agent", only_from=("waiting",), agent_id=agent_id) is None:
            raise NotAllowed(f"conversation {session_id} is not waiting any more; someone may have taken it")
        await self.bus.publish(session_channel(session_id), Event("mode", session_id, None, agent_id))
        await self.bus.publish(QUEUE, Event("queue", session_id))

    def reply(
        self,
        agent: Principal,
        session_id: str,
        text: str,
        buttons: Sequence[tuple[str, str]] = (),
        client_id: str | None = None,
    ) -> Awaitable[int]:
        """Queue the agent's message for the log now (direction `agent`, their user id); await its id.

        It is delivered once stored. An agent's replies are stored in the order queued, so an
        inbox need not wait for one to be stored before queuing the next.
        """
        agent_id = _agent_id(agent)
        row = note(session_id, agent_id, "agent", text, self.clock(), client_id=client_id, buttons=buttons)

        def announce(ids: list[int]) -> list[tuple[str, Event]]:
            return [(session_channel(session_id), Event("message", session_id, ids[0], agent_id, row))]

        stored = self.db.append_if_held(row, announce, held_by=None if agent.role == "admin" else agent_id)
        return _held(stored, session_id)

    async def agent_typing(self, agent: Principal, session_id: str) -> None:
        await self.bus.publish(session_channel(session_id), Event("typing", session_id, None, _agent_id(agent)))

    async def transfer(self, agent: Principal, session_id: str, to_agent: int) -> None:
        target = await asyncio.to_thread(self.db.user, to_agent)
        if target is None or target.role not in AGENT_ROLES:
            raise NotFound(f"no agent with id {to_agent}")
        held_by = None if agent.role == "admin" else _agent_id(agent)
        if (
            await self.db.set_mode(session_id, "agent", only_from=("agent",), agent_id=to_agent, held_by=held_by)
            is None
        ):
            raise NotAllowed(f"conversation {session_id} is not yours to transfer")
        await self.bus.publish(session_channel(session_id), Event("mode", session_id, None, to_agent))
        await self.bus.publish(agent_channel(to_agent), Event("mode", session_id, None, to_agent))

    async def close(self, agent: Principal, session_id: str) -> None:
        """Give the conversation back to the bot, which says so in the session's language (its
        `resume` text, or `handoff_resume_message` where the operator set one)."""
        held_by = None if agent.role == "admin" else _agent_id(agent)
        now = self.clock()
        session = await asyncio.to_thread(self.store.get_session, session_id)
        said = self.settings.handoff_resume_message or self.texts(session.language if session else None).resume
        resume = note(session_id, None, "out", said, now, intent=HANDOFF_INTENT)
        ids = await self.db.set_mode(session_id, "bot", only_from=HELD, held_by=held_by, rows=[resume])
        if ids is None:
            raise NotAllowed(f"conversation {session_id} is not yours to close")
        await self.bus.publish(session_channel(session_id), Event("mode", session_id, ids[0], _agent_id(agent)))
        await self.bus.publish(QUEUE, Event("queue", session_id))

    async def agent_gone(self, session_ids: Sequence[str], agent_id: int) -> None:
        """The agent who held these conversations was erased, and they wait again (`erasure.erase_user`):
        tell each user so, with their place in the queue, in the session's language; and the inboxes.

        Called once the erasure is committed. A notice that cannot be stored is logged: the
        conversation waits all the same, and the user sees so when they reconnect.
        """
        self._names.pop(agent_id, None)
        for session_id in session_ids:
            try:
                await self._tell_agent_gone(session_id, agent_id)
            except Exception as exc:
                log.warning("could not tell session %s its agent is gone (%s)", session_id, exc.__class__.__name__)

    async def _tell_agent_gone(self, session_id: str, agent_id: int) -> None:
        session = await asyncio.to_thread(self.store.get_session, session_id)
        if session is None or session.mode != "waiting":  # taken again, or closed, meanwhile
            return
        texts = self.texts(session.language)
        position = await asyncio.to_thread(self.db.position, session_id)
        said = texts.agent_gone.format(ahead=_ahead(texts, position))
        row = note(session_id, session.user_id, "out", said, self.clock(), intent=HANDOFF_INTENT)

        def announce(ids: list[int]) -> list[tuple[str, Event]]:
            left = Event("mode", session_id, ids[0], agent_id, row)
            return [(session_channel(session_id), left), (QUEUE, Event("queue", session_id))]

        await self.db.append([row], announce)

    async def name(self, user_id: int, language: str | None = None) -> str:
        """An agent's name; for one whose account is gone, `colleague` in `language`."""
        if user_id not in self._names:
            user = await asyncio.to_thread(self.db.user, user_id)
            if user is None:
                return self.texts(language).colleague
            self._names[user_id] = user.username
        return self._names[user_id]

    # -- helpers -------------------------------------------------------------------------

    def texts(self, language: str | None) -> SystemTexts:
        """What the bot says of itself in a session of this language (None: the bot's default)."""
        return self.domain().for_language(language).texts

    def _out(
        self, conv: Conversation, text: str, now: datetime, client_id: str | None, *, cancel: bool = False
    ) -> MessageRow:
        """The bot's line while taking a message; `cancel` offers the button that gives up."""
        buttons = ((self.texts(conv.language).never_mind, CANCEL),) if cancel else ()
        user_id = conv.principal.user_id
        return note(
            conv.session_id, user_id, "out", text, now, client_id=client_id, intent=HANDOFF_INTENT, buttons=buttons
        )

    async def _say(
        self, conv: Conversation, text: str, now: datetime, buttons: Sequence[tuple[str, str]] = ()
    ) -> list[Reply]:
        row = note(conv.session_id, conv.principal.user_id, "out", text, now, intent=HANDOFF_INTENT, buttons=buttons)
        (message_id,) = await self.db.append([row])
        return [_notice_of(text, message_id, now, buttons)]


async def _held(stored: Awaitable[int | None], session_id: str) -> int:
    message_id = await stored
    if message_id is None:
        raise NotAllowed(f"take conversation {session_id} before replying to it")
    return message_id


def _agent_id(agent: Principal) -> int:
    if agent.user_id is None or agent.role not in AGENT_ROLES:
        raise NotAllowed("this needs the agent or admin role")
    return agent.user_id


def _replies(rows: Sequence[MessageRow], ids: Sequence[int], client_id: str | None) -> list[Reply]:
    """Reply frames for logged bot lines of a message-taking turn."""
    return [
        _notice_of(row.text, message_id, row.created_at, [(t, p) for t, p in row.buttons]).model_copy(
            update={"reply_to": client_id}
        )
        for row, message_id in zip(rows, ids, strict=True)
    ]


def _ahead(texts: SystemTexts, position: int) -> str:
    """Where a waiting conversation is in the queue, as `{ahead}` in `queued` and `agent_gone`."""
    return texts.queued_next if position <= 1 else texts.queued_position.format(position=position)


def _notice(message: Message) -> Reply:
    return _notice_of(message.text, message.id or 0, message.created_at, [(t, p) for t, p in message.buttons])


def _notice_of(text: str, message_id: int, now: datetime, buttons: Sequence[tuple[str, str]] = ()) -> Reply:
    return Reply(
        text=text,
        intent=HANDOFF_INTENT,
        confidence=None,
        message_id=message_id,
        buttons=tuple(Button(title=t, payload=p) for t, p in buttons),
        time=now.astimezone(UTC).isoformat(),
    )
