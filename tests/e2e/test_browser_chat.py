"""The browser client on the real server: Debian's Chromium driven by Playwright.

Two people chat, one reloads and sees the whole history, one loses the network and catches up.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from primitives.cli import main as edgeroom
from primitives.runtime import create_app, serve_in_thread
from tests.support import skip_or_fail
from tests.support.tcp_proxy import tcp_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "wrangler.toml"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("browser-data")
    # In a thread: Playwright's sync API may already run an event loop on this one.
    with ThreadPoolExecutor(1) as pool:
        assert (
            pool.submit(
                edgeroom, ["migrate", "--config", str(CONFIG), "--data-dir", str(data)]
            ).result()
            == 0
        )
    app = create_app(CONFIG, data_dir=data, vars={"PASSWORD_ITERATIONS": "1000"})
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        skip_or_fail("chromium is not installed (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install '.[browser]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


class Person:
    def __init__(self, browser: Any, server: str, name: str, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 800})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.server = server
        self.name = name

    def sign_up(self) -> None:
        page = self.page
        page.goto(self.server + "/")
        page.get_by_role("tab", name="Sign up").click()
        page.get_by_label("User name").fill(self.name)
        page.get_by_label("Password").fill("hunter22!")
        page.locator("#auth-form button[type=submit]").click()
        page.get_by_role("button", name="Log out").wait_for()

    def open_room(self, room: str) -> None:
        self.page.goto(f"{self.server}/#/room/{room}")
        self.wait_live()

    def wait_live(self) -> None:
        self.page.wait_for_function(
            "document.querySelector('.status-text')?.textContent === 'Live'"
        )

    def say(self, room: str, text: str) -> None:
        self.page.get_by_label(f"Message #{room}").fill(text)
        self.page.get_by_role("button", name="Send").click()

    def sees(self, text: str) -> None:
        self.page.locator(".messages[role=log] .msg-text", has_text=text).wait_for()

    def texts(self) -> list[str]:
        return list(self.page.locator(".messages[role=log] .msg-text").all_inner_texts())

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def test_two_pages_chat_and_a_reload_shows_the_whole_history(browser: Any, server: str) -> None:
    ann, bob = Person(browser, server, "ann"), Person(browser, server, "bob", width=390)
    try:
        for person in (ann, bob):
            person.sign_up()
            person.open_room("tea")
        ann.say("tea", "hello <b>bob</b>")
        bob.sees("hello <b>bob</b>")
        assert bob.page.locator(".messages b").count() == 0  # rendered as text, never as markup
        bob.say("tea", "hi ann")
        ann.sees("hi ann")
        for n in range(5):
            ann.say("tea", f"line {n}")
        bob.sees("line 4")
        bob.page.reload()
        bob.wait_live()
        bob.sees("line 4")
        assert bob.texts() == ["hello <b>bob</b>", "hi ann", *[f"line {n}" for n in range(5)]]
    finally:
        ann.close()
        bob.close()


def test_a_page_that_loses_its_connection_catches_up_without_gaps(
    browser: Any, server: str
) -> None:
    """Dave's traffic runs through a proxy that is cut (connections reset, new ones refused)."""
    host, port = urlsplit(server).hostname or "127.0.0.1", urlsplit(server).port or 80
    with tcp_proxy(host, port) as proxy:
        carol = Person(browser, server, "carol")
        dave = Person(browser, f"http://127.0.0.1:{proxy.port}", "dave")
        try:
            for person in (carol, dave):
                person.sign_up()
                person.open_room("cut-test")
            carol.say("cut-test", "before")
            dave.sees("before")
            proxy.cut()
            dave.page.wait_for_function(
                "document.querySelector('.status-text')?.textContent !== 'Live'"
            )
            for n in range(3):
                carol.say("cut-test", f"while away {n}")
            carol.sees("while away 2")
            dave.say("cut-test", "queued while cut off")
            proxy.restore()
            dave.page.wait_for_function(
                "document.querySelector('.status-text')?.textContent === 'Live'", timeout=40_000
            )
            dave.sees("while away 2")
            carol.sees("queued while cut off")
            dave.page.locator(
                ".messages[role=log] .msg.own", has_text="queued while cut off"
            ).wait_for()
            expected = [
                "before",
                "while away 0",
                "while away 1",
                "while away 2",
                "queued while cut off",
            ]
            assert dave.texts() == expected
            assert carol.texts() == expected
        finally:
            carol.close()
            dave.close()


def test_an_attached_image_shows_its_preview_in_the_other_page(browser: Any, server: str) -> None:
    """Uploads (docs/uploads.md): Eve picks an image; Finn sees its 256 px preview load."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (900, 600), (20, 160, 90)).save(out, format="PNG")
    eve, finn = Person(browser, server, "eve"), Person(browser, server, "finn")
    try:
        for person in (eve, finn):
            person.sign_up()
            person.open_room("pics")
        eve.page.get_by_label("Message #pics").fill("our garden")
        eve.page.locator("#composer-file").set_input_files(
            {"name": "garden.png", "mimeType": "image/png", "buffer": out.getvalue()}
        )
        finn.sees("our garden")
        preview = finn.page.locator(".messages[role=log] img.attachment-preview")
        preview.wait_for()
        finn.page.wait_for_function(
            "document.querySelector('.messages img.attachment-preview')?.naturalWidth === 256"
        )
        assert preview.get_attribute("alt") == "garden.png"
        assert (preview.get_attribute("src") or "").endswith("/256")
        eve.page.locator(".messages[role=log] .msg.own img.attachment-preview").wait_for()
    finally:
        eve.close()
        finn.close()
