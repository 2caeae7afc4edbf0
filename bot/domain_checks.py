"""The checks of `intents.yaml` a schema cannot express: references between parts, duplicates, constraints."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time
from typing import Any

from bot import system_texts
from bot.domain import LANGUAGES, EntitySpec, RawDomain, RawIntent, Response, SlotSpec, Welcome
from bot.markup import Example
from bot.understanding import OOS, same_text
from bot.yaml_lines import Path_, Problem, intent_of, line_of

_CONSTRAINT_BUILTINS: dict[str, tuple[str, ...]] = {
    "future": ("date", "datetime"),
    "weekdays": ("date", "datetime"),
    "between": ("time", "datetime"),
    "min": ("number", "amount_of_money", "ordinal"),
    "max": ("number", "amount_of_money", "ordinal"),
}
_BETWEEN = re.compile(r"(?P<first>\d{1,2}:\d{2})\s*-\s*(?P<last>\d{1,2}:\d{2})")

Add = Callable[[Path_, str], None]


def check(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """The checks a schema cannot express: references between parts and duplicates."""
    return [
        *_check_language(raw, lines),
        *_check_entities_and_slots(raw, lines),
        *_check_welcome(raw, lines),
        *_check_fallback(raw, lines),
        *_check_intents(raw, lines),
        *_check_learned_entities(raw, lines),
        *_check_actions(raw, lines),
        *check_on_missing(raw, lines),
        *_check_system_texts(raw, lines),
    ]


def _problems(lines: dict[Path_, int], run: Callable[[Add], None]) -> list[Problem]:
    """The problems `run` reports through the `add(path, message)` it is given, each with its line and intent."""
    problems: list[Problem] = []

    def add(path: Path_, message: str) -> None:
        problems.append(Problem(line_of(path, lines), intent_of(path), message))

    run(add)
    return problems


def _check_language(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    def run(add: Add) -> None:
        if raw.language not in LANGUAGES:
            add(("language",), f"language '{raw.language}' is not supported; use one of {', '.join(LANGUAGES)}")

    return _problems(lines, run)


def _check_entities_and_slots(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """Each entity can be found; each slot's entity is declared and its constraints suit it."""

    def entities(add: Add) -> None:
        for name, spec in raw.entities.items():
            if not (spec.values or spec.regex or spec.builtin or spec.learned):
                add(("entities", name), f"entity '{name}' needs `values`, `regex`, `builtin` or `learned: true`")
            for i, pattern in enumerate(spec.regex):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    add(("entities", name, "regex", i), f"entity '{name}': invalid regex {pattern!r}: {exc}")

    def slots(add: Add) -> None:
        for name, slot in raw.slots.items():
            if slot.type == "entity" and slot.entity is None:
                add(("slots", name), f"slot '{name}' needs `entity:` (or `type: text` for free text)")
            if slot.entity is not None and slot.entity not in raw.entities:
                add(("slots", name, "entity"), f"slot '{name}' names undeclared entity '{slot.entity}'")

    return [
        *_problems(lines, entities),
        *check_slot_constraints(raw.slots, raw.entities, lines),
        *_problems(lines, slots),
    ]


def _check_welcome(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    def run(add: Add) -> None:
        for path, message in check_welcome(raw.welcome, raw.intents):
            add(path, message)

    return _problems(lines, run)


def _check_system_texts(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    def run(add: Add) -> None:
        for key, message in system_texts.problems(raw.system_texts):
            add(("system_texts", key), message)

    return _problems(lines, run)


def _check_fallback(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    def run(add: Add) -> None:
        if not raw.fallback.responses:
            add(("fallback", "responses"), "the fallback needs at least one response")
        _check_templates(("fallback", "responses"), raw.fallback.responses, raw.slots, add)

    return _problems(lines, run)


def _check_intents(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """Each intent's examples, responses, slots and `confirm:`, in the order the intents are written."""
    seen: dict[str, tuple[str, int | None]] = {}

    def run(add: Add) -> None:
        for name, intent in raw.intents.items():
            base: Path_ = ("intents", name)
            if len(intent.examples) < 2:
                add((*base, "examples"), f"needs at least 2 examples, has {len(intent.examples)}")
            if not intent.responses and name != OOS and not intent.action:
                add(base, "has no responses; add `responses:` with at least one")
            _check_examples(raw, name, intent, seen, lines, add)
            for slot_name in intent.slots:
                if slot_name not in raw.slots:
                    add((*base, "slots", slot_name), f"requires slot '{slot_name}' that `slots:` does not declare")
            _check_templates((*base, "responses"), intent.responses, raw.slots, add)
            _check_confirm(raw, name, intent, add)

    return _problems(lines, run)


def _check_examples(
    raw: RawDomain,
    name: str,
    intent: RawIntent,
    seen: dict[str, tuple[str, int | None]],
    lines: dict[Path_, int],
    add: Add,
) -> None:
    """No empty example, no undeclared entity marked, no example shared with another intent (`seen` so far)."""
    base: Path_ = ("intents", name)
    for i, markup in enumerate(intent.examples):
        example = Example.parse(markup)
        if not example.text:
            add((*base, "examples", i), "empty example")
            continue
        for ann in example.entities:
            if ann.entity not in raw.entities:
                add((*base, "examples", i), f"example {markup!r} marks undeclared entity '{ann.entity}'")
        key = same_text(example.text)
        other = seen.get(key)
        if other and other[0] != name:
            add(
                (*base, "examples", i),
                f"example {example.text!r} is also an example of intent '{other[0]}' (line {other[1]})",
            )
        elif not other:
            seen[key] = (name, line_of((*base, "examples", i), lines))


def _check_confirm(raw: RawDomain, name: str, intent: RawIntent, add: Add) -> None:
    """A `confirm:` question is a valid template and some intent of `forms.affirm_intents` can answer it."""
    if intent.confirm is None:
        return
    base: Path_ = ("intents", name, "confirm")
    _check_templates(base, [Response(text=intent.confirm)], raw.slots, add, kind="confirm question")
    if not set(raw.forms.affirm_intents) & raw.intents.keys():
        yes = ", ".join(raw.forms.affirm_intents)
        add(base, f"asks to confirm, but none of forms.affirm_intents ({yes}) is an intent to answer yes with")


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


def _check_actions(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
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


def check_on_missing(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
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


def _check_learned_entities(raw: RawDomain, lines: dict[Path_, int]) -> list[Problem]:
    """A `learned: true` entity is only as good as its marks: with none, the tagger never finds it."""

    def run(add: Add) -> None:
        marked = {a.entity for i in raw.intents.values() for m in i.examples for a in Example.parse(m).entities}
        for name, spec in raw.entities.items():
            if spec.learned and name not in marked:
                add(
                    ("entities", name),
                    f"entity '{name}' is `learned: true` but no example marks it;"
                    f" mark it as [text]({name}) in examples",
                )

    return _problems(lines, run)


def _check_templates(
    path: Path_,
    responses: list[Response] | tuple[Response, ...],
    slots: dict[str, SlotSpec],
    add: Add,
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
