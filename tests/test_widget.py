"""The web chat widget (webui/) in a real headless Chromium against a real server.

The tests share one real server (`shared_server`: a `python -m bot` subprocess on the small
shop domain, tests/data/shop.yaml), except those that lose the connection: each has its own
server and loses it for real (the server stopped and started again on the same port and
database, frozen with SIGSTOP, or turning WebSockets away at its connection limit); nothing
between the page and the server is faked, what the page sends and gets is observed (`Frames`).
A server start costs seconds. One browser serves the whole module, each test opens fresh
contexts ("devices"). One test takes a screenshot (into docs/widget.png with
BOT_UPDATE_SCREENSHOT=1).
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from websockets.exceptions import ConnectionClosed

from tests.helpers import (
    CHROMIUM_ARGS,
    ROOT,
    SHOP,
    Chat,
    Frames,
    LiveServer,
    make_server_env,
    run_server,
    train_domain,
)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# The picture in the README; refreshed only when asked, so a test run leaves the tree clean.
SCREENSHOT = (
    ROOT / "docs" / "widget.png"
    if os.environ.get("BOT_UPDATE_SCREENSHOT")
    else Path(tempfile.gettempdir()) / "widget.png"
)
VIEWPORT = {"width": 900, "height": 700}
GREETING = "Hello! How can I help?"
ASK_ORDER = "What is your order number?"
HOURS = "We are open 9 to 5, Monday to Friday."
XSS = '<img src=x onerror="window.__xss=1">'


expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """New browser contexts (separate storage: separate devices), closed after the test."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**{"viewport": VIEWPORT, **options})
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


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


def history(server: LiveServer, session_id: str, token: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(
        f"{server.url}/api/sessions/{session_id}/messages", params={"limit": 500}, headers=headers, timeout=10
    )
    response.raise_for_status()
    return response.json()["items"]


def wait_for(
    condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition", page: Page | None = None
) -> Any:
    """Poll; with a page, wait through Playwright so its event handlers (routes) keep running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Violations of impact serious or critical on the page as it is now."""
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# -- (a) a conversation: buttons, a form, times, feedback; the screenshot -------------------------


@pytest.mark.browser
def test_conversation_with_buttons_and_a_form(
    shared_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    w = open_widget(contexts(), shared_server)
    expect(w.log.get_by_text(re.compile("Ask a question"))).to_be_visible()

    w.send("hi")
    expect(w.bot).to_have_text([GREETING])
    expect(w.button("Opening hours")).to_be_visible()
    w.button("Order status").click()
    # The button's title is shown; its payload is what the bot got.
    expect(w.user).to_have_text(["hi", "Order status"])
    expect(w.bot.last).to_have_text(ASK_ORDER)
    expect(w.button("Opening hours")).to_have_count(0)  # old quick replies go once answered
    expect(w.input).to_be_focused()

    w.send("AB123456")
    expect(w.bot).to_have_count(3)
    expect(w.bot.last).to_contain_text("AB123456")
    expect(w.log.locator("time")).to_have_count(1)  # one time for the group, not one per message
    expect(w.typing).to_be_hidden()

    # Thumbs up on the last reply: aria-pressed, stored with the turn.
    last = w.log.locator(".cbw-msg--bot").last
    up = last.get_by_role("button", name="Helpful", exact=True)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(last.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "false")
    session_id = w.session_id()
    wait_for(
        lambda: [m for m in history(shared_server, session_id) if m["direction"] == "out" and m["feedback"] == 1],
        what="feedback stored",
    )

    items = history(shared_server, session_id)
    assert [m["text"] for m in items if m["direction"] == "in"] == ["hi", "where is my order", "AB123456"]

    w.send("hi")  # quick replies in the picture
    expect(w.button("Order status")).to_be_visible()
    w.page.wait_for_timeout(300)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    w.page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 5_000


# -- (b) accounts: register, chat, log out; another device logs in and has the history -----------


@pytest.mark.browser
def test_register_chat_logout_then_history_on_another_device(
    shared_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    username = f"ann_{uuid.uuid4().hex[:8]}"
    password = "correct-horse-42"
    w = open_widget(contexts(), shared_server)

    w.page.get_by_role("button", name="Log in", exact=True).click()
    expect(w.page.get_by_label("User name")).to_be_focused()
    w.page.get_by_label("User name").fill(username)
    w.page.get_by_label("Password").fill(password)
    w.page.get_by_role("button", name="Create account").click()
    expect(w.page.get_by_text(f"Logged in as {username}", exact=True)).to_be_visible()
    token = w.storage("token")
    assert isinstance(token, str)
    assert (
        httpx.get(f"{shared_server.url}/api/me", headers={"Authorization": f"Bearer {token}"}).json()["username"]
        == username
    )

    w.send("hi")
    expect(w.bot.last).to_have_text(GREETING)
    w.send("where is my order")
    expect(w.bot.last).to_have_text(ASK_ORDER)
    w.page.reload()  # logged in, the history comes with the bearer token
    expect(w.page.get_by_text(f"Logged in as {username}", exact=True)).to_be_visible()
    expect(w.bot).to_have_text([GREETING, ASK_ORDER])
    session_id = w.session_id()
    sessions = httpx.get(f"{shared_server.url}/api/sessions", headers={"Authorization": f"Bearer {token}"}).json()
    assert session_id in [s["id"] for s in sessions]  # the conversation is the user's

    w.page.get_by_role("button", name="Log out").click()
    expect(w.page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(w.bot).to_have_count(0)
    assert w.storage("token") is None
    wait_for(
        lambda: (
            httpx.get(f"{shared_server.url}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        ),
        what="token revoked",
    )

    # Another device: log in; the latest conversation comes back and goes on where it was.
    other = open_widget(contexts(), shared_server)
    expect(other.bot).to_have_count(0)
    other.page.get_by_role("button", name="Log in", exact=True).click()
    other.page.get_by_label("User name").fill(username)
    other.page.get_by_label("Password").fill("wrong-password-1")
    other.page.get_by_label("Password").press("Enter")
    expect(other.page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    other.page.get_by_label("Password").fill(password)
    other.page.get_by_label("Password").press("Enter")
    expect(other.page.get_by_text(f"Logged in as {username}", exact=True)).to_be_visible()
    expect(other.user).to_have_text(["hi", "where is my order"])
    expect(other.bot).to_have_text([GREETING, ASK_ORDER])
    expect(other.input).to_be_focused()
    other.send("AB123456")
    expect(other.bot.last).to_have_text(re.compile("AB123456"))
    assert other.session_id() == session_id


# -- (c) a reload keeps the history (guest) -------------------------------------------------------


@pytest.mark.browser
def test_reload_keeps_the_history(shared_server: LiveServer, contexts: Callable[..., BrowserContext]) -> None:
    w = open_widget(contexts(), shared_server)
    w.send("hi")
    expect(w.bot).to_have_text([GREETING])
    w.button("Opening hours").click()
    expect(w.bot).to_have_text([GREETING, HOURS])
    w.send("where is my order")
    expect(w.bot.last).to_have_text(ASK_ORDER)
    session_id = w.session_id()

    w.page.reload()
    expect(w.bot).to_have_text([GREETING, HOURS, ASK_ORDER])
    expect(w.user).to_have_text(["hi", "Opening hours", "where is my order"])
    assert w.session_id() == session_id
    # The same session goes on, form and all.
    w.send("AB123456")
    expect(w.bot).to_have_count(4)
    expect(w.bot.last).to_contain_text("AB123456")
    assert w.session_id() == session_id
    assert len(history(shared_server, session_id)) == 8


# -- (d) the server restarts mid-conversation ------------------------------------------------------


@pytest.mark.browser
def test_message_typed_while_the_server_is_down_is_delivered_once(
    live_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    w = open_widget(contexts(), live_server)
    w.send("hi")
    expect(w.bot).to_have_text([GREETING])
    session_id = w.session_id()
    expect(w.banner).to_be_hidden()

    live_server.stop()
    expect(w.banner).to_be_visible()
    expect(w.banner).to_contain_text("offline")
    w.send("where is my order")
    expect(w.user.last).to_have_text("where is my order")
    expect(w.log.locator(".cbw-msg--user").last).to_contain_text("Waiting for the connection")
    outbox = w.storage("outbox")
    assert [e["text"] for e in outbox] == ["where is my order"]  # kept across a reload too
    w.page.wait_for_timeout(1500)  # a few reconnect attempts fail meanwhile

    live_server.start()
    expect(w.bot).to_have_text([GREETING, ASK_ORDER], timeout=20_000)
    expect(w.banner).to_be_hidden()
    assert w.storage("outbox") is None
    assert w.session_id() == session_id

    items = history(live_server, session_id)
    inbound = [m for m in items if m["direction"] == "in" and m["text"] == "where is my order"]
    assert len(inbound) == 1
    replies = [m for m in items if m["direction"] == "out" and m["client_id"] == inbound[0]["client_id"]]
    assert [m["text"] for m in replies] == [ASK_ORDER]
    w.page.wait_for_timeout(500)
    expect(w.user).to_have_count(2)
    expect(w.bot).to_have_count(2)


# -- (d') a lost reply: the resend gets a duplicate; duplicates are shown once; typing ------------

HOURS_RESPONSE = f'      - "{HOURS}"\n'
GATED_ACTIONS = '''"""The opening hours from an action that waits until the test opens its gate (a file)."""

import os
import time
from pathlib import Path

from bot.actions import Reply


def hours(view):
    gate = Path(os.environ["GATE_DIR"])
    (gate / "entered").touch()
    while not (gate / "open").exists():
        time.sleep(0.05)
    return Reply("We are open 9 to 5, Monday to Friday.")
'''


@pytest.fixture
def gated_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The shop domain whose opening hours come from an action that waits for `tmp_path / "open"`:
    the test stops the server while it answers."""
    shop = SHOP.read_text()
    assert HOURS_RESPONSE in shop
    intents, models = train_domain(
        tmp_path,
        'actions:\n  gated_hours: {python: "gated_actions:hours", timeout: 30}\n',
        {"gated_actions.py": GATED_ACTIONS},
        base=shop.replace(HOURS_RESPONSE, HOURS_RESPONSE + "    action: gated_hours\n"),
    )
    env = {**make_server_env(tmp_path, models), "BOT_INTENTS_PATH": str(intents), "GATE_DIR": str(tmp_path)}
    yield from run_server(tmp_path, env)


@pytest.mark.browser
def test_lost_reply_is_recovered_and_duplicates_are_shown_once(
    gated_server: LiveServer, contexts: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    """The server stops while it answers: the reply is logged, the page never gets it. Started again
    on the same port and database, it answers the widget's resend (same client id) from the log,
    as a duplicate, shown once. Then the server is frozen while a reply is due: typing shows."""
    page = contexts().new_page()
    frames = Frames(page)
    page.goto(gated_server.url + "/")
    w = Widget(page, gated_server)
    server = gated_server.process
    assert server is not None

    w.send("when are you open")
    wait_for((tmp_path / "entered").exists, what="the action at work", page=page)
    server.send_signal(signal.SIGTERM)  # uvicorn closes the WebSocket (1012), then lets the turn finish
    expect(w.banner).to_be_visible()
    (tmp_path / "open").touch()
    gated_server.stop()  # waits for the exit: the turn is in the log, its reply went nowhere
    assert frames.of_type("reply") == []
    log = gated_server.log_path.read_text()
    assert "client left before its replies" in log and "Traceback" not in log  # no error, no error frame
    gated_server.start()

    expect(w.bot).to_have_text([HOURS], timeout=15_000)
    messages = [f for f in frames.sent if f["type"] == "message"]
    assert len(frames.connections()) == 2
    assert [f["text"] for f in messages] == ["when are you open", "when are you open"]
    assert messages[0]["id"] == messages[1]["id"]  # resent with the same client id
    (resent,) = frames.of_type("reply")
    assert (resent["reply_to"], resent["duplicate"], resent["text"]) == (messages[0]["id"], True, HOURS)

    w.send("hi")
    expect(w.bot).to_have_text([HOURS, GREETING])

    server = gated_server.process
    assert server is not None
    server.send_signal(signal.SIGSTOP)  # a reply held up: the server does nothing until SIGCONT
    try:
        w.send("where is my order")
        expect(w.typing).to_be_visible()
        expect(w.typing).to_contain_text("typing")
        wait_for(
            lambda: [f for f in frames.sent if f.get("text") == "where is my order"],
            what="the message on its way",
            page=page,
        )
        expect(w.bot).to_have_count(2)
    finally:
        server.send_signal(signal.SIGCONT)
    expect(w.bot).to_have_text([HOURS, GREETING, ASK_ORDER])
    expect(w.typing).to_be_hidden()

    items = history(gated_server, w.session_id())
    assert [m["text"] for m in items if m["direction"] == "in"] == ["when are you open", "hi", "where is my order"]
    answered = [m["text"] for m in items if m["direction"] == "out" and m["client_id"] == messages[0]["id"]]
    assert answered == [HOURS]  # the lost reply was logged once and not worked out again
    page.wait_for_timeout(300)
    expect(w.bot).to_have_count(3)


@pytest.fixture
def busy_server(tmp_path: Path, server_env: dict[str, str]) -> Iterator[LiveServer]:
    """A real server that allows one WebSocket per address (`BOT_MAX_CONNECTIONS_PER_IP=1`)."""
    yield from run_server(tmp_path, {**server_env, "BOT_MAX_CONNECTIONS_PER_IP": "1"})


def hold_the_connection(server: LiveServer) -> Chat:
    """Take the one WebSocket the server allows this address, as soon as it is free."""

    def attempt() -> Chat | None:
        try:
            return Chat(server.ws_url)
        except ConnectionClosed:  # closed with 1013: the page's is still open
            return None

    chat = wait_for(attempt, what="the server's one connection")
    assert isinstance(chat, Chat)
    return chat


@pytest.mark.browser
def test_outbox_survives_a_reload_while_offline(
    busy_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    """The page loads and reads the history over HTTP, but the server turns its WebSockets away
    (1013: another client holds the one connection it allows this address): typed messages wait in
    localStorage, across a reload, and go once the connection is free."""
    w = open_widget(contexts(), busy_server)
    w.send("hi")
    expect(w.bot).to_have_text([GREETING])
    session_id = w.session_id()

    w.page.goto("about:blank")  # the page goes, its WebSocket with it; another client takes the place
    other = hold_the_connection(busy_server)
    try:
        w.page.goto(busy_server.url + "/")  # and the page is back, with the place taken
        expect(w.bot).to_have_text([GREETING])  # the history came over HTTP
        expect(w.banner).to_be_visible()
        w.send("when are you open")
        w.send("thanks")
        w.page.reload()
        expect(w.user).to_have_text(["hi", "when are you open", "thanks"])
        expect(w.log.locator(".cbw-msg--pending")).to_have_count(2)
    finally:
        other.close()  # the place is free: the widget's next attempt gets it

    expect(w.bot).to_have_count(3, timeout=15_000)
    expect(w.bot.nth(1)).to_have_text(HOURS)
    expect(w.log.locator(".cbw-msg--pending")).to_have_count(0)
    items = history(busy_server, session_id)
    assert [m["text"] for m in items if m["direction"] == "in"] == ["hi", "when are you open", "thanks"]
    assert len([m for m in items if m["direction"] == "out"]) == 3


# -- (e) text is text ------------------------------------------------------------------------------


@pytest.mark.browser
def test_markup_is_shown_as_text_and_only_http_links_are_links(
    shared_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    w = open_widget(contexts(), shared_server)
    w.send(f"{XSS} see https://example.com/track?id=1. or javascript:alert(1)")
    expect(w.user.last).to_contain_text(XSS)
    expect(w.bot).to_have_count(1)
    links = w.user.last.get_by_role("link")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/track?id=1")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", re.compile("noopener"))

    # The bot echoes a free-text slot: its reply is text too.
    w.send("book an appointment")
    expect(w.bot.last).to_have_text("Which day suits you?")
    w.send("monday")
    expect(w.bot.last).to_have_text("What name should I put it under?")
    w.send(XSS)
    expect(w.bot.last).to_contain_text(f"Booked for {XSS}")

    w.page.reload()  # and from the history
    expect(w.bot.last).to_contain_text(f"Booked for {XSS}")
    w.page.wait_for_timeout(200)
    assert w.page.evaluate("window.__xss") is None
    assert w.page.locator("#chatwidget-host img").count() == 0


# -- (f) accessibility: axe-core, keyboard only, phone layout, Russian -----------------------------


@pytest.mark.browser
def test_accessibility_keyboard_and_phone_layout(
    live_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    # axe.min.js goes in as an inline script, which the page's CSP (script-src 'self') forbids.
    context = contexts(bypass_csp=True)
    w = open_widget(context, live_server)
    page = w.page
    if not AXE.is_file():  # required (see tests/conftest.py): make test installs it
        pytest.fail(f"axe-core is not installed at {AXE}; `make test` installs it (npm ci)")
    page.add_script_tag(path=str(AXE))
    assert axe_violations(page) == []

    w.send("hi")
    expect(w.button("Order status")).to_be_visible()
    w.send("asdfgh qwerty zxcvb")  # a fallback: feedback buttons and maybe "did you mean"
    expect(w.bot).to_have_count(2)
    w.log.locator(".cbw-msg--bot").first.get_by_role("button", name="Not helpful").click()
    assert axe_violations(page) == []

    # Keyboard only: Escape closes, focus on the launcher; Enter opens, focus in the input.
    w.input.focus()
    page.keyboard.press("Escape")
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(w.input).to_be_hidden()
    page.keyboard.press("Enter")
    expect(w.input).to_be_focused()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(w.input).to_have_value("first line\nsecond line")
    page.keyboard.press("Enter")
    expect(w.user.last).to_have_text("first line\nsecond line")
    expect(w.input).to_have_value("")
    expect(w.bot).to_have_count(3)
    # Tab from the input reaches the send button; Shift+Tab walks back into the conversation.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send")).to_be_focused()
    focus_ring = page.get_by_role("button", name="Send").evaluate("e => getComputedStyle(e).outlineStyle")
    assert focus_ring != "none"

    # The log-in form by keyboard: open, Escape back.
    page.get_by_role("button", name="Log in", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("User name")).to_be_focused()
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    expect(page.get_by_label("User name")).to_be_hidden()

    # The offline banner passes too: the server stops, and starts again on the same port and database.
    live_server.stop()
    expect(w.banner).to_be_visible()
    assert axe_violations(page) == []
    live_server.start()
    expect(w.banner).to_be_hidden(timeout=15_000)

    # A phone: the open panel fills the screen.
    page.set_viewport_size({"width": 375, "height": 667})
    box = page.locator(".cbw-panel").bounding_box()
    assert box is not None and (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 667)
    assert axe_violations(page) == []


@pytest.mark.browser
def test_embedding_options_russian_and_closed_at_load(
    shared_server: LiveServer, contexts: Callable[..., BrowserContext]
) -> None:
    """A host page with its own tag: data-lang="ru", no data-open, data-server given."""
    context = contexts()
    host_page = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Магазин</title></head>'
        '<body><main><h1>Магазин</h1></main><script src="/widget.js" data-lang="ru" '
        f'data-server="{shared_server.ws_url}" defer></script>'
        "</body></html>"
    )
    page = context.new_page()
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))))
    # The host page is written into a document of the server's origin: a page fulfilled by a
    # route has no address space, and Chromium's local-network checks then refuse ws://127.0.0.1.
    page.goto(shared_server.url + "/healthz")
    page.set_content(host_page)
    launcher = page.get_by_role("button", name="Открыть чат")
    expect(launcher).to_be_visible()
    expect(page.get_by_role("textbox", name="Сообщение")).to_be_hidden()
    page.wait_for_timeout(300)
    assert frames == []  # closed, nothing to say: no connection, no session yet
    launcher.click()
    box = page.get_by_role("textbox", name="Сообщение")
    expect(box).to_be_focused()
    box.fill("hi")
    box.press("Enter")
    expect(page.locator(".cbw-msg--bot .cbw-text")).to_have_text([GREETING])
    expect(page.get_by_role("button", name="Полезно").first).to_be_visible()
    hello = json.loads(frames[0])
    assert hello["type"] == "hello" and hello["lang"] == "ru"
