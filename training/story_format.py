"""The conversation-test file format (docs/testing.md): typed, validated, with line-free but
named errors ("conversation 'x', step 3: ...")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.actions.results import ActionMessage, ActionResult, Outcome, Validation


class StoryFileError(Exception):
    """A conversation-test file cannot be read; the message says which file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FakeMessage(_Strict):
    text: str = ""
    buttons: list[str | dict[str, str]] = Field(default_factory=list)
    image: str | None = None

    def message(self, slots: dict[str, Any]) -> ActionMessage:
        from bot.forms import fill

        pairs = tuple((b, b) if isinstance(b, str) else (b["title"], b["payload"]) for b in self.buttons)
        return ActionMessage(fill(self.text, slots), pairs, image=self.image)


class FakeResult(_Strict):
    """What a fake action returns; `when` picks it by the slots of the turn."""

    when: dict[str, Any] = Field(default_factory=dict)
    outcome: Outcome = "ok"
    messages: list[str | FakeMessage] = Field(default_factory=list)
    set_slots: dict[str, Any] = Field(default_factory=dict)
    reset_slots: bool = False
    followup: str | None = None
    end_session: bool = False
    handoff: str | None = None

    def matches(self, slots: dict[str, Any]) -> bool:
        """Every `when:` slot has this value; compared as text, so `date: 2026-12-04` (which YAML
        reads as a date) matches the ISO string a built-in fills the slot with; null means unset."""
        return all(_same(slots.get(k), v) for k, v in self.when.items())

    def result(self, slots: dict[str, Any]) -> ActionResult:
        from bot.forms import fill

        messages = tuple(
            ActionMessage(fill(m, slots)) if isinstance(m, str) else m.message(slots) for m in self.messages
        )
        return ActionResult(
            outcome=self.outcome,
            messages=messages if self.outcome == "ok" else (),
            set_slots=self.set_slots,
            reset_slots=self.reset_slots,
            followup=self.followup,
            end_session=self.end_session,
            handoff=self.handoff,
        )


def _same(got: Any, wanted: Any) -> bool:
    if wanted is None or got is None:
        return got is wanted
    return got == wanted or str(got) == str(wanted)


class FakeValidator(_Strict):
    """Accepts the values listed (a mapping normalises them); rejects the rest with `message`."""

    accept: dict[str, Any] | list[str] = Field(default_factory=list)
    message: str | None = None

    def verdict(self, value: Any) -> Validation:
        key = str(value)
        accepted = {k.casefold(): v for k, v in self.accept.items()} if isinstance(self.accept, dict) else None
        if accepted is not None and key.casefold() in accepted:
            return Validation(True, accepted[key.casefold()])
        if isinstance(self.accept, list) and key.casefold() in {a.casefold() for a in self.accept}:
            return Validation(True, value)
        return Validation(False, message=self.message)


class Step(_Strict):
    """One user turn and what must be true after it; keys left out are not checked."""

    user: str | None = None
    button: str | None = None
    """The title of a button of the bot's last replies: its payload is sent."""
    intent: str | list[str] | None = None
    """The classifier's intent (`fallback` below the threshold); a list for several requests."""
    bot: str | list[str] | None = None
    """Fragments of the replies, in order, case-insensitive."""
    not_bot: str | list[str] | None = None
    """Fragments no reply may contain."""
    buttons: list[str] | None = None
    """Button titles the replies must offer."""
    slots: dict[str, Any] | None = None
    """Slot values after the turn (only those listed); null means the slot must be unset."""
    form: str | None = None
    """The active form after the turn; null means none."""
    requested: str | None = None
    action: str | list[str] | None = None
    """The action(s) called this turn; null means none."""
    handoff: bool | None = None
    end_session: bool | None = None

    @model_validator(mode="after")
    def _one_input(self) -> Step:
        if (self.user is None) == (self.button is None):
            raise ValueError("each step needs exactly one of `user:` (text) or `button:` (a button title)")
        return self

    def checks(self, name: str) -> bool:
        return name in self.model_fields_set


class Conversation(_Strict):
    name: str
    slots: dict[str, Any] = Field(default_factory=dict)
    """Slots known before the first turn (a logged-in user's name)."""
    steps: list[Step] = Field(min_length=1)


DEFAULT_NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
"""The fixed clock of a file without `now:` (a Monday, 10:00 UTC): runs never read the real time."""


class StoryFile(_Strict):
    actions: dict[str, FakeResult | list[FakeResult]] = Field(default_factory=dict)
    validators: dict[str, FakeValidator] = Field(default_factory=dict)
    seed: int = 0
    now: datetime = DEFAULT_NOW
    """The moment "tomorrow" and "friday" are read from; without an offset, UTC."""
    language: str | None = None
    """The sessions' language, for a bot of several (`languages:`); by default its first."""
    conversations: list[Conversation]
    path: str = "<memory>"

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_stories(text: str, path: str = "<memory>") -> StoryFile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StoryFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise StoryFileError(f"{path}: the top level must be a mapping with `conversations:`")
    try:
        return StoryFile.model_validate({**data, "path": path})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = _where(data, err["loc"])
            problems.append(f"{path}: {where}: {err['msg']}")
        raise StoryFileError("\n".join(problems)) from None


def load_stories(path: str | Path) -> StoryFile:
    path = Path(path)
    try:
        return parse_stories(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise StoryFileError(f"{path}: file not found") from None


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """'conversation "track an order", step 2: user' rather than a pydantic path."""
    if len(loc) >= 2 and loc[0] == "conversations" and isinstance(loc[1], int):
        try:
            name = data["conversations"][loc[1]].get("name", f"#{loc[1] + 1}")
        except (IndexError, AttributeError, KeyError):
            name = f"#{loc[1] + 1}"
        rest = list(loc[2:])
        if len(rest) >= 2 and rest[0] == "steps" and isinstance(rest[1], int):
            tail = ".".join(str(p) for p in rest[2:] if not str(p).startswith(("str", "list", "dict")))
            return f"conversation {name!r}, step {rest[1] + 1}" + (f": {tail}" if tail else "")
        return f"conversation {name!r}: " + ".".join(str(p) for p in rest)
    return ".".join(str(p) for p in loc)
