"""Feature flags in a real browser: an operator flips a flag on the admin page and an open chat
page reacts, without a reload, within a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from primitives.cli import main as edgeroom
from primitives.runtime import create_app, serve_in_thread
from tests.e2e.test_browser_chat import Person, browser

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
__all__ = ["browser"]  # the fixture, shared with the chat tests

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "wrangler.toml"
TOKEN = "e2e-operator-token-0123456789abcdef"


@pytest.fixture(scope="module")
def flags_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("flags-browser")
    with ThreadPoolExecutor(1) as pool:
        migrate = ["migrate", "--config", str(CONFIG), "--data-dir", str(data)]
        assert pool.submit(edgeroom, migrate).result() == 0
    app = create_app(
        CONFIG, data_dir=data, vars={"PASSWORD_ITERATIONS": "1000", "OPERATOR_TOKEN": TOKEN}
    )
    with serve_in_thread(app) as url:
        yield url


def chat_shows(page: Any, predicate: str) -> None:
    page.wait_for_function(
        f"(() => {{ const s = document.querySelector('section.chat'); return {predicate}; }})()"
    )


def test_operator_flips_a_flag_and_the_open_chat_page_reacts_within_a_second(
    browser: Any, flags_server: str
) -> None:
    operator = {"authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=flags_server, headers=operator, timeout=5) as http:
        answer = http.put("/admin/flags/message-edits", json={"enabled": True})
        assert answer.status_code == 201, answer.text
    ann = Person(browser, flags_server, "ann")
    admin_context = browser.new_context()
    admin = admin_context.new_page()
    errors: list[str] = []
    admin.on("pageerror", lambda error: errors.append(str(error)))
    try:
        ann.sign_up()
        ann.open_room("flags")
        chat_shows(ann.page, "s && s.dataset.flagsVersion === '1'")
        ann.say("flags", "edit me")
        ann.sees("edit me")
        assert ann.page.locator("section.chat.flag-message-edits-off").count() == 0

        admin.goto(flags_server + "/admin.html")
        admin.get_by_label("Operator token").fill(TOKEN)
        admin.get_by_role("button", name="Use").click()
        toggle = admin.locator("tr[data-flag='message-edits'] button[data-action=toggle]")
        toggle.wait_for()
        started = time.monotonic()
        toggle.click()
        ann.page.locator("section.chat.flag-message-edits-off").wait_for(timeout=1000)
        took = time.monotonic() - started
        assert took < 1.0, took
        # No reload happened: the message typed before the flip is still on the page.
        ann.sees("edit me")
        admin.locator("#audit li", has_text="operator update message-edits v2").wait_for()

        # Turned on again through the API, the page follows as quickly.
        started = time.monotonic()
        with httpx.Client(base_url=flags_server, headers=operator, timeout=5) as http:
            assert (
                http.patch("/admin/flags/message-edits", json={"enabled": True}).status_code == 200
            )
        chat_shows(
            ann.page,
            "s && s.dataset.flagsVersion === '3' && !s.classList.contains('flag-message-edits-off')",
        )
        assert time.monotonic() - started < 1.0
    finally:
        admin_context.close()
        ann.close()
    assert errors == []
