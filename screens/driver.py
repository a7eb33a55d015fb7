"""The desk's terminal driver: Textual's Linux driver, answering a lone Esc sooner.

A terminal sends Esc alone for the key, and Esc followed by more bytes for arrows and function
keys, so a reader must wait a moment after an Esc to tell them apart. Textual waits ESCDELAY
milliseconds (100 by default, like ncurses) and only looks again when its input poll times out,
every 100 ms: Esc, the desk's "back" key, took 110-130 ms to react (benchmarks/desk_keys.py),
over the 100 ms every desk key must meet. The desk waits 25 ms (``launch.ESCDELAY_MS``: a key's
bytes arrive together, even over SSH, where the client writes each key in one packet) and, while
an Esc is unresolved, polls every ESC_POLL_S, so Back answers in about 45 ms; idle, it polls
every 100 ms as Textual does. ``ESCDELAY`` set in the environment still wins.

``run_input_thread`` is Textual 8.2's own (textual is pinned), with that poll interval and the
parser below; everything else is the Linux driver unchanged.

What a terminal sends is not only keys: replies to queries (OSC 52 with a clipboard, DCS and APC
replies, device attributes, CSI reports Textual never asked for), and whatever a hostile client
writes into its SSH channel. Textual's parser knows the sequences it uses and types the rest into
the focused field: it reads an unknown sequence for 32 characters (the user's next keys with it),
then types it all as text, its ESC as "^"; the ESC that ends a control string (ST) cuts it in two
and types the first half. ``DeskParser`` frames every sequence as ECMA-48 does (a control string
runs to its BEL, ST, CAN or SUB; a CSI to its final byte; an ESC breaks any sequence) before
Textual's parser sees it, passes on only keys, text and the sequences Textual understands, and
drops the rest, so no field ever receives a terminal's reply and no typed key is swallowed by one
(D1). One place for every screen and field, instead of a filter in each Input.
"""

from __future__ import annotations

import codecs
import os
import re
import selectors
import time
from codecs import getincrementaldecoder
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from textual import constants, events, messages
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import (
    _MAX_SEQUENCE_SEARCH_THRESHOLD,
    BRACKETED_PASTE_END,
    BRACKETED_PASTE_START,
    SPECIAL_SEQUENCES,
    XTermParser,
    _re_cursor_position,
    _re_in_band_window_resize,
    _re_mouse_event,
    _re_terminal_mode_response,
)
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Size
from textual.message import Message

if TYPE_CHECKING:
    from textual.app import App

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


ESC = "\x1b"
# What opens a control string (ECMA-48 8.3): OSC, DCS, APC, PM and SOS, after an ESC, or as one
# 8-bit C1 control (a Latin-1 byte, see above, is one); 0x9B is CSI's.
STRING_OPENERS = "]P_^X"
C1_STRING_OPENERS = "\x9d\x90\x9f\x9e\x98"
C1_CSI, C1_ST = "\x9b", "\x9c"
# A control string ends at ST (ESC \ or 0x9C), BEL (xterm's OSC end) or is cancelled by CAN or SUB
STRING_ENDS = "\x07\x18\x1a\x9c"
# A control string that never ends (cut off, or sent to silence the desk) ends at the first pause
# this long: a terminal writes its reply at once, so its packets come together even over SSH, and
# a key typed this long after it is read as the key. Its opener alone (ESC ], which alt+] sends
# too; ESC P, alt+P) is held like a lone ESC: with no body within ESCDELAY it is alt+key.
STRING_PAUSE_S = 0.1
# A body that comes in a later read than its opener is either the rest of a reply or keys typed
# within ESCDELAY of alt+]. A reply ends with BEL or ST (or is cancelled by CAN or SUB), and a
# keypress is none of them: the body is held until its end comes (a reply, dropped) or a pause of
# ESCDELAY comes first (alt+] and the keys typed after it, read in order). A body that comes in
# the same read as its opener is a reply (a person's keys come one read each), framed as above.
# Held no longer than Textual holds a sequence: past that many characters nobody typed it, and it
# is dropped to its end.
TYPED_BODY_MAX = _MAX_SEQUENCE_SEARCH_THRESHOLD
# What is left of a control string that such a pause cut (a packet lost and sent again): text and
# its end, arriving at once (keys come one at a time, and none is BEL or ST)
_STRING_TAIL = re.compile(r"[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x9c|\x1b\\)")
_CSI_SO_FAR = re.compile(r"\x1b\[[0-?]*[ -/]*")  # parameter bytes, then intermediate bytes
_NF_SO_FAR = re.compile(r"\x1b[ -/]+")  # ESC ( B and the like: intermediates, then a final
# Sequences Textual maps to keys that ECMA-48 would end sooner (the Linux console's F1, ESC [ [ A)
_KEY_PREFIXES = frozenset(
    key[:end] for key in ANSI_SEQUENCES_KEYS if key[:1] == ESC for end in range(2, len(key))
)

# The largest screen a desk is drawn at (columns, rows); a 4K display at a small font is about
# 400 x 120. Textual allocates and draws the whole screen it is told of, and an SSH client names
# its pty's size (up to 65535 x 65535, ssh's window-change) and may write an in-band resize
# (ESC [ 48 ; rows ; columns ; ... t) with any size: one desk asking for 30000 x 30000 took over a
# GiB of the server's memory, which every other desk shares (D1). Browser desks are bounded the same.
MAX_SIZE = (500, 200)


def bounded(width: int, height: int) -> tuple[int, int]:
    """The size a desk is drawn at for a terminal of ``width`` x ``height`` cells (D1)."""
    return max(min(width, MAX_SIZE[0]), 1), max(min(height, MAX_SIZE[1]), 1)


def _bounded_event(event: Message) -> Message:
    if not isinstance(event, events.Resize):
        return event
    width, height = bounded(event.size.width, event.size.height)
    if (width, height) == tuple(event.size):
        return event
    size = Size(width, height)
    return events.Resize(size, size, size, event.pixel_size)


class DeskParser(XTermParser):
    """Textual's parser behind a gate that frames escape sequences and drops those it would type.

    Textual's parser receives plain characters and whole sequences it understands, never a part
    of one, so it never waits on a sequence itself: a lone ESC (the Esc key) and ESC with one
    character (alt+key) are resolved here, after ``constants.ESCAPE_DELAY`` as Textual does."""

    def __init__(self, debug: bool = False) -> None:
        self._held = ""  # an escape sequence begun and not yet framed
        self._held_at = 0.0
        self._overlong = False  # the held sequence passed Textual's length: dropped whatever it is
        self._string = False  # inside a control string, which is dropped to its end
        self._string_at = 0.0
        self._cut = False  # a pause ended a control string: its tail may still come
        self._closing = False  # an ESC ended a control string: with a "\\" after it, it is ST
        self._pasting = False  # inside a bracketed paste: text only, no keys
        self._reads = 0  # feed calls so far: which read an opener came in
        self._opener_read = 0  # the read the held opener (ESC ], ESC P, ...) came in
        # an opener and the body that came after it in later reads, until BEL or ST shows it a
        # reply or a pause shows it alt+key and typed keys (TYPED_BODY_MAX); None: none held
        self._typed: str | None = None
        super().__init__(debug)

    def feed(self, data: str) -> Iterable[Message]:
        if not data:  # the end of input: what is held resolves as after a pause
            yield from self._resolve()
            if self._typed is not None:
                yield from self._typed_keys(get_time())
            yield from self._parsed(data)
            return
        now = get_time()
        yield from self._expire(now)  # what paused before this arrived is over, not continued
        self._reads += 1
        if self._cut:
            self._cut = False
            if tail := _STRING_TAIL.match(data):
                data = data[tail.end() :]
        yield from self._read(data, now)

    def _read(self, data: str, now: float) -> Iterator[Message]:
        text: list[str] = []  # characters for Textual's parser, in order with the events below
        for character in data:
            for event in self._gate(character, text, now):
                if text:
                    yield from self._parsed("".join(text))
                    text.clear()
                yield event
        if text:
            yield from self._parsed("".join(text))

    def _typed_keys(self, now: float) -> Iterator[Message]:
        """The held body had no reply's end: its opener was alt+key (ESC ] is alt+]) and the body
        the keys typed after it, read in order as keys (TYPED_BODY_MAX)."""
        typed, self._typed = self._typed or "", None
        self._held, self._string, self._closing = "", False, False
        if not self._pasting:
            yield from self._sequence_to_key_events(typed[1], alt=True)
        yield from self._read(typed[2:], now)
        self._cut = True  # should the rest of a reply cut this long come after all, it is dropped

    def _parsed(self, text: str) -> Iterator[Message]:
        """Textual's reading of ``text``, an in-band resize bounded (MAX_SIZE, D1)."""
        for event in super().feed(text):
            yield _bounded_event(event)

    @property
    def waiting(self) -> bool:
        """A sequence begun (a lone Esc, ESC ], a body after it) waits to be resolved: the driver
        looks again soon."""
        return bool(self._held) or self._typed is not None

    def tick(self) -> Iterable[Message]:
        yield from super().tick()
        yield from self._expire(get_time())

    def _expire(self, now: float) -> Iterator[Message]:
        if self._held and now - self._held_at >= constants.ESCAPE_DELAY:
            yield from self._resolve()
        if self._typed is not None and now - self._string_at >= constants.ESCAPE_DELAY:
            yield from self._typed_keys(now)
        if self._string and now - self._string_at >= STRING_PAUSE_S:
            self._string, self._cut = False, True

    def _resolve(self) -> Iterator[Message]:
        """A sequence no more characters came for: ESC alone is the Esc key, ESC and one character
        alt+key (Textual's reading of both); anything longer is a broken sequence, dropped."""
        held, self._held, self._overlong = self._held, "", False
        if self._closing and self._typed is not None:  # a body, then Esc: typed keys, then Esc
            yield from self._typed_keys(get_time())
            if not self._pasting:
                yield events.Key("escape", ESC)
            return
        if self._closing or self._pasting:  # the ESC that ended a control string is no key
            self._closing = False
            return
        if held == ESC:
            yield events.Key("escape", ESC)
        elif len(held) == 2:
            if held[1] in STRING_OPENERS:  # no body came: should a cut reply's rest come, it is
                self._cut = True  # dropped as the tail of a cut string is
            yield from self._sequence_to_key_events(held[1], alt=True)

    def _gate(self, character: str, text: list[str], now: float) -> Iterator[Message]:
        """Read one ``character``: append what Textual's parser should read to ``text``, yield the
        keys this resolves itself; drop the rest."""
        if self._string:
            self._string_at = now
            if character == ESC:  # the string's end, and maybe ST's first half
                self._string, self._closing = False, True
                self._held, self._held_at = ESC, now
            elif self._typed is not None:  # a reply if BEL or ST ends it (TYPED_BODY_MAX)
                if character in STRING_ENDS:  # (or CAN or SUB cancels it): dropped
                    self._string, self._typed = False, None
                elif len(self._typed) - 2 < TYPED_BODY_MAX:
                    self._typed += character
                else:  # too long to be typed: a control string, dropped to its end
                    self._typed = None
            elif character in STRING_ENDS:
                self._string = False
            return
        if not self._held:
            if character == ESC:
                self._held, self._held_at = ESC, now
            elif character in C1_STRING_OPENERS:
                self._string, self._string_at = True, now
            elif character == C1_CSI:
                self._held, self._held_at = ESC + "[", now
            elif character != C1_ST:
                text.append(character)
            return
        if len(self._held) == 2 and self._held[1] in STRING_OPENERS:  # a body: a control string
            if self._reads != self._opener_read:  # or keys typed after alt+] (TYPED_BODY_MAX)
                self._typed = self._held
            self._held, self._string = "", True
            yield from self._gate(character, text, now)
            return
        if self._closing and self._typed is not None and character != "\\":
            # no ST after the body: it was alt+key and typed keys, this ESC the start of a key
            yield from self._typed_keys(now)
            self._held, self._held_at = ESC, now
            yield from self._gate(character, text, now)
            return
        sequence, closing, self._held_at = self._held + character, self._closing, now
        self._closing = False
        if closing and character == "\\":  # ST: the control string is over
            self._held, self._typed = "", None
        elif character == ESC:  # an ESC ends any sequence (two: the Esc key, then a new one)
            if self._held == ESC and not closing and not self._pasting:
                yield events.Key("escape", ESC)
            self._held, self._overlong = ESC, False
        elif self._overlong:
            if not " " <= character <= "?":  # a final byte, or no part of a sequence: its end
                self._held, self._overlong = "", False
                if not " " <= character <= "~":
                    yield from self._gate(character, text, now)
        elif len(sequence) == 2 and character in STRING_OPENERS:
            self._held = sequence  # alt+key, or a control string if its body follows at once
            self._opener_read = self._reads
        elif self._understood(sequence):
            self._held = ""
            text.append(sequence)
            if sequence in (BRACKETED_PASTE_START, BRACKETED_PASTE_END):
                self._pasting = sequence == BRACKETED_PASTE_START
        elif (
            sequence in _KEY_PREFIXES
            or _CSI_SO_FAR.fullmatch(sequence)
            or _NF_SO_FAR.fullmatch(sequence)
            or sequence == ESC + "O"  # SS3: one more character
            or (sequence.startswith(ESC + "[M") and len(sequence) < 6)  # an X10 mouse report
        ):
            self._held = sequence
            if len(sequence) > _MAX_SEQUENCE_SEARCH_THRESHOLD:  # Textual would type it: dropped
                self._overlong = True
        elif len(sequence) == 2:  # ESC and a character: alt+key, as Textual reads it
            self._held = ""
            if not self._pasting:
                yield from self._sequence_to_key_events(character, alt=True)
        else:  # a whole sequence Textual has no use for (or broken by a character none has)
            self._held = ""
            if not " " <= character <= "~":  # not the sequence's own: read on its own
                yield from self._gate(character, text, now)

    def _understood(self, sequence: str) -> bool:
        """Whether Textual's parser reads ``sequence`` as something (XTermParser.parse's tests, in
        its order): a key, a mouse event, a report or a paste's bracket. A kitty key Textual cannot
        read (ESC [ : ; 1 u, a code point past Unicode) raised in its input thread, and the app
        ended with a traceback, the desk's work lost: it is not understood, so dropped."""
        try:
            key = any(True for _ in self._sequence_to_key_events(sequence))
        except (ValueError, OverflowError):
            return False
        return bool(
            sequence in SPECIAL_SEQUENCES
            or _re_in_band_window_resize.fullmatch(sequence)
            or _re_cursor_position.match(sequence)
            or key
            or _re_mouse_event.match(sequence)
            or _re_terminal_mode_response.match(sequence)
        )


class DeskDriver(LinuxDriver):
    def __init__(self, app: App[Any], **options: Any) -> None:
        super().__init__(app, **options)
        if self._size is None:  # the app's size until the first resize: bounded as well (D1)
            self._size = self._get_terminal_size()

    def _get_terminal_size(self) -> tuple[int, int]:
        """The pty's size as its SSH client set it, bounded (MAX_SIZE, D1). Asked of the terminal
        itself: Textual's (shutil's) prefers COLUMNS and LINES from the environment, so a desk
        started with them exported (a login profile's ``export COLUMNS``, a test runner's
        workers) stayed at that size whatever the window became."""
        try:
            size = os.get_terminal_size(self.fileno)  # the desk's terminal, keys and screen
        except (ValueError, OSError):  # not a terminal: Textual's reading
            return bounded(*super()._get_terminal_size())
        return bounded(size.columns or 80, size.lines or 25)

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's, polling sooner after an Esc)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ
        parser = DeskParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")(LATIN1_FALLBACK).decode
        read = os.read
        escape_at: float | None = None  # when an Esc came that may start a sequence
        gone = False  # the terminal hung up: no input will ever come again

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]], final: bool = False
        ) -> None:
            nonlocal escape_at, gone
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    try:
                        data = read(fileno, 1024 * 4)
                    except OSError:  # EIO: the pty's other side closed
                        data = b""
                    if not data:  # D1: the end of input (a closed pty, a pipe that ended)
                        # Textual read on: select answered at once forever, and a desk whose
                        # connection dropped without a SIGHUP (no controlling terminal) spun
                        # on both cores' time, its screens and the database session kept
                        gone = True
                        break
                    unicode_data = decode(data, final=final and last)
                    for event in feed(unicode_data):
                        self.process_message(event)
                    if parser.waiting:  # a lone Esc or ESC ]: resolved once ESCDELAY is over
                        escape_at = time.monotonic()
            for event in tick():
                self.process_message(event)
            if escape_at is not None and time.monotonic() - escape_at > constants.ESCAPE_DELAY:
                escape_at = None  # the parser has had its wait: the Esc is resolved

        try:
            while not self.exit_event.is_set() and not gone:
                wait = IDLE_POLL_S if escape_at is None else ESC_POLL_S
                process_selector_events(selector.select(wait))
            selector.unregister(self.fileno)
            if gone:  # the app quits, as on a hang-up, and as a browser desk does (browser.py)
                self.send_message(messages.ExitApp())
            else:
                process_selector_events(selector.select(IDLE_POLL_S), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
