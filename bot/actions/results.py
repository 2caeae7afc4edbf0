"""What an action gives back: messages, slot changes, a follow-up, and how the call went.

Action authors return these (or the small helpers in `bot.actions.authoring`); the runner
fills in `outcome`, `latency_ms` and `error`, so a failure is a value, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Outcome = Literal["ok", "rejected", "timeout", "error", "circuit_open"]
"""ok: the action ran; rejected: it refused (Rasa's ActionExecutionRejection); timeout, error
and circuit_open: it failed, and the intent's responses or `actions_failed:` stand in."""
FAILED: frozenset[str] = frozenset({"timeout", "error", "circuit_open"})
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Link:
    """A link the widget shows as a card: where it goes, what it is called, what it is."""

    url: str
    title: str = ""
    description: str = ""


def _buttons(buttons: Iterable[str | tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((b, b) if isinstance(b, str) else (str(b[0]), str(b[1])) for b in buttons)


@dataclass(frozen=True, slots=True)
class ActionMessage:
    """One message from an action. Buttons are `(title, payload)` pairs, or a bare string
    that is both."""

    text: str = ""
    buttons: tuple[tuple[str, str], ...] = ()
    image: str | None = None
    image_alt: str = ""
    link: Link | None = None
    custom: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "buttons", _buttons(self.buttons))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON, for a transport frame or the log."""
        out: dict[str, Any] = {"text": self.text, "buttons": [list(b) for b in self.buttons]}
        if self.image:
            out["image"] = {"url": self.image, "alt": self.image_alt}
        if self.link:
            out["link"] = {"url": self.link.url, "title": self.link.title, "description": self.link.description}
        if self.custom is not None:
            out["custom"] = self.custom
        return out


@dataclass(frozen=True, slots=True)
class ActionResult:
    """Everything one action call did, and how the call went."""

    messages: tuple[ActionMessage, ...] = ()
    set_slots: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Slots to set; a value of None clears the slot."""
    reset_slots: bool = False
    """Forget every session slot first (user-scoped slots stay); `set_slots` apply after."""
    followup: str | None = None
    """An intent to start next, such as a form."""
    end_session: bool = False
    handoff: str | None = None
    """Why the conversation should go to a person; None keeps the bot in charge."""
    outcome: Outcome = "ok"
    latency_ms: float = 0.0
    error: str | None = None
    name: str = ""
    """The action's name in intents.yaml."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "set_slots", MappingProxyType(dict(self.set_slots)))

    @property
    def failed(self) -> bool:
        """Whether the intent's responses (or `actions_failed:`) must stand in: a failure, or
        a refusal that said nothing."""
        return self.outcome in FAILED or (self.outcome == "rejected" and not self.messages)

    @property
    def slots_changed(self) -> tuple[str, ...]:
        return (("*",) if self.reset_slots else ()) + tuple(sorted(self.set_slots))

    def with_call(self, *, name: str, outcome: Outcome, latency_ms: float, error: str | None = None) -> ActionResult:
        """This result stamped with how the call went (its fields are already frozen copies, so
        they are shared rather than copied again, as `dataclasses.replace` would)."""
        done = object.__new__(ActionResult)
        for kept in _KEPT:
            object.__setattr__(done, kept, getattr(self, kept))
        object.__setattr__(done, "name", name)
        object.__setattr__(done, "outcome", outcome)
        object.__setattr__(done, "latency_ms", latency_ms)
        object.__setattr__(done, "error", error)
        return done

    def as_log(self) -> dict[str, Any]:
        """The `action` column of the reply's log row (`MessageRow.action`)."""
        return _log(self.name, "run", self.outcome, self.latency_ms, self.slots_changed, self.error)


_KEPT = ("messages", "set_slots", "reset_slots", "followup", "end_session", "handoff")
"""`ActionResult`'s fields that `with_call` keeps; the rest it sets."""


@dataclass(frozen=True, slots=True)
class Validation:
    """A slot validator's verdict: the value accepted (perhaps normalised) or rejected.

    A rejection's `message` is said before the slot's question is asked again; None leaves
    it to the domain's `forms.invalid`.
    """

    accepted: bool
    value: Any = None
    message: str | None = None
    outcome: Outcome = "ok"
    latency_ms: float = 0.0
    error: str | None = None
    name: str = ""
    slot: str = ""

    @classmethod
    def accept(cls, value: Any) -> Validation:
        return cls(accepted=True, value=value)

    @classmethod
    def reject(cls, message: str | None = None) -> Validation:
        return cls(accepted=False, message=message)

    def as_log(self) -> dict[str, Any]:
        changed = (self.slot,) if self.accepted else ()
        record = _log(self.name, "validate", self.outcome, self.latency_ms, changed, self.error)
        record["slot"] = self.slot
        record["accepted"] = self.accepted
        return record


def _log(
    name: str, kind: str, outcome: str, latency_ms: float, changed: tuple[str, ...], error: str | None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "outcome": outcome,
        "latency_ms": round(latency_ms, 3),
        "slots_changed": list(changed),
    }
    if error:
        record["error"] = error
    return record
