"""The widget on a host site, in a real Chromium against a real server: host-site login, the welcome,
rich messages, the length counter, the unread badge, the data menu, axe-core in every state.

One server (`python -m bot` on loopback, a SQLite file) serves the module: the shop test domain
with a welcome in two languages and an action that answers with a rich message (an image, a
link card and twelve buttons), trained once, with BOT_HOST_TOKEN_SECRET set. Nothing between
the page and the server is faked; what the page sends is observed (`Frames`), not intercepted.
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
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser import AXE, GREETING, HOURS, Frames, axe_violations
from tests.helpers import RICH_TEXT, WELCOME, WELCOME_YAML, LiveServer, run_rich_server, wait_for

pytestmark = pytest.mark.browser

SECRET = "the-site-and-the-bot-share-this-secret-0123"


@pytest.fixture(scope="module")
def site_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("site-server")
    yield from run_rich_server(folder, WELCOME_YAML, {"BOT_HOST_TOKEN_SECRET": SECRET})


@pytest.fixture
def site_contexts(contexts: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """Browser contexts for host pages written into the server's origin (its CSP bypassed)."""
    return lambda **options: contexts(bypass_csp=True, **options)


def sign(sub: str, name: str, **claims: Any) -> str:
    payload = {"sub": sub, "name": name, "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())}
    return jwt.encode({**payload, "jti": uuid.uuid4().hex, **claims}, SECRET, algorithm="HS256")


def host_page(page: Page, server: LiveServer, attributes: str = "", lang: str = "en") -> Frames:
    """A host site's page of the server's origin (Chromium's local-network checks) with the widget tag."""
    frames = Frames(page)
    load(page, server, attributes, lang)
    return frames


def load(page: Page, server: LiveServer, attributes: str = "", lang: str = "en") -> None:
    """(Re)load the host page: what a reload of the site's page does."""
    page.goto(server.url + "/healthz")
    page.set_content(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Shop</title></head>'
        f'<body><main><h1>Shop</h1></main><script src="/widget.js" {attributes} defer></script></body></html>'
    )
    page.add_script_tag(path=str(AXE))


def bot_texts(page: Page) -> Locator:
    return page.locator(".cbw-msg--bot .cbw-text")


def send(page: Page, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("textbox", name="Message").press("Enter")


def test_host_site_login_then_the_data_menu(
    site_server: LiveServer, site_contexts: Callable[..., BrowserContext]
) -> None:
    sub = f"cust-{uuid.uuid4().hex[:8]}"
    token = sign(sub, "Ann Smith", plan="gold")
    page = site_contexts(accept_downloads=True).new_page()
    frames = host_page(page, site_server, f'data-open="true" data-user-token="{token}"')
    expect(page.get_by_text("Logged in as Ann Smith", exact=True)).to_be_visible()
    assert frames.hellos()[0]["user_token"] == token
    expect(bot_texts(page)).to_have_text([WELCOME["en"]])
    send(page, "hi")
    expect(bot_texts(page).last).to_have_text(GREETING)

    bearer = page.evaluate("k => JSON.parse(localStorage.getItem(k))", f"chatwidget:{site_server.ws_url}:token")
    assert bearer == frames.sessions()[0]["token"]  # the bot's own token, exchanged for the site's
    me = httpx.get(f"{site_server.url}/api/me", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert me["username"] == "Ann Smith"
    sessions = httpx.get(f"{site_server.url}/api/sessions", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert len(sessions) == 1 and sessions[0]["turns"] == 1

    # A reload with the same (spent) token: the widget uses the bot's token, it does not replay the site's;
    # the conversation comes back from the log, the welcome in it once.
    load(page, site_server, f'data-open="true" data-user-token="{token}"')
    expect(page.get_by_text("Logged in as Ann Smith", exact=True)).to_be_visible()
    wait_for(lambda: len(frames.hellos()) >= 2, what="the second hello", page=page)
    assert "user_token" not in frames.hellos()[-1] and frames.hellos()[-1]["token"] == bearer
    wait_for(lambda: len(frames.sessions()) >= 2, what="the second session frame", page=page)
    assert frames.sessions()[-1]["resumed"] is True
    expect(bot_texts(page)).to_have_text([WELCOME["en"], GREETING])

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
    assert [m["text"] for m in data["messages"] if m["direction"] == "out"] == [WELCOME["en"], GREETING]

    page.once("dialog", lambda dialog: dialog.accept())
    menu.click()
    page.get_by_role("button", name="Delete my history").click()
    expect(page.locator(".cbw-notice", has_text="Your conversations were deleted.")).to_be_visible()
    expect(bot_texts(page)).to_have_text([WELCOME["en"]])  # the welcome of the new conversation
    left = httpx.get(f"{site_server.url}/api/sessions", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert all(s["turns"] == 0 for s in left)  # at most the new, empty conversation
    assert axe_violations(page) == []


def test_set_user_token_from_javascript_and_refused_tokens(
    site_server: LiveServer, site_contexts: Callable[..., BrowserContext]
) -> None:
    page = site_contexts().new_page()
    frames = host_page(page, site_server)
    page.get_by_role("button", name="Open chat").click()
    expect(bot_texts(page)).to_have_text([WELCOME["en"]])
    token = sign("cust-js", "Bo")
    page.evaluate("t => ChatWidget.setUserToken(t)", token)
    expect(page.get_by_text("Logged in as Bo", exact=True)).to_be_visible()
    assert frames.hellos()[-1].get("user_token") == token

    # The same token on another device: a replay, refused by the server; the widget goes on as a guest.
    other = site_contexts().new_page()
    other_frames = host_page(other, site_server, f'data-open="true" data-user-token="{token}"')
    expect(other.locator(".cbw-notice", has_text="could not sign you in")).to_be_visible()
    assert "host_token_replayed" in [f.get("code") for f in other_frames.received if f["type"] == "error"]
    expect(other.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    send(other, "hi")
    expect(bot_texts(other).last).to_have_text(GREETING)

    # A forged one likewise.
    forged = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "another-secret-0123456789-0123456789", "HS256")
    third = site_contexts().new_page()
    third_frames = host_page(third, site_server, f'data-open="true" data-user-token="{forged}"')
    expect(third.locator(".cbw-notice", has_text="could not sign you in")).to_be_visible()
    assert "host_token_invalid" in [f.get("code") for f in third_frames.received if f["type"] == "error"]


@pytest.mark.parametrize("width", [900, 375])
def test_welcome_branding_rich_messages_counter_badge_and_axe(
    width: int, site_server: LiveServer, site_contexts: Callable[..., BrowserContext]
) -> None:
    page = site_contexts(viewport={"width": width, "height": 700}).new_page()
    host_page(
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
    expect(bot_texts(page).last).to_have_text(HOURS)
    expect(page.locator(".cbw-msg--user .cbw-text")).to_have_text(["Opening hours"])

    # Rich messages as an action sends them: text is text, links open in a new tab.
    send(page, "show me the store map")
    expect(bot_texts(page).last).to_have_text(RICH_TEXT)
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
    expect(page.locator(".cbw-msg--user")).to_have_count(2)  # "Opening hours" and the map: nothing new
    box.fill("when are you open")
    expect(page.locator(".cbw-count")).to_have_text("")
    box.press("Enter")
    expect(page.locator(".cbw-msg--user")).to_have_count(3)
    expect(bot_texts(page)).to_have_count(4)
    earlier = replies.first.locator(".cbw-feedback")
    expect(replies.last.locator(".cbw-feedback")).to_have_css("opacity", "1")
    page.mouse.move(1, 1)  # the pointer off the messages (the last click left it over one)
    expect(earlier).to_have_css("opacity", "0")
    replies.first.hover()
    expect(earlier).to_have_css("opacity", "1")

    # Closed, replies arriving count on the launcher's badge (the host page asks through the widget's API).
    page.keyboard.press("Escape")
    page.evaluate("t => ChatWidget.send(t)", "when are you open")
    expect(page.get_by_role("button", name="Open chat (1 new message)")).to_be_visible()
    page.evaluate("t => ChatWidget.send(t)", "hi")
    expect(page.get_by_role("button", name="Open chat (2 new messages)")).to_be_visible()
    expect(page.locator(".cbw-badge")).to_have_attribute("data-count", "2")
    assert axe_violations(page) == []
    page.get_by_role("button", name=re.compile("Open chat")).click()
    expect(page.locator(".cbw-badge")).to_be_hidden()
    expect(bot_texts(page).last).to_have_text(GREETING)
    assert axe_violations(page) == []


def test_the_page_language_picks_the_widgets_and_the_welcomes(
    site_server: LiveServer, site_contexts: Callable[..., BrowserContext]
) -> None:
    page = site_contexts().new_page()
    frames = host_page(page, site_server, lang="ru")
    page.get_by_role("button", name="Открыть чат").click()
    expect(bot_texts(page)).to_have_text([WELCOME["ru"]])
    expect(page.get_by_role("region", name="Сообщения").get_by_role("button", name="Часы работы")).to_be_visible()
    assert frames.hellos()[0]["lang"] == "ru"
    assert axe_violations(page) == []

    # A reload: the welcome comes back from the log, once, its starter buttons still offered; the
    # reply to a message sent after it follows it (anything the reload showed came before).
    load(page, site_server, lang="ru")
    wait_for(lambda: len(frames.sessions()) >= 2, what="the session frame after the reload", page=page)
    assert frames.sessions()[-1]["resumed"] is True
    region = page.get_by_role("region", name="Сообщения")
    region.get_by_role("button", name="Часы работы").click()
    expect(page.locator(".cbw-msg--user .cbw-text")).to_have_text(["Часы работы"])
    expect(bot_texts(page)).to_have_text([WELCOME["ru"], HOURS])
    assert axe_violations(page) == []


def test_a_reload_shows_the_image_and_the_link_card_again(
    site_server: LiveServer, site_contexts: Callable[..., BrowserContext]
) -> None:
    page = site_contexts().new_page()
    frames = host_page(page, site_server, 'data-open="true"')
    expect(bot_texts(page)).to_have_text([WELCOME["en"]])
    send(page, "show me the store map")
    expect(bot_texts(page).last).to_have_text(RICH_TEXT)

    def shows_the_rich_reply() -> None:
        last = page.locator(".cbw-msg--bot").last
        expect(last.get_by_role("img", name="A map of the store")).to_have_attribute(
            "src", f"{site_server.url}/map.png"
        )
        card = last.get_by_role("link", name="Find a <i>store</i>")
        expect(card).to_have_attribute("href", "https://example.com/stores?id=1")
        expect(card).to_have_attribute("target", "_blank")
        expect(card).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
        expect(card.locator(".cbw-card-desc")).to_have_text("Opening hours")
        expect(card.locator(".cbw-card-host")).to_have_text("example.com")
        expect(last.locator(".cbw-chip")).to_have_count(10)
        assert page.locator("#chatwidget-host b, #chatwidget-host i").count() == 0

    shows_the_rich_reply()
    live = page.locator(".cbw-msg--bot").last.evaluate("e => e.outerHTML")

    # A reload: the conversation comes back from the history, the reply rendered as it was live.
    load(page, site_server, 'data-open="true"')
    wait_for(lambda: len(frames.sessions()) >= 2, what="the session frame after the reload", page=page)
    assert frames.sessions()[-1]["resumed"] is True
    expect(bot_texts(page)).to_have_text([WELCOME["en"], RICH_TEXT])
    shows_the_rich_reply()
    assert page.locator(".cbw-msg--bot").last.evaluate("e => e.outerHTML") == live
    assert axe_violations(page) == []
