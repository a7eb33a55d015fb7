"""Acceptance checks of the front-desk app found missing or wrong by an independent review:
slow or failing printing, sending, searching and issuing never freeze or end the app; the idle lock
stays on top of work that finishes behind it; patient text is never markup on any staff screen; the
TRAINING banner on every staff screen; every action's key in the Footer at 80x24; the procedure's order of
the registration options (docs/glossary.md); a second parent's PIN from the patient page."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import pytest
from textual.widgets import DataTable, Input, Static

from kiosk import errors
from kiosk.people.patients import search_patients
from kiosk.people.staff import authenticate
from kiosk.registration.engine import IssuedPin, IssueResult
from kiosk.store.models import Caregiver, Patient, Relationship
from kiosk.terms import Authority, Delivery, RegistrationMethod
from kiosk_screens.lock import LockScreen
from kiosk_screens.name_fix import NameFixScreen
from kiosk_screens.outbox_screen import OutboxScreen
from kiosk_screens.patient import PatientScreen
from kiosk_screens.register import RegisterScreen
from kiosk_screens.search import SearchScreen
from kiosk_screens.slip_preview import SAVING, SlipPreviewScreen

from conftest import (
    TODAY,
    Notices,
    desk_app,
    keys_handled,
    lock_while_held,
    screen_text,
    settle,
)
from test_ui_register import app, desk_config, open_window
from test_ui_staff import search, sign_in

SIZE = (100, 30)
BOLD, SLASH = (
    "[bold]x[/bold]",
    "a[/]b",
)  # would be styled, or raise a MarkupError, if read as markup


@pytest.fixture
def gate():
    """Opened by the test: until then the desk's held operations wait (a slow printer, SMTP
    server, database)."""
    opened = threading.Event()
    yield opened
    opened.set()  # never leave a worker thread waiting


@pytest.fixture
def held(training, desk_config, gate):
    """The app on a desk whose named operations wait for the gate (conftest.TestDesk)."""
    return lambda *operations: desk_app(desk_config, held=operations, gate=gate)


@pytest.fixture
def failing(training, desk_config):
    """The app on a desk whose named operation raises ``error`` (conftest.TestDesk)."""
    return lambda operation, error: desk_app(desk_config, failing={operation: error})


def rosemary() -> int:
    return search_patients("Testkiddo, Rosemary", today=TODAY)[0].id


async def registered(app, pilot) -> RegisterScreen:
    """The Testkiddo registration window after Register (PINs issued)."""
    screen = await open_window(app, pilot, "Testkiddo, Rosemary")
    await pilot.press("ctrl+r")
    await settle(app, pilot)
    assert screen.result is not None
    return screen


def outcome(screen) -> str:
    return str(screen.query_one("#outcome", Static).render())


def slip_result() -> IssueResult:
    return IssueResult(
        batch="0123456789abcdef",
        patient_name="Rosemary Testkiddo",
        language="en",
        pins=(IssuedPin(rosemary(), "Rosemary", "Rosemary Testkiddo", "JFKAY-TTJYV"),),
        expires_on=dt.date(2026, 12, 22),
        method=RegistrationMethod.PIN,
        message_id=None,
        delivery=Delivery.NONE,
    )


# -- S9: printing and sending in workers; failures in plain words; the UI never freezes ------------


async def test_a_slow_printer_does_not_hold_the_keys(held, gate):
    app = held("print_slip")
    async with app.run_test(size=SIZE) as pilot:
        screen = await registered(app, pilot)
        await pilot.press("p")
        await keys_handled(app, pilot, at_once=True)
        slip = app.screen
        assert isinstance(slip, SlipPreviewScreen)
        await pilot.press("p")
        await keys_handled(app, pilot, at_once=True)
        assert str(slip.query_one("#print-outcome", Static).render()) == SAVING  # at once
        await pilot.press("escape")  # the printer has not answered; the desk carries on
        await keys_handled(app, pilot, at_once=True)
        assert app.screen is screen
        await pilot.press("down", "space")
        await keys_handled(app, pilot)
        assert screen.checked[screen.listed_children()[1].id] is False
        gate.set()
        await settle(app, pilot)
        assert app.is_running and app.screen is screen


async def test_a_slow_mail_server_does_not_hold_the_keys(held, gate):
    app = held("deliver_outbox")
    async with app.run_test(size=SIZE) as pilot:
        screen = await registered(app, pilot)
        await pilot.press("s")
        await keys_handled(app, pilot, at_once=True)
        assert "Sending the welcome message to cindy.testkiddo@example.com" in outcome(screen)
        await pilot.press("p")  # the slip opens while the message is still on its way
        await keys_handled(app, pilot, at_once=True)
        assert isinstance(app.screen, SlipPreviewScreen)
        await pilot.press("escape")
        await keys_handled(app, pilot, at_once=True)
        gate.set()
        await settle(app, pilot)
        assert app.is_running and app.screen is screen
        assert "is queued" in outcome(screen)


async def test_results_wait_for_a_slow_search_but_typing_does_not(held, gate):
    app = held()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        app.desk.held = ("search",)  # from now on: the sign-in's own first search has finished
        await pilot.press(*"testkiddo")
        await keys_handled(app, pilot)
        assert app.screen.query_one("#search", Input).value == "testkiddo"  # every key landed
        await pilot.press("f2")
        await keys_handled(app, pilot)
        assert app.focused is app.screen.query_one("#status")
        gate.set()
        await settle(app, pilot)
        assert app.screen.query_one("#results", DataTable).row_count == 2


async def test_a_print_that_fails_is_said_in_plain_words_and_the_app_carries_on(failing):
    app = failing("print_slip", PermissionError(13, "Permission denied", "/srv/slips"))
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.show_slip(slip_result())
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, SlipPreviewScreen)
        said = str(app.screen.query_one("#print-outcome", Static).render())
        assert said.startswith("The slip was not printed or saved") and "Permission denied" in said
        assert "Traceback" not in said


async def test_a_database_error_while_issuing_says_nothing_was_issued_and_keeps_the_window(failing):
    from peewee import OperationalError

    app = failing("issue", OperationalError("database is locked"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.is_running and app.screen is screen
        assert "Nothing was issued" in outcome(screen) and "The database is busy" in outcome(screen)
        assert screen.issuing is False and screen.result is None


async def test_a_send_that_fails_is_said_in_plain_words(failing):
    app = failing("deliver_outbox", OSError(28, "No space left on device"))
    async with app.run_test(size=SIZE) as pilot:
        screen = await registered(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        assert app.is_running and app.screen is screen
        said = outcome(screen)
        assert "could not be sent now" in said and "The disk is full" in said


async def test_a_search_that_fails_is_reported_and_the_app_carries_on(training, desk_config):
    from peewee import OperationalError

    app = desk_app(desk_config)
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await sign_in(app, pilot)
        app.desk.failing = {"search": OperationalError("disk I/O error")}
        await pilot.press(*"kim")
        await settle(app, pilot)  # every search has failed and said so, however slow the machine
        assert app.is_running and isinstance(app.screen, SearchScreen)
        # said in plain words; once a search, and a slow machine may run one a key typed
        assert notices and set(notices) == {errors.WORDS[errors.DISK]}
        await pilot.press("backspace")
        await keys_handled(app, pilot)
        assert app.screen.search_text == "ki"  # the box still takes keys


# -- S6: the idle lock stays on top of work that finishes behind it --------------------------------


async def test_pins_issued_behind_the_lock_do_not_open_the_slip_over_it(held, gate):
    app = held("issue")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await pilot.press("p")  # Print PIN: the slip opens after Register
        # the desk steps away while the PINs are being issued
        await lock_while_held(app, pilot, gate, "ctrl+r")
        shown = screen_text(app)
        assert "Testkiddo" not in shown and not any(p.pin in shown for p in screen.result.pins)
        await pilot.press(*"training1", "enter")
        await settle(app, pilot)
        assert isinstance(
            app.screen, SlipPreviewScreen
        )  # Print PIN was ticked: the slip after unlocking
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen


async def test_a_name_saved_behind_the_lock_does_not_open_registration_over_it(held, gate):
    app = held("fix_name")
    okafor = search_patients("Okafor", today=TODAY)[0].id
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_patient(okafor)
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, NameFixScreen)
        await lock_while_held(app, pilot, gate, *"Amara", "enter")
        assert "Okafor" not in screen_text(app) and "Amara" not in screen_text(app)
        await pilot.press(*"training1", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RegisterScreen)  # carries on where the desk was going
        assert "Amara Okafor" in screen_text(app)


# -- S7: patient text is data on every staff screen -----------------------------------------------


def add_markup_family() -> tuple[int, int]:
    """A family whose names break markup: patient [bold]x[/bold] a[/]b, sibling Baby Boy a[/]b,
    caregiver a[/]b [bold]x[/bold]."""
    carer = Caregiver.create(given_name=SLASH, family_name=BOLD, email="markup.parent@example.com")
    child = Patient.create(
        chart_number="M1", given_name=BOLD, family_name=SLASH, dob=dt.date(2019, 3, 4)
    )
    baby = Patient.create(
        chart_number="M2", given_name="Baby Boy", family_name=SLASH, dob=dt.date(2026, 11, 1)
    )
    for patient in (child, baby):
        Relationship.create(
            caregiver=carer, patient=patient, role="Mother", authority=Authority.JOINT
        )
    return child.id, baby.id


async def test_names_that_look_like_markup_display_exactly_on_every_staff_screen(app):
    child, baby = add_markup_family()
    full, carer = f"{BOLD} {SLASH}", f"{SLASH} {BOLD}"
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        rows = await search(app, pilot, "a[/]")
        # N1: the two of that family name first, then anyone with a name part "a" (Twin A)
        assert f"{SLASH}, {BOLD}" in screen_text(app) and {
            r[0].split(",")[0] for r in rows[:2]
        } == {SLASH}
        typed = "[bold]qqqq[/bold]"
        await search(app, pilot, typed)  # typed markup in the box comes back as typed
        assert f"No patients match '{typed}'" in screen_text(app)

        app.open_patient(child)
        await settle(app, pilot)
        shown = screen_text(app)
        assert full in shown and f"{SLASH}, {BOLD}" in shown and carer in shown

        app.open_patient(baby)
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, NameFixScreen) and f"family name: {SLASH}" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        app.pop_screen()
        await settle(app, pilot)

        await pilot.press("r")  # the child's registration window
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RegisterScreen)
        shown = screen_text(app)
        assert f"Registration for Patient {full} and selected Siblings" in shown
        assert f"> {carer}" in shown and f"Baby Boy {SLASH}" in shown
        screen.query_one("#patients").focus()
        await pilot.press("down", "space")  # the placeholder sibling waits for a name
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert screen.result is not None, outcome(screen)
        assert f"Issued for {BOLD}" in screen_text(app)

        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, SlipPreviewScreen)
        assert f"Portal registration for {full}" in " ".join(screen_text(app).split())
        await pilot.press("escape")
        await settle(app, pilot)

        app.push_screen(OutboxScreen())
        await settle(app, pilot)
        assert "m***@example.com" in screen_text(app)
        app.pop_screen()
        await settle(app, pilot)

        await pilot.press("ctrl+l")
        await settle(app, pilot)
        shown = screen_text(app)
        assert isinstance(app.screen, LockScreen) and SLASH not in shown and "[bold]" not in shown


# -- O2: TRAINING on every staff screen; keys in the Footer at 80x24; no colour alone ---------------


async def test_training_banner_on_every_staff_screen(training, desk_config):
    app = desk_app(replace(desk_config, training=True))
    seen = {}
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        seen["sign-in"] = screen_text(app)
        await sign_in(app, pilot)
        seen["search"] = screen_text(app)
        app.open_patient(search_patients("Okafor", today=TODAY)[0].id)
        await settle(app, pilot)
        seen["patient"] = screen_text(app)
        await pilot.press("r")
        await settle(app, pilot)
        seen["name fix"] = screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        app.open_registration(rosemary())
        await settle(app, pilot)
        seen["registration"] = screen_text(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        seen["slip preview"] = screen_text(app)
        app.push_screen(OutboxScreen())
        await settle(app, pilot)
        seen["outbox"] = screen_text(app)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        seen["lock"] = screen_text(app)
    assert [name for name, shown in seen.items() if "TRAINING" not in shown] == []


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_every_key_of_the_registration_window_fits_the_footer_at_80_columns(app):
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        screen.query_one("#patients").focus()
        await pilot.pause()
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        shown = footer(app)
        for key in (
            "space",
            "Register",
            "p Print",
            "s Send PIN",
            "c Complete / Log In",
            "esc Back",
            "^l Lock",
        ):
            assert key in shown, shown


async def test_at_80x24_without_colour_the_choices_read_from_the_characters(app):
    """16 colours or none: the recipient, the checked children and each chosen option show as characters."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_window(app, pilot, "Testkiddo, Rosemary")
        shown = screen_text(app)
        assert "> Cindy Testkiddo" in shown and "  Jeff Testkiddo" in shown
        assert shown.count("[x]") == 2
        assert "Register with  PIN" in shown and "Access         Full Access" in shown


# -- R7-R10: the procedure's words and order (docs/glossary.md) -------------------------------------


async def test_r7_r10_registration_options_follow_the_procedure_order(app):
    """Procedure order: Register Patient with, Accessibility, Email Address, Text Message, Cell Carrier,
    Send to, Print PIN, Do not send PIN (here a Delivery choice)."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Kim, Jordan")  # 14: Send to is shown
        order = [w.id for w in screen.query(".summary-line")]
        assert order == [
            "method-line",
            "access-line",
            "delivery-line",
            "address-line",
            "send-to-line",
            "id-check-line",  # T5: how the parent was identified
            "print-line",
            "language-line",  # I1: after the procedure's own choices
        ]
        shown = screen_text(app)
        for words in (
            "Caregiver Contact Authority",
            "Authority",
            "Role",
            "Status",
            "Patient List",
            "Register",
            "Patient",
            "PIN",
            "Register with",
            "Full Access",
            "Email",
            "Address",
            "Send to",
            "Parent/Guardian",
            "Print PIN",
        ):
            assert words in shown, words
        await pilot.press("a", "d", "m")  # each key steps to the procedure's other choice
        await settle(app, pilot)
        shown = screen_text(app)
        for words in ("Limited: No Chart Access", "Text message", "Minor"):
            assert words in shown, words
        await pilot.press("d")
        await settle(app, pilot)
        assert "Do not send PIN" in screen_text(app)


# -- R13: a second parent's PIN from the patient page -----------------------------------------------


async def test_second_parent_pin_from_the_registered_patients_page(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        await search(app, pilot, "patel, ava")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PatientScreen)
        shown = screen_text(app)
        assert (
            "Registered" in shown
            and "Registered; PIN still open" in shown
            and "r Generate PIN" in footer(app)
        )
        await pilot.press("r")  # the same key as Register Patient
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RegisterScreen) and screen.second_parent
        assert "a PIN for an additional parent" in screen_text(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "Issued for Ava" in outcome(screen) and "raj.patel@example.com" in outcome(screen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, PatientScreen)
        assert "Registered" in screen_text(
            app
        )  # a second parent's PIN keeps the patient Registered
