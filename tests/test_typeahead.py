"""Keys typed ahead are never lost (kiosk_screens.typeahead): the real app in a real 80x24
terminal (a pty, read by a VT100 screen), driven from sign-in to the saved slip at 20 keys a
second, never waiting for a screen to be ready, as a desk that knows the flow types it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from desk_terminal import DeskTerminal

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pty")

PACE = 0.05  # 20 keys a second
PIN = re.compile(r"\b[A-Z]{5}-[A-Z]{5}\b")


def type_ahead(terminal: DeskTerminal, steps: list[str | list[str]]) -> None:
    """Each step is a key, or a text typed a character a key; one key every PACE seconds."""
    for step in steps:
        for key in [step] if isinstance(step, str) else step:
            terminal.press(key)
            pace = time.monotonic() + PACE
            while time.monotonic() < pace:  # keep reading: a full pty would stall the app
                terminal.read(max(0.0, pace - time.monotonic()))


@pytest.fixture
def home():
    """A short home folder: the saved slip's path then fits on one line at 80 columns."""
    folder = Path(tempfile.mkdtemp(prefix="kt", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_r5_r14_sign_in_to_saved_slip_typed_ahead_at_20_keys_a_second(home):
    terminal = DeskTerminal(["--training"], home)
    try:
        terminal.wait_for("Staff sign-in", timeout=60)
        steps: list[str | list[str]] = [
            list("maria"),
            "enter",
            list("training1"),
            "enter",
            list("testkiddo, rosemary"),
            "enter",  # before the results: opens the first when they come
            "enter",
            "r",  # Register Patient, before the account page has loaded
            "ctrl+r",  # Register, before the family has loaded
            "p",  # the slip, before the PINs are back
            "p",  # print it (training: saved)
        ]
        keys = [step for step in steps if isinstance(step, str)]
        assert len(keys) == 8  # besides the username, the password and the name typed

        type_ahead(terminal, steps)

        terminal.wait_for("The slip was saved as", timeout=60)
        terminal.settle()
        shown = terminal.text
        assert "Rosemary Testkiddo" in shown and "Basil Testkiddo" in shown
        assert len(set(PIN.findall(shown))) == 2, shown  # both PINs, each once

        # the whole path in sight at 80x24 (a long one wraps onto the next lines)
        after = "".join(
            line.strip() for line in shown.split("The slip was saved as", 1)[1].splitlines()
        )
        assert ".pdf" in after, shown
        saved = Path(after.split(".pdf", 1)[0] + ".pdf")
        assert saved.read_bytes().startswith(b"%PDF")
    finally:
        terminal.close()


def test_r5_a_lone_esc_goes_back_and_arrows_stay_arrows_on_the_desk_driver(home):
    """The desk's driver (kiosk_screens.driver) waits less after an Esc so Back answers within the
    100 ms a desk key has; arrow keys, which start with an Esc, must still arrive as arrows, not as
    an Esc and "[B" typed into the box."""
    terminal = DeskTerminal(["--training"], home)
    try:
        terminal.wait_for("Staff sign-in", timeout=60)
        type_ahead(terminal, [list("maria"), "enter", list("training1"), "enter"])
        terminal.wait_for("^f Search", timeout=60)
        type_ahead(terminal, [list("testkiddo")])
        terminal.wait_for("Rosemary", timeout=30)
        terminal.settle()
        type_ahead(terminal, ["down", "down", "enter"])  # the second row: an arrow moves
        terminal.wait_for("Register", "Testkiddo", timeout=30)  # the page, its patient read
        terminal.settle()
        opened = terminal.text
        assert "[B" not in opened, opened
        assert "Basil Testkiddo" in opened or "Rosemary Testkiddo" in opened, opened
        terminal.press("escape")  # alone: Back to the search, the box as it was
        terminal.wait_for("^f Search", timeout=30)
        terminal.settle()
        back = terminal.text
        assert "testkiddo" in back.lower() and "[B" not in back, back
    finally:
        terminal.close()


async def test_r5_r14_a_key_still_bubbling_up_to_its_screen_is_handled_before_the_next_key():
    """The typed-ahead r reaches the patient page's binding before Ctrl+R is handed on: a key
    bubbles from the focused widget to the screen and only then to the App, where the screen's
    bindings run. A screen still busy (here: its idle work, as on a loaded desk) when r bubbles up
    to it once let Ctrl+R go to the patient page, which has no Ctrl+R: the PINs were never issued
    (kiosk_screens.typeahead). Pilot, with the App's own type-ahead and two screens of the same
    shape: r opens a window, Ctrl+R (a priority binding there) registers."""
    from textual import events
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.containers import VerticalScroll
    from textual.screen import Screen
    from textual.widgets import Static

    from kiosk_screens.typeahead import HoldsTypeAhead

    registered: list[str] = []

    class Window(Screen[None]):
        BINDINGS = [Binding("ctrl+r", "register", "Register", priority=True)]

        def compose(self) -> ComposeResult:
            yield Static("Registration")

        def action_register(self) -> None:
            registered.append("window")

    class Page(Screen[None]):
        BINDINGS = [Binding("r", "open", "Register Patient")]
        busy = False

        def compose(self) -> ComposeResult:
            with VerticalScroll(id="page"):
                yield Static("The patient page")

        def on_mount(self) -> None:
            self.query_one("#page").focus()

        async def on_idle(self) -> None:
            if self.busy:  # the page still drawing when a key bubbles up to it
                await asyncio.sleep(0.05)

        def action_open(self) -> None:
            self.app.push_screen(Window())

    class Desk(HoldsTypeAhead, App[None]):
        def on_mount(self) -> None:
            self.push_screen(Page())

    app = Desk()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        page = app.screen
        assert isinstance(page, Page)
        page.busy = True
        for key in ("r", "ctrl+r"):  # typed ahead: both read before either is handled
            app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
        give_up = time.monotonic() + 10
        # not pilot.pause: its own messages to the screen would hide the race
        while app._typed is None or app.typing:  # until the keys are read, then handed on
            assert time.monotonic() < give_up, app.screen
            await asyncio.sleep(0.01)
        await pilot.pause()
        assert isinstance(app.screen, Window)
        assert registered == ["window"]
