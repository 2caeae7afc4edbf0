"""The bot's domain: `intents.yaml` parsed into typed models and validated.

Every problem found is reported with the file, the line and the intent it belongs to, so
a bot author can fix the file without reading a stack trace. See docs/intents.md.
"""

from __future__ import annotations

import copy
import hashlib
import re
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain_languages import Path_, in_language
from bot.understanding import OOS

LANGUAGES = ("en", "ru")
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BUILTIN_ENTITIES = ("number", "email")
_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\]\((?P<entity>[A-Za-z_][\w-]*)\)")


@dataclass(frozen=True)
class Problem:
    line: int | None
    intent: str | None
    message: str


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


class EntitySpec(_Strict):
    values: dict[str, list[str]] = Field(default_factory=dict)
    regex: tuple[str, ...] = ()
    builtin: Literal["number", "email"] | None = None

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
    scope: Literal["session", "user"] = "session"


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


class _RawIntent(_Strict):
    title: str | None = None
    examples: list[str] = Field(default_factory=list)
    responses: list[Response] = Field(default_factory=list)
    slots: dict[str, str] = Field(default_factory=dict)
    confirm: str | None = None

    @field_validator("responses", mode="before")
    @classmethod
    def _responses_from_strings(cls, value: Any) -> Any:
        return _responses(value)


class _RawDomain(_Strict):
    version: Literal[1] = 1
    language: str = "en"
    languages: tuple[str, ...] = ()
    fallback: Fallback = Fallback()
    forms: Forms = Forms()
    entities: dict[str, EntitySpec] = Field(default_factory=dict)
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    intents: dict[str, _RawIntent]


class Domain(_Strict):
    """Everything the bot knows: its language, intents, entities, slots and fallback."""

    language: str
    fallback: Fallback
    forms: Forms = Forms()
    entities: dict[str, EntitySpec]
    slots: dict[str, SlotSpec]
    intents: dict[str, Intent]
    source: str = "<memory>"
    sha256: str = ""
    languages: tuple[str, ...] = ()
    """All the languages the bot speaks, `language` (the default) first; () for one language."""
    translations: dict[str, Domain] = Field(default_factory=dict)
    """The bot in each other language of `languages`: the same intents, slots and entities,
    its own examples, responses, questions and messages."""

    def for_language(self, language: str | None) -> Domain:
        """The bot as it speaks `language` (itself for its default or an unknown language):
        what a session in that language passes to the dialogue policy."""
        return self.translations.get(language or self.language, self)

    def examples_by_language(self) -> dict[str, list[tuple[str, str]]]:
        """(text, intent) training pairs of every language, the default first."""
        return {
            language: [(ex.text, name) for name, intent in domain.intents.items() for ex in intent.examples]
            for language, domain in {self.language: self, **self.translations}.items()
        }

    @cached_property
    def answerable(self) -> dict[str, Intent]:
        """The intents the bot answers: all but the out-of-scope examples."""
        return {name: i for name, i in self.intents.items() if name != OOS}

    def training_examples(self) -> list[tuple[str, str]]:
        """(text, intent) pairs of every language the bot speaks: one model learns them all."""
        return [pair for pairs in self.examples_by_language().values() for pair in pairs]


def _responses(value: Any) -> Any:
    if isinstance(value, list):
        return [{"text": r} if isinstance(r, str) else r for r in value]
    return value


# -- loading ---------------------------------------------------------------------------------


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem]) -> Any:
    """Build plain data from a YAML node, remembering the line of every key and item."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node))
            if key in result:
                problems.append(
                    Problem(key_node.start_mark.line + 1, _intent_of((*path, key)), f"duplicate key '{key}'")
                )
            result[key] = _to_python(value_node, (*path, key), lines, problems)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, problems) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _intent_of(path: Path_) -> str | None:
    return str(path[1]) if len(path) > 1 and path[0] == "intents" else None


def _line_of(path: Path_, lines: dict[Path_, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree, through libyaml when PyYAML has it (20x faster); a syntax error is
    reported by the pure-Python parser, whose messages and line numbers are the clearer."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def _without(data: Any, paths: list[Path_]) -> Any:
    """A copy of parsed YAML with the keys at `paths` removed."""
    data = copy.deepcopy(data)
    for path in paths:
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return data


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> Problem:
    """Where a YAML syntax error is to be mended. At an unexpected end of the file that is
    where the unclosed quote or bracket opened (the context mark), not the last line."""
    problem = exc.problem_mark.line + 1 if exc.problem_mark else None
    context = exc.context_mark.line + 1 if exc.context_mark else None
    unclosed = context is not None and any(end in (exc.problem or "") for end in ("end of stream", "<stream end>"))
    line = context if unclosed else problem or context
    message = f"YAML syntax error: {exc.problem}"
    if exc.context and context is not None:
        message += f" ({exc.context} on line {context})"
    quote = _odd_quotes(text, context or 1, problem) if problem else None
    if quote is not None and quote != line:  # a quote closed lines later by the next one
        line, message = quote, f"{message}; is the quote on line {quote} closed?"
    return Problem(line, _intent_on_line(text, line) if line else None, message)


def _odd_quotes(text: str, first: int, last: int) -> int | None:
    """The first line in `first..last` with an odd number of double quotes: where a quoted
    string that the parser saw end on a later line most likely began."""
    for number, raw in enumerate(text.splitlines()[first - 1 : last], start=first):
        if raw.replace('\\"', "").count('"') % 2:
            return number
    return None


def _intent_on_line(text: str, line: int) -> str | None:
    """The intent whose block holds `line`, read from indentation alone: text that does not
    parse as YAML has no tree to ask."""
    intent: str | None = None
    inside, level = False, None
    for raw in text.splitlines()[:line]:
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(stripped)
        if indent == 0:
            inside, level, intent = stripped.split("#")[0].rstrip() == "intents:", None, None
            continue
        key = re.match(r"""["']?([^"':#\s][^"':#]*)["']?\s*:(\s|$)""", stripped)
        if inside and key and (level is None or indent == level):
            level, intent = indent, key.group(1).strip()
    return intent


def parse_domain(text: str, source: str = "<memory>") -> Domain:
    """Parse and validate domain YAML; raise `DomainError` listing every problem."""
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise DomainError(source, [_syntax_problem(exc, text)]) from None
    if root is None:
        raise DomainError(source, [Problem(None, None, "the file is empty; it needs at least `intents:`")])

    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    data = _to_python(root, (), lines, problems)
    if not isinstance(data, dict):
        raise DomainError(source, [Problem(1, None, "the top level must be a mapping with `intents:`")])
    if "languages" in data:
        return _parse_multilingual(data, lines, problems, text, source)
    return _parse_data(data, lines, problems, text, source)


def _parse_data(data: Any, lines: dict[Path_, int], problems: list[Problem], text: str, source: str) -> Domain:
    """Validate one language's plain data (with the line of every key) into a `Domain`."""
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
            problems.append(Problem(_line_of(loc, lines), _intent_of(loc), f"{field_name}: {message}"))
            if err["type"] == "extra_forbidden":
                unknown.append(loc)
        try:  # without its unknown keys the file may be checkable, so that every problem shows at once
            raw = _RawDomain.model_validate(_without(data, unknown))
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
        source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def _parse_multilingual(
    data: dict[str, Any], lines: dict[Path_, int], problems: list[Problem], text: str, source: str
) -> Domain:
    """One `Domain` per declared language from the per-language values, the first language's
    holding the others as `translations`; every language's problems reported at once."""
    languages = data.get("languages")
    where = _line_of(("languages",), lines)
    if not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages):
        raise DomainError(source, [Problem(where, None, "languages: give a list such as [en, ru]")])
    if "language" in data:
        raise DomainError(
            source, [Problem(_line_of(("language",), lines), None, "give `languages:` or `language:`, not both")]
        )
    unsupported = [x for x in languages if x not in LANGUAGES]
    if unsupported or len(set(languages)) != len(languages):
        raise DomainError(
            source,
            [Problem(where, None, f"languages: each once, from {', '.join(LANGUAGES)}; got {', '.join(languages)}")],
        )
    domains: dict[str, Domain] = {}
    found: list[Problem] = list(problems)
    for language in languages:
        out: dict[Path_, int] = {}
        plain = in_language(data, language, tuple(languages), lines, out)
        plain.pop("languages")
        plain["language"] = language
        try:
            domains[language] = _parse_data(plain, out, [], text, source)
        except DomainError as exc:
            found += [Problem(p.line, p.intent, f"[{language}] {p.message}") for p in exc.problems]
    if found:
        unique = list(dict.fromkeys(found))
        raise DomainError(source, sorted(unique, key=lambda p: p.line or 0))
    first, *others = languages
    return domains[first].model_copy(
        update={"languages": tuple(languages), "translations": {x: domains[x] for x in others}}
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
        problems.append(Problem(_line_of(path, lines), _intent_of(path), message))

    if raw.language not in LANGUAGES:
        add(("language",), f"language '{raw.language}' is not supported; use one of {', '.join(LANGUAGES)}")

    for name, spec in raw.entities.items():
        if not (spec.values or spec.regex or spec.builtin):
            add(("entities", name), f"entity '{name}' needs `values`, `regex` or `builtin`")
        for i, pattern in enumerate(spec.regex):
            try:
                re.compile(pattern)
            except re.error as exc:
                add(("entities", name, "regex", i), f"entity '{name}': invalid regex {pattern!r}: {exc}")

    for name, slot in raw.slots.items():
        if slot.type == "entity" and slot.entity is None:
            add(("slots", name), f"slot '{name}' needs `entity:` (or `type: text` for free text)")
        if slot.entity is not None and slot.entity not in raw.entities:
            add(("slots", name, "entity"), f"slot '{name}' names undeclared entity '{slot.entity}'")

    if not raw.fallback.responses:
        add(("fallback", "responses"), "the fallback needs at least one response")
    _check_templates(("fallback", "responses"), raw.fallback.responses, raw.slots, add)

    seen: dict[str, tuple[str, int | None]] = {}
    for name, intent in raw.intents.items():
        base: Path_ = ("intents", name)
        if len(intent.examples) < 2:
            add((*base, "examples"), f"needs at least 2 examples, has {len(intent.examples)}")
        if not intent.responses and name != OOS:
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
                seen[key] = (name, _line_of((*base, "examples", i), lines))
        for slot_name in intent.slots:
            if slot_name not in raw.slots:
                add((*base, "slots", slot_name), f"requires slot '{slot_name}' that `slots:` does not declare")
        _check_templates((*base, "responses"), intent.responses, raw.slots, add)
        if intent.confirm is not None:
            _check_templates(
                (*base, "confirm"), [Response(text=intent.confirm)], raw.slots, add, kind="confirm question"
            )
            if not set(raw.forms.affirm_intents) & raw.intents.keys():
                add(
                    (*base, "confirm"),
                    f"asks to confirm, but none of forms.affirm_intents ({', '.join(raw.forms.affirm_intents)}) is an intent to answer yes with",
                )
    return problems


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
