"""The agent inbox in a real browser: a bot reply's image and link card in the conversation view
(as text and DOM, never markup; axe finds nothing serious), and the page signed out when its
token is revoked elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser import AXE, axe_violations, open_widget
from tests.helpers import RICH_ACTIONS, RICH_TEXT, STORE_MAP, LiveServer, free_port, make_server_env, train_domain
from tests.test_handoff import HUMAN_INTENT, create_user
from tests.test_handoff_browser import open_inbox
from tests.test_privacy_api import bearer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shop with the `store_map` action (an image and a link card) and a handoff intent; one agent."""
    folder = tmp_path_factory.mktemp("inbox-browser")
    intents, models = train_domain(folder, HUMAN_INTENT + STORE_MAP, {"site_actions.py": RICH_ACTIONS})
    port = free_port()
    env = {
        **make_server_env(folder, models),
        "BOT_INTENTS_PATH": str(intents),
        "BOT_PORT": str(port),
        "SITE_MAP_URL": f"http://127.0.0.1:{port}/map.png",
    }
    create_user(env, "ada", "agent")
    live = LiveServer(env=env, port=port, log_path=folder / "server.log").start()
    try:
        yield live
    finally:
        live.stop()


def test_the_conversation_view_shows_a_rich_reply_as_the_user_saw_it(
    server: LiveServer,
    contexts: Callable[..., BrowserContext],
) -> None:
    desk = open_inbox(contexts(bypass_csp=True), server)  # axe is added inline
    w = open_widget(contexts(), server)
    w.send("show me the store map")
    expect(w.bot.last).to_contain_text(RICH_TEXT)
    w.send("I want to talk to a human")
    expect(w.bot.last).to_contain_text("you're next")

    desk.get_by_role("button", name=re.compile(r"^Take the conversation")).click()
    log = desk.get_by_role("log", name="Conversation")
    bot_line = log.locator(".ib-msg--out", has_text=RICH_TEXT)
    expect(bot_line).to_have_count(1)  # the markup in it is text
    expect(bot_line.get_by_role("img", name="A map of the store")).to_have_attribute("src", server.env["SITE_MAP_URL"])
    card = bot_line.get_by_role("link")
    expect(card.locator(".ib-card-title")).to_have_text("Find a <i>store</i>")
    expect(card).to_have_attribute("href", "https://example.com/stores?id=1")
    expect(card).to_have_attribute("target", "_blank")
    expect(card).to_contain_text("Opening hours")
    expect(card).to_contain_text("example.com")
    expect(card).to_contain_text("(opens in a new tab)")
    assert log.locator("b, i").count() == 0
    desk.add_script_tag(path=str(AXE))
    assert axe_violations(desk) == []


def test_the_inbox_says_the_agent_was_signed_out_when_the_token_is_revoked(
    server: LiveServer,
    contexts: Callable[..., BrowserContext],
) -> None:
    desk = open_inbox(contexts(bypass_csp=True), server)  # axe is added inline
    token = desk.evaluate("sessionStorage.getItem('inbox:token')")
    assert httpx.post(f"{server.url}/api/logout", headers=bearer(token)).status_code == 204
    expect(desk.get_by_role("alert")).to_contain_text("You were signed out")
    expect(desk.get_by_role("button", name="Log in")).to_be_visible()
    expect(desk.get_by_role("button", name="Log out")).to_be_hidden()
    assert desk.evaluate("sessionStorage.getItem('inbox:token')") is None
