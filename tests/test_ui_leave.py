"""Esc never loses work unasked (bad input never loses work): on the registration window with
choices not yet registered, and on a dialog with a field changed, Esc asks first, naming what
would be lost (KioskApp.leave_asking, the question ctrl+q asks); a second Esc, n or Enter keeps
the work, y lets it go. With nothing unsaved Esc backs out at once, as it always did, and it never
asks on a search box or a list."""

from __future__ import annotations

from textual.widgets import Input, Select

from kiosk.people.patients import search_patients
from kiosk_screens.keys import LeaveDialog
from kiosk_screens.patient import PatientScreen
from kiosk_screens.pin_life import ContactDialog
from kiosk_screens.register import RegisterScreen

from conftest import TODAY, desk_app, screen_text, settle

SIZE = (80, 24)


def _rosemary() -> int:
    return {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]


async def _window(app, pilot, front_desk) -> RegisterScreen:
    """The registration window over Rosemary's patient page, as the desk reaches it."""
    app.signed_in(front_desk)
    await settle(app, pilot)
    app.open_patient(_rosemary())
    await settle(app, pilot)
    app.open_registration(_rosemary())
    await settle(app, pilot)
    assert isinstance(app.screen, RegisterScreen)
    return app.screen


async def _press(app, pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(app, pilot)


async def test_esc_on_the_window_with_a_sibling_ticked_asks_and_a_second_esc_keeps_it(
    config, front_desk
):
    """A sibling unticked (a choice not yet registered): Esc asks, naming the choices, and keeps
    the window; Esc in the question keeps every tick; y goes back to the patient page."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        window = await _window(app, pilot, front_desk)
        window.query_one("#patients").focus()
        await _press(app, pilot, "space")
        ticks = dict(window.checked)
        assert ticks != window.first_checked
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, LeaveDialog)
        said = screen_text(app)
        assert "Go back without registering?" in said
        assert "registration choices for Rosemary" in said and "n, Esc or Enter: keep it" in said
        await _press(app, pilot, "escape")
        assert app.screen is window and window.checked == ticks
        await _press(app, pilot, "escape", "y")
        assert isinstance(app.screen, PatientScreen)


async def test_esc_on_the_window_with_another_caregiver_chosen_asks_and_enter_keeps_it(
    config, front_desk
):
    """The caregiver who gets the PIN changed: Esc asks; Enter (the safe answer) keeps the choice."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        window = await _window(app, pilot, front_desk)
        first = window.recipient
        await _press(app, pilot, "down")
        chosen = window.recipient
        assert chosen is not None and first is not None and chosen.id != first.id
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, LeaveDialog)
        await _press(app, pilot, "enter")
        assert app.screen is window and window.recipient == chosen
        await _press(app, pilot, "escape", "n")
        assert app.screen is window and window.recipient == chosen


async def test_esc_on_the_window_with_nothing_changed_goes_back_at_once(config, front_desk):
    """Nothing chosen yet (or the window moved through and back): Esc goes back, no question."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await _window(app, pilot, front_desk)
        await _press(app, pilot, "down", "up")  # to another caregiver and back: nothing changed
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, PatientScreen)


async def test_esc_on_the_window_after_register_goes_back_at_once(config, front_desk):
    """The choices changed and then registered: nothing is unsaved, Esc goes back."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        window = await _window(app, pilot, front_desk)
        await _press(app, pilot, "a", "ctrl+r")
        assert window.result is not None
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, PatientScreen)


async def _contact_dialog(app, pilot, front_desk) -> ContactDialog:
    app.signed_in(front_desk)
    await settle(app, pilot)
    app.open_patient(_rosemary())
    await settle(app, pilot)
    await _press(app, pilot, "e")
    assert isinstance(app.screen, ContactDialog)
    return app.screen


async def _change(app, pilot, field, *keys: str) -> tuple[object, object]:
    """``field`` of a dialog focused and ``keys`` pressed in it: what it held before and after."""
    before = field.value
    field.focus()
    await _press(app, pilot, *keys)
    assert field.value != before
    return before, field.value


async def test_esc_on_a_dialog_with_a_field_half_typed_asks_and_keeps_or_drops_it(
    config, front_desk
):
    """A caregiver's email half-typed: Esc asks, naming the field; Esc keeps what was typed; Esc
    then y closes the dialog with nothing saved."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _contact_dialog(app, pilot, front_desk)
        email = dialog.query_one("#contact-email", Input)
        before, typed = await _change(app, pilot, email, "end", *"xy")
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, LeaveDialog)
        said = screen_text(app)
        assert (
            "Close this form without saving?" in said and "what was typed in contact email" in said
        )
        await _press(app, pilot, "escape")
        assert app.screen is dialog and email.value == typed
        await _press(app, pilot, "escape", "y")
        assert isinstance(app.screen, PatientScreen)
        await _press(app, pilot, "e")  # nothing was saved: the dialog opens with the old address
        assert app.screen.query_one("#contact-email", Input).value == before


async def test_esc_on_a_dialog_with_another_carrier_chosen_asks(config, front_desk):
    """A carrier chosen from the list (no typing) is work too: Esc asks, naming the choice."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _contact_dialog(app, pilot, front_desk)
        carrier = dialog.query_one("#contact-carrier", Select)
        _, chosen = await _change(app, pilot, carrier, "enter", "down", "down", "enter")
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, LeaveDialog)
        assert "the choice of contact carrier" in screen_text(app)
        await _press(app, pilot, "n")
        assert app.screen is dialog and carrier.value == chosen


async def test_esc_on_a_dialog_with_nothing_changed_closes_at_once(config, front_desk):
    """Typed and typed back to what it held: nothing is lost, Esc closes with no question."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _contact_dialog(app, pilot, front_desk)
        dialog.query_one("#contact-email", Input).focus()
        await _press(app, pilot, "end", "x", "backspace")
        await _press(app, pilot, "escape")
        assert isinstance(app.screen, PatientScreen)


async def test_esc_never_asks_about_a_search_or_a_filter(config, front_desk):
    """A search typed, or a report's date filter typed, is not work: Esc does what it did."""
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        home = app.screen
        await _press(app, pilot, *"Testkiddo", "escape")
        assert not isinstance(app.screen, LeaveDialog)
        await _press(app, pilot, "f8")
        report = app.screen
        assert report is not home
        report.query_one(Input).focus()
        await _press(app, pilot, "end", *"12", "escape")
        assert app.screen is home
