"""A session as one connection sees it: who is talking, the dialogue state, replies already sent."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from bot.dialogue import State
from bot.protocol import ExchangedSession, Reply, ServerFrame, SessionInfo
from bot.tables import ChatSession, User

ANSWERED_CACHE = 256
"""Client ids whose replies are kept per connection, for resends after a reconnect."""


@dataclass(frozen=True)
class Principal:
    """Who is on a connection: a guest, or a user with a role."""

    user_id: int | None = None
    username: str | None = None
    role: str = "guest"
    user_slots: dict[str, Any] = field(default_factory=dict)
    token_hash: str | None = None
    """The login token's hash, so that `/logout` can revoke it."""


@dataclass
class Conversation:
    """A session as one connection sees it, with replies kept for resent client ids.

    The replies are kept as JSON text: strings are invisible to the cyclic collector, whose
    full collections otherwise walk every cached reply of every open connection (tens of ms
    at a few hundred thousand objects) while no message is answered. The text is the one the
    socket sent (`wire`), so a reply is serialised once; only the latest client id's replies
    wait as frames until then.
    """

    session_id: str
    principal: Principal
    state: State
    resumed: bool
    language: str | None = None
    timezone: str | None = None
    """The client's time zone, when its hello frame gave one."""
    ending: bool = False
    """An action ended the session: the next message starts a new one."""
    handoff_reason: str | None = None
    """An action asked for a person, for this reason: handed over once the turn is logged."""
    mode: str = "bot"
    """Who answers: `bot`, `waiting` or `agent` (a person), `ticket` (a message for the team)."""
    agent: str | None = None
    """The name of the person holding the session."""
    fallbacks: int = 0
    """Fallback replies in a row, for `handoff_after_fallbacks`."""
    _answered: OrderedDict[str, list[Reply | str]] = field(default_factory=OrderedDict, repr=False)
    """Replies by client id, as JSON text (but `_unsent`'s, until sent)."""
    _unsent: list[Reply | str] = field(default_factory=list, repr=False)
    """The latest client id's replies (its `_answered` entry), each a frame until `wire` sends it."""

    def has_answered(self, client_id: str | None) -> bool:
        """True when a message with this client id was answered already: a resend, no new work."""
        return client_id is not None and client_id in self._answered

    def remember(self, client_id: str, replies: list[Reply]) -> None:
        """Keep the replies to a client id for a resend; the oldest beyond `ANSWERED_CACHE` go.

        They are kept as the text `wire` sends them in; replies it never sends (stored ones, read
        back when a session resumes) are serialised when the next client id is remembered.
        """
        self._settle()
        self._unsent = list(replies)
        self._answered[client_id] = self._unsent
        while len(self._answered) > ANSWERED_CACHE:
            self._answered.popitem(last=False)

    def wire(self, frame: ServerFrame) -> str:
        """The frame as JSON text for the socket; a remembered reply keeps this very text."""
        text = frame.model_dump_json()
        unsent = self._unsent
        for i, kept in enumerate(unsent):
            if kept is frame:
                unsent[i] = text
                break
        return text

    def _settle(self) -> None:
        unsent = self._unsent
        for i, kept in enumerate(unsent):
            if isinstance(kept, Reply):
                unsent[i] = kept.model_dump_json()
        self._unsent = []

    def replay(self, client_id: str | None) -> list[Reply] | None:
        """The replies already sent for a client id, marked as duplicates; None if not kept."""
        kept = self._answered.get(client_id) if client_id is not None else None
        if kept is None:
            return None
        return [
            (Reply.model_validate_json(r) if isinstance(r, str) else r).model_copy(update={"duplicate": True})
            for r in kept
        ]


def session_info(conv: Conversation, language: str | None = None, bearer: str | None = None) -> SessionInfo:
    """The `session` frame; with the bearer token when a host token was just exchanged for it."""
    fields = {
        "language": language,
        "session_id": conv.session_id,
        "resumed": conv.resumed,
        "user": conv.principal.username,
        "slots": dict(conv.state.slots),
        "mode": conv.mode,
        "agent": conv.agent,
    }
    return ExchangedSession(**fields, token=bearer) if bearer else SessionInfo(**fields)


def principal_of(user: User, token_hash: str) -> Principal:
    return Principal(user.id, user.username, user.role, dict(user.slots or {}), token_hash)


def state_of(row: ChatSession, principal: Principal) -> State:
    slots = {**principal.user_slots, **(row.slots or {})}
    return State(row.active_form, row.requested_slot, slots, row.turns, row.failures, row.last_form)
