"""The real app in a real terminal: ``kiosk`` started in a pseudo-terminal of a given size, its
output read by a VT100 screen (pyte) so a test or a benchmark reads what the desk would see, and
keys written to it as a keyboard sends them. Used by tests/test_typeahead.py and
benchmarks/desk_keys.py."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

import pyte

from conftest import fresh_user_env

ROOT = Path(__file__).resolve().parent.parent

# What a terminal sends for each key (xterm): letters and digits stand for themselves.
KEYS = {
    "enter": "\r",
    "tab": "\t",
    "space": " ",
    "escape": "\x1b",
    "backspace": "\x7f",
    "ctrl+r": "\x12",
    "ctrl+q": "\x11",
    "ctrl+l": "\x0c",
    "ctrl+o": "\x0f",
    "f5": "\x1b[15~",
    "down": "\x1b[B",
    "up": "\x1b[A",
    "pagedown": "\x1b[6~",
    "end": "\x1b[F",
}


class _Screen(pyte.Screen):
    """A screen that answers the terminal queries Textual sends (device attributes)."""

    def __init__(self, columns: int, lines: int, answer) -> None:
        super().__init__(columns, lines)
        self.answer = answer

    def write_process_input(self, data: str) -> None:
        self.answer(data)


class DeskTerminal:
    """``python -m kiosk_screens.launch ARGS`` in a ``columns`` x ``lines`` pseudo-terminal, with
    ``home`` as its home, data, config and temporary folder (no KIOSK_* variable leaks in);
    ``animations``: False sets TEXTUAL_ANIMATIONS=none, as the tests run; ``env`` adds variables."""

    def __init__(
        self,
        args: list[str],
        home: Path,
        columns: int = 80,
        lines: int = 24,
        *,
        animations: bool = False,
        env: dict[str, str] | None = None,
    ):
        env = fresh_user_env(home, TMPDIR=str(home), PYTHONPATH=str(ROOT), **(env or {}))
        env.setdefault("TERM", "xterm-256color")
        if not animations:
            env["TEXTUAL_ANIMATIONS"] = "none"
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the app, on the pty
            os.chdir(ROOT)
            os.execvpe(sys.executable, [sys.executable, "-m", "kiosk_screens.launch", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.screen = _Screen(columns, lines, self._write)
        self.stream = pyte.ByteStream(self.screen)
        self.output_at = time.monotonic()  # when the app last drew something

    def _write(self, data: str) -> None:
        os.write(self.fd, data.encode())

    def press(self, key: str) -> float:
        """Send one key; returns the time it was sent (time.monotonic)."""
        sent = time.monotonic()
        self._write(KEYS.get(key, key))
        return sent

    def read(self, timeout: float = 0.0) -> bool:
        """Draw whatever the app wrote within ``timeout`` seconds; True if it wrote anything."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:  # the app has ended
            return False
        if data:
            self.output_at = time.monotonic()
            self.stream.feed(data)
        return bool(data)

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, *words: str, timeout: float = 20.0) -> float:
        """Read until every one of ``words`` is on the screen; returns when they first all were
        (time.monotonic). AssertionError, with the screen, after ``timeout`` seconds."""
        give_up = time.monotonic() + timeout
        while True:
            text = self.text
            if all(word in text for word in words):
                return self.output_at
            if time.monotonic() > give_up:
                raise AssertionError(f"not on the screen: {words}\n{text}")
            self.read(0.005)

    def settle(self, quiet: float = 0.3, timeout: float = 20.0) -> None:
        """Read until the app has drawn nothing for ``quiet`` seconds."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if not self.read(quiet):
                return

    def close(self) -> None:
        try:
            self.press("ctrl+q")
            give_up = time.monotonic() + 5
            while time.monotonic() < give_up:
                self.read(0.05)
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    return
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ChildProcessError, ProcessLookupError, OSError):
            pass
        finally:
            os.close(self.fd)
