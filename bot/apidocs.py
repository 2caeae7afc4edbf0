"""The interactive API reference at /docs, served from this machine.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script; a
self-hosted bot may have no internet, and its Content-Security-Policy allows neither. The
assets come from the `fastapi-offline` package instead, and this one page gets a policy that
lets its own inline start-up script run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS, ASSETS = "/docs", "/docs-assets"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'"
)


def swagger_assets() -> Path:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the API docs need the fastapi-offline package: pip install -e .")
    return Path(spec.submodule_search_locations[0]) / "static"


def add_api_docs(app: FastAPI) -> None:
    """Mount Swagger UI's files and the /docs page (create the app with `docs_url=None`)."""
    app.mount(ASSETS, StaticFiles(directory=swagger_assets()), name="docs-assets")

    @app.get(DOCS, include_in_schema=False)
    async def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
        page.headers["Content-Security-Policy"] = DOCS_POLICY
        return page
