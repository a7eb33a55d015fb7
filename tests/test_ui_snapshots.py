"""Every staff screen as the desk sees it, at 80x24 and 60x20 (issue point 6), and a few on the
bare Linux console's glyphs and 16 colours (point 7). Each picture was looked at before it was
accepted: the header names the desk and who is signed in, the footer keeps Sign out, Lock and the
screen's main action, and nothing is cut that the desk needs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import Input

from kiosk.people.patients import search_patients
from kiosk.people.staff import authenticate

from conftest import TODAY, desk_app, issue_result, settle

SIZES = {"80x24": (80, 24), "60x20": (60, 20)}


def _rosemary() -> int:
    return {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]


async def _still(pilot) -> None:
    """Settle, with no blinking cursor in the picture (a busy machine could catch its dark half)."""
    app = pilot.app
    await settle(app, pilot)
    for box in app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def _staff(name: str, *keys: str, then=None):
    """Sign maria in, then ``then(app)`` (open a screen) and ``keys``: the picture to take."""

    async def run_before(pilot) -> None:
        pilot.app.signed_in(authenticate("maria", "training1"))
        await settle(pilot.app, pilot)
        if then is not None:
            then(pilot.app)
            await settle(pilot.app, pilot)
        await pilot.press(*keys)
        await _still(pilot)

    run_before.__name__ = name
    return run_before


async def sign_in(pilot):
    await _still(pilot)


search = _staff("search", *"testkiddo")
register = _staff("register", then=lambda app: app.open_registration(_rosemary()))
slip = _staff(
    "slip",
    then=lambda app: app.show_slip(
        issue_result(
            ("Rosemary", "Rosemary Testkiddo", "JFKAY-TTJYV"),
            ("Basil", "Basil Testkiddo", "NVTHF-PCJQW"),
        )
    ),
)

SCREENS = [
    sign_in,
    search,
    _staff("help_keys", "f1"),
    _staff("patient", then=lambda app: app.open_patient(_rosemary())),
    _staff("contact_dialog", "e", then=lambda app: app.open_patient(_rosemary())),
    register,
    # Esc with a choice not yet registered: the question, naming it (KioskApp.leave_asking)
    _staff("leave_register", "a", "escape", then=lambda app: app.open_registration(_rosemary())),
    _staff(
        "name_fix",
        then=lambda app: app.fix_name(_rosemary(), "Rosemary", "Testkiddo", lambda name: None),
    ),
    slip,
    _staff("outbox", then=lambda app: app.open_outbox()),
    _staff("import_files", then=lambda app: app.open_import()),
    _staff("report", "f8"),
    _staff("worklist", "f7"),
    _staff("lock", then=lambda app: app.lock()),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS, ids=lambda screen: screen.__name__)
def test_staff_screen(screen, size, training, config, snap_compare):
    app = desk_app(replace(config, training=True, terminal="front-1"))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=screen)


@pytest.mark.parametrize("screen", [sign_in, search, register, slip], ids=lambda s: s.__name__)
def test_7_staff_screen_on_the_linux_console(screen, training, config, snap_compare):
    app = desk_app(replace(config, training=True, terminal="front-1", glyphs="console"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=screen)
