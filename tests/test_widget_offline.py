"""The web chat widget losing its connection, in a real headless Chromium against a real server.

Each test has its own server and loses it for real: the server stopped and started again on the
same port and database, frozen with SIGSTOP, or turning WebSockets away at its connection limit.
Nothing between the page and the server is faked; what the page sends and gets is observed
(`Frames`). A server start costs seconds.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect
from websockets.exceptions import ConnectionClosed

from tests.browser import ASK_ORDER, GREETING, HOURS, Frames, Widget, open_widget
from tests.helpers import SHOP, Chat, LiveServer, history, make_server_env, run_server, train_domain, wait_for

# -- (a) the server restarts mid-conversation ------------------------------------------------------


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


# -- (b) a lost reply: the resend gets a duplicate; duplicates are shown once; typing ------------

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
