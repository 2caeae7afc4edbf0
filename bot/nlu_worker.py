"""The served model and its actions: understood on a batching thread, swapped together between batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from bot.actions.runner import ActionRunner
from bot.batching import BatchWorker
from bot.dialogue import INTENT_PAYLOAD_PREFIX
from bot.domain import Domain
from bot.memory import freeze_heap
from bot.model import Model, load_model
from bot.understanding import Prediction, Understanding

log = logging.getLogger(__name__)


RunnerFactory = Callable[[Domain], ActionRunner]


class Nlu:
    """Serves the current model on a batching thread; `swap` takes effect between batches.

    The action runner belongs to the model's domain (its actions, their breakers), so a
    reload builds a new one beside the new model and closes the old.
    """

    def __init__(
        self,
        model: Model,
        *,
        timezone: str = "UTC",
        phone_region: str = "US",
        make_runner: RunnerFactory = ActionRunner,
        linger: float = 0.0,
    ) -> None:
        self.model = model
        self.timezone = timezone
        self.phone_region = phone_region
        self.make_runner = make_runner
        self.actions = make_runner(model.domain)
        self._reloading = asyncio.Lock()
        self.worker: BatchWorker[tuple[str, datetime | None, str | None], tuple[Model, Understanding]] = BatchWorker(
            self._handle, name="nlu", linger=linger
        )

    def _handle(self, items: list[tuple[str, datetime | None, str | None]]) -> list[tuple[Model, Understanding]]:
        model = self.model  # one model for the whole batch, even if swapped meanwhile
        texts, nows, languages = zip(*items, strict=True)
        return [(model, u) for u in model.understand(list(texts), nows, languages)]

    async def understand(
        self, text: str, now: datetime | None = None, language: str | None = None
    ) -> tuple[Model, Understanding]:
        """Classify, unless the text is a button's `/intent` payload naming an intent.

        `now` (aware, in the conversation's time zone) is what "tomorrow" is read from;
        `language` (the session's) is the one the text is read in, by default the bot's.
        """
        (understood,) = await self.understand_all([text], now, language)
        return understood

    async def understand_all(
        self, texts: Sequence[str], now: datetime | None = None, language: str | None = None
    ) -> list[tuple[Model, Understanding]]:
        """`understand` for several texts of one conversation (a message's clauses), all in one
        batch of the worker: each is queued before any is awaited."""
        model = self.model
        pending: list[asyncio.Future[tuple[Model, Understanding]] | tuple[Model, Understanding]] = []
        for text in texts:
            if (
                text.startswith(INTENT_PAYLOAD_PREFIX)
                and (name := text.strip().removeprefix(INTENT_PAYLOAD_PREFIX)) in model.domain.answerable
            ):
                pending.append((model, Understanding(text, name, [], Prediction.certain(name))))
            else:
                pending.append(self.worker.submit((text, now, language)))
        try:
            return [await p if isinstance(p, asyncio.Future) else p for p in pending]
        except BaseException:
            for p in pending:  # the batch failed or the turn was cancelled: nobody awaits the rest
                if isinstance(p, asyncio.Future):
                    p.cancel()
            raise

    def swap(self, model: Model, actions: ActionRunner | None = None) -> Model:
        old, self.model = self.model, model
        if actions is not None:
            self.actions = actions
        return old

    async def aclose(self) -> None:
        await self.actions.aclose()

    async def reload(self, models_dir: Path) -> tuple[str, str]:
        """Load `models/latest` off the event loop and swap it in; on failure keep serving."""
        async with self._reloading:
            model = await asyncio.to_thread(
                load_model, models_dir, timezone=self.timezone, phone_region=self.phone_region
            )
            actions = await asyncio.to_thread(self.make_runner, model.domain)
            retired = self.actions
            versions = self.swap(model, actions).version, model.version  # nothing here keeps the old one
            await retired.aclose()
            await asyncio.to_thread(freeze_heap)
            log.info("model reloaded: %s -> %s", *versions)
            return versions
