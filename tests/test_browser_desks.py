"""Browser desks (`kiosk serve-desk`, kiosk_screens.desks): a real server on a free loopback port, its
page and assets fetched over HTTP, its websocket driven as textual-serve's page drives it (JSON
["stdin", keys] in, the app's terminal output out as binary frames, read by a VT100 screen); the
page in Debian's chromium where there is one. Each test stops its server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
import pyte
import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.message import Message

from desk_terminal import ROOT
from kiosk import audit, cli
from kiosk_screens import launch
from kiosk_screens.desks import MAX_SIZE, MIN_SIZE, screen_size

from conftest import desk_app, fresh_user_env, settle
from test_terminals import _events, _free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def training_db(tmp_path_factory) -> Path:
    """A database with the training staff (maria / training1), made once for the module."""
    from kiosk.config import Config
    from kiosk.ops.training import load_training_data
    from kiosk.store.db import close_database
    from kiosk.store.practice import open_store

    db = tmp_path_factory.mktemp("desks") / "kiosk.sqlite3"
    open_store(Config(database=str(db)))
    load_training_data()
    close_database()
    return db


class DeskServer:
    """``kiosk serve-desk`` in a process of its own, with ``home`` as its home and config folder."""

    def __init__(self, db: Path, home: Path, *options: str, checkout_addresses: str = ""):
        (home / "kiosk.toml").write_text(
            f'database = "{db}"\n[terminals.front-1]\nprinter = "front-laser"\n'
            f'[terminals.checkout]\nprinter = "receipt-q"\naddresses = [{checkout_addresses}]\n',
            encoding="utf-8",
        )
        self.port = _free_port()
        env = fresh_user_env(
            home,
            TMPDIR=str(home),
            PYTHONPATH=str(ROOT),
            TEXTUAL_ANIMATIONS="none",
            KIOSK_CONFIG=str(home / "kiosk.toml"),
        )
        command = [sys.executable, "-m", "kiosk_screens.launch", "serve-desk"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        self.said = self._read_until("Browser desks for terminal")
        self.url = f"http://127.0.0.1:{self.port}/"

    def _read_until(self, words: str, seconds: float = 30) -> str:
        out, give_up = b"", time.monotonic() + seconds
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while words.encode() not in out:
            if time.monotonic() > give_up or self.process.poll() is not None:
                raise AssertionError(f"the server did not start: {out.decode(errors='replace')}")
            if select.select([fd], [], [], 0.1)[0]:
                out += os.read(fd, 65536)
        return out.decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def desks(training_db, tmp_path):
    server = DeskServer(training_db, tmp_path, "--terminal", "front-1")
    yield server
    server.stop()
    assert server.process.returncode == 0


def _links(page: str) -> list[str]:
    """Every address the page names: attributes, CSS url(), and any http(s) or ws(s) address."""
    found = re.findall(r'(?:href|src|data-session-websocket-url)="([^"]*)"', page)
    found += re.findall(r'url\(\s*"?([^")]+)"?\s*\)', page)
    found += re.findall(r"(?:https?|wss?)://[^\s\"'<>)]+", page)
    return found


def test_d1_the_desk_page_loads_everything_from_this_server(desks):
    """The page names no other host (no CDN, no Google Fonts); every script, stylesheet, font and
    image it names is served here; the websocket is this server's."""
    page = httpx.get(desks.url, timeout=30)
    assert page.status_code == 200
    assert "front-1" in page.text and 'class="textual-terminal"' in page.text
    links = _links(page.text)
    assert links
    for link in links:
        where = urlsplit(urljoin(desks.url, link))
        assert where.hostname == "127.0.0.1" and where.port == desks.port, link
    assets = {link for link in links if "/static/" in link}
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {
        "textual.js",
        "xterm.css",
        "RobotoMono-VariableFont_wght.ttf",
        "background.png",
    }
    for asset in assets:
        reply = httpx.get(urljoin(desks.url, asset), timeout=30)
        assert reply.status_code == 200 and len(reply.content) > 1000, asset
    assert f"ws://127.0.0.1:{desks.port}/ws" in links


def test_d1_every_route_refuses_a_foreign_host_and_no_folder_is_listed(desks):
    """The page and every asset it names load under the server's own address, and none of them
    under a name that only resolves to loopback (DNS rebinding: 403, the static files too). A
    folder of the static files is 404, its files not listed, whatever the spelling."""
    foreign = {"Host": f"evil.example:{desks.port}"}
    page = httpx.get(desks.url, timeout=30)
    assets = {urljoin(desks.url, link) for link in _links(page.text) if "/static/" in link}
    assert len(assets) >= 4
    for url in [desks.url, *assets]:
        assert httpx.get(url, timeout=30).status_code == 200, url
        refused = httpx.get(url, headers=foreign, timeout=30)
        assert refused.status_code == 403 and "loopback" in refused.text, url
    for folder in ["static/", "static/js/", "static/js", "static/fonts/", "static/./css/"]:
        listed = httpx.get(desks.url + folder, timeout=30)
        assert listed.status_code == 404, folder
        assert "textual.js" not in listed.text and "xterm.css" not in listed.text, folder
        assert "Index of" not in listed.text, folder
        assert httpx.get(desks.url + folder, headers=foreign, timeout=30).status_code == 403
    assert httpx.get(desks.url + "download/nothing", headers=foreign, timeout=30).status_code == 403


def _listening(port: int) -> set[str]:
    """The local addresses a socket listens on at ``port`` (Linux's /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_d1_browser_desks_listen_on_loopback_only_by_default(desks):
    assert _listening(desks.port) == {"0100007F"}  # 127.0.0.1, nothing on any other address
    assert f"at http://127.0.0.1:{desks.port}/" in desks.said


def test_d1_another_sites_page_cannot_open_a_desk(desks):
    """A page of another site (its Origin) may not open the websocket, and a name that only
    resolves to loopback (DNS rebinding) gets no page. A link with ?ping=URL (textual.js fetches
    it first) is sent to the page without it."""
    page = httpx.get(desks.url, headers={"Host": f"evil.example:{desks.port}"}, timeout=30)
    assert page.status_code == 403
    ws = httpx.get(
        desks.url + "ws",
        headers={
            "Origin": "http://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
        timeout=30,
    )
    assert ws.status_code == 403
    pinged = httpx.get(desks.url + "?ping=https://evil.example/&fontsize=18", timeout=30)
    assert pinged.status_code == 302 and pinged.headers["location"] == "/?fontsize=18"


async def _screen_until(
    ws, stream: pyte.ByteStream, *words: str, seconds: float = 60, gone: str = ""
) -> str:
    """Feed the app's output to the VT100 screen until every one of ``words`` is on it (and
    ``gone``, if given, is not)."""
    screen = stream.listener
    give_up = time.monotonic() + seconds
    while True:
        text = "\n".join(screen.display)
        if all(word in text for word in words) and not (gone and gone in text):
            return text
        if time.monotonic() > give_up:
            raise AssertionError(f"not on the page's terminal: {words}\n{text}")
        try:
            message = await ws.receive(timeout=0.5)
        except TimeoutError:
            continue
        if message.type == aiohttp.WSMsgType.BINARY:
            stream.feed(message.data)
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            raise AssertionError(f"the session ended: {message.extra}\n{text}")


def test_s1_d1_a_browser_desk_starts_at_the_staff_sign_in_as_its_terminal(desks, training_db):
    """Through the websocket: the app's own sign-in screen, nobody signed in, the header naming
    the server's terminal and its printer; maria types her name and password (no focus message
    first: the page may not have sent one) and the audit records the sign-in at front-1."""
    before = len(_events(training_db, audit.SIGN_IN))

    async def session() -> tuple[str, str]:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{desks.url}ws?width=100&height=30") as ws:
                screen = pyte.Screen(100, 30)
                stream = pyte.ByteStream(screen)
                at_sign_in = await _screen_until(ws, stream, "Staff sign-in", "your password")
                await ws.send_json(["stdin", "maria\r"])
                await ws.send_json(["stdin", "training1\r"])
                signed_in = await _screen_until(ws, stream, "Maria Lopez (maria)")
                await ws.send_json(["stdin", "\x11"])  # ctrl+q
                return at_sign_in, signed_in

    at_sign_in, signed_in = asyncio.run(session())
    assert "Not signed in" in at_sign_in and "front-1" in at_sign_in
    assert "printer front-laser" in at_sign_in
    assert "front-1" in signed_in
    assert [e["terminal"] for e in _events(training_db, audit.SIGN_IN)[before:]] == ["front-1"]


# Whatever JSON a page can send as a size: numbers of any size, text, null, lists, NaN, Infinity
JSON_SIZES = st.one_of(
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


@given(width=JSON_SIZES, height=JSON_SIZES)
def test_s9_d1_a_browser_gets_no_screen_beyond_the_bounds_whatever_it_asks(width, height):
    """A page's size (the websocket's query, every resize message) gives a screen within the
    bounds, never an error: an attacker's page cannot make the app allocate a huge screen."""
    columns, rows = screen_size(width, height)
    assert MIN_SIZE[0] <= columns <= MAX_SIZE[0] and MIN_SIZE[1] <= rows <= MAX_SIZE[1]


def test_d1_a_sensible_browser_size_is_kept_and_a_huge_one_bounded():
    assert screen_size(132, 43) == (132, 43) and screen_size("100", "30") == (100, 30)
    assert screen_size(10**9, 10**9) == MAX_SIZE and screen_size(-5, 0) == MIN_SIZE
    assert screen_size(None, "abc") == (80, 24)


CURSOR_MOVES = re.compile(rb"\x1b\[(\d+);(\d+)H")


def test_s9_d1_a_huge_resize_through_the_websocket_draws_no_more_than_the_bound(desks):
    """The real server and app: after the page asks for a 10**9 x 10**9 screen, the app draws the
    sign-in on the bounded one (its footer on row MAX_SIZE[1]) and addresses no cell beyond it."""

    async def session() -> bytes:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{desks.url}ws?width=100&height=30") as ws:
                stream = pyte.ByteStream(pyte.Screen(100, 30))
                await _screen_until(ws, stream, "Staff sign-in")
                await ws.send_json(["resize", {"width": 10**9, "height": 10**9}])
                drawn = b""
                give_up = time.monotonic() + 60
                while not any(int(row) == MAX_SIZE[1] for row, _ in CURSOR_MOVES.findall(drawn)):
                    assert time.monotonic() < give_up, "the app did not redraw at the new size"
                    try:
                        message = await ws.receive(timeout=0.5)
                    except TimeoutError:
                        continue
                    assert message.type == aiohttp.WSMsgType.BINARY, message
                    drawn += message.data
                await ws.send_json(["stdin", "\x11"])  # ctrl+q
                return drawn

    moves = [
        (int(row), int(column)) for row, column in CURSOR_MOVES.findall(asyncio.run(session()))
    ]
    assert max(row for row, _ in moves) == MAX_SIZE[1]
    assert max(column for _, column in moves) <= MAX_SIZE[0]


async def test_s6_a_screen_shown_while_the_page_is_unfocused_takes_the_keys_after(
    config, front_desk
):
    """A browser desk's page can lose focus (another tab, the start of a session): Textual then
    skips a new screen's AUTO_FOCUS. The idle lock that comes up meanwhile still has its password
    field focused once the page has focus again, so what is typed lands there."""
    from textual.widgets import Input

    from kiosk_screens.lock import LockScreen

    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.app_focus = False  # the page's "blur"
        app.lock()
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen) and app.screen.focused is None
        app.app_focus = True  # its "focus"
        await pilot.press(*"train")
        await settle(app, pilot)
        assert app.screen.focused is app.screen.query_one("#password", Input)
        assert app.screen.query_one("#password", Input).value == "train"


@contextlib.asynccontextmanager
async def maria_at_search(url: str) -> AsyncIterator[tuple[Any, pyte.ByteStream]]:
    """A browser session at 100x30 with maria signed in, at the search: its websocket and the
    VT100 stream its output is read into; ctrl+q when done. benchmarks/browser_esc.py uses it."""
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{url}ws?width=100&height=30") as ws:
            stream = pyte.ByteStream(pyte.Screen(100, 30))
            await _screen_until(ws, stream, "Staff sign-in", "your password")
            await ws.send_json(["stdin", "maria\r"])
            await ws.send_json(["stdin", "training1\r"])
            await _screen_until(ws, stream, "Maria Lopez (maria)", "Today's appointments")
            yield ws, stream
            await ws.send_json(["stdin", "\x11"])  # ctrl+q


KEY_LIST = "esc or f1: close this list"  # the F1 key list's last line


def test_d1_a_lone_esc_on_a_browser_desk_goes_back_with_nothing_sent_after_it(desks):
    """Through the websocket: F1 opens the key list and Esc alone closes it, with no other key,
    focus or resize message sent after it (the Esc is taken once ESCDELAY passes, not when the
    page next sends something)."""

    async def session() -> str:
        async with maria_at_search(desks.url) as (ws, stream):
            await ws.send_json(["stdin", "\x1bOP"])  # F1, as xterm.js sends it
            await _screen_until(ws, stream, KEY_LIST)
            await ws.send_json(["stdin", "\x1b"])
            return await _screen_until(ws, stream, "Today's appointments", gone=KEY_LIST)

    assert "Keys on this screen" not in asyncio.run(session())


class _App:
    """What BrowserDriver's input thread posts to, collected in ``got``."""

    def __init__(self) -> None:
        self.got: asyncio.Queue[Message] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    async def _post_message(self, message: Message) -> bool:
        self.got.put_nowait(message)
        return True

    def post_message(self, message: Message) -> bool:
        self.loop.call_soon_threadsafe(self.got.put_nowait, message)
        return True


def _packet(kind: bytes, payload: bytes) -> bytes:
    """One packet as textual-serve writes it to its app (web_driver's framing)."""
    return kind + len(payload).to_bytes(4, "big") + payload


async def test_d1_the_browser_driver_answers_a_held_esc_without_more_input(monkeypatch):
    """BrowserDriver's input loop on a pipe, as textual-serve feeds an app, with its idle wait made
    an hour: a lone Esc and a lone ESC ] (alt+]) are still delivered, nothing written after
    either. Packets cut across reads and the server's own messages are read as Textual reads them,
    and the pipe's end quits the app (the server is gone)."""
    from textual import events, messages

    from kiosk_screens import browser

    monkeypatch.setattr(browser, "IDLE_POLL_S", 3600.0)
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "__stdin__", os.fdopen(read_end, "rb", buffering=0))
    app = _App()
    driver = browser.BrowserDriver(app, size=(80, 24))  # type: ignore[arg-type]
    thread = threading.Thread(target=driver.run_input_thread)
    thread.start()

    try:
        os.write(write_end, _packet(b"D", b"\x1b"))
        first = await asyncio.wait_for(app.got.get(), timeout=30)
        assert isinstance(first, events.Key) and first.key == "escape"
        os.write(write_end, _packet(b"D", b"\x1b]"))
        alt = await asyncio.wait_for(app.got.get(), timeout=30)
        assert isinstance(alt, events.Key) and alt.character == "]"
        whole = _packet(b"D", "hé".encode()) + _packet(b"M", b'{"type": "focus"}')
        for cut in (2, 7, 10):  # in a size, inside the é, in the second packet's size
            os.write(write_end, whole[:cut])
            await asyncio.sleep(0.05)
            os.write(write_end, whole[cut:])
            got = [await asyncio.wait_for(app.got.get(), timeout=30) for _ in range(3)]
            # (keys and the server's messages reach the app by two ways: their order is its own)
            read = {getattr(m, "character", type(m).__name__) for m in got}
            assert read == {"h", "é", "AppFocus"}
        os.close(write_end)
        write_end = -1
        assert isinstance(await asyncio.wait_for(app.got.get(), timeout=30), messages.ExitApp)
    finally:
        if write_end >= 0:
            os.close(write_end)
        await asyncio.to_thread(thread.join, 30)
    assert not thread.is_alive()


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def _gone(pids: set[int], seconds: float = 30) -> bool:
    give_up = time.monotonic() + seconds
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > give_up:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux's process table")
def test_d2_a_browser_desk_ends_with_its_browser_and_with_a_killed_server(training_db, tmp_path):
    """--training: a browser's session has a throwaway training database of its own, gone when
    the browser leaves. And a server killed outright (SIGKILL: no time to tell its apps) leaves no
    app running with nobody at it, nor its training database."""
    server = DeskServer(training_db, tmp_path, "--terminal", "front-1", "--training")

    async def visit(then_kill: bool) -> set[int]:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{server.url}ws?width=100&height=30") as ws:
                stream = pyte.ByteStream(pyte.Screen(100, 30))
                await _screen_until(ws, stream, "Staff sign-in", "Training")
                apps = _children(server.process.pid)
                assert list(tmp_path.glob("kiosk-training-*"))
                if then_kill:
                    server.process.kill()
                    server.process.wait()
                return apps

    try:
        first = asyncio.run(visit(then_kill=False))  # the browser goes: its app quits
        assert first and _gone(first)
        assert not list(tmp_path.glob("kiosk-training-*"))
        second = asyncio.run(visit(then_kill=True))
        assert second and _gone(second)
        assert not list(tmp_path.glob("kiosk-training-*"))  # it cleaned up as it went
    finally:
        server.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (.ci/chromium.sh installs it)")
def test_s1_d1_the_desk_page_in_a_browser_asks_nothing_of_another_host(
    desks, training_db, tmp_path
):
    """Debian's chromium opens the page: every request it makes (script, styles, fonts, image,
    websocket) goes to this server and the Roboto Mono font is the one served here. Typed straight
    after the page opens (the terminal takes the keyboard), maria's sign-in goes through the app's
    own sign-in and is recorded at front-1. Screenshot: desk.png in the test's folder."""
    sync_api = pytest.importorskip("playwright.sync_api")
    before = len(_events(training_db, audit.SIGN_IN))
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("request", lambda request: requests.append(request.url))
            page.on("websocket", lambda ws: requests.append(ws.url))
            page.goto(desks.url)
            page.wait_for_selector("body.-first-byte", timeout=60_000)  # the app's first output
            fonts = page.evaluate(
                "document.fonts.ready.then(() => [...document.fonts]"
                ".filter(f => f.status === 'loaded').map(f => f.family))"
            )
            page.keyboard.type("maria\n")
            page.keyboard.type("training1\n")
            give_up = time.monotonic() + 60
            while len(_events(training_db, audit.SIGN_IN)) == before:
                assert time.monotonic() < give_up, "no sign-in from the browser"
                page.wait_for_timeout(100)
            page.screenshot(path=str(tmp_path / "desk.png"))
        finally:
            browser.close()
    assert any("Roboto Mono" in family for family in fonts)
    assert [e["terminal"] for e in _events(training_db, audit.SIGN_IN)[before:]] == ["front-1"]
    assert any(urlsplit(url).path == "/ws" for url in requests)
    for url in requests:
        where = urlsplit(url)
        assert where.hostname == "127.0.0.1" and where.port == desks.port, url


def test_d1_serve_desk_refuses_an_unknown_terminal_and_a_missing_database(
    tmp_path, capsys, monkeypatch
):
    """With [terminals] configured, a --terminal that is none of them is refused before
    listening. Without a database it says so and makes none (D2)."""
    for name in [k for k in os.environ if k.startswith("KIOSK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TERM", "linux")  # serve-desk sets xterm's for its browsers; put back
    config = tmp_path / "kiosk.toml"
    config.write_text('[terminals.front-1]\nprinter = "front-laser"\n', encoding="utf-8")
    assert (
        launch.main(["--config", str(config), "serve-desk", "--training", "--terminal", "front-9"])
        != 0
    )
    assert "no [terminals.front-9]" in capsys.readouterr().err
    missing = tmp_path / "none" / "kiosk.sqlite3"
    assert launch.main(["--db", str(missing), "serve-desk"]) == cli.EXIT_USAGE
    assert "no database" in capsys.readouterr().err
    assert not missing.parent.exists()


async def _sign_in_as_maria(url: str, *before: str, width: int = 100, user: str = "maria") -> str:
    """A browser session: the ``before`` messages sent raw, then maria signs in; the screen then."""
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(f"{url}ws?width={width}&height=30") as ws:
            stream = pyte.ByteStream(pyte.Screen(width, 30))
            await _screen_until(ws, stream, "Staff sign-in", "your password")
            for text in before:
                await ws.send_str(text)
            await ws.send_json(["stdin", f"{user}\r"])
            await ws.send_json(["stdin", "training1\r"])
            signed_in = await _screen_until(ws, stream, "Maria Lopez (maria)")
            await ws.send_json(["stdin", "\x11"])  # ctrl+q
            return signed_in


def test_d1_each_browser_desk_is_the_terminal_its_address_picks(training_db, tmp_path, monkeypatch):
    """With no --terminal (and no KIOSK_TERMINAL), a browser's session is the terminal whose
    addresses hold the browser's address, not the server's host name, and not the SSH address
    the server was started from: the audit records the sign-in there; the header shows it."""
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.8 50000 10.0.0.1 22")  # the administrator's
    before = len(_events(training_db, audit.SIGN_IN))
    server = DeskServer(training_db, tmp_path, checkout_addresses='"127.0.0.0/8"')
    try:
        assert "named by each browser address" in server.said
        signed_in = asyncio.run(_sign_in_as_maria(server.url, width=120))  # room for the printer
    finally:
        server.stop()
    assert "checkout" in signed_in and "printer receipt-q" in signed_in  # its queue
    assert [e["terminal"] for e in _events(training_db, audit.SIGN_IN)[before:]] == ["checkout"]


BAD_MESSAGES = [
    "not json",
    "{",
    "[" * 100_000,  # beyond the JSON parser's depth
    "{}",
    "[]",
    "42",
    "null",
    '"resize"',
    "[1, 2]",
    '["resize"]',
    '["resize", null]',
    '["resize", []]',
    '["resize", {"width": "wide"}]',
    '["resize", {"height": 1e999}]',
    '["resize", {"width": [1], "height": {"a": 1}}]',
    '["stdin"]',
    '["stdin", 5]',
    '["stdin", ["a"]]',
    '["stdin", "\\ud800"]',  # a lone surrogate: no UTF-8 for it
    '["stdin", ""]',  # textual-serve would send an empty packet: its app reads the end
    '["ping"]',
    '["blur", 1, 2, 3]',
    '["what"]',
    '[null, "x"]',
]


def test_d1_malformed_messages_never_end_a_browser_desk_session(desks):
    """Whatever a page sends on the websocket (not JSON, not a list, a resize without numbers,
    keys that are not text), the session goes on: maria signs in afterwards on the same one."""
    assert "Maria Lopez (maria)" in asyncio.run(_sign_in_as_maria(desks.url, *BAD_MESSAGES))


def test_d1_what_a_page_sends_that_is_no_key_never_reaches_the_sign_in(desks):
    """A page (or whoever holds the websocket) sends an OSC 52 reply, a DCS reply, unknown CSI
    sequences and a kitty key Textual's parser raised on, which ended the session: the session
    goes on and maria signs in, her username typed after them untouched."""
    junk = ["\x1b]52;c;SGVsbG8=\x07", "\x1bP1$r0m\x1b\\", "\x1b[?62;22c", "\x1b[:;1u", "ma"]
    before = [json.dumps(["stdin", text]) for text in junk]
    assert "Maria Lopez (maria)" in asyncio.run(_sign_in_as_maria(desks.url, *before, user="ria"))


def test_d1_only_the_kiosk_command_serves_desks(tmp_path, capsys):
    """kiosk.cli (the domain) holds no UI: called without the console script's server, serve-desk
    says where desks are served from and serves nothing."""
    assert cli.main(["--db", str(tmp_path / "k.sqlite3"), "serve-desk"]) == cli.EXIT_USAGE
    assert "with the kiosk command" in capsys.readouterr().err
    assert not (tmp_path / "k.sqlite3").exists()


def test_d2_serve_desk_says_what_widening_the_address_means(capsys):
    """The --host help warns that another address opens the desk over plain HTTP."""
    with pytest.raises(SystemExit):
        cli.build_parser(["serve-desk"]).parse_args(["serve-desk", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default 127.0.0.1" in text and "WARNING" in text and "plain HTTP" in text


def test_d1_a_desk_server_opens_no_more_sessions_than_it_may(training_db, tmp_path):
    """Each browser session is an app process of its own: anyone reaching the port (a LAN with
    --host, any local account on loopback) could open websockets until the memory ran out. One
    past --max-sessions is refused (503) and starts nothing; once one closes, a new one opens."""
    server = DeskServer(training_db, tmp_path, "--terminal", "front-1", "--max-sessions", "1")

    async def sessions() -> tuple[int, str]:
        async with aiohttp.ClientSession() as client:
            async with client.ws_connect(f"{server.url}ws?width=80&height=24") as first:
                await _screen_until(first, pyte.ByteStream(pyte.Screen(80, 24)), "Staff sign-in")
                try:
                    async with client.ws_connect(f"{server.url}ws"):
                        refused = 101
                except aiohttp.WSServerHandshakeError as error:
                    refused = error.status
                await first.send_json(["stdin", "\x11"])  # ctrl+q: its app ends, its session too
                await first.receive(timeout=30)
            give_up = time.monotonic() + 30
            while True:  # the server counts the first session out as its app ends
                try:
                    again = await client.ws_connect(f"{server.url}ws?width=80&height=24")
                    break
                except aiohttp.WSServerHandshakeError:
                    assert time.monotonic() < give_up, "the closed session still counts"
                    await asyncio.sleep(0.2)
            async with again:
                text = await _screen_until(
                    again, pyte.ByteStream(pyte.Screen(80, 24)), "Staff sign-in"
                )
                await again.send_json(["stdin", "\x11"])
            return refused, text

    try:
        refused, text = asyncio.run(sessions())
    finally:
        server.stop()
    assert refused == 503 and "front-1" in text


def test_d1_a_desk_server_on_an_ipv6_address_says_it_in_brackets():
    """`kiosk serve-desk --host ::` said it was at http://:::8810/, an address no browser opens."""
    from kiosk_screens import desks

    for host, said in [
        ("::", "http://[::]:8810"),
        ("::1", "http://[::1]:8810"),
        ("fe80::1%eth0", "http://[fe80::1%25eth0]:8810"),
        ("0.0.0.0", "http://0.0.0.0:8810"),
        ("localhost", "http://localhost:8810"),
    ]:
        server = desks.DeskServer("true", host=host, port=8810, terminal="front-1")
        assert server.public_url == said


@given(st.ip_addresses(v=6), st.integers(1, 65535))
def test_d1_any_ipv6_address_gives_a_url_with_that_host_and_port(address, port):
    from kiosk.ops.terminals import http_url

    url = urlsplit(http_url(str(address), port))
    assert (url.scheme, url.hostname, url.port) == ("http", str(address).lower(), port)
