"""The widget on a host site, in a real Chromium against a real server: host-site login, the welcome,
rich messages, the length counter, the unread badge, the data menu, axe-core in every state.

The server here has BOT_HOST_TOKEN_SECRET set. The WebSocket side of two features lives in
bot/ws.py (the `user_token` of `hello`, and the welcome after a new session's `session`
frame); until that is wired, `ServerHooks` does in the page's WebSocket route exactly what
ws.py is to do, with the real pieces: it exchanges the token at the real `/api/host-login`
and sends `welcome_reply(domain, lang)` from the domain.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from bot.domain import parse_domain
from bot.welcome import welcome_reply
from tests.helpers import SHOP, LiveServer, make_server_env, run_server
from tests.test_widget import AXE, GREETING, VIEWPORT, axe_violations, browser  # noqa: F401  (browser: a fixture)

SECRET = "the-site-and-the-bot-share-this-secret-0123"
WELCOME = {"en": "Hi, I'm Nora! Pick a topic or ask me anything.", "ru": "Привет, я Нора! Выберите тему или спросите."}
DOMAIN = parse_domain(
    SHOP.read_text()
    + """
welcome:
  text: {en: "Hi, I'm Nora! Pick a topic or ask me anything.", ru: "Привет, я Нора! Выберите тему или спросите."}
  buttons:
    - {title: {en: Opening hours, ru: Часы работы}, payload: /hours}
    - {title: {en: Order status, ru: Статус заказа}, payload: /order_status}
"""
)


@pytest.fixture(scope="module")
def site_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("site-server")
    env = {**make_server_env(folder, models_dir), "BOT_HOST_TOKEN_SECRET": SECRET}
    yield from run_server(folder, env)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:  # noqa: F811
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**{"viewport": VIEWPORT, "bypass_csp": True, **options})
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def sign(sub: str, name: str, **claims: Any) -> str:
    payload = {"sub": sub, "name": name, "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())}
    return jwt.encode({**payload, "jti": uuid.uuid4().hex, **claims}, SECRET, algorithm="HS256")


class ServerHooks:
    """Forwards the page's WebSocket to the server, doing what ws.py is to do for hello and welcome."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.sent: list[dict[str, Any]] = []
        self.routes: list[WebSocketRoute] = []

    def __call__(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        self.routes.append(ws)
        state: dict[str, Any] = {"issued": None, "lang": None}

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            self.sent.append(dict(frame))
            if frame.get("type") == "hello":
                state["lang"] = frame.get("lang")
                user_token = frame.pop("user_token", None)
                if user_token:
                    answer = httpx.post(
                        f"{self.server.url}/api/host-login", json={"user_token": user_token}, timeout=10
                    )
                    if answer.status_code != 200:
                        code, _, detail = answer.json()["detail"].partition(": ")
                        ws.send(json.dumps({"type": "error", "code": code, "detail": detail}))
                        return
                    state["issued"] = answer.json()["token"]
                    frame["token"] = state["issued"]
                server.send(json.dumps(frame))
                return
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "session":
                if state["issued"]:
                    frame["token"], state["issued"] = state["issued"], None
                ws.send(json.dumps(frame))
                if not frame["resumed"]:
                    welcome = welcome_reply(DOMAIN, state["lang"], datetime.now(UTC))
                    assert welcome is not None
                    ws.send(welcome.model_dump_json())
                return
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    def hellos(self) -> list[dict[str, Any]]:
        return [f for f in self.sent if f["type"] == "hello"]


def host_page(page: Page, server: LiveServer, attributes: str = "", lang: str = "en") -> ServerHooks:
    """A host site's page of the server's origin (Chromium's local-network checks) with the widget tag."""
    hooks = ServerHooks(server)
    page.route_web_socket(re.compile(r".*/ws$"), hooks)
    load(page, server, attributes, lang)
    return hooks


def load(page: Page, server: LiveServer, attributes: str = "", lang: str = "en") -> None:
    """(Re)load the host page: what a reload of the site's page does."""
    page.goto(server.url + "/healthz")
    page.set_content(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Shop</title></head>'
        f'<body><main><h1>Shop</h1></main><script src="/widget.js" {attributes} defer></script></body></html>'
    )
    page.add_script_tag(path=str(AXE))


def wait_for(condition: Callable[[], Any], page: Page, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def bot_texts(page: Page) -> Any:
    return page.locator(".cbw-msg--bot .cbw-text")


@pytest.mark.browser
def test_host_site_login_then_the_data_menu(site_server: LiveServer, contexts: Callable[..., BrowserContext]) -> None:
    sub = f"cust-{uuid.uuid4().hex[:8]}"
    token = sign(sub, "Ann Smith", plan="gold")
    page = contexts(accept_downloads=True).new_page()
    hooks = host_page(page, site_server, f'data-open="true" data-user-token="{token}"')
    expect(page.get_by_text("Logged in as Ann Smith", exact=True)).to_be_visible()
    assert hooks.hellos()[0]["user_token"] == token
    page.get_by_role("textbox", name="Message").fill("hi")
    page.get_by_role("textbox", name="Message").press("Enter")
    expect(bot_texts(page).last).to_have_text(GREETING)

    bearer = page.evaluate("k => JSON.parse(localStorage.getItem(k))", f"chatwidget:{site_server.ws_url}:token")
    me = httpx.get(f"{site_server.url}/api/me", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert me["username"] == "Ann Smith"
    sessions = httpx.get(f"{site_server.url}/api/sessions", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert len(sessions) == 1 and sessions[0]["turns"] == 1

    # A reload with the same (spent) token: the widget uses the bot's token, it does not replay the site's.
    load(page, site_server, f'data-open="true" data-user-token="{token}"')
    expect(page.get_by_text("Logged in as Ann Smith", exact=True)).to_be_visible()
    expect(bot_texts(page)).to_contain_text([GREETING])
    wait_for(lambda: len(hooks.hellos()) >= 2, page, "the second hello")
    assert "user_token" not in hooks.hellos()[-1] and hooks.hellos()[-1]["token"] == bearer

    # The menu: Download my data, Delete my history.
    menu = page.get_by_role("button", name="More options")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["account"]["kind"] == "external" and data["account"]["external_id"] == sub
    assert data["account"]["traits"] == {"plan": "gold"}
    assert [m["text"] for m in data["messages"] if m["direction"] == "in"] == ["hi"]

    page.once("dialog", lambda dialog: dialog.accept())
    menu.click()
    page.get_by_role("button", name="Delete my history").click()
    expect(page.locator(".cbw-notice", has_text="Your conversations were deleted.")).to_be_visible()
    expect(bot_texts(page)).to_have_count(1)  # the welcome of the new conversation
    left = httpx.get(f"{site_server.url}/api/sessions", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert all(s["turns"] == 0 for s in left)  # at most the new, empty conversation
    assert axe_violations(page) == []


@pytest.mark.browser
def test_set_user_token_from_javascript_and_refused_tokens(
    site_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    page = contexts().new_page()
    hooks = host_page(page, site_server)
    page.get_by_role("button", name="Open chat").click()
    expect(bot_texts(page)).to_have_text([WELCOME["en"]])
    token = sign("cust-js", "Bo")
    page.evaluate("t => ChatWidget.setUserToken(t)", token)
    expect(page.get_by_text("Logged in as Bo", exact=True)).to_be_visible()
    assert hooks.hellos()[-1].get("user_token") == token

    # The same token on another device: a replay, refused; the widget goes on as a guest.
    other = contexts().new_page()
    host_page(other, site_server, f'data-open="true" data-user-token="{token}"')
    expect(other.locator(".cbw-notice", has_text="could not sign you in")).to_be_visible()
    expect(other.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    other.get_by_role("textbox", name="Message").fill("hi")
    other.get_by_role("textbox", name="Message").press("Enter")
    expect(bot_texts(other).last).to_have_text(GREETING)

    # A forged one likewise.
    forged = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "another-secret-0123456789-0123456789", "HS256")
    third = contexts().new_page()
    host_page(third, site_server, f'data-open="true" data-user-token="{forged}"')
    expect(third.locator(".cbw-notice", has_text="could not sign you in")).to_be_visible()


@pytest.mark.browser
@pytest.mark.parametrize("width", [900, 375])
def test_welcome_branding_rich_messages_counter_badge_and_axe(
    width: int, site_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    page = contexts(viewport={"width": width, "height": 700}).new_page()
    hooks = host_page(
        page,
        site_server,
        'data-title="Northwind help" data-bot-name="Nora" data-accent="#7a1fa2" '
        f'data-avatar="{site_server.url}/nora.png"',
    )
    launcher = page.get_by_role("button", name="Open chat")
    assert axe_violations(page) == []
    assert page.locator(".cbw-launcher").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 31, 162)"
    launcher.click()

    # The welcome, with starter buttons; the branding in the header.
    expect(bot_texts(page)).to_have_text([WELCOME["en"]])
    expect(page.get_by_role("heading", name="Northwind help")).to_be_visible()
    expect(page.locator(".cbw-botname")).to_have_text("Nora")
    expect(page.locator(".cbw-launcher .cbw-icon--close")).to_have_css("opacity", "1") if width > 480 else None
    log = page.get_by_role("region", name="Messages")
    assert axe_violations(page) == []
    log.get_by_role("button", name="Opening hours", exact=True).click()
    expect(bot_texts(page).last).to_have_text(re.compile("open 9 to 5"))
    expect(page.locator(".cbw-msg--user .cbw-text")).to_have_text(["Opening hours"])

    # Rich messages as an action would send them: text is text, links open in a new tab.
    routes = hooks.routes
    rich = {
        "type": "reply",
        "text": "Here is our store <b>map</b>",
        "intent": None,
        "confidence": None,
        "image": {"url": f"{site_server.url}/map.png", "alt": "A map of the store"},
        "link": {
            "url": "https://example.com/stores?id=1",
            "title": "Find a <i>store</i>",
            "description": "Opening hours",
        },
        "buttons": [{"title": f"Option {i}", "payload": f"option {i}"} for i in range(12)],
    }
    routes[-1].send(json.dumps(rich))
    expect(bot_texts(page).last).to_have_text("Here is our store <b>map</b>")
    last = page.locator(".cbw-msg--bot").last
    expect(last.get_by_role("img", name="A map of the store")).to_have_attribute("src", f"{site_server.url}/map.png")
    card = last.get_by_role("link", name="Find a <i>store</i>")
    expect(card).to_have_attribute("href", "https://example.com/stores?id=1")
    expect(card).to_have_attribute("target", "_blank")
    expect(card).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(last.locator(".cbw-chip")).to_have_count(10)
    assert page.locator("#chatwidget-host b, #chatwidget-host i").count() == 0
    assert axe_violations(page) == []

    # Times are grouped: one for these messages sent within minutes.
    expect(log.locator("time")).to_have_count(1)
    # Thumbs: on the latest logged reply; an earlier one shows them when hovered.
    replies = page.locator(".cbw-msg--bot[data-message-id]")
    expect(replies.last.locator(".cbw-feedback")).to_have_css("opacity", "1")

    # The counter: near the limit it counts; over it, it says how much to cut and nothing is sent.
    box = page.get_by_role("textbox", name="Message")
    box.fill("a" * 1900)
    expect(page.locator(".cbw-count")).to_have_text("1900 / 2000")
    box.fill("a" * 2050)
    expect(page.locator(".cbw-count")).to_have_text("Too long by 50 characters. Shorten the message to send it.")
    expect(box).to_have_attribute("aria-invalid", "true")
    assert axe_violations(page) == []
    box.press("Enter")
    expect(box).to_have_value("a" * 2050)  # kept whole, not cut
    expect(page.locator(".cbw-msg--user")).to_have_count(1)
    box.fill("when are you open")
    expect(page.locator(".cbw-count")).to_have_text("")
    box.press("Enter")
    expect(page.locator(".cbw-msg--user")).to_have_count(2)
    expect(bot_texts(page)).to_have_count(4)
    earlier = replies.first.locator(".cbw-feedback")
    expect(replies.last.locator(".cbw-feedback")).to_have_css("opacity", "1")
    page.mouse.move(1, 1)  # the pointer off the messages (the last click left it over one)
    expect(earlier).to_have_css("opacity", "0")
    replies.first.hover()
    expect(earlier).to_have_css("opacity", "1")

    # Closed, replies arriving count on the launcher's badge.
    page.keyboard.press("Escape")
    routes[-1].send(json.dumps({"type": "reply", "text": "One more thing", "intent": None, "confidence": None}))
    expect(page.get_by_role("button", name="Open chat (1 new message)")).to_be_visible()
    routes[-1].send(json.dumps({"type": "reply", "text": "And another", "intent": None, "confidence": None}))
    expect(page.get_by_role("button", name="Open chat (2 new messages)")).to_be_visible()
    expect(page.locator(".cbw-badge")).to_have_attribute("data-count", "2")
    assert axe_violations(page) == []
    page.get_by_role("button", name=re.compile("Open chat")).click()
    expect(page.locator(".cbw-badge")).to_be_hidden()
    expect(bot_texts(page).last).to_have_text("And another")
    assert axe_violations(page) == []


@pytest.mark.browser
def test_the_page_language_picks_the_widgets_and_the_welcomes(
    site_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    page = contexts().new_page()
    hooks = host_page(page, site_server, lang="ru")
    page.get_by_role("button", name="Открыть чат").click()
    expect(bot_texts(page)).to_have_text([WELCOME["ru"]])
    expect(page.get_by_role("region", name="Сообщения").get_by_role("button", name="Часы работы")).to_be_visible()
    assert hooks.hellos()[0]["lang"] == "ru"
    assert axe_violations(page) == []
