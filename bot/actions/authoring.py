"""The small vocabulary a Python action returns, and how it becomes an `ActionResult`.

An action may return None, a string, a `Reply`, any of the helpers below, an `ActionResult`,
or a list of these: `return [Reply("Cancelled."), SetSlot("order_id", None)]`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.actions.results import ActionMessage, ActionResult, Validation

Reply = ActionMessage
"""`Reply("text", buttons=["Yes", ("No", "/deny")], image=..., link=Link(...))`."""


@dataclass(frozen=True, slots=True)
class SetSlot:
    """Set a slot; None clears it."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class ResetSlots:
    """Forget the session's slots (user-scoped ones stay)."""


@dataclass(frozen=True, slots=True)
class Followup:
    """Start this intent next, e.g. a form that asks for what is missing."""

    intent: str


@dataclass(frozen=True, slots=True)
class EndSession:
    """Close the conversation once the messages are sent."""


@dataclass(frozen=True, slots=True)
class Handoff:
    """Hand the conversation to a person, saying why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse to act; `message`, if any, is said instead of the intent's responses."""

    message: str | None = None


Step = ActionMessage | SetSlot | ResetSlots | Followup | EndSession | Handoff | Reject
"""One thing an action does; an action may return a list of them."""


class ActionReturnError(TypeError):
    """An action returned something the runner cannot turn into a result."""


def to_result(value: Any) -> ActionResult:
    """What an action returned, as an `ActionResult` (outcome ok or rejected)."""
    if isinstance(value, ActionResult):
        return value
    items: Iterable[Any] = value if isinstance(value, list | tuple) else (value,)
    messages: list[ActionMessage] = []
    slots: dict[str, Any] = {}
    reset = end = rejected = False
    followup: str | None = None
    handoff: str | None = None
    for item in items:
        match item:
            case None:
                pass
            case str():
                messages.append(ActionMessage(item))
            case ActionMessage():
                messages.append(item)
            case SetSlot(name=name, value=slot_value):
                slots[name] = slot_value
            case ResetSlots():
                reset = True
                slots.clear()
            case Followup(intent=intent):
                followup = intent
            case EndSession():
                end = True
            case Handoff(reason=reason):
                handoff = reason
            case Reject(message=message):
                rejected = True
                if message:
                    messages.append(ActionMessage(message))
            case _:
                raise ActionReturnError(
                    f"an action returned {type(item).__name__}; return a str, Reply, SetSlot, ResetSlots, "
                    "Followup, EndSession, Handoff, Reject, ActionResult or a list of them"
                )
    return ActionResult(
        messages=tuple(messages),
        set_slots=slots,
        reset_slots=reset,
        followup=followup,
        end_session=end,
        handoff=handoff,
        outcome="rejected" if rejected else "ok",
    )


def to_validation(value: Any, candidate: Any) -> Validation:
    """What a validator returned: a `Validation`, or True / False for the value as given."""
    if isinstance(value, Validation):
        return value
    if value is True:
        return Validation.accept(candidate)
    if value is False:
        return Validation.reject()
    raise ActionReturnError(
        f"a validator returned {type(value).__name__}; return Validation.accept(value), "
        "Validation.reject(message), True or False"
    )
