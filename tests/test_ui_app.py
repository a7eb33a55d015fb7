"""App-wide behaviour: nobody leaves the app from parent mode or the lock screen; the staff Lock key
is not offered to a parent; queued welcome messages are delivered in the background (O3)."""

from __future__ import annotations

from kiosk.messages.outbox import list_messages
from kiosk.people.patients import family_for, search_patients
from kiosk.registration.engine import IssueRequest, issue_pins
from kiosk_screens.lock import LockScreen
from kiosk_screens.parent import ParentModeScreen

from conftest import NOW, TODAY, Notices, desk_app, screen_text, settle


async def test_quit_and_lock_are_not_offered_in_parent_mode_and_quit_not_on_the_lock_screen(
    config, front_desk
):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.start_parent_mode(None)
        await settle(app, pilot)
        await pilot.press("ctrl+q", "ctrl+c")  # ctrl+c names no key that quits: none does here
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, ParentModeScreen)
        assert not app._notifications
        assert not any(
            active.binding.action == "lock" and active.enabled
            for active in app.active_bindings.values()
        )
        await pilot.press("f10")  # I'm done
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        assert not any(
            getattr(s, "parent_mode", False) for s in app.screen_stack
        )  # parent mode ended
        await pilot.press("ctrl+q")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, LockScreen)


async def test_o3_queued_welcome_is_delivered_in_the_background(config, front_desk):
    from dataclasses import replace

    rosemary = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]
    cindy = next(
        c for c in family_for(rosemary, today=TODAY).caregivers if c.name.startswith("Cindy")
    )
    result = issue_pins(
        front_desk,
        IssueRequest([rosemary], recipient_id=cindy.id, email=cindy.email),
        now=NOW,
        today=TODAY,
    )
    assert [m.state for m in list_messages(batch=result.batch)] == ["queued"]
    app = desk_app(
        replace(config, training=True)
    )  # training: delivered without sending for real (O2)
    async with app.run_test(size=(100, 30)) as pilot:
        app.deliver_outbox()  # nobody signed in: nothing happens
        await settle(app, pilot)
        assert [m.state for m in list_messages(batch=result.batch)] == ["queued"]
        app.signed_in(front_desk)
        app.deliver_outbox()
        await settle(app, pilot)
    assert [m.state for m in list_messages(batch=result.batch)] == ["sent"]


async def test_guessing_at_the_lock_screen_pauses_sign_in(config, front_desk):
    import re

    from textual.widgets import Input

    from kiosk import throttle
    from kiosk.security import default_terminal
    from kiosk.terms import utcnow
    from kiosk_screens.widgets import FieldError

    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.lock()
        await settle(app, pilot)
        for guess in ["a", "b", "c"]:  # the free wrong tries, typed at the lock screen
            app.screen.query_one("#password", Input).value = guess
            app.screen.query_one("#password", Input).focus()
            await pilot.press("enter")
            await settle(app, pilot)
        # Six more wrong tries just now at this terminal: the wait (64 s, cut to a minute) outlasts
        # any slow test machine, so the right password below is not even checked.
        for _ in range(6):
            throttle.record("maria", default_terminal(), utcnow(), ok=False)
        app.screen.query_one("#password", Input).value = "training1"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)  # even the right password waits now (S12)
        assert re.search(
            r"wait (59|60) seconds, then try again",
            app.screen.query_one("#password-error", FieldError).text,
        )


async def test_s5_opening_a_patient_in_the_app_records_who_looked(config, front_desk):
    from kiosk import audit

    rosemary = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.open_patient(rosemary)
        await settle(app, pilot)
    views = [
        (e.staff, e.patient_id)
        for e in audit.AuditEvent.select().where(audit.AuditEvent.action == audit.VIEW)
    ]
    assert views == [("maria", rosemary)]


async def test_o3_a_failing_background_delivery_is_said_and_does_not_close_the_app(
    config, front_desk
):
    import sqlite3

    app = desk_app(
        config, failing={"deliver_outbox": sqlite3.OperationalError("database is locked")}
    )
    notices = Notices()
    async with app.run_test(size=(100, 30), message_hook=notices) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.deliver_outbox()
        await settle(app, pilot)
        assert app.is_running
        assert any(
            "could not be sent just now; kiosk will try again. The database is busy" in n
            for n in notices
        )


async def test_the_lock_screen_offers_no_sign_out_to_whoever_is_at_the_counter(config, front_desk):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.lock()
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen) and app.desk.staff == front_desk


async def test_staff_notices_wait_while_a_parent_has_the_kiosk(config, front_desk):
    app, notices = desk_app(config), Notices()
    async with app.run_test(size=(100, 30), message_hook=notices) as pilot:
        app.signed_in(front_desk)
        await settle(app, pilot)
        app.start_parent_mode(None)
        await settle(app, pilot)
        app.staff_notice("Printing failed: the printer is out of paper")
        await settle(app, pilot)
        assert not any("out of paper" in n for n in notices)
        await pilot.press("f10")  # I'm done: the lock screen
        await settle(app, pilot)
        app.unlock(front_desk)
        await settle(app, pilot)
        assert any("out of paper" in n for n in notices)


async def test_o1_a_full_collection_runs_once_the_desk_is_back_at_search(config, front_desk):
    """Low-spec kiosks (D1): a family's closed screens are cycles only a full pass of the garbage
    collector frees, and tune_interpreter makes its own passes rare: the App runs one when the
    desk is back at the search, not before, and one for the three screens a family closes."""
    import gc

    from kiosk_screens.search import SearchScreen

    rosemary = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]
    app = desk_app(config)

    def full_passes() -> int:
        return gc.get_stats()[2]["collections"]

    gc.disable()  # only the App's own passes count
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app.signed_in(front_desk)
            await settle(app, pilot)
            app.open_patient(rosemary)
            await settle(app, pilot)
            await pilot.press("r")
            await settle(app, pilot)
            before = full_passes()
            await pilot.press("escape")
            await settle(app, pilot)
            await pilot.pause(app.COLLECT_IDLE_SECONDS + 0.5)
            assert full_passes() == before  # still on the account page
            await pilot.press("escape")
            await settle(app, pilot)
            assert isinstance(app.screen, SearchScreen)
            await pilot.pause(app.COLLECT_IDLE_SECONDS + 0.5)
            assert full_passes() == before + 1
    finally:
        gc.enable()


async def _registration_window(app, pilot, front_desk):
    from kiosk_screens.register import RegisterScreen

    app.signed_in(front_desk)
    await settle(app, pilot)
    rosemary = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}["Rosemary"]
    app.open_registration(rosemary)
    await settle(app, pilot)
    assert isinstance(app.screen, RegisterScreen)
    return app.screen


async def test_quit_asks_first_naming_the_registration_choices_not_yet_registered(
    config, front_desk
):
    """Bad input never loses work: ctrl+q on a registration window whose choices the desk changed
    asks first, naming them; n stays with every choice as it was, y quits."""
    from kiosk_screens.keys import QuitDialog

    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        window = await _registration_window(app, pilot, front_desk)
        await pilot.press("a")  # Access: the next choice
        await settle(app, pilot)
        changed = window.summary.choices.access
        await pilot.press("ctrl+q")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, QuitDialog)
        said = screen_text(app)
        assert "Quit kiosk?" in said and "registration choices for Rosemary" in said
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is window and window.summary.choices.access == changed
        await pilot.press("ctrl+q")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert not app.is_running


async def test_quit_asks_first_with_a_caregivers_contact_half_typed(config, front_desk):
    """A caregiver's contact typed into and not saved: ctrl+q names the field; Esc stays, with
    what was typed still there."""
    from textual.widgets import Input

    from kiosk_screens.keys import QuitDialog
    from kiosk_screens.pin_life import ContactDialog

    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await _registration_window(app, pilot, front_desk)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDialog)
        dialog = app.screen
        dialog.query_one("#contact-email", Input).focus()
        await pilot.press("end", *"x")
        await settle(app, pilot)
        typed = dialog.query_one("#contact-email", Input).value
        await pilot.press("ctrl+q")
        await settle(app, pilot)
        assert isinstance(app.screen, QuitDialog) and "contact email" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is dialog and dialog.query_one("#contact-email", Input).value == typed


async def test_quit_with_nothing_unsaved_quits_at_once_and_ctrl_c_says_how(config, front_desk):
    """Nothing unsaved (a window opened, a search typed): ctrl+q quits as before; ctrl+c says
    which key quits (to the staff only: test_quit_and_lock_are_not_offered_in_parent_mode...)."""
    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await _registration_window(app, pilot, front_desk)
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press(*"Rosemary")
        await pilot.press("ctrl+c")
        await settle(app, pilot)
        assert "to quit" in " ".join(n.message for n in app._notifications)
        await pilot.press("ctrl+q")
        await settle(app, pilot)
        assert not app.is_running
