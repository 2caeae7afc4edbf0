"""The bot's domain: `intents.yaml` parsed into typed models and validated.

Every problem found is reported with the file, the line and the intent it belongs to, so
a bot author can fix the file without reading a stack trace. See docs/intents.md.
"""

from __future__ import annotations

import hashlib
import re
import string
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.actions.spec import DEFAULT_ACTIONS_FAILED, ActionSpec
from bot.understanding import OOS
from bot.yaml_lines import Path_, Problem, compose, intent_of, line_of, syntax_problem, to_python, without

LANGUAGES = ("en", "ru")
BUILTIN_ENTITIES = (
    "number", "email", "date", "time", "datetime", "duration", "amount_of_money", "phone", "url", "ordinal",
)  # fmt: skip
"""Values `bot.values` resolves; each is an `EntitySpec.builtin`."""
Builtin = Literal[
    "number", "email", "date", "time", "datetime", "duration", "amount_of_money", "phone", "url", "ordinal"
]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Constraint = Literal["future", "weekdays", "between", "min", "max", "choices"]
_CONSTRAINT_BUILTINS: dict[str, tuple[str, ...]] = {
    "future": ("date", "datetime"),
    "weekdays": ("date", "datetime"),
    "between": ("time", "datetime"),
    "min": ("number", "amount_of_money", "ordinal"),
    "max": ("number", "amount_of_money", "ordinal"),
}
_BETWEEN = re.compile(r"(?P<first>\d{1,2}:\d{2})\s*-\s*(?P<last>\d{1,2}:\d{2})")
_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\]\((?P<entity>[A-Za-z_][\w-]*)\)")


class DomainError(Exception):
    """`intents.yaml` cannot be used; `problems` lists every reason with its line."""

    def __init__(self, path: str | Path, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(self.format(p) for p in problems))

    def format(self, problem: Problem) -> str:
        where = self.path if problem.line is None else f"{self.path}:{problem.line}"
        who = f" intent '{problem.intent}':" if problem.intent else ""
        return f"{where}:{who} {problem.message}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Button(_Strict):
    title: str = Field(min_length=1)
    payload: str = Field(min_length=1)


class Response(_Strict):
    text: str = Field(min_length=1)
    buttons: tuple[Button, ...] = ()

    @field_validator("buttons", mode="before")
    @classmethod
    def _buttons_from_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"title": b, "payload": b} if isinstance(b, str) else b for b in value]
        return value

    @cached_property
    def slot_names(self) -> frozenset[str]:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.text) if name)


class WelcomeButton(_Strict):
    title: str | dict[str, str]
    """A string, or one per language: `{en: Order status, ru: Статус заказа}`."""
    payload: str = Field(min_length=1)


class Welcome(_Strict):
    """What a new conversation opens with: a text (one per language, or one for all) and starter buttons."""

    text: str | dict[str, str]
    buttons: tuple[WelcomeButton, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str | dict) and "text" not in value else value

    @field_validator("buttons", mode="before")
    @classmethod
    def _buttons_from_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"title": b, "payload": b} if isinstance(b, str) else b for b in value]
        return value

    def for_language(self, lang: str | None, default: str) -> Response:
        """The welcome in `lang`, else in the domain's language, else in the first one given."""
        buttons = tuple(Button(title=_localized(b.title, lang, default), payload=b.payload) for b in self.buttons)
        return Response(text=_localized(self.text, lang, default), buttons=buttons)


def _localized(value: str | dict[str, str], lang: str | None, default: str) -> str:
    if isinstance(value, str):
        return value
    for key in (lang, default):
        if key and key in value:
            return value[key]
    return next(iter(value.values()))


MAX_WELCOME_BUTTONS = 10


def check_welcome(welcome: Welcome | None, intents: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems with `welcome:`: empty or unknown-language texts, too many buttons, unknown `/intent` payloads."""
    if welcome is None:
        return []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    texts: list[tuple[tuple[str | int, ...], str | dict[str, str]]] = [(("welcome", "text"), welcome.text)]
    texts += [(("welcome", "buttons", i), b.title) for i, b in enumerate(welcome.buttons)]
    for path, value in texts:
        variants = value.items() if isinstance(value, dict) else [("", value)]
        if not value:
            problems.append((path, "the welcome text is empty"))
        for lang, text in variants:
            if lang and lang not in LANGUAGES:
                problems.append((path, f"language '{lang}' is not supported; use one of {', '.join(LANGUAGES)}"))
            if not text.strip():
                problems.append((path, f"an empty text{f' for {lang}' if lang else ''}"))
    if len(welcome.buttons) > MAX_WELCOME_BUTTONS:
        problems.append((("welcome", "buttons"), f"at most {MAX_WELCOME_BUTTONS} buttons, has {len(welcome.buttons)}"))
    for i, button in enumerate(welcome.buttons):
        name = button.payload.removeprefix("/")
        if button.payload.startswith("/") and name not in intents:
            problems.append((("welcome", "buttons", i), f"button payload {button.payload!r} names no intent"))
    return problems


class EntitySpec(_Strict):
    values: dict[str, list[str]] = Field(default_factory=dict)
    regex: tuple[str, ...] = ()
    builtin: Builtin | None = None
    learned: bool = False
    """Found by the entity tagger, learnt from the examples' `[text](entity)` marks: names,
    cities, free-form reasons that no list or pattern declares."""

    @field_validator("regex", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("values", mode="before")
    @classmethod
    def _list_or_mapping(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {v: [] for v in value}
        return {k: (v or []) for k, v in value.items()} if isinstance(value, dict) else value


class SlotSpec(_Strict):
    entity: str | None = None
    type: Literal["entity", "text"] = "entity"
    scope: Literal["session", "user", "form"] = "session"
    """session: kept for the session and reused by any intent that needs it; user: also kept
    across a logged-in user's sessions; form: kept after its form as context, but asked again
    by any other form (a booking's date is no answer for the next booking)."""
    future: bool = False
    """A date or datetime must not be past (today counts)."""
    weekdays: tuple[Weekday, ...] | None = None
    """The days a date or datetime may fall on."""
    between: str | None = None
    """Opening hours for a time or datetime, "09:00-18:00", both ends included."""
    min: float | None = None
    max: float | None = None
    """Bounds for a number, an ordinal or an amount of money."""
    choices: tuple[str, ...] | None = None
    """The only values the slot takes (compared without case)."""
    messages: dict[Constraint, str] = Field(default_factory=dict)
    """What to ask again when a value breaks a constraint, by constraint."""
    validator: str | None = Field(default=None, alias="validate")
    """`validate:` in YAML: an action that accepts, normalises or rejects a value before it fills the slot."""

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The constraints this slot sets, in a fixed order."""
        set_ = {
            "future": self.future,
            "weekdays": self.weekdays is not None,
            "between": self.between is not None,
            "min": self.min is not None,
            "max": self.max is not None,
            "choices": self.choices is not None,
        }
        return tuple(name for name, on in set_.items() if on)  # type: ignore[misc]


class Fallback(_Strict):
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    ambiguity_margin: float = Field(default=0.1, ge=0.0, le=1.0)
    responses: tuple[Response, ...] = (Response(text="Sorry, I didn't get that. Could you rephrase?"),)

    @field_validator("responses", mode="before")
    @classmethod
    def _responses_from_strings(cls, value: Any) -> Any:
        return _responses(value)


class Forms(_Strict):
    """How slot-filling forms talk: how to cancel one and what to say about bad values."""

    cancel_intents: tuple[str, ...] = ("cancel", "stop")
    affirm_intents: tuple[str, ...] = ("affirm",)
    """Intents that answer yes to an intent's `confirm:` question; a cancel intent answers no."""
    cancelled: str = "Okay, I've stopped that. What else can I do for you?"
    invalid: str = "Sorry, that doesn't look right."
    missing_intents: tuple[str, ...] = ("no_info",)
    """Intents that say "I don't have it": the form's `on_missing:` decides what follows."""
    correct_intents: tuple[str, ...] = ("correct",)
    """Intents that change a value already given ("actually, make it friday")."""
    goodbye_intents: tuple[str, ...] = ("goodbye",)
    """Intents that end the chat: inside a form they close it (saying so) instead of asking again."""
    handoff_intents: tuple[str, ...] = ("talk_to_human",)
    """Intents that ask for a person: offered when a form is stuck, and where `on_missing: handoff` leads."""
    stuck: str = "I need this to go on. {question}"
    """Said after the second wrong answer to the same question, with buttons to get out."""
    dropped: str = 'I\'ve left "{title}" aside; nothing was done there.'
    noted: str = "Noted: {values}."
    """Said before the same question when a message gave the form other values than the one asked."""
    """Said when another request leaves a form unfinished, so nobody believes it was done."""


class Annotation(_Strict):
    start: int
    end: int
    entity: str
    text: str


class Example(_Strict):
    text: str
    entities: tuple[Annotation, ...] = ()

    @classmethod
    def parse(cls, markup: str) -> Example:
        """Strip `[text](entity)` marks, keeping the offsets of each entity in the plain text."""
        parts: list[str] = []
        entities: list[Annotation] = []
        pos = 0
        length = 0
        for match in _ANNOTATION.finditer(markup):
            before = markup[pos : match.start()]
            parts.append(before)
            length += len(before)
            value = match["text"]
            entities.append(Annotation(start=length, end=length + len(value), entity=match["entity"], text=value))
            parts.append(value)
            length += len(value)
            pos = match.end()
        parts.append(markup[pos:])
        return cls(text="".join(parts).strip(), entities=tuple(entities))


class Intent(_Strict):
    name: str
    title: str
    """How buttons name the intent ("did you mean ...?"); defaults to the name humanised."""
    examples: tuple[Example, ...]
    responses: tuple[Response, ...] = ()
    slots: dict[str, str] = Field(default_factory=dict)
    """Required slots in the order they are asked, each with its question."""
    confirm: str | None = None
    """A yes/no question asked once the slots are filled, before the bot acts: for what
    cannot be undone, such as cancelling an order."""
    action: str | None = None
    """An action run once the slots are filled (and confirmed); `responses` stand in if it fails."""
    on_missing: str | None = None
    """When the user lacks a slot's value ("I don't have it"): another intent's name, `handoff`, or a reply."""
    handoff: bool = False
    """Hand the conversation to a person (the queue, or a message left when nobody is online)."""


class _RawIntent(_Strict):
    title: str | None = None
    examples: list[str] = Field(default_factory=list)
    responses: list[Response] = Field(default_factory=list)
    slots: dict[str, str] = Field(default_factory=dict)
    confirm: str | None = None
    action: str | None = None
    on_missing: str | None = None
    handoff: bool = False

    @field_validator("responses", mode="before")
    @classmethod
    def _responses_from_strings(cls, value: Any) -> Any:
        return _responses(value)


class _RawDomain(_Strict):
    version: Literal[1] = 1
    language: str = "en"
    fallback: Fallback = Fallback()
    forms: Forms = Forms()
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    actions: dict[str, ActionSpec] = Field(default_factory=dict)
    actions_failed: str = Field(default=DEFAULT_ACTIONS_FAILED, min_length=1)
    intents: dict[str, _RawIntent]
    welcome: Welcome | None = None


class Domain(_Strict):
    """Everything the bot knows: its language, intents, entities, slots and fallback."""

    language: str
    fallback: Fallback
    forms: Forms = Forms()
    entities: dict[str, EntitySpec]
    slots: dict[str, SlotSpec]
    intents: dict[str, Intent]
    actions: dict[str, ActionSpec] = Field(default_factory=dict)
    actions_failed: str = DEFAULT_ACTIONS_FAILED
    """Said when an action fails and its intent has no `responses:` to fall back on."""

    welcome: Welcome | None = None
    """Sent when a conversation opens (a `reply` frame right after `session`)."""
    source: str = "<memory>"
    sha256: str = ""

    @cached_property
    def answerable(self) -> dict[str, Intent]:
        """The intents the bot answers: all but the out-of-scope examples."""
        return {name: i for name, i in self.intents.items() if name != OOS}

    def training_examples(self) -> list[tuple[str, str]]:
        return [(ex.text, name) for name, intent in self.intents.items() for ex in intent.examples]


def _responses(value: Any) -> Any:
    if isinstance(value, list):
        return [{"text": r} if isinstance(r, str) else r for r in value]
    return value


# -- loading ---------------------------------------------------------------------------------


def parse_domain(text: str, source: str = "<memory>") -> Domain:
    """Parse and validate domain YAML; raise `DomainError` listing every problem."""
    try:
        root = compose(text)
    except yaml.MarkedYAMLError as exc:
        raise DomainError(source, [syntax_problem(exc, text)]) from None
    if root is None:
        raise DomainError(source, [Problem(None, None, "the file is empty; it needs at least `intents:`")])

    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    data = to_python(root, (), lines, problems)
    if not isinstance(data, dict):
        raise DomainError(source, [Problem(1, None, "the top level must be a mapping with `intents:`")])
    try:
        raw = _RawDomain.model_validate(data)
    except ValidationError as exc:
        unknown: list[Path_] = []
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "list[", "str")))
            )
            field_name = ".".join(str(p) for p in loc)
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(Problem(line_of(loc, lines), intent_of(loc), f"{field_name}: {message}"))
            if err["type"] == "extra_forbidden":
                unknown.append(loc)
        try:  # without its unknown keys the file may be checkable, so that every problem shows at once
            raw = _RawDomain.model_validate(without(data, unknown))
        except ValidationError:
            raise DomainError(source, problems) from None

    problems += _check(raw, lines)
    if problems:
        raise DomainError(source, sorted(problems, key=lambda p: p.line or 0))

    intents = {
        name: Intent(
            name=name,
            title=raw_intent.title or name.replace("_", " ").capitalize(),
            examples=tuple(Example.parse(e) for e in raw_intent.examples),
            responses=tuple(raw_intent.responses),
            slots=raw_intent.slots,
            confirm=raw_intent.confirm,
            action=raw_intent.action,
            on_missing=raw_intent.on_missing,
            handoff=raw_intent.handoff,
        )
        for name, raw_intent in raw.intents.items()
    }
    return Domain(
        language=raw.language,
        fallback=raw.fallback,
        forms=raw.forms,
        entities=raw.entities,
        slots=raw.slots,
        intents=intents,
        actions=raw.actions,
        actions_failed=raw.actions_failed,
        welcome=raw.welcome,
        source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def load_domain(path: str | Path) -> Domain:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DomainError(path, [Problem(None, None, "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise DomainError(path, [Problem(None, None, f"not UTF-8 text ({exc.reason})")]) from None
    return parse_domain(text, source=str(path))


def _check(raw: _RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """The checks a schema cannot express: references between parts and duplicates."""
    problems: list[Problem] = []

    def add(path: Path_, message: str) -> None:
        problems.append(Problem(line_of(path, lines), intent_of(path), message))

    if raw.language not in LANGUAGES:
        add(("language",), f"language '{raw.language}' is not supported; use one of {', '.join(LANGUAGES)}")

    for name, spec in raw.entities.items():
        if not (spec.values or spec.regex or spec.builtin or spec.learned):
            add(("entities", name), f"entity '{name}' needs `values`, `regex`, `builtin` or `learned: true`")
        for i, pattern in enumerate(spec.regex):
            try:
                re.compile(pattern)
            except re.error as exc:
                add(("entities", name, "regex", i), f"entity '{name}': invalid regex {pattern!r}: {exc}")

    problems += check_slot_constraints(raw.slots, raw.entities, lines)
    for name, slot in raw.slots.items():
        if slot.type == "entity" and slot.entity is None:
            add(("slots", name), f"slot '{name}' needs `entity:` (or `type: text` for free text)")
        if slot.entity is not None and slot.entity not in raw.entities:
            add(("slots", name, "entity"), f"slot '{name}' names undeclared entity '{slot.entity}'")

    for path, message in check_welcome(raw.welcome, raw.intents):
        add(path, message)

    if not raw.fallback.responses:
        add(("fallback", "responses"), "the fallback needs at least one response")
    _check_templates(("fallback", "responses"), raw.fallback.responses, raw.slots, add)

    seen: dict[str, tuple[str, int | None]] = {}
    for name, intent in raw.intents.items():
        base: Path_ = ("intents", name)
        if len(intent.examples) < 2:
            add((*base, "examples"), f"needs at least 2 examples, has {len(intent.examples)}")
        if not intent.responses and name != OOS and not intent.action:
            add(base, "has no responses; add `responses:` with at least one")
        for i, markup in enumerate(intent.examples):
            example = Example.parse(markup)
            if not example.text:
                add((*base, "examples", i), "empty example")
                continue
            for ann in example.entities:
                if ann.entity not in raw.entities:
                    add((*base, "examples", i), f"example {markup!r} marks undeclared entity '{ann.entity}'")
            key = " ".join(example.text.casefold().split())
            other = seen.get(key)
            if other and other[0] != name:
                add(
                    (*base, "examples", i),
                    f"example {example.text!r} is also an example of intent '{other[0]}' (line {other[1]})",
                )
            elif not other:
                seen[key] = (name, line_of((*base, "examples", i), lines))
        for slot_name in intent.slots:
            if slot_name not in raw.slots:
                add((*base, "slots", slot_name), f"requires slot '{slot_name}' that `slots:` does not declare")
        _check_templates((*base, "responses"), intent.responses, raw.slots, add)
        if intent.confirm is not None:
            _check_templates(
                (*base, "confirm"), [Response(text=intent.confirm)], raw.slots, add, kind="confirm question"
            )
            if not set(raw.forms.affirm_intents) & raw.intents.keys():
                yes = ", ".join(raw.forms.affirm_intents)
                add(
                    (*base, "confirm"),
                    f"asks to confirm, but none of forms.affirm_intents ({yes}) is an intent to answer yes with",
                )
    _check_learned_entities(raw, add)
    problems += _check_actions(raw, lines)
    problems += check_on_missing(raw, lines)
    return problems


def _check_actions(raw: _RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """Each action is Python or HTTP, not both; `action:` and `validate:` name declared actions."""
    problems: list[Problem] = []

    def add(path: Path_, message: str) -> None:
        problems.append(Problem(line_of(path, lines), intent_of(path), message))

    for name, spec in raw.actions.items():
        if (spec.python is None) == (spec.url is None):
            which = "both `python:` and" if spec.python else "neither `python:` nor"
            add(("actions", name), f"action '{name}' has {which} `url:`; give exactly one")
    declared = ", ".join(sorted(raw.actions)) or "none declared"
    for name, intent in raw.intents.items():
        if intent.action is not None and intent.action not in raw.actions:
            add(("intents", name, "action"), f"runs unknown action '{intent.action}' (actions: {declared})")
    for name, slot in raw.slots.items():
        if slot.validator is not None and slot.validator not in raw.actions:
            add(
                ("slots", name, "validate"),
                f"slot '{name}' is validated by unknown action '{slot.validator}' (actions: {declared})",
            )
    return problems


def check_slot_constraints(
    slots: dict[str, SlotSpec], entities: dict[str, EntitySpec], lines: dict[Path_, int]
) -> list[Problem]:
    """A slot's constraints must suit its entity's built-in, be well formed, and have their messages."""
    problems: list[Problem] = []

    def add(path: Path_, message: str) -> None:
        problems.append(Problem(line_of(path, lines), None, message))

    for name, slot in slots.items():
        base: Path_ = ("slots", name)
        spec = entities.get(slot.entity or "")
        builtin = spec.builtin if spec is not None else None
        for constraint in slot.constraints:
            kinds = _CONSTRAINT_BUILTINS.get(constraint)
            if kinds is not None and builtin not in kinds:
                add(
                    (*base, constraint),
                    f"slot '{name}': `{constraint}` needs an entity with `builtin:` {' or '.join(kinds)}",
                )
        if slot.between is not None and parse_between(slot.between) is None:
            example = '"09:00-18:00"'
            add((*base, "between"), f"slot '{name}': between {slot.between!r} must be two times, such as {example}")
        if slot.min is not None and slot.max is not None and slot.min > slot.max:
            add((*base, "min"), f"slot '{name}': min {slot.min:g} is greater than max {slot.max:g}")
        if slot.choices is not None:
            if not slot.choices:
                add((*base, "choices"), f"slot '{name}': `choices` needs at least one value")
            known = spec.values if spec is not None else {}
            for i, choice in enumerate(slot.choices):
                if known and choice not in known:
                    add(
                        (*base, "choices", i),
                        f"slot '{name}': choice {choice!r} is not a value of entity '{slot.entity}'"
                        f" ({', '.join(known)})",
                    )
        for constraint in slot.messages:
            if constraint not in slot.constraints:
                add(
                    (*base, "messages", constraint),
                    f"slot '{name}': a message for `{constraint}`, which the slot does not set",
                )
    return problems


def check_on_missing(raw: _RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """`on_missing:` belongs to a form and names an intent, `handoff`, or is a reply."""
    problems: list[Problem] = []
    for name, intent in raw.intents.items():
        target = intent.on_missing
        if target is None:
            continue
        line = line_of(("intents", name, "on_missing"), lines)
        if not intent.slots:
            problems.append(Problem(line, name, "on_missing: needs `slots:`; only a form can lack a value"))
        if target != "handoff" and target not in raw.intents and re.fullmatch(r"[a-z_][a-z0-9_]*", target):
            message = f"on_missing: '{target}' is no intent; name an intent, write `handoff`, or write a reply"
            problems.append(Problem(line, name, message))
    return problems


def parse_between(text: str) -> tuple[time, time] | None:
    """The first and last time of "09:00-18:00", or None when it is not two increasing times."""
    m = _BETWEEN.fullmatch(text.strip())
    if m is None:
        return None
    try:
        first, last = time.fromisoformat(m["first"].zfill(5)), time.fromisoformat(m["last"].zfill(5))
    except ValueError:
        return None
    return (first, last) if first < last else None


def _check_learned_entities(raw: _RawDomain, add: Any) -> None:
    """A `learned: true` entity is only as good as its marks: with none, the tagger never finds it."""
    marked = {a.entity for i in raw.intents.values() for m in i.examples for a in Example.parse(m).entities}
    for name, spec in raw.entities.items():
        if spec.learned and name not in marked:
            add(
                ("entities", name),
                f"entity '{name}' is `learned: true` but no example marks it; mark it as [text]({name}) in examples",
            )


def _check_templates(
    path: Path_,
    responses: list[Response] | tuple[Response, ...],
    slots: dict[str, SlotSpec],
    add: Any,
    kind: str = "response",
) -> None:
    for i, response in enumerate(responses):
        try:
            names = response.slot_names
        except ValueError as exc:
            add((*path, i), f"{kind} {response.text!r} is not a valid template: {exc}")
            continue
        for slot_name in sorted(names - slots.keys()):
            add((*path, i), f"{kind} {response.text!r} uses {{{slot_name}}} but no slot '{slot_name}' is declared")
