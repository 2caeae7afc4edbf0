"""What a turn asks of the world, each asked once: understanding, slot validators, actions.

`ChatService.turn` hands these to `dialogue_turn.play_turn_async`. When the session moved
on under the turn (another connection, another instance) the turn is decided again; what was
already classified or run is answered from here, so an action never runs twice for one message.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.actions.results import ActionResult, Validation
from bot.actions.view import TurnView
from bot.conversation import Conversation
from bot.domain import Domain
from bot.model import Model
from bot.nlu_worker import Nlu
from bot.understanding import Understanding


class TurnCalls:
    """The calls of one turn, remembered by what they were asked."""

    def __init__(self, nlu: Nlu, conv: Conversation, now: datetime) -> None:
        self.nlu = nlu
        self.conv = conv
        self.now = now
        self.model: Model = nlu.model
        self._understood: dict[str, Understanding] = {}
        self._results: dict[tuple[str, str], ActionResult] = {}
        self._verdicts: dict[tuple[str, str], Validation] = {}

    async def understand(self, texts: list[str]) -> list[Understanding]:
        """Classify the texts in one batch of the NLU worker (the message, or its clauses)."""
        new = [t for t in dict.fromkeys(texts) if t not in self._understood]
        for text, (model, understanding) in zip(
            new, await self.nlu.understand_all(new, self.now, self.conv.language), strict=True
        ):
            self.model = model
            self._understood[text] = understanding
        return [self._understood[t] for t in texts]

    @property
    def domain(self) -> Domain:
        """The served bot as it speaks the session's language: its replies, questions and messages."""
        return self.model.domain.for_language(self.conv.language)

    async def run(self, name: str, view: TurnView) -> ActionResult:
        key = (name, _state_key(view))
        if key not in self._results:
            self._results[key] = await self.nlu.actions.run(name, self._full(view))
        return self._results[key]

    async def validate(self, check: str, value: Any, view: TurnView) -> Validation:
        key = (check, repr(value))
        if key not in self._verdicts:
            slot = view.requested_slot or ""
            self._verdicts[key] = await self.nlu.actions.validate(check, slot, value, self._full(view))
        return self._verdicts[key]

    def _full(self, view: TurnView) -> TurnView:
        """The policy's view, with who is talking (the language is the session's, `self.domain`'s)."""
        principal = self.conv.principal
        if view.user_id == principal.user_id and view.username == principal.username:
            return view  # a guest's, or already full: `replace` would copy and check every field again (~5 µs)
        return replace(view, user_id=principal.user_id, username=principal.username)


def _state_key(view: TurnView) -> str:
    return repr(sorted((k, repr(v)) for k, v in view.slots.items()))
