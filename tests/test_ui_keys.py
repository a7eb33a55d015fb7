"""Where the desk is (every staff screen): the signed-in staff member and the desk in the header,
F1 listing every key of the screen from its bindings, quit shown where it works, the command
palette offering the screen's actions, and a footer that keeps Sign out, Lock and the main action
at 80x24 and 60x20."""

from __future__ import annotations

from dataclasses import replace

from kiosk.people.patients import search_patients
from kiosk_screens.keys import HelpScreen
from kiosk_screens.lock import LockScreen
from kiosk_screens.patient import PatientScreen
from kiosk_screens.search import SearchScreen

from conftest import TODAY, desk_app, screen_text, settle


async def _signed_in(app, pilot, front_desk) -> None:
    app.signed_in(front_desk)
    await settle(app, pilot)


async def _press(app, pilot, *keys: str) -> str:
    """Press ``keys`` and return the screen as it then reads."""
    await pilot.press(*keys)
    await settle(app, pilot)
    return screen_text(app)


def _rosemary() -> int:
    return {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]


async def test_d1_header_names_the_signed_in_staff_member_and_the_desk(config, front_desk):
    app = desk_app(replace(config, terminal="front-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Not signed in" in screen_text(app).splitlines()[0]
        await _signed_in(app, pilot, front_desk)
        top = screen_text(app).splitlines()[0]
        assert "Maria" in top and "(maria)" in top and "front-1" in top
        app.open_patient(_rosemary())
        await settle(app, pilot)
        assert "(maria)" in screen_text(app).splitlines()[0]


async def test_signin_shows_how_to_quit_and_quit_works(config, training):
    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "^q Quit" in screen_text(app)
        await pilot.press("ctrl+q")
        await settle(app, pilot)
        assert not app.is_running


async def test_f1_lists_every_key_of_the_screen_from_its_bindings(config, front_desk):
    from textual.binding import Binding

    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await _signed_in(app, pilot, front_desk)
        shown = await _press(app, pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        for binding in Binding.make_bindings(SearchScreen.BINDINGS):
            if binding.show:
                assert binding.description in shown, binding
        assert "^f / /" in shown  # both keys of one action on one line
        assert "^q  Quit" in shown  # hidden from the footer, listed here
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, SearchScreen)


async def test_the_palette_offers_the_screens_actions_and_runs_them(config, front_desk):
    from kiosk_screens.outbox_screen import OutboxScreen

    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await _signed_in(app, pilot, front_desk)
        shown = await _press(app, pilot, "ctrl+p")
        assert "Outbox" in shown and "Sign out" in shown
        assert "Theme" not in shown and "Screenshot" not in shown  # Textual's own: not at a desk
        await _press(app, pilot, *"outbox", "enter")
        assert isinstance(app.screen, OutboxScreen)


async def test_s6_no_palette_on_the_lock_or_sign_in_screen(config, front_desk):
    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await _press(app, pilot, "ctrl+p")
        assert len(app.screen_stack) == 1  # the sign-in screen alone
        await _signed_in(app, pilot, front_desk)
        app.lock()
        await _press(app, pilot, "ctrl+p")
        assert isinstance(app.screen, LockScreen)


def _footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_footer_keeps_sign_out_lock_and_the_main_action_at_60x20(config, front_desk):
    app = desk_app(replace(config, training=True))
    for size in ((80, 24), (60, 20)):
        async with app.run_test(size=size) as pilot:
            await _signed_in(app, pilot, front_desk)
            footer = _footer(app)
            assert "^o Sign out" in footer and "^l Lock" in footer and "^f Search" in footer
            assert "f1 Help" in screen_text(app).splitlines()[1]  # the header, under TRAINING
            app.open_patient(_rosemary())
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            footer = _footer(app)
            assert "r Register Patient" in footer and "^l Lock" in footer, footer
            await pilot.press("r")
            await settle(app, pilot)
            footer = _footer(app)
            assert "^r Register" in footer and "^l Lock" in footer, footer
        app = desk_app(replace(config, training=True))


async def test_d1_the_footer_always_says_how_to_go_back(config, front_desk):
    """D1: at 80x24 and 60x20 the footer keeps the way back (esc) with Lock and the main action,
    on the account page of a patient with an active PIN (whose keys fill the line) and on the
    registration window: the desk is never left guessing how to leave a screen."""
    from kiosk_screens.register import RegisterScreen

    from conftest import find_patient

    for size in ((80, 24), (60, 20)):
        app = desk_app(replace(config, training=True))
        async with app.run_test(size=size) as pilot:
            await _signed_in(app, pilot, front_desk)
            app.open_patient(find_patient("Layla", "Haddad").id)
            await settle(app, pilot)
            assert isinstance(app.screen, PatientScreen)
            assert app.screen.history is not None and app.screen.history.active is not None
            footer = _footer(app)
            assert "esc Back" in footer and "r Register Patient" in footer, (size, footer)
            assert "^l Lock" in footer and len(footer.rstrip()) <= size[0], (size, footer)
            await pilot.press("r")
            await settle(app, pilot)
            assert isinstance(app.screen, RegisterScreen)
            footer = _footer(app)
            assert "esc Back" in footer and "^r Register" in footer, (size, footer)
