"""Helpers the browser tests share: Debian's Chromium, the widget found by roles and labels,
the frames a page's WebSockets carried, and axe-core's accessibility check."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, WebSocket, expect

from tests.helpers import ROOT, LiveServer, wait_for

CHROMIUM_ARGS = [  # Debian's Chromium, headless, asking nothing of the network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class Frames:
    """What a page's WebSockets sent and received, as the browser saw it (observed, not routed)."""

    def __init__(self, page: Page) -> None:
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.sockets: list[list[dict[str, Any]]] = []
        """The frames sent on each WebSocket the page made, in order (none on one that never opened)."""
        page.on("websocket", self._watch)

    def _watch(self, ws: WebSocket) -> None:
        mine: list[dict[str, Any]] = []
        self.sockets.append(mine)

        def sent(payload: str | bytes) -> None:
            frame = json.loads(payload)
            self.sent.append(frame)
            mine.append(frame)

        ws.on("framesent", sent)
        ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def connections(self) -> list[list[dict[str, Any]]]:
        """The WebSockets that opened and carried frames (attempts refused at connect carry none)."""
        return [frames for frames in self.sockets if frames]

    def hellos(self) -> list[dict[str, Any]]:
        return [f for f in self.sent if f["type"] == "hello"]

    def sessions(self) -> list[dict[str, Any]]:
        return [f for f in self.received if f["type"] == "session"]

    def of_type(self, kind: str, received: bool = True) -> list[dict[str, Any]]:
        return [f for f in (self.received if received else self.sent) if f["type"] == kind]


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 900, "height": 700}
GREETING = "Hello! How can I help?"
ASK_ORDER = "What is your order number?"
HOURS = "We are open 9 to 5, Monday to Friday."
XSS = '<img src=x onerror="window.__xss=1">'


class Widget:
    """The widget on a page, found the way a user finds it: by roles and labels."""

    def __init__(self, page: Page, server: LiveServer) -> None:
        self.page = page
        self.server = server
        self.log = page.get_by_role("region", name="Messages")
        self.input = page.get_by_role("textbox", name="Message")
        self.bot = self.log.locator(".cbw-msg--bot .cbw-text")
        self.user = self.log.locator(".cbw-msg--user .cbw-text")
        self.banner = page.locator(".cbw-banner")
        self.typing = page.locator(".cbw-typing")

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def button(self, title: str) -> Locator:
        return self.log.get_by_role("button", name=title, exact=True)

    def storage(self, key: str) -> Any:
        full = f"chatwidget:{self.server.ws_url}:{key}"
        return self.page.evaluate("k => JSON.parse(localStorage.getItem(k))", full)

    def session_id(self) -> str:
        value = wait_for(lambda: self.storage("session"), what="a session id in localStorage")
        assert isinstance(value, str), value
        return value


def open_widget(context: BrowserContext, server: LiveServer, path: str = "/") -> Widget:
    page = context.new_page()
    page.goto(server.url + path)
    widget = Widget(page, server)
    expect(widget.input).to_be_visible()
    return widget


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Violations of impact serious or critical on the page as it is now."""
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
