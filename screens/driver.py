"""The desk's terminal driver: Textual's Linux driver, answering a lone Esc sooner.

A terminal sends Esc alone for the key, and Esc followed by more bytes for arrows and function
keys, so a reader must wait a moment after an Esc to tell them apart. Textual waits ESCDELAY
milliseconds (100 by default, like ncurses) and only looks again when its input poll times out,
every 100 ms: Esc, the desk's "back" key, took 110-130 ms to react (benchmarks/desk_keys.py),
over the 100 ms every desk key must meet. The desk waits 25 ms (``launch.ESCDELAY_MS``: a key's
bytes arrive together, even over SSH, where the client writes each key in one packet) and, while
an Esc is unresolved, polls every ESC_POLL_S, so Back answers in about 45 ms; idle, it polls
every 100 ms as Textual does. ``ESCDELAY`` set in the environment still wins.

``run_input_thread`` is Textual 8.2's own (textual is pinned), with that poll interval;
everything else is the Linux driver unchanged.
"""

from __future__ import annotations

import codecs
import os
import selectors
import time
from codecs import getincrementaldecoder

from textual import constants
from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

ESC_POLL_S = 0.01
IDLE_POLL_S = 0.1  # Textual's own

# Keys arrive as UTF-8; a byte that is not (a reception PC's terminal set to Latin-1 typing "é",
# line noise) stopped Textual's input thread with UnicodeDecodeError, and the desk with it, its
# work lost. Such a byte is read as the Latin-1 letter it most likely is (D1).
LATIN1_FALLBACK = "kiosk-latin1-fallback"


def _as_latin1(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error(LATIN1_FALLBACK, _as_latin1)


class DeskDriver(LinuxDriver):
    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's, polling sooner after an Esc)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ
        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")(LATIN1_FALLBACK).decode
        read = os.read
        escape_at: float | None = None  # when an Esc came that may start a sequence

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]], final: bool = False
        ) -> None:
            nonlocal escape_at
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:  # stdin is a pipe that ended
                        break
                    if unicode_data.endswith("\x1b"):
                        escape_at = time.monotonic()
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)
            if escape_at is not None and time.monotonic() - escape_at > constants.ESCAPE_DELAY:
                escape_at = None  # the parser has had its wait: the Esc is resolved

        try:
            while not self.exit_event.is_set():
                wait = IDLE_POLL_S if escape_at is None else ESC_POLL_S
                process_selector_events(selector.select(wait))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(IDLE_POLL_S), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
