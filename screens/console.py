"""Drawing for the bare Linux console (TERM=linux): its fonts (console-setup's Lat15 and Uni2 sets
of Terminus, Fixed and VGA) have the full block, the shades and box-drawing lines but none of the
half and eighth blocks (▀ ▄ ▌ ▐ ▔ ▁ ▊ ▎) that Textual's tall borders, scrollbars, radio buttons and
check boxes use, nor the header's ⭘. There kiosk draws with lines and whole cells instead
(``console.tcss``), in the console's 16 colours, and says the QR code is on the printed slip.

The ``glyphs`` setting (kiosk.terms.Glyphs) forces it on or off; ``auto`` reads TERM.
"""

from __future__ import annotations

from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.widgets import Checkbox, RadioButton

from kiosk.terms import Glyphs

CONSOLE_TERMS = ("linux",)


def uses_console_glyphs(setting: str, term: str) -> bool:
    """Whether to draw for the Linux console: the ``glyphs`` setting, or for ``auto`` the TERM."""
    if setting == Glyphs.AUTO:
        return term in CONSOLE_TERMS
    return setting == Glyphs.CONSOLE


class WholeCellScrollBar(ScrollBarRender):
    """A scrollbar whose thumb fills whole cells: no eighth blocks at its ends."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


FULL_SCROLLBAR = ScrollBar.renderer  # Textual's own, for an app that draws for a full terminal


def draw_for_console(console: bool) -> None:
    """Set the few glyphs Textual keeps in class attributes rather than in CSS: the scrollbar's
    renderer (documented as ``ScrollBar.renderer``) and the radio and check boxes' half-block
    sides, "[●]" and "[X]" on the console. Class-wide, so each app sets them either way."""
    ScrollBar.renderer = WholeCellScrollBar if console else FULL_SCROLLBAR
    for kind in (Checkbox, RadioButton):
        if console:
            kind.BUTTON_LEFT, kind.BUTTON_RIGHT = "[", "]"
        else:  # inherit Textual's again
            for side in ("BUTTON_LEFT", "BUTTON_RIGHT"):
                if side in vars(kind):
                    delattr(kind, side)
