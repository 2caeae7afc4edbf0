"""Python actions: `module:function` imported from the directory of intents.yaml.

That directory is put on `sys.path` (as `python -m rasa_sdk --actions` does with its own),
so an actions package there may import its own modules by their plain names.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain import Domain
from bot.yaml_lines import Problem


class ActionImportError(Exception):
    """A Python action cannot be loaded; the message says what to fix."""


@dataclass(frozen=True)
class PythonFunction:
    """A loaded action function and how to call it."""

    ref: str
    function: Callable[..., Any]
    is_async: bool

    async def call(self, executor: Executor | None, *args: Any) -> Any:
        """Await an async function; run a sync one on a worker thread, off the event loop."""
        if self.is_async:
            return await self.function(*args)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(executor, functools.partial(self.function, *args))
        if inspect.isawaitable(result):
            return await result
        return result


def base_dir_of(domain: Domain) -> Path:
    """Where an action's module is looked for: beside intents.yaml."""
    return Path(domain.source).resolve().parent if domain.source != "<memory>" else Path.cwd()


def load_function(ref: str, base_dir: Path) -> PythonFunction:
    """Import `module:function` with `base_dir` first on the import path."""
    module_name, _, attribute = ref.partition(":")
    base = str(base_dir.resolve())
    if base not in sys.path:
        sys.path.insert(0, base)
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None:
        where = getattr(loaded, "__file__", None) or next(iter(getattr(loaded, "__path__", [])), None)
        if where is None or not Path(where).resolve().is_relative_to(base):
            raise ActionImportError(
                f"module '{top}' is already imported from {where or 'the interpreter'}, not from {base}; "
                "rename your actions module so that its name is unique"
            )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an author's module may fail in any way; say which and why
        raise ActionImportError(
            f"cannot import module '{module_name}' from {base}: {type(exc).__name__}: {exc}"
        ) from exc
    function = getattr(module, attribute, None)
    if function is None:
        raise ActionImportError(f"module '{module_name}' ({module.__file__}) has no function '{attribute}'")
    if not callable(function):
        raise ActionImportError(f"'{ref}' is a {type(function).__name__}, not a function")
    return PythonFunction(ref, function, inspect.iscoroutinefunction(function))


def check_actions(domain: Domain, path: str | Path | None = None) -> list[Problem]:
    """Import every Python action and check that it takes what it is given: the turn view,
    or (value, view) for a slot's `validate:`. For `training.fit --check` and start-up."""
    source = Path(path) if path is not None else Path(domain.source)
    base = source.resolve().parent if path is not None or domain.source != "<memory>" else Path.cwd()
    text = source.read_text(encoding="utf-8") if source.is_file() else ""
    validators = {slot.validator: name for name, slot in domain.slots.items() if slot.validator}
    used_by = {i.action: n for n, i in domain.intents.items() if i.action}
    problems: list[Problem] = []
    for name, spec in domain.actions.items():
        if spec.python is None:
            continue
        line = _action_line(text, name)
        try:
            loaded = load_function(spec.python, base)
        except ActionImportError as exc:
            problems.append(Problem(line, None, f"action '{name}': {exc}"))
            continue
        if name in validators and name in used_by:
            problems.append(
                Problem(
                    line, used_by[name], f"action '{name}' validates slot '{validators[name]}' and cannot also be run"
                )
            )
        arities = (2,) if name in validators else (1,) if name in used_by else (1, 2)  # unused: either
        if not any(_accepts(loaded.function, n) for n in arities):
            wanted = " or ".join("(value, view)" if n == 2 else "(view)" for n in arities)
            problems.append(Problem(line, None, f"action '{name}': {spec.python} must take {wanted}"))
    return problems


def _accepts(function: Callable[..., Any], count: int) -> bool:
    try:
        inspect.signature(function).bind(*([None] * count))
    except TypeError:
        return False
    except ValueError:  # a builtin without a signature: trust it
        return True
    return True


def _action_line(text: str, name: str) -> int | None:
    """The line declaring action `name` under the top-level `actions:` key."""
    inside = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw and not raw[0].isspace() and not raw.startswith("#"):
            inside = raw.split("#")[0].rstrip() == "actions:"
            continue
        if inside and re.match(rf"""\s+["']?{re.escape(name)}["']?\s*:""", raw):
            return number
    return None
