"""One chat turn, straight through: understand -> decide -> act -> log -> reply.

The WebSocket layer parses frames and sends what this returns; everything a frame means
(opening a session, chat commands, feedback, the turn itself) is decided here. CPU work runs
on the NLU worker thread and the log is committed by the store's writer thread, so the event
loop only waits.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot import revocation
from bot.auth import AuthError, hash_token, resolve_token, revoke_token
from bot.config import Settings
from bot.conversation import ANSWERED_CACHE, Conversation, Principal, principal_of, session_info, state_of
from bot.dialogue import State
from bot.dialogue_turn import TurnOutcome, play_turn_async
from bot.events import Event, LocalBus
from bot.handoff import HELD, Handoff, Instead
from bot.host_identity import exchange_host_token
from bot.language import detect_language, language_code
from bot.metrics import Metrics
from bot.model import Model
from bot.nlu_worker import Nlu
from bot.privacy import mask_pii
from bot.protocol import Feedback, Hello, ProtocolError, Reply, ServerFrame, SessionInfo, UserMessage
from bot.store import Store
from bot.tables import ChatSession, utcnow
from bot.turn_calls import TurnCalls
from bot.turn_log import TurnContext, inbound_row, outbound_rows, replies, session_row, stored_reply, turn_calls
from bot.welcome import welcome_reply, welcome_row
from bot.writes import StaleSession, TurnWrite

MAX_STALE_RETRIES = 20
COMMANDS = ("/whoami", "/reset", "/logout")


LEAVE_TICKET_CONFIDENCE = 0.9
"""How sure the classifier must be that a message left instead of an email is another request."""


class ChatService:
    """Sessions and turns; shared by every connection of the process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        nlu: Nlu,
        metrics: Metrics,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utcnow,
        bus: LocalBus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.nlu = nlu
        self.metrics = metrics
        self.rng = rng or random.Random(settings.seed)
        self.clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.bus = bus or LocalBus()
        self.handoff = Handoff(settings, store, self.bus, lambda: self.nlu.model.domain, clock)

    # -- frames ----------------------------------------------------------------------------

    async def hello(self, frame: Hello, *, welcome: bool = True) -> tuple[Conversation, list[ServerFrame]]:
        """Who is talking and their session; a new one opens with the domain's welcome.

        A host site's `user_token` is exchanged once for a bearer token of the bot's own, sent
        back in the session frame; else a login token, else a guest where guests may chat.
        """
        principal, bearer = await self._principal(frame)
        conv = await self.open(principal, frame.session_id, frame.lang)
        conv.timezone = frame.timezone
        await self.handoff.describe(conv)  # who answers it now: the bot, or a person
        frames: list[ServerFrame] = [self.session_info(conv, bearer)]
        if welcome and not conv.resumed:
            frames += await self._welcome(conv, frame.lang)
        return conv, frames

    async def _welcome(self, conv: Conversation, lang: str | None) -> list[Reply]:
        """The domain's welcome for a new session, logged as the bot's first message (none without one)."""
        now = self.clock()
        greeting = welcome_reply(self.nlu.model.domain.for_language(conv.language), conv.language or lang, now)
        if greeting is None:
            return []
        (message_id,) = await self.store.append([welcome_row(conv.session_id, conv.principal.user_id, greeting, now)])
        return [greeting.model_copy(update={"message_id": message_id})]

    async def message(self, conv: Conversation, frame: UserMessage) -> tuple[Conversation, list[ServerFrame]]:
        """A user message: held for the person who has the session, a chat command, or a turn.

        After a turn the conversation may go to a person (a `handoff: true` intent, an action's
        handoff, N fallbacks in a row), or, when an action ended it, on in a new session.
        A message that settles the session's language is answered after the `session` frame
        that says it, so the client words its own texts in it at once.
        """
        if conv.mode in HELD:
            return conv, list(await self.handoff.hold(conv, frame.text, frame.id))
        command = frame.text.strip().lower()
        if command in COMMANDS and not conv.has_answered(frame.id):
            return await self._command(conv, command, frame)
        language = conv.language
        frames: list[ServerFrame] = list(await self.turn(conv, frame.text, frame.id))
        if conv.handoff_reason is not None:
            reason, conv.handoff_reason = conv.handoff_reason, None
            frames += await self.handoff.hand_over(conv, reason)
        else:
            frames += await self.handoff.after_turn(conv, frames)
        if conv.language != language:
            frames.insert(0, self.session_info(conv))
        if conv.ending:
            await self.store.end_session(conv.session_id)
            conv = await self.open(conv.principal, language=conv.language)
            frames.append(self.session_info(conv))
        return conv, frames

    async def feedback(self, conv: Conversation | None, frame: Feedback) -> list[ServerFrame]:
        """Thumbs on a bot reply of this session; nothing to send back when it is stored."""
        if conv is None:
            raise ProtocolError("no_session", "send hello or a message first")
        if not await self.store.set_feedback([conv.session_id], frame.message_id, frame.value):
            raise ProtocolError("not_found", f"no bot reply {frame.message_id} in this session")
        return []

    async def signed_out(self, conv: Conversation | None, event: Event) -> revocation.SignedOut | None:
        """Why a connection must end on a `revoked` event (its token no longer stands); None if it stays."""
        return await revocation.signed_out(self.store.engine, conv.principal if conv else None, event)

    async def check_signed_in(self, conv: Conversation) -> None:
        """Raise `SignedOut` unless the conversation's token still stands."""
        await revocation.check(self.store.engine, conv.principal)

    # -- sessions --------------------------------------------------------------------------

    @property
    def expiry(self) -> timedelta:
        return timedelta(minutes=self.settings.session_expiry_minutes)

    async def open(
        self, principal: Principal, session_id: str | None = None, language: str | None = None
    ) -> Conversation:
        """Resume the given session when it is the caller's and still fresh; else start one.

        A resumed session keeps its language; a new one takes the client's (a `hello` frame's
        `lang`, which the widget fills from `data-lang` or the page's language).
        """
        if session_id:
            row = await asyncio.to_thread(self.store.get_session, session_id)
            if row is not None and self._may_resume(row, principal):
                if row.user_id is None and principal.user_id is not None:
                    await self.store.adopt_session(row.id, principal.user_id)
                answered = await asyncio.to_thread(self.store.replies_by_client_id, row.id, ANSWERED_CACHE)
                conv = Conversation(row.id, principal, state_of(row, principal), True, row.language)
                for client_id, messages in answered.items():
                    conv.remember(client_id, [stored_reply(m, client_id) for m in messages])
                return conv
            if row is not None and row.ended_at is None and self._expired(row):
                await self.store.end_session(row.id)
        language = self._language(language)
        row = await self.store.create_session(principal.user_id, dict(principal.user_slots), language)
        return Conversation(row.id, principal, state_of(row, principal), False, language)

    def _language(self, asked: str | None) -> str | None:
        """The client's language ("ru-RU" -> "ru") when the bot speaks it; else None: a bot of one
        language speaks its own, one of several tells from the first message (`_settle_language`)."""
        code = language_code(asked)
        domain = self.nlu.model.domain
        return code if code in (domain.languages or (domain.language,)) else None

    async def _settle_language(self, conv: Conversation, text: str) -> None:
        """A session of a bot with several languages and none asked for takes the language of its
        first message whose letters tell (Cyrillic: ru); until then the bot's first language.
        Called while the session has no language yet."""
        languages = self.nlu.model.domain.languages
        if len(languages) < 2:
            return
        found = detect_language(text, languages)
        if found is not None:
            conv.language = found
            await self.store.set_session_language(conv.session_id, found)

    def _may_resume(self, row: ChatSession, principal: Principal) -> bool:
        if row.ended_at is not None or self._expired(row):
            return False
        return row.user_id is None or row.user_id == principal.user_id

    def _expired(self, row: ChatSession) -> bool:
        return self.clock() - row.last_active > self.expiry

    async def _principal(self, frame: Hello) -> tuple[Principal, str | None]:
        """The caller, and the bearer token a host token was exchanged for (None otherwise)."""
        if frame.user_token:
            secret = self.settings.host_token_secret
            ttl = timedelta(hours=self.settings.token_ttl_hours)
            login = await asyncio.to_thread(
                exchange_host_token,
                self.store.engine,
                frame.user_token,
                secret.get_secret_value() if secret else None,
                self.clock(),
                ttl,
            )
            return principal_of(login.user, hash_token(login.token)), login.token
        if frame.token:
            identity = await asyncio.to_thread(resolve_token, self.store.engine, frame.token)
            return principal_of(identity.user, identity.token_hash), None
        if not self.settings.allow_guests:
            raise AuthError("this bot needs an account: log in and send the token in the hello frame")
        return Principal(), None

    # -- the turn --------------------------------------------------------------------------

    async def turn(self, conv: Conversation, text: str, client_id: str | None = None) -> list[Reply]:
        """Answer one user message; the turn is in the log before this returns.

        understand -> decide -> (validate, act, decide again) -> log -> reply, in
        `dialogue_turn`'s order; `TurnCalls` asks the model and the actions, each once.
        """
        if (replayed := conv.replay(client_id)) is not None:
            return replayed
        if conv.mode == "ticket":  # handoff with nobody online: the bot takes a message for the team
            taken = await self.handoff.take_message(conv, text, client_id, lambda: self._instead(conv, text))
            if taken is not None:
                return taken
        async with self._lock(conv.session_id):
            started = time.perf_counter()
            if conv.language is None:  # a bot of several languages, none settled yet
                await self._settle_language(conv, text)
            calls = TurnCalls(self.nlu, conv, self._now(conv))
            for attempt in range(MAX_STALE_RETRIES):
                outcome = await play_turn_async(
                    text,
                    conv.state,
                    calls.domain,
                    calls.understand,
                    self.rng,
                    calls.run,
                    calls.validate,
                    multi_intent=self.settings.multi_intent,
                    session_id=conv.session_id,
                    now=calls.now,
                )
                try:
                    sent = await self._log(conv, calls.model, outcome, client_id, started)
                    break
                except StaleSession:
                    # Another connection or instance moved the session on: decide again on its state.
                    await asyncio.sleep(0.002 * attempt)
                    await self._refresh(conv)
            else:
                raise StaleSession(f"session {conv.session_id} keeps changing; send the message again")
            decision = outcome.decision
            self.metrics.answered(decision.intent, decision.action == "fallback", time.perf_counter() - started)
            conv.state = decision.state
            conv.ending = decision.end_session
            conv.handoff_reason = decision.handoff
            if conv.principal.user_id is not None:  # a guest's slots stay in the session
                await self._remember_user_slots(conv, calls.model)
        if client_id is not None:
            conv.remember(client_id, sent)
        return sent

    async def _instead(self, conv: Conversation, text: str) -> Instead:
        """What a message in `ticket` mode clearly asks instead (see `Handoff.take_message`).
        A wrong guess there drops the user's message for the team, so the bar is
        `LEAVE_TICKET_CONFIDENCE`, not the fallback threshold."""
        ((model, understood),) = await self.nlu.understand_all([text], self._now(conv), conv.language)
        p, domain = understood.prediction, model.domain
        if p.confidence < LEAVE_TICKET_CONFIDENCE or p.ambiguous or p.is_fallback or p.intent not in domain.answerable:
            return None
        if p.intent in domain.forms.cancel_intents:
            return "cancel"
        return None if domain.asks_for_person(p.intent) else "request"

    async def _log(
        self,
        conv: Conversation,
        model: Model,
        outcome: TurnOutcome,
        client_id: str | None,
        started: float,
    ) -> list[Reply]:
        """Write the turn (refused if the session moved on meanwhile) and build its replies."""
        ctx = TurnContext(conv.session_id, conv.principal.user_id, client_id, model.version, self.clock())
        decision = outcome.decision
        slots = dict(decision.state.slots)
        latency_ms = (time.perf_counter() - started) * 1000
        rows = [
            inbound_row(
                ctx,
                outcome.understanding,
                slots,
                latency_ms,
                mask_pii if self.settings.mask_pii else _same,
                turn_calls(outcome),
            ),
            *outbound_rows(ctx, decision, slots),
        ]
        state = session_row(decision.state, ctx.user_id, ctx.now)
        ids = await self.store.write(TurnWrite(conv.session_id, conv.state.turns, state, rows))
        return replies(ctx, outcome.understanding, decision, ids[1:])

    def _now(self, conv: Conversation) -> datetime:
        """The moment of the turn in the user's time zone (the client's, else the bot's)."""
        return self.clock().astimezone(ZoneInfo(conv.timezone or self.settings.timezone))

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def _refresh(self, conv: Conversation) -> None:
        """Read the session's state again; gone with the account (erased meanwhile): `SignedOut`."""
        row = await asyncio.to_thread(self.store.get_session, conv.session_id)
        if row is not None:
            conv.state = state_of(row, conv.principal)
        else:
            await revocation.check(self.store.engine, conv.principal)

    async def _remember_user_slots(self, conv: Conversation, model: Model) -> None:
        """Slots with `scope: user` follow a logged-in user (`conv.principal.user_id` set) into every session."""
        assert conv.principal.user_id is not None
        user_slots = {
            name: value
            for name, value in conv.state.slots.items()
            if name in model.domain.slots and model.domain.slots[name].scope == "user"
        }
        if user_slots and user_slots != conv.principal.user_slots:
            merged = {**conv.principal.user_slots, **user_slots}
            await self.store.set_user_slots(conv.principal.user_id, merged)
            conv.principal = replace(conv.principal, user_slots=merged)

    def session_info(self, conv: Conversation, bearer: str | None = None) -> SessionInfo:
        """The `session` frame, with the language the bot speaks in it (a bot of one language
        speaks its own; one of several, the session's once it is settled)."""
        domain = self.nlu.model.domain
        language = conv.language or (domain.language if len(domain.languages) < 2 else None)
        return session_info(conv, language, bearer)

    # -- handoff ---------------------------------------------------------------------------

    async def hand_over(self, conv: Conversation, reason: str) -> list[Reply]:
        """Queue the conversation for a person (an action's `handoff`, say): the bot's notices to send.

        With nobody online it offers to take a message instead; nothing when already handed over.
        """
        return await self.handoff.hand_over(conv, reason)

    # -- chat commands ---------------------------------------------------------------------

    async def _command(
        self, conv: Conversation, command: str, frame: UserMessage
    ) -> tuple[Conversation, list[ServerFrame]]:
        """`/whoami`, `/reset` and `/logout`: answered in the session's language, not classified;
        remembered against resends."""
        principal = conv.principal
        texts = self.handoff.texts(conv.language)
        frames: list[ServerFrame] = []
        if command == "/whoami":
            text = (
                texts.whoami_user.format(username=principal.username, role=principal.role, session_id=conv.session_id)
                if principal.username
                else texts.whoami_guest.format(session_id=conv.session_id)
            )
        elif command == "/reset":
            await self.reset(conv)
            text = texts.reset
        elif principal.token_hash is None:
            text = texts.not_logged_in
        else:
            await asyncio.to_thread(revoke_token, self.store.engine, principal.token_hash)
            await revocation.announce(self.bus, principal.user_id)  # the same token in other tabs
            conv = await self.open(Principal(), language=conv.language)
            text = texts.logged_out
            frames.append(self.session_info(conv))
        notice = Reply(text=text, intent=None, confidence=None, reply_to=frame.id, time=self.clock().isoformat())
        if frame.id is not None:
            conv.remember(frame.id, [notice])
        return conv, [notice, *frames]

    async def reset(self, conv: Conversation) -> None:
        """Forget the form and the session's slots (user-level slots stay); stored at once."""
        async with self._lock(conv.session_id):
            await self._refresh(conv)
            fresh = State(slots=dict(conv.principal.user_slots), turns=conv.state.turns + 1)
            state = session_row(fresh, conv.principal.user_id, self.clock())
            await self.store.write(TurnWrite(conv.session_id, conv.state.turns, state, []))
            conv.state = fresh


def _same(text: str) -> str:
    return text
