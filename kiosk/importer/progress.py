"""A plain-text progress bar on stderr for ``kiosk import`` (no extra dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TextProgress:
    """Call as ``progress(label, done, total)``. On a terminal it redraws one line; in a log it
    writes a line per label and every 25%, so nightly cron output stays short."""

    def __init__(self, stream: TextIO | None = None, width: int = 30, interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.width, self.interval = width, interval
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._label, self._last, self._quarter = "", 0.0, -1

    def __call__(self, label: str, done: int, total: int) -> None:
        fraction = min(done / total, 1.0) if total else 1.0
        if label != self._label:
            self.finish()
            self._label, self._quarter, self._last = label, -1, 0.0
        if self.tty:
            now = time.monotonic()
            if now - self._last < self.interval and fraction < 1.0:
                return
            self._last = now
            filled = int(fraction * self.width)
            self.stream.write(
                f"\r{label[:40]:<40} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}"
            )
        else:
            quarter = int(fraction * 4)
            if quarter == self._quarter:
                return
            self._quarter = quarter
            self.stream.write(f"{label}: {fraction:.0%}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._label:
            self.stream.write("\n")
            self.stream.flush()
        self._label = ""
