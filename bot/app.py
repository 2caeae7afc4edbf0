"""The application factory: `create_app(settings)` wires everything; nothing runs on import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import api, inbox_api, inbox_ws, ws
from bot.actions.python_actions import check_actions
from bot.actions.runner import ActionRunner
from bot.apidocs import add_api_docs
from bot.auth import UsernameTaken, create_user
from bot.config import Settings
from bot.database import make_engine, migrate
from bot.deps import Services, services_of
from bot.domain import DomainError
from bot.events import make_bus
from bot.limits import AttemptLimiter, ConnectionLimit
from bot.memory import collect_young_every, freeze_heap, return_large_blocks
from bot.metrics import Metrics
from bot.model import ModelError, current_version, load_model
from bot.nlu_worker import Nlu
from bot.protocol import LANGUAGE_TAG
from bot.retention import retention_loop
from bot.service import ChatService
from bot.store import Store
from bot.writes import DatabaseUnavailable

log = logging.getLogger(__name__)
WEBUI = Path(__file__).resolve().parent.parent / "webui"
SWEEP_SECONDS = 60.0
WATCH_SECONDS = 2.0

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
}


def demo_page(language: str) -> Path | None:
    """The demo page in the bot's language (`index.ru.html`), so the widget on it speaks it too;
    else the English one; None when the web UI is not installed."""
    for name in (f"index.{language}.html", "index.html"):
        if (WEBUI / name).is_file():
            return WEBUI / name
    return None


async def build_services(settings: Settings) -> Services:
    """Open the database, migrate it, load the model: fail loudly if any of it cannot be done."""
    engine = make_engine(settings.database_url)
    await asyncio.to_thread(migrate, engine)
    model = await asyncio.to_thread(
        load_model,
        settings.models_dir,
        settings.intents_path,
        timezone=settings.timezone,
        phone_region=settings.phone_region,
    )
    store = Store(engine, batch_max=settings.writer_batch_max, linger=settings.batch_linger_ms / 1000)
    metrics = Metrics()
    problems = check_actions(model.domain, settings.intents_path)
    if problems:
        raise DomainError(settings.intents_path, problems)
    nlu = Nlu(
        model,
        timezone=settings.timezone,
        phone_region=settings.phone_region,
        make_runner=lambda domain: ActionRunner.from_settings(domain, settings, metrics.actions),
        linger=settings.batch_linger_ms / 1000,
    )
    metrics.serve_model(model.version)
    bus = make_bus(settings.database_url)
    services = Services(
        settings=settings,
        engine=engine,
        store=store,
        nlu=nlu,
        chat=ChatService(settings, store, nlu, metrics, bus=bus),
        login_limiter=AttemptLimiter(settings.login_attempts_per_minute),
        metrics=metrics,
        connections=ConnectionLimit(settings.max_connections_per_ip),
        bus=bus,
    )
    if settings.admin_username and settings.admin_password:
        try:
            await asyncio.to_thread(create_user, engine, settings.admin_username, settings.admin_password, "admin")
            log.info("created admin %s from settings", settings.admin_username)
        except UsernameTaken:
            pass
    return services


async def _sweep_expired(services: Services) -> None:
    """End idle sessions every minute; a failed sweep is logged and tried again at the next."""
    idle = timedelta(minutes=services.settings.session_expiry_minutes)
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await services.store.close_expired(idle)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.warning("could not close expired sessions (%s); trying again in %.0f s", exc, SWEEP_SECONDS)
        except Exception:
            log.exception("closing expired sessions failed; trying again in %.0f s", SWEEP_SECONDS)


async def _watch_models(services: Services) -> None:
    """Reload when `models/latest` changes; a model that fails to load is logged, not served."""
    models_dir = services.settings.models_dir
    seen = current_version(models_dir)
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        now = current_version(models_dir)
        if now and now != seen:
            seen = now
            try:
                _, version = await services.nlu.reload(models_dir)
                services.metrics.serve_model(version)
            except ModelError as exc:
                log.error("not reloading %s: %s", now, exc)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    return_large_blocks()  # before the model is loaded
    sys.setswitchinterval(app.state.settings.thread_switch_ms / 1000)  # the writer's turn after each wait
    collect_young_every(app.state.settings.gc_young_threshold)
    services = await build_services(app.state.settings)
    services.store.start()
    await services.bus.start()
    services.nlu.worker.start()
    services.metrics.watch_workers([services.nlu.worker, services.store.writer])
    tasks = [asyncio.create_task(_sweep_expired(services))]
    if services.settings.retention_days:
        tasks.append(asyncio.create_task(retention_loop(services.engine, services.settings.retention_days)))
    if services.settings.watch_models:
        tasks.append(asyncio.create_task(_watch_models(services)))
    app.state.services = services
    freeze_heap()
    log.info("ready: model %s, database %s", services.nlu.model.version, services.engine.url.render_as_string())
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        services.nlu.worker.stop()
        await services.nlu.aclose()
        services.chat.handoff.db.reader.stop()
        await services.bus.stop()
        services.store.stop()
        services.engine.dispose()
        app.state.services = None


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response (plain ASGI: WebSockets pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def database_unavailable(request: object, exc: Exception) -> JSONResponse:
    """A database that is down is a 503 the client can retry, not a crash."""
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"}, status_code=503, headers={"Retry-After": "5"}
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings default to the environment (`BOT_*`)."""
    app = FastAPI(title="Chat bot", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings or Settings()
    app.state.services = None
    app.add_middleware(SecurityHeaders)
    if app.state.settings.allowed_origins:
        # The widget on another site calls /api/* too; tokens travel in a header, not cookies.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=app.state.settings.allowed_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_exception_handler(SQLAlchemyError, database_unavailable)
    app.add_exception_handler(DatabaseUnavailable, database_unavailable)
    app.include_router(api.router)
    app.include_router(ws.router)
    app.include_router(inbox_api.router)
    app.include_router(inbox_ws.router)
    add_api_docs(app)

    @app.get("/", include_in_schema=False)
    async def index(request: Request, lang: str | None = None) -> Response:
        """The demo page in the bot's language, or in `/?lang=ru` if the bot speaks it: the page's
        `<html lang>` is what the widget speaks and sends."""
        domain = services_of(request).nlu.model.domain
        spoken = domain.languages or (domain.language,)
        wanted = lang if lang is not None and LANGUAGE_TAG.fullmatch(lang) and lang in spoken else None
        page = demo_page(wanted or domain.language)
        if page is None:
            return RedirectResponse("/docs")
        if wanted is None or page.name != "index.html":
            return FileResponse(page)
        html = page.read_text(encoding="utf-8").replace('<html lang="en">', f'<html lang="{wanted}">', 1)
        return HTMLResponse(html)

    @app.get("/widget.js", include_in_schema=False)
    async def widget_js() -> FileResponse:
        return FileResponse(WEBUI / "widget.js", media_type="text/javascript")

    @app.get("/widget.css", include_in_schema=False)
    async def widget_css() -> FileResponse:
        return FileResponse(WEBUI / "widget.css", media_type="text/css")

    return app
