"""/docs: the API reference renders from this server alone, under its security policy."""

from __future__ import annotations

from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright

from bot.app import create_app
from bot.config import Settings
from tests.browser import CHROMIUM_ARGS
from tests.helpers import LiveServer


def test_docs_assets_are_served_locally(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no lifespan needed: static files and a page
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert "'unsafe-inline'" in page.headers["content-security-policy"]
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert (
        "'unsafe-inline'"
        not in client.get("/widget.js").headers["content-security-policy"].split("script-src")[1].split(";")[0]
    )


def test_docs_render_in_a_browser(shared_server: LiveServer, chromium_path: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            blocked: list[str] = []
            page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{shared_server.url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chat bot", timeout=15_000)
            expect(page.get_by_text("/api/login", exact=True)).to_be_visible()
            assert blocked == []
        finally:
            browser.close()
