"""The browser client in a real Chromium (Playwright): web/ is served by a static HTTP server, the
REST API and the room's WebSocket are scripted per test with the shapes of docs/api.md and
docs/protocol.md (``page.route`` / ``page.route_web_socket``), so no edgeroom server is needed.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import skip_or_fail

pytestmark = pytest.mark.browser

WEB = Path(__file__).resolve().parents[2] / "web"
EPOCH = "ep1"
ME = {"id": "u-me", "name": "sam", "guest": False}
XSS = '<b>bold</b><img src=x onerror="window.__xss=1">'
WAIT_S = 5.0


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(WEB))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        skip_or_fail("chromium is not installed (needed for the browser tests)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install '.[browser]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_S * 1000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def _message(seq: int, text: str, user: str = "u-ann", name: str = "Ann") -> dict[str, Any]:
    return {
        "type": "chat.message",
        "seq": seq,
        "epoch": EPOCH,
        "id": f"{EPOCH}.{seq}",
        "user": user,
        "name": name,
        "text": text,
        "ts": 1_790_000_000_000 + seq * 1000,
        "nonce": f"n{seq}",
    }


class FakeRoom:
    """A scripted room: answers hello with welcome, records every client frame."""

    def __init__(self, events: list[dict[str, Any]], head: int) -> None:
        self.events = events
        self.head = head
        self.frames: list[dict[str, Any]] = []
        self.sockets: list[Any] = []
        self.on_frame: Callable[[Any, dict[str, Any]], None] | None = None

    def handle(self, ws: Any) -> None:
        self.sockets.append(ws)

        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            self.frames.append(frame)
            if frame["type"] == "hello":
                ws.send(json.dumps(self.welcome(frame)))
            elif self.on_frame is not None:
                self.on_frame(ws, frame)

        ws.on_message(on_message)
        # The client says hello in the upgrade's URL (docs/protocol.md "Hello in the URL").
        hello = parse_qs(urlsplit(ws.url).query).get("hello")
        if hello:
            on_message(hello[0])

    def welcome(self, hello: dict[str, Any]) -> dict[str, Any]:
        resume: dict[str, Any] = hello.get("resume") or {}
        recovered = resume.get("epoch") == EPOCH
        missed = [e for e in self.events if recovered and e["seq"] > resume["seq"]]
        return {
            "type": "welcome",
            "room": "general",
            "epoch": EPOCH,
            "seq": self.head,
            "you": {"user": "u-me", "name": "sam", "device": "d1"},
            "recovered": recovered,
            "events": missed if recovered else self.events,
            "roster": [
                {"user": "u-ann", "name": "Ann", "devices": 2},
                {"user": "u-me", "name": "sam", "devices": 1},
            ],
            "typing": ["u-ann"],
            "limits": {},
        }

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame["type"] == kind]


def _json_route(routes: dict[str, Any]) -> Callable[[Any], None]:
    def handle(route: Any) -> None:
        request = route.request
        path = re.sub(r"\?.*$", "", request.url.split("//", 1)[1].split("/", 1)[1])
        key = f"{request.method} /{path}"
        if key not in routes:
            route.fulfill(
                status=404,
                json={"error": {"code": "not_found", "message": f"no fake for {key}"}},
            )
            return
        status, body = routes[key]
        route.fulfill(status=status, json=body)

    return handle


def _signed_in(page: Any, room: FakeRoom) -> None:
    page.route(
        re.compile(r"/api/(?!rooms/[^/]+/ws)"),
        _json_route(
            {
                "GET /api/me": (200, {"user": ME}),
                "GET /api/rooms": (
                    200,
                    {
                        "rooms": [
                            {
                                "room": "general",
                                "title": "general",
                                "members": 2,
                                "last_activity": None,
                            }
                        ]
                    },
                ),
                "POST /api/rooms/general/join": (200, {"room": "general"}),
            }
        ),
    )
    page.route_web_socket(re.compile(r"/api/rooms/general/ws(\?.*)?$"), room.handle)


def _wait_for(page: Any, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        page.wait_for_timeout(25)


def test_client_without_api_shows_sign_in_and_unavailable_banner(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    banner = page.locator(".banner")
    banner.wait_for()
    assert "not available" in banner.inner_text()
    assert page.get_by_role("tab", name="Sign in").is_visible()
    assert page.get_by_label("User name").is_visible()


def test_room_renders_user_content_as_text_with_presence_and_typing(
    page: Any, base_url: str
) -> None:
    room = FakeRoom([_message(1, "hello there"), _message(2, XSS)], head=2)
    _signed_in(page, room)
    page.goto(f"{base_url}/#/room/general")
    page.locator(".msg-text", has_text="hello there").wait_for()
    assert page.locator(".messages[role=log] .msg-text").nth(1).inner_text() == XSS
    assert page.locator(".msg-text b, .msg-text img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.locator(".status-text").inner_text() == "Live"
    people = page.locator(".people-list").inner_text()
    assert "Ann" in people and "2 devices" in people and "sam (you)" in people
    assert page.locator(".typing").inner_text() == "Ann is typing…"


def test_send_shows_sending_until_acknowledged(page: Any, base_url: str) -> None:
    room = FakeRoom([_message(1, "first")], head=1)
    _signed_in(page, room)
    page.goto(f"{base_url}/#/room/general")
    page.locator(".msg-text", has_text="first").wait_for()
    page.get_by_label("Message #general").fill("  my <i>reply</i>  ")
    page.keyboard.press("Enter")
    _wait_for(page, lambda: bool(room.of_type("chat.send")))
    sent = room.of_type("chat.send")[0]
    assert sent["text"] == "my <i>reply</i>"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", sent["nonce"])
    pending = page.locator(".pending-list .msg")
    assert "sending…" in pending.inner_text()
    ws = room.sockets[-1]
    ws.send(
        json.dumps(
            {
                "type": "chat.ack",
                "nonce": sent["nonce"],
                "seq": 2,
                "id": f"{EPOCH}.2",
                "duplicate": False,
            }
        )
    )
    ws.send(json.dumps({**_message(2, sent["text"], "u-me", "sam"), "nonce": sent["nonce"]}))
    page.locator(".messages[role=log] .msg-text", has_text="my <i>reply</i>").wait_for()
    _wait_for(page, lambda: pending.count() == 0)
    assert page.locator(".messages[role=log] .msg.own").count() == 1
    assert room.of_type("typing")[-1] == {"type": "typing", "active": False}


def test_reconnect_resumes_from_the_last_seq_and_appends_only_missed_events(
    page: Any, base_url: str
) -> None:
    room = FakeRoom([_message(1, "one"), _message(2, "two"), _message(3, "three")], head=3)
    _signed_in(page, room)
    page.goto(f"{base_url}/#/room/general")
    page.locator(".msg-text", has_text="three").wait_for()
    room.events.append(_message(4, "four"))
    room.head = 4
    room.sockets[-1].close(code=1001, reason="going away")
    page.locator(".msg-text", has_text="four").wait_for()
    hellos = room.of_type("hello")
    assert len(hellos) == 2
    assert "resume" not in hellos[0]
    assert hellos[1]["resume"] == {"epoch": EPOCH, "seq": 3}
    assert hellos[0]["device"] == hellos[1]["device"]
    texts = page.locator(".messages[role=log] .msg-text").all_inner_texts()
    assert texts == ["one", "two", "three", "four"]


def test_phone_layout_keeps_composer_in_view_and_opens_the_room_drawer(
    browser: Any, base_url: str
) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True
    )
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_S * 1000)
        room = FakeRoom(
            [_message(seq, f"message {seq} " + "words " * 12) for seq in range(1, 30)], head=29
        )
        _signed_in(page, room)
        page.goto(f"{base_url}/#/room/general")
        page.locator(".msg-text", has_text="message 29").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        box = page.get_by_label("Message #general").bounding_box()
        assert (
            box is not None and box["y"] + box["height"] <= 640 and box["x"] + box["width"] <= 360
        )
        send = page.get_by_role("button", name="Send").bounding_box()
        assert send is not None and send["height"] >= 44
        link = page.get_by_role("link", name=re.compile("general"))
        assert not link.is_visible()
        page.get_by_role("button", name="Rooms").click()
        link.wait_for(state="visible")
        assert page.get_by_role("button", name="Rooms").get_attribute("aria-expanded") == "true"
    finally:
        context.close()


def test_load_older_asks_before_the_oldest_seq_and_keeps_order(page: Any, base_url: str) -> None:
    room = FakeRoom([_message(51, "fifty-one"), _message(52, "fifty-two")], head=52)
    _signed_in(page, room)
    queries: list[str] = []

    def history(route: Any) -> None:
        queries.append(route.request.url.split("?", 1)[1])
        body = {
            "epoch": EPOCH,
            "messages": [_message(49, "forty-nine"), _message(50, "fifty")],
            "has_more": False,
        }
        route.fulfill(status=200, json=body)

    page.route(re.compile(r"/api/rooms/general/messages\?"), history)
    page.goto(f"{base_url}/#/room/general")
    page.get_by_role("button", name="Load older messages").click()
    page.locator(".msg-text", has_text="forty-nine").wait_for()
    assert queries == ["before_seq=51&limit=50"]
    texts = page.locator(".messages[role=log] .msg-text").all_inner_texts()
    assert texts == ["forty-nine", "fifty", "fifty-one", "fifty-two"]
    assert "beginning of #general" in page.locator(".history-bar").inner_text()


def test_rate_limited_pauses_sending_then_resends_with_the_same_nonce(
    page: Any, base_url: str
) -> None:
    room = FakeRoom([_message(1, "first")], head=1)
    limited: list[str] = []

    def on_frame(ws: Any, frame: dict[str, Any]) -> None:
        if frame["type"] == "chat.send" and not limited:
            limited.append(frame["nonce"])
            error = {
                "type": "error",
                "code": "rate_limited",
                "message": "slow down",
                "nonce": frame["nonce"],
                "retry_after": 1,
            }
            ws.send(json.dumps(error))

    room.on_frame = on_frame
    _signed_in(page, room)
    page.goto(f"{base_url}/#/room/general")
    page.locator(".msg-text", has_text="first").wait_for()
    page.get_by_label("Message #general").fill("too fast")
    page.keyboard.press("Enter")
    send = page.get_by_role("button", name="Send")
    _wait_for(page, lambda: send.is_disabled())
    assert "paused" in page.locator(".composer-hint").inner_text()
    _wait_for(page, lambda: len(room.of_type("chat.send")) == 2)
    assert [f["nonce"] for f in room.of_type("chat.send")] == [limited[0], limited[0]]
    _wait_for(page, lambda: send.is_enabled())


def test_offline_waits_and_online_reconnects_at_once(page: Any, base_url: str) -> None:
    room = FakeRoom([_message(1, "first")], head=1)
    _signed_in(page, room)
    page.goto(f"{base_url}/#/room/general")
    page.locator(".msg-text", has_text="first").wait_for()
    page.context.set_offline(True)
    room.sockets[-1].close(code=1006)
    _wait_for(page, lambda: page.locator(".status-text").inner_text() == "Offline")
    page.wait_for_timeout(300)
    assert len(room.of_type("hello")) == 1
    page.context.set_offline(False)
    _wait_for(page, lambda: len(room.of_type("hello")) == 2)
    assert room.of_type("hello")[1]["resume"] == {"epoch": EPOCH, "seq": 1}
    _wait_for(page, lambda: page.locator(".status-text").inner_text() == "Live")
