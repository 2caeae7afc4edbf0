"""YAML with its line numbers: where each key of `intents.yaml` is, and where a syntax error is to be mended.

The domain's checks name file, line and intent for every problem; this module finds the lines.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml

_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    line: int | None
    intent: str | None
    message: str


Path_ = tuple[str | int, ...]


def to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem]) -> Any:
    """Build plain data from a YAML node, remembering the line of every key and item."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node))
            if key in result:
                problems.append(
                    Problem(key_node.start_mark.line + 1, intent_of((*path, key)), f"duplicate key '{key}'")
                )
            result[key] = to_python(value_node, (*path, key), lines, problems)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [to_python(item, (*path, i), lines, problems) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def intent_of(path: Path_) -> str | None:
    return str(path[1]) if len(path) > 1 and path[0] == "intents" else None


def line_of(path: Path_, lines: dict[Path_, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree, through libyaml when PyYAML has it (20x faster); a syntax error is
    reported by the pure-Python parser, whose messages and line numbers are the clearer."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def without(data: Any, paths: list[Path_]) -> Any:
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


def syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> Problem:
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
