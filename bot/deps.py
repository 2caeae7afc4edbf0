"""What handlers need, built once in the lifespan and handed out per request."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from bot.auth import AttemptLimiter
from bot.config import Settings
from bot.metrics import Metrics
from bot.service import ChatService, Nlu
from bot.store import Store


class ConnectionLimit:
    """Open WebSockets per client address."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.open: Counter[str] = Counter()

    def acquire(self, client: str) -> bool:
        if self.open[client] >= self.per_client:
            return False
        self.open[client] += 1
        return True

    def release(self, client: str) -> None:
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]

    @property
    def total(self) -> int:
        return sum(self.open.values())


@dataclass
class Services:
    settings: Settings
    engine: Engine
    store: Store
    nlu: Nlu
    chat: ChatService
    login_limiter: AttemptLimiter
    metrics: Metrics
    connections: ConnectionLimit


def services_of(conn: HTTPConnection) -> Services:
    services: Services | None = getattr(conn.app.state, "services", None)
    if services is None:
        raise RuntimeError("the app is not started: run it under uvicorn or inside `with TestClient(app)`")
    return services


ServicesDep = Annotated[Services, Depends(services_of)]
