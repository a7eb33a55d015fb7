"""The bare Linux console draws every screen (issue point 7): with TERM=linux kiosk draws only
characters the console's fonts have, in its 16 colours.

``CONSOLE_FONT`` is the Unicode map of console-setup's Lat15 fonts (Lat15-Terminus16, -Fixed16 and
-VGA16 from Debian's console-setup-linux 1.221 hold the same 528 code points; the Uni2 fonts hold
all of them and more), read from each .psf's Unicode table. It has the full block, two shades and
the box-drawing lines, but no half or eighth blocks (▀ ▄ ▌ ▐ ▔ ▁ ▊ ▎) and no ⭘."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kiosk.people.patients import search_patients
from kiosk_screens.console import uses_console_glyphs

from conftest import TODAY, desk_app, screen_cells, settle

CONSOLE_FONT_RANGES = """
    0020-007E 00A0-00FF 0110 011E-011F 0130-0131 0152-0153 015E-0161 0178 017D-017E 0192 02C6 02C9
    02DC 0391-0392 0395-0397 0399-039A 039C-039D 039F 03A1 03A4 03A7 03BC 03C0 0401 0405-0408 0410
    0412 0415 041A 041C-041E 0420-0422 0425 0430 0435 043E 0440-0441 0443 0445 0451 0455-0458 04AE
    2000-200A 2010-2015 2018-201A 201C-201E 2020-2022 2026 202F-2030 2039-203A 203C 207F 20A7 20AC
    20AE 2116 2122 212A-212B 2190-2193 2205 2208 2212 221E 2229 2248 2260-2261 2264-2265 226A-226B
    2295-2296 2298-2299 229B-229C 2460-2468 24B6-24EA 2500-257F 2588 2591-2592 25A0 25AE 25B2 25B4
    25B6 25B8 25BC 25BE 25C0 25C2 25C8 25CF 2610-2612 2666 2717-2718 2BBD FFFD
"""


def _code_points(ranges: str) -> frozenset[str]:
    points: set[str] = set()
    for item in ranges.split():
        first, _, last = item.partition("-")
        points.update(chr(c) for c in range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(points)


CONSOLE_FONT = _code_points(CONSOLE_FONT_RANGES)


def test_the_font_data_is_what_issue_point_7_says():
    assert {"█", "░", "▒", "─", "│", "┌", "━", "═"} <= CONSOLE_FONT
    assert not {"▀", "▄", "▌", "▐", "▔", "▁", "▊", "▎", "⭘"} & CONSOLE_FONT


@pytest.mark.parametrize(
    ("setting", "term", "console"),
    [
        ("auto", "linux", True),
        ("auto", "xterm-256color", False),
        ("auto", "", False),
        ("console", "xterm-256color", True),  # forced: a console reached another way
        ("full", "linux", False),  # a console with a font of its own
    ],
)
def test_7_the_console_is_told_by_term_or_the_glyphs_setting(setting, term, console):
    assert uses_console_glyphs(setting, term) is console


def _not_in_font(app) -> str:
    return "".join(
        sorted(
            {ch for row in screen_cells(app) for ch, _, _ in row if ch and ch not in CONSOLE_FONT}
        )
    )


async def test_7_every_screen_draws_only_what_the_console_font_has(config, front_desk, monkeypatch):
    monkeypatch.setenv("TERM", "linux")
    app = desk_app(replace(config, training=True, terminal="front-1"))
    strays: dict[str, str] = {}

    async def look(name: str, *keys: str) -> None:
        if keys:
            await pilot.press(*keys)
        await settle(app, pilot)
        strays[f"{name} ({type(app.screen).__name__})"] = _not_in_font(app)

    rosemary = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.console_glyphs
        await look("sign-in")
        app.signed_in(front_desk)
        await look("search", *"testkiddo")
        await look("help", "f1")
        await look("search again", "escape")
        await look("palette", "ctrl+p")
        await look("search after the palette", "escape")
        app.open_patient(rosemary)
        await look("patient")
        await look("register", "r")
        await look("registered", "ctrl+r")
        await look("slip preview", "p")
        app.notify("A notice for the desk")
        await look("notice")
        app.open_outbox()
        await look("outbox")
        app.pop_screen()
        app.open_import()
        await look("import")
        app.pop_screen()
        app.show_search()
        await look("report", "f8")
        app.show_search()
        await look("worklist", "f7")
        app.show_search()
        app.fix_name(rosemary, "Rosemary", "Testkiddo", lambda name: None)
        await look("name fix")
        app.show_search()
        app.open_patient(rosemary)
        await settle(app, pilot)  # the page and its PIN history loaded: v needs the active PIN
        await look("revoke dialog", "v")
        app.show_search()
        app.start_parent_mode(None)
        await look("parent mode")
        await look("parent account", "n")
        await look("lock", "f10")
    assert {name: found for name, found in strays.items() if found} == {}
    screens = " ".join(strays)
    for seen in (
        "HelpScreen",
        "CommandPalette",
        "RegisterScreen",
        "SlipPreviewScreen",
        "Report",
        "Worklist",
        "NameFixScreen",
        "ReasonDialog",
        "ParentModeScreen",
        "LockScreen",
    ):
        assert seen in screens, screens


async def test_7_an_unfocused_field_keeps_a_line_round_it_on_the_console(config, training):
    """On 16 colours a field's shade can vanish: the console draws each field's box in lines, the
    focused one heavy."""
    app = desk_app(replace(config, glyphs="console"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        rows = ["".join(ch for ch, _, _ in row) for row in screen_cells(app)]
        username = next(i for i, row in enumerate(rows) if "your kiosk username" in row)
        password = next(i for i, row in enumerate(rows) if "your password" in row)
        assert "┏" in rows[username - 1] and "┃" in rows[username]  # focused
        assert "┌" in rows[password - 1] and "│" in rows[password] and "└" in rows[password + 1]


def test_7_the_glyphs_setting_is_checked(monkeypatch):
    from kiosk.config import ConfigError, load_config

    assert load_config(env={"KIOSK_GLYPHS": "console"}).glyphs == "console"
    with pytest.raises(ConfigError, match="glyphs"):
        load_config(env={"KIOSK_GLYPHS": "teletype"})
