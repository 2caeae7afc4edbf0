"""A whole handoff in two real browsers: a user in the widget, an agent in the inbox."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser import AXE, axe_violations, open_widget
from tests.helpers import LiveServer
from tests.test_handoff import PASSWORD, create_user, handoff_domain, handoff_env, start  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path, handoff_domain: tuple[Path, Path]) -> Iterator[LiveServer]:  # noqa: F811
    env = handoff_env(tmp_path, handoff_domain)
    create_user(env, "ada", "agent")
    live = start(env, tmp_path, "bot")
    try:
        yield live
    finally:
        live.stop()


def open_inbox(context: BrowserContext, server: LiveServer) -> Page:
    page = context.new_page()
    page.goto(server.url + "/inbox")
    page.add_script_tag(path=str(AXE))
    assert axe_violations(page) == []  # the login form
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status")).to_have_text("Signed in as ada (agent)")
    return page


def test_user_in_the_widget_and_agent_in_the_inbox(
    server: LiveServer,
    contexts: Callable[..., BrowserContext],
) -> None:
    desk = open_inbox(contexts(bypass_csp=True), server)
    expect(desk.get_by_text("Nobody is waiting.")).to_be_visible()

    w = open_widget(contexts(), server)
    w.send("I want to talk to a human")
    expect(w.bot.last).to_contain_text("you're next")

    take = desk.get_by_role("button", name=re.compile(r"^Take the conversation"))
    expect(take).to_have_count(1)
    expect(desk.locator("#ib-queue")).to_contain_text("I want to talk to a human")
    take.click()
    log = desk.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("I want to talk to a human")
    expect(desk.locator("#ib-intents")).to_contain_text("talk_to_human")
    desk.add_script_tag(path=str(AXE))
    assert axe_violations(desk) == []  # a conversation open, with its actions

    expect(w.log).to_contain_text("ada from our team joined the conversation.")
    w.send("my parcel is late")
    expect(log).to_contain_text("my parcel is late")
    w.input.press_sequentially("still th")
    expect(desk.locator("#ib-typing")).to_have_text("The user is typing…")

    desk.get_by_label("Reply", exact=True).fill("Sorry about that! I'm resending it now.")
    desk.get_by_label("Reply", exact=True).press("Enter")
    person = w.log.locator(".cbw-msg--person")
    expect(person).to_contain_text("Sorry about that! I'm resending it now.")
    expect(person.locator(".cbw-person")).to_have_text("ada")
    expect(log.locator(".ib-msg--agent")).to_have_count(1)

    # A reconnect on each side: the widget's page reloads, the inbox's too.
    w.page.reload()
    expect(w.log.locator(".cbw-msg--person")).to_contain_text("Sorry about that!")
    desk.reload()
    expect(desk.get_by_role("status")).to_have_text("Signed in as ada (agent)")
    desk.get_by_role("button", name="Conversation 1").click()
    log = desk.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("my parcel is late")
    w.send("thank you!")
    expect(log).to_contain_text("thank you!")
    w.page.evaluate("ChatWidget.close()")  # the person's reply arrives while the panel is closed
    desk.get_by_label("Reply", exact=True).fill("You're welcome.")
    desk.get_by_role("button", name="Send").click()
    expect(w.page.get_by_role("button", name="Open chat (1 new message)")).to_be_visible()
    expect(w.page.locator(".cbw-badge")).to_have_attribute("data-count", "1")
    w.page.get_by_role("button", name="Open chat (1 new message)").click()
    expect(w.log.locator(".cbw-msg--person")).to_have_count(2)

    desk.get_by_role("button", name="Close and return to the bot").click()
    expect(w.log).to_contain_text("ada left the conversation.")
    expect(w.bot.last).to_contain_text("back with the virtual assistant")
    expect(desk.get_by_role("status")).to_contain_text("the bot answers again")
    w.send("hi")
    expect(w.bot.last).to_have_text("Hello! How can I help?")
