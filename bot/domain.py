"""The bot's domain: `intents.yaml` parsed into typed models and validated.

Every problem found is reported with the file, the line and the intent it belongs to, so
a bot author can fix the file without reading a stack trace. See docs/intents.md.
"""

from __future__ import annotations

import hashlib
import string
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.actions.spec import DEFAULT_ACTIONS_FAILED, ActionSpec
from bot.markup import Example
from bot.system_texts import SystemTexts, texts_for
from bot.understanding import OOS
from bot.yaml_lines import Path_, Problem, compose, intent_of, line_of, syntax_problem, to_python, without

LANGUAGES = ("en", "ru")
Builtin = Literal[
    "number", "email", "date", "time", "datetime", "duration", "amount_of_money", "phone", "url", "ordinal"
]
"""Values `bot.values` resolves (its `BUILTINS`); each is an `EntitySpec.builtin`."""
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Constraint = Literal["future", "weekdays", "between", "min", "max", "choices"]


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


def _buttons_from_strings(value: Any) -> Any:
    """A button may be written as its title alone, which is then its payload too."""
    if isinstance(value, list):
        return [{"title": b, "payload": b} if isinstance(b, str) else b for b in value]
    return value


_STRINGS_AS_BUTTONS = BeforeValidator(_buttons_from_strings)


class Response(_Strict):
    text: str = Field(min_length=1)
    buttons: Annotated[tuple[Button, ...], _STRINGS_AS_BUTTONS] = ()

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
    buttons: Annotated[tuple[WelcomeButton, ...], _STRINGS_AS_BUTTONS] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str | dict) and "text" not in value else value

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
        set_: dict[Constraint, bool] = {
            "future": self.future,
            "weekdays": self.weekdays is not None,
            "between": self.between is not None,
            "min": self.min is not None,
            "max": self.max is not None,
            "choices": self.choices is not None,
        }
        return tuple(name for name, on in set_.items() if on)


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


class RawIntent(_Strict):
    """An intent as written, before its examples are parsed and its title defaulted."""

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


class RawDomain(_Strict):
    """The file as written: what `bot.domain_checks` validates before a `Domain` is built."""

    version: Literal[1] = 1
    language: str = "en"
    fallback: Fallback = Fallback()
    forms: Forms = Forms()
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    actions: dict[str, ActionSpec] = Field(default_factory=dict)
    actions_failed: str = Field(default=DEFAULT_ACTIONS_FAILED, min_length=1)
    intents: dict[str, RawIntent]
    welcome: Welcome | None = None
    system_texts: dict[str, str] = Field(default_factory=dict)


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
    system_texts: dict[str, str] = Field(default_factory=dict)
    """The bot's own texts (handoff notices, chat commands) overridden in this language."""
    source: str = "<memory>"
    sha256: str = ""
    languages: tuple[str, ...] = ()
    """Every language the bot speaks, `language` (the default) first; () for one language."""
    translations: dict[str, Domain] = Field(default_factory=dict)
    """The bot in each other language: the same intents, slots and actions, its own words."""

    def for_language(self, language: str | None) -> Domain:
        """The bot as it speaks `language`; itself for its default, None or a language it lacks."""
        return self.translations.get(language or self.language, self)

    @cached_property
    def texts(self) -> SystemTexts:
        """What the bot says of itself in this language: the built-in texts with the domain's overrides."""
        return texts_for(self.language, self.system_texts)

    def examples_by_language(self) -> dict[str, list[tuple[str, str]]]:
        """(text, intent) training pairs of each language, the default first."""
        return {x: d._own_examples() for x, d in {self.language: self, **self.translations}.items()}

    @cached_property
    def hands_over(self) -> bool:
        """Whether an intent asks for a person (`handoff: true`)."""
        return any(map(self.asks_for_person, self.intents))

    def asks_for_person(self, intent: str | None) -> bool:
        """Whether replying to `intent` hands the conversation to a person (`handoff: true`)."""
        return intent in self.intents and self.intents[intent].handoff

    @cached_property
    def answerable(self) -> dict[str, Intent]:
        """The intents the bot answers: all but the out-of-scope examples."""
        return {name: i for name, i in self.intents.items() if name != OOS}

    def training_examples(self) -> list[tuple[str, str]]:
        """(text, intent) pairs of every language the bot speaks: one model learns them all."""
        return [pair for pairs in self.examples_by_language().values() for pair in pairs]

    def _own_examples(self) -> list[tuple[str, str]]:
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
    if "languages" in data:
        from bot.domain_languages import parse_languages  # it builds each language with build_domain

        return parse_languages(data, lines, problems, text, source)
    return build_domain(data, lines, problems, text, source)


def build_domain(
    data: dict[str, Any], lines: dict[Path_, int], problems: list[Problem], text: str, source: str
) -> Domain:
    """One language's plain data, with the line of every key, validated into a `Domain`."""
    try:
        raw = RawDomain.model_validate(data)
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
            raw = RawDomain.model_validate(without(data, unknown))
        except ValidationError:
            raise DomainError(source, problems) from None

    from bot.domain_checks import check  # the checks import these models, so not at the top

    problems += check(raw, lines)
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
        system_texts=raw.system_texts,
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
