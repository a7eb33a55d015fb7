"""Containing errors (S9): a message handler, an action or a callback that raises is reported by
the app's one handler (KioskApp.report_error) and the screen carries on as it was.

Textual 8.2.8 hands an exception raised in a handler to ``App._handle_exception`` and then stops
that screen's (or the App's) message loop: the screen empties, or the whole app stops answering.
There is no public hook before that point, so the mixin catches it in ``_on_message``, the one
method every event and message of a screen or the App passes through.
"""

from __future__ import annotations


class ReportsErrors:
    """Mixed into the App and every screen: an error in one of its handlers is said in plain
    words and logged, and the screen keeps what was typed into it."""

    async def _on_message(self, message) -> None:
        try:
            await super()._on_message(message)  # type: ignore[misc]
        except Exception as error:  # the one place handler errors end up
            report = getattr(self.app, "report_error", None)  # type: ignore[attr-defined]
            if report is None:
                raise
            report(error, f"{type(self).__name__} handling {type(message).__name__}")
