"""One chat turn, straight through: text -> understand -> decide -> log -> replies.

The WebSocket layer parses frames and owns the connection; this module owns the
conversation. CPU work runs on the NLU worker thread and the log is committed by the
store's writer thread, so the event loop only waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import random
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.batching import BatchWorker
from bot.config import Settings
from bot.dialogue import INTENT_PAYLOAD_PREFIX, Decision, Say, State, decide
from bot.metrics import Metrics
from bot.model import Model, load_model
from bot.privacy import mask_pii
from bot.protocol import Button, Reply
from bot.store import StaleSession, Store, TurnWrite
from bot.tables import ChatSession, utcnow
from bot.understanding import Prediction, Understanding

log = logging.getLogger(__name__)
ANSWERED_CACHE = 256
MAX_STALE_RETRIES = 20


class SessionNotFound(Exception):
    """The session id is unknown or belongs to someone else."""


@dataclass(frozen=True)
class Principal:
    """Who is on a connection: a guest, or a user with a role."""

    user_id: int | None = None
    username: str | None = None
    role: str = "guest"
    user_slots: dict[str, Any] = field(default_factory=dict)


@dataclass
class Conversation:
    """A session as one connection sees it, with replies kept for resent client ids.

    The replies are kept as JSON text: strings are invisible to the cyclic collector, whose
    full collections otherwise walk every cached reply of every open connection (tens of ms
    at a few hundred thousand objects) while no message is answered.
    """

    session_id: str
    principal: Principal
    state: State
    resumed: bool
    answered: OrderedDict[str, list[str]] = field(default_factory=OrderedDict)

    def remember(self, client_id: str, replies: list[Reply]) -> None:
        """Keep the replies to a client id for a resend; the oldest beyond `ANSWERED_CACHE` go."""
        self.answered[client_id] = [reply.model_dump_json() for reply in replies]
        while len(self.answered) > ANSWERED_CACHE:
            self.answered.popitem(last=False)

    def replay(self, client_id: str) -> list[Reply] | None:
        """The replies already sent for a client id, marked as duplicates; None if not kept."""
        kept = self.answered.get(client_id)
        if kept is None:
            return None
        return [Reply.model_validate_json(text).model_copy(update={"duplicate": True}) for text in kept]


class Nlu:
    """Serves the current model on a batching thread; `swap` takes effect between batches."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._reloading = asyncio.Lock()
        self.worker: BatchWorker[str, tuple[Model, Understanding]] = BatchWorker(self._handle, name="nlu")

    def _handle(self, texts: list[str]) -> list[tuple[Model, Understanding]]:
        model = self.model  # one model for the whole batch, even if swapped meanwhile
        return [(model, u) for u in model.understand(texts)]

    async def understand(self, text: str) -> tuple[Model, Understanding]:
        return await self.worker.run(text)

    def swap(self, model: Model) -> Model:
        old, self.model = self.model, model
        return old

    async def reload(self, models_dir: Path) -> tuple[str, str]:
        """Load `models/latest` off the event loop and swap it in; on failure keep serving."""
        async with self._reloading:
            model = await asyncio.to_thread(load_model, models_dir)
            versions = self.swap(model).version, model.version  # nothing here keeps the old one
            await asyncio.to_thread(freeze_heap)
            log.info("model reloaded: %s -> %s", *versions)
            return versions


def freeze_heap() -> None:
    """Hide what is loaded (model, spaCy's lookup tables, modules) from the cyclic collector.

    Otherwise every full collection walks those ~200,000 objects: 15-110 ms during which no
    message is answered, which was a loaded server's p99. Later objects are collected as
    usual. Unfreezing first lets a replaced model's reference cycles be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LARGE_BLOCK = 128 * 1024


def return_large_blocks() -> None:
    """Keep blocks of 128 KiB and more in their own mappings, which go back to the system when freed.

    glibc raises its mmap threshold each time such a block is freed (up to 32 MiB), so after
    a model reload the next model's arrays land in the heap, which fragments and never shrinks:
    twenty reloads grew a process by 32 MB, against 15 MB with the threshold fixed. Elsewhere
    than glibc there is nothing to do.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)


class ChatService:
    """Sessions and turns; shared by every connection of the process."""

    def __init__(
        self, settings: Settings, store: Store, nlu: Nlu, metrics: Metrics, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.nlu = nlu
        self.metrics = metrics
        self.rng = rng or random.Random(settings.seed)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def expiry(self) -> timedelta:
        return timedelta(minutes=self.settings.session_expiry_minutes)

    async def open(self, principal: Principal, session_id: str | None = None) -> Conversation:
        """Resume the given session when it is the caller's and still fresh; else start one."""
        if session_id:
            row = await asyncio.to_thread(self.store.get_session, session_id)
            if row is not None and self._may_resume(row, principal):
                if row.user_id is None and principal.user_id is not None:
                    await self.store.adopt_session(row.id, principal.user_id)
                answered = await asyncio.to_thread(self.store.replies_by_client_id, row.id, ANSWERED_CACHE)
                conv = Conversation(row.id, principal, _state_of(row, principal), resumed=True)
                for client_id, messages in answered.items():
                    conv.remember(client_id, [_reply_of(m, client_id) for m in messages])
                return conv
            if row is not None and row.ended_at is None and self._expired(row):
                await self.store.end_session(row.id)
        row = await self.store.create_session(principal.user_id, dict(principal.user_slots))
        return Conversation(row.id, principal, _state_of(row, principal), resumed=False)

    def _may_resume(self, row: ChatSession, principal: Principal) -> bool:
        if row.ended_at is not None or self._expired(row):
            return False
        return row.user_id is None or row.user_id == principal.user_id

    def _expired(self, row: ChatSession) -> bool:
        return utcnow() - row.last_active > self.expiry

    async def handle(self, conv: Conversation, text: str, client_id: str | None = None) -> list[Reply]:
        """Answer one user message; the turn is in the log before this returns."""
        if client_id is not None and (replayed := conv.replay(client_id)) is not None:
            return replayed
        lock = self._locks.setdefault(conv.session_id, asyncio.Lock())
        async with lock:
            started = time.perf_counter()
            model, understanding = await self._understand(text)
            for attempt in range(MAX_STALE_RETRIES):
                decision = decide(
                    text, understanding.prediction, understanding.entities, conv.state, model.domain, self.rng
                )
                latency_ms = (time.perf_counter() - started) * 1000
                try:
                    replies = await self._log(conv, model, understanding, decision, client_id, latency_ms)
                    break
                except StaleSession:
                    # Another connection or instance moved the session on: decide again on its state.
                    await asyncio.sleep(0.002 * attempt)
                    await self._refresh(conv)
            else:
                raise StaleSession(f"session {conv.session_id} keeps changing; try again")
            self.metrics.answered(decision.intent, decision.action == "fallback", time.perf_counter() - started)
            conv.state = decision.state
            await self._remember_user_slots(conv, model)
        if client_id is not None:
            conv.remember(client_id, replies)
        return replies

    async def _refresh(self, conv: Conversation) -> None:
        row = await asyncio.to_thread(self.store.get_session, conv.session_id)
        if row is not None:
            conv.state = _state_of(row, conv.principal)

    async def _understand(self, text: str) -> tuple[Model, Understanding]:
        """Classify, unless the text is a button's `/intent` payload naming an intent."""
        model = self.nlu.model
        name = text.strip().removeprefix(INTENT_PAYLOAD_PREFIX)
        if text.startswith(INTENT_PAYLOAD_PREFIX) and name in model.domain.answerable:
            forced = Prediction(intent=name, confidence=1.0, ranking=[(name, 1.0)], is_fallback=False, ambiguous=False)
            return model, Understanding(text, name, [], forced)
        return await self.nlu.understand(text)

    async def _log(
        self,
        conv: Conversation,
        model: Model,
        understanding: Understanding,
        decision: Decision,
        client_id: str | None,
        latency_ms: float,
    ) -> list[Reply]:
        now = utcnow()
        prediction = understanding.prediction
        user_id = conv.principal.user_id
        slots = dict(decision.state.slots)
        mask = mask_pii if self.settings.mask_pii else _same
        common = {
            "session_id": conv.session_id,
            "user_id": user_id,
            "client_id": client_id,
            "model_version": model.version,
        }
        inbound = {
            **common,
            "direction": "in",
            "text": mask(understanding.text),
            "intent": prediction.intent,
            "confidence": prediction.confidence,
            "ranking": [[name, round(score, 4)] for name, score in prediction.ranking[:3]],
            "entities": [_masked_entity(e.as_dict(), mask) for e in understanding.entities],
            "slots": slots,
            "buttons": [],
            "fallback": prediction.is_fallback,
            "latency_ms": latency_ms,
            "created_at": now,
        }
        outbound = [_out_row(common, say, decision, slots, now) for say in decision.messages]
        scores = dict(prediction.ranking)

        def confidence(intent: str | None) -> float | None:
            """The classifier's, in what a reply serves; none for a slot value in a form."""
            score = prediction.confidence if intent is None else scores.get(intent)
            return None if score is None else round(score, 4)

        state = _session_row(decision.state, user_id, now)
        ids = await self.store.write(TurnWrite(conv.session_id, conv.state.turns, state, [inbound, *outbound]))
        return [
            Reply(
                text=say.text,
                intent=say.intent or decision.intent,
                confidence=confidence(say.intent or decision.intent),
                reply_to=client_id,
                message_id=message_id,
                buttons=tuple(Button(title=t, payload=p) for t, p in say.buttons),
                slots=slots,
                fallback=decision.action == "fallback",
                time=now.isoformat(),
            )
            for say, message_id in zip(decision.messages, ids[1:], strict=True)
        ]

    async def _remember_user_slots(self, conv: Conversation, model: Model) -> None:
        """Slots with `scope: user` follow a logged-in user into every session."""
        if conv.principal.user_id is None:
            return
        user_slots = {
            name: value
            for name, value in conv.state.slots.items()
            if name in model.domain.slots and model.domain.slots[name].scope == "user"
        }
        if user_slots and user_slots != conv.principal.user_slots:
            merged = {**conv.principal.user_slots, **user_slots}
            await self.store.set_user_slots(conv.principal.user_id, merged)
            conv.principal = replace(conv.principal, user_slots=merged)

    async def reset(self, conv: Conversation) -> None:
        """Forget the form and the session's slots (user-level slots stay); stored at once."""
        async with self._locks.setdefault(conv.session_id, asyncio.Lock()):
            await self._refresh(conv)
            fresh = State(slots=dict(conv.principal.user_slots), turns=conv.state.turns + 1)
            state = _session_row(fresh, conv.principal.user_id, utcnow())
            await self.store.write(TurnWrite(conv.session_id, conv.state.turns, state, []))
            conv.state = fresh


def _state_of(row: ChatSession, principal: Principal) -> State:
    slots = {**principal.user_slots, **(row.slots or {})}
    return State(active_form=row.active_form, requested_slot=row.requested_slot, slots=slots, turns=row.turns)


def _session_row(state: State, user_id: int | None, now: datetime) -> dict[str, Any]:
    """The `chat_session` columns a turn writes."""
    return {
        "active_form": state.active_form,
        "requested_slot": state.requested_slot,
        "slots": dict(state.slots),
        "turns": state.turns,
        "user_id": user_id,
        "last_active": now,
    }


def _out_row(
    common: dict[str, Any], say: Say, decision: Decision, slots: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        **common,
        "direction": "out",
        "text": say.text,
        "intent": say.intent or decision.intent,
        "confidence": None,
        "ranking": [],
        "entities": [],
        "slots": slots,
        "buttons": [[t, p] for t, p in say.buttons],
        "fallback": decision.action == "fallback",
        "latency_ms": None,
        "created_at": now,
    }


def _reply_of(message: Any, client_id: str) -> Reply:
    return Reply(
        text=message.text,
        intent=message.intent,
        confidence=None,
        reply_to=client_id,
        message_id=message.id,
        buttons=tuple(Button(title=t, payload=p) for t, p in message.buttons),
        slots=message.slots,
        fallback=message.fallback,
        time=message.created_at.astimezone(UTC).isoformat(),
    )


def _masked_entity(entity: dict[str, Any], mask: Any) -> dict[str, Any]:
    return {
        **entity,
        "text": mask(entity["text"]),
        "value": mask(entity["value"]) if isinstance(entity["value"], str) else entity["value"],
    }


def _same(text: str) -> str:
    return text
