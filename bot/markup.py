"""Examples as written in intents.yaml: text with `[text](entity)` marks for the entities in it."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_ANNOTATION = re.compile(r"\[(?P<text>[^\[\]]+)\]\((?P<entity>[A-Za-z_][\w-]*)\)")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Annotation(_Frozen):
    start: int
    end: int
    entity: str
    text: str


class Example(_Frozen):
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


__all__ = ["Annotation", "Example"]
