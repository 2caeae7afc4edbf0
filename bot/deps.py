"""What handlers need, built once in the lifespan and handed out per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from bot.config import Settings
from bot.events import LocalBus
from bot.limits import AttemptLimiter, ConnectionLimit
from bot.metrics import Metrics
from bot.nlu_worker import Nlu
from bot.service import ChatService
from bot.store import Store


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
    bus: LocalBus
    """Events between connections and instances (handoff)."""


def services_of(conn: HTTPConnection) -> Services:
    services: Services | None = getattr(conn.app.state, "services", None)
    if services is None:
        raise RuntimeError("the app is not started: run it under uvicorn or inside `with TestClient(app)`")
    return services


ServicesDep = Annotated[Services, Depends(services_of)]
