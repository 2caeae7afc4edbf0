"""One bot in several languages: `languages: [en, ru]` in intents.yaml (docs/intents.md).

What is said may be given per language, as a mapping from language to the usual value, at the
places `LOCALIZED` lists; everything else (intent names, slots, entities, actions, forms'
intents) is shared. Each language's plain data is picked out with the line of every key
carried along and validated by `bot.domain` as if it were a file of its own; a problem found
in some languages only names them (`[ru] needs at least 2 examples, has 1`).
"""

from __future__ import annotations

from typing import Any

from bot.domain import LANGUAGES, Domain, DomainError, build_domain
from bot.yaml_lines import Path_, Problem, intent_of, line_of

LOCALIZED: tuple[Path_, ...] = (
    ("intents", "*", "title"),
    ("intents", "*", "examples"),
    ("intents", "*", "responses"),
    ("intents", "*", "confirm"),
    ("intents", "*", "on_missing"),
    ("intents", "*", "slots", "*"),
    ("fallback", "responses"),
    ("forms", "cancelled"),
    ("forms", "invalid"),
    ("forms", "stuck"),
    ("forms", "dropped"),
    ("forms", "noted"),
    ("slots", "*", "messages", "*"),
    ("actions_failed",),
    ("system_texts", "*"),
)
"""Where a value may be given per language, as a mapping `{en: ..., ru: ...}`; a plain value
there is shared by every language."""


def _localizable(path: Path_) -> bool:
    return any(len(p) == len(path) and all(a in ("*", b) for a, b in zip(p, path, strict=True)) for p in LOCALIZED)


class _Picker:
    """Picks one language's values out of the data, keeping the line of every kept path."""

    def __init__(self, language: str, languages: tuple[str, ...], lines: dict[Path_, int]) -> None:
        self.language = language
        self.languages = languages
        self.lines = lines
        self.out: dict[Path_, int] = {}
        self.problems: list[Problem] = []

    def pick(self, data: Any, path: Path_ = ()) -> Any:
        if path in self.lines:
            self.out[path] = self.lines[path]
        if isinstance(data, dict) and _localizable(path):
            return self._one_language(data, path)
        if isinstance(data, dict):
            picked = {k: self.pick(v, (*path, k)) for k, v in data.items()}
            return {k: v for k, v in picked.items() if v is not _MISSING}
        if isinstance(data, list):
            return [self.pick(v, (*path, i)) for i, v in enumerate(data)]
        return data

    def _one_language(self, data: dict[str, Any], path: Path_) -> Any:
        where = ".".join(str(p) for p in path)
        unknown = [key for key in data if key not in self.languages]
        if unknown:
            declared = ", ".join(self.languages)
            self._problem((*path, unknown[0]), f"{where}: '{unknown[0]}' is none of `languages:` ({declared})")
        if self.language not in data:
            self._problem(path, f"{where}: give a value for each of {', '.join(self.languages)}")
            return _MISSING
        inner = (*path, self.language)
        self.lines |= {path + p[len(inner) :]: n for p, n in self.lines.items() if p[: len(inner)] == inner}
        return self.pick(data[self.language], path)

    def _problem(self, path: Path_, message: str) -> None:
        self.problems.append(Problem(line_of(path, self.lines), intent_of(path), message))


_MISSING = object()


def parse_languages(
    data: dict[str, Any], lines: dict[Path_, int], problems: list[Problem], text: str, source: str
) -> Domain:
    """The first language's `Domain`, holding the others as `translations`; every language's
    problems reported at once, those of all languages once and those of some with their names."""
    languages = data.get("languages")
    where = line_of(("languages",), lines)
    if not isinstance(languages, list) or not languages or not all(isinstance(x, str) for x in languages):
        raise DomainError(source, [Problem(where, None, "languages: give a list such as [en, ru]")])
    if "language" in data:
        raise DomainError(source, [Problem(line_of(("language",), lines), None, "give `languages:` or `language:`")])
    if any(x not in LANGUAGES for x in languages) or len(set(languages)) != len(languages):
        message = f"languages: each once, from {', '.join(LANGUAGES)}; got {', '.join(map(str, languages))}"
        raise DomainError(source, [Problem(where, None, message)])
    domains: dict[str, Domain] = {}
    found: dict[str, list[Problem]] = {}
    for language in languages:
        picker = _Picker(language, tuple(languages), dict(lines))
        plain = picker.pick(data)
        plain.pop("languages")
        plain["language"] = language
        try:
            domains[language] = build_domain(plain, picker.out, [*problems, *picker.problems], text, source)
        except DomainError as exc:
            found[language] = exc.problems
    if found:
        raise DomainError(source, _merged(found, len(languages)))
    first, *others = languages
    return domains[first].model_copy(
        update={"languages": tuple(languages), "translations": {x: domains[x] for x in others}}
    )


def _merged(found: dict[str, list[Problem]], n_languages: int) -> list[Problem]:
    """Problems of every language once as they are; the others with their languages' names."""
    where: dict[Problem, list[str]] = {}
    for language, problems in found.items():
        for problem in problems:
            where.setdefault(problem, []).append(language)
    merged = [
        p if len(langs) == n_languages else Problem(p.line, p.intent, f"[{', '.join(langs)}] {p.message}")
        for p, langs in where.items()
    ]
    return sorted(merged, key=lambda p: p.line or 0)
