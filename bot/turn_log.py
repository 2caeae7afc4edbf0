"""What a turn writes and sends, built as plain values: log rows, the session row, reply frames.

Pure functions of the turn's parts, so the log's shape is tested without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bot.dialogue import Decision, State
from bot.dialogue_turn import TurnOutcome
from bot.forms import Say
from bot.protocol import Button, Image, LinkCard, Reply, from_rich, to_rich
from bot.rows import MessageRow, SessionRow
from bot.tables import Message
from bot.understanding import Entity, Understanding

Mask = Callable[[str], str]


class TurnContext(NamedTuple):
    """Who and where: the same on every row of a turn (a `NamedTuple`: one is made a turn)."""

    session_id: str
    user_id: int | None
    client_id: str | None
    model_version: str
    now: datetime


def session_row(state: State, user_id: int | None, now: datetime) -> SessionRow:
    """The `chat_session` columns a turn writes."""
    return SessionRow(
        active_form=state.active_form,
        requested_slot=state.requested_slot,
        slots=dict(state.slots),
        turns=state.turns,
        failures=state.failures,
        last_form=state.last_form,
        user_id=user_id,
        last_active=now,
    )


def inbound_row(
    ctx: TurnContext,
    understanding: Understanding,
    slots: dict[str, Any],
    latency_ms: float,
    mask: Mask,
    calls: Sequence[Mapping[str, Any]] = (),
) -> MessageRow:
    """The user's message as logged: what the classifier saw, with PII masked if asked, and
    every action and validator call its turn made (`{"calls": [...]}`, in the order made)."""
    prediction = understanding.prediction
    return MessageRow(
        session_id=ctx.session_id,
        user_id=ctx.user_id,
        direction="in",
        text=mask(understanding.text),
        client_id=ctx.client_id,
        intent=prediction.intent,
        confidence=prediction.confidence,
        ranking=[[name, round(score, 4)] for name, score in prediction.ranking[:3]],
        entities=[_masked_entity(e, mask) for e in understanding.entities],
        slots=slots,
        buttons=[],
        fallback=prediction.is_fallback,
        model_version=ctx.model_version,
        latency_ms=latency_ms,
        created_at=ctx.now,
        action={"calls": [dict(c) for c in calls]} if calls else None,
    )


def turn_calls(outcome: TurnOutcome) -> list[dict[str, Any]]:
    """The log records of a turn's calls: validators first (they run first), then actions."""
    return [v.as_log() for _, _, v in outcome.validations] + [r.as_log() for _, r in outcome.actions]


def outbound_rows(ctx: TurnContext, decision: Decision, slots: dict[str, Any]) -> list[MessageRow]:
    """The bot's replies as logged, one row a message."""
    return [
        MessageRow(
            session_id=ctx.session_id,
            user_id=ctx.user_id,
            direction="out",
            text=say.text,
            client_id=ctx.client_id,
            intent=say.intent or decision.intent,
            confidence=None,
            ranking=[],
            entities=[],
            slots=slots,
            buttons=[[t, p] for t, p in say.buttons],
            fallback=decision.action == "fallback",
            model_version=ctx.model_version,
            latency_ms=None,
            created_at=ctx.now,
            action=dict(decision.action_call) if decision.action_call is not None else None,
            rich=to_rich(*attachments(say)),
        )
        for say in decision.messages
    ]


def attachments(say: Say) -> tuple[Image | None, LinkCard | None]:
    """A message's image and link card as the reply frame carries them (checked: http(s) URLs only)."""
    image = Image(url=say.image, alt=say.image_alt) if say.image else None
    link = LinkCard(url=say.link.url, title=say.link.title, description=say.link.description) if say.link else None
    return image, link


def replies(
    ctx: TurnContext, understanding: Understanding, decision: Decision, message_ids: Sequence[int]
) -> list[Reply]:
    """The reply frames for a logged turn; each names the classifier's confidence in what it serves."""
    prediction = understanding.prediction
    scores = dict(prediction.ranking)
    slots = dict(decision.state.slots)

    def confidence(intent: str | None) -> float | None:
        """None for an intent the classifier did not rank (a slot value inside a form)."""
        score = prediction.confidence if intent is None else scores.get(intent)
        return None if score is None else round(score, 4)

    frames = []
    for say, message_id in zip(decision.messages, message_ids, strict=True):
        intent = say.intent or decision.intent
        image, link = attachments(say)
        frames.append(
            Reply(
                text=say.text,
                intent=intent,
                confidence=confidence(intent),
                reply_to=ctx.client_id,
                message_id=message_id,
                buttons=tuple(Button(title=t, payload=p) for t, p in say.buttons),
                image=image,
                link=link,
                slots=slots,
                fallback=decision.action == "fallback",
                time=ctx.now.isoformat(),
            )
        )
    return frames


def stored_reply(message: Message, client_id: str) -> Reply:
    """A logged bot message as the reply frame it was, for a resend after a reconnect."""
    image, link = from_rich(message.rich)
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
        image=image,
        link=link,
    )


def _masked_entity(entity: Entity, mask: Mask) -> dict[str, Any]:
    value = mask(entity.value) if isinstance(entity.value, str) else entity.value
    return {**entity.as_dict(), "text": mask(entity.text), "value": value}
