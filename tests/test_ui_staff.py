"""Staff screens: sign-in, search, the patient page (R1, R2), the idle lock (S6)."""

from __future__ import annotations

import time
from importlib.util import find_spec

import pytest
from textual import events
from textual.widgets import DataTable, Input, Select

from kiosk.people.patients import family_for
from kiosk.people.staff import authenticate
from kiosk.registration.engine import NOT_LINKED, IssueRequest, issue_pins
from kiosk.terms import Delivery, PortalStatus, SearchFilter
from kiosk_screens.lock import LockScreen
from kiosk_screens.name_fix import NameFixScreen
from kiosk_screens.patient import PatientScreen
from kiosk_screens.search import SearchScreen
from kiosk_screens.signin import SignInScreen
from kiosk_screens.widgets import WRONG_CREDENTIALS, FieldError, TrainingBanner

from conftest import NOW, TODAY, Notices, desk_app, keys_handled, screen_text, settle

SIZE = (100, 30)


@pytest.fixture
def app(training, config):
    return desk_app(config)


@pytest.fixture
def training_app(training, config):
    """The app as `kiosk --training` runs it (TRAINING banner shown)."""
    from dataclasses import replace

    return desk_app(replace(config, training=True))


async def sign_in(app, pilot, username="maria", password="training1") -> None:
    await settle(app, pilot)
    app.screen.query_one("#username", Input).value = username
    app.screen.query_one("#password", Input).value = password
    app.screen.query_one("#password", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)


async def search(app, pilot, text: str) -> list[list[str]]:
    box = app.screen.query_one("#search", Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)
    await settle(app, pilot)
    return result_rows(app)


async def open_from_search(app, pilot, text: str, username: str = "maria") -> None:
    """Sign in, search, and open the first result: Enter in the box opens it (N1)."""
    await sign_in(app, pilot, username)
    await search(app, pilot, text)
    await pilot.press("enter")
    await settle(app, pilot)


def result_rows(app, table_id="#results") -> list[list[str]]:
    table = app.screen.query_one(table_id, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def names(rows) -> list[str]:
    return [row[0] for row in rows]


# -- sign-in ---------------------------------------------------------------------------------------
async def test_sign_in_opens_search(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, SignInScreen)
        await pilot.press(*"maria", "enter")
        await keys_handled(app, pilot)
        assert app.screen.focused is app.screen.query_one("#password", Input)
        await pilot.press(*"training1", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.desk.staff.username == "maria"


async def test_wrong_password_keeps_username_and_says_so(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot, "maria", "wrong-password")
        assert isinstance(app.screen, SignInScreen)
        assert app.desk.staff is None
        assert app.screen.query_one("#username", Input).value == "maria"
        error = app.screen.query_one("#password-error", FieldError)
        assert error.display and error.text == WRONG_CREDENTIALS
        assert app.screen.query_one("#password", Input).value == ""


async def test_empty_fields_are_named(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot, "", "")
        assert app.screen.query_one("#username-error", FieldError).text == "Enter your username."
        assert app.screen.query_one("#password-error", FieldError).text == "Enter your password."


def type_burst(app, text: str) -> None:
    """Keys as a terminal delivers a fast typist's burst: all read before the app handles any
    (Pilot.press waits for each key, so it never shows this)."""
    for char in text:
        app.post_message(events.Key("enter", "\r") if char == "\n" else events.Key(char, char))


async def test_a_burst_typed_ahead_lands_each_part_in_its_own_field(app):
    """The password typed right after Enter never shows in the username box (sign-in and lock)."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        type_burst(app, "maria\ntraining1\n")
        await settle(app, pilot)
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen) and app.desk.staff.username == "maria"
        app.lock()
        await settle(app, pilot)
        app.screen.query_one("#username", Input).focus()  # "Not you?": another staff member's name
        await pilot.pause()
        type_burst(app, "devon\ntraining1\n")
        await settle(app, pilot)
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen) and app.desk.staff.username == "devon"


async def test_signed_in_the_form_keeps_nothing_and_sign_out_finds_it_empty(app):
    """The sign-in screen is the bottom of the stack: once covered it holds no username or password,
    and signing out (ctrl+o) shows it empty with the cursor in the username."""
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot, "maria", "wrong-password")  # leaves a message and the username
        await sign_in(app, pilot, "maria", "training1")
        assert isinstance(app.screen, SearchScreen)
        (form,) = [screen for screen in app.screen_stack if isinstance(screen, SignInScreen)]
        assert [field.value for field in form.query(Input)] == ["", ""]
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert app.screen is form and app.desk.staff is None and app.screen_stack == [form]
        assert not any(error.display for error in form.query(FieldError))
        assert form.focused is form.query_one("#username", Input)
        await pilot.press(*"devon", "enter", *"training1", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen) and app.desk.staff.username == "devon"


async def test_training_banner_on_training_app_only(app, training_app):
    async with training_app.run_test(size=SIZE) as pilot:
        await sign_in(training_app, pilot)
        assert training_app.screen.query_one(TrainingBanner).display
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert not app.screen.query_one(TrainingBanner).display


# -- search ----------------------------------------------------------------------------------------
async def test_search_by_last_name_and_last_first(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert names(await search(app, pilot, "testkiddo")) == [
            "Testkiddo, Basil",
            "Testkiddo, Rosemary",
        ]
        assert names(await search(app, pilot, "testkiddo, ros")) == ["Testkiddo, Rosemary"]
        rows = await search(app, pilot, "nunez")  # folded: Núñez matches nunez
        assert names(rows)[0] == "Núñez-García, Diego" and len(rows) == 4
        assert await search(app, pilot, "zzzz") == []
        assert "No patients match" in str(app.screen.query_one("#results-title").render())


@pytest.mark.parametrize("typed", ["5/6/2022", "05/06/2022", "2022-05-06", "050622"])
async def test_search_by_date_of_birth(app, typed):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert await search(app, pilot, typed) == [
            ["Testkiddo, Basil", "05/06/2022", "4 y", "Unregistered"]
        ]


async def test_status_filter_with_empty_box_lists_that_status(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        await pilot.press("f2")
        await keys_handled(app, pilot)
        assert app.screen.focused is app.screen.query_one("#status", Select)
        app.screen.query_one("#status", Select).value = PortalStatus.PENDING
        await settle(app, pilot)
        rows = result_rows(app)
        assert rows[0] == ["Haddad, Layla", "10/09/2022", "4 y", "Pending Registration"]
        assert [row[0] for row in rows] == [
            "Haddad, Layla",
            "Lindqvist, Ella",
        ]  # L5's training family too
        # status and name together narrow the list
        assert await search(app, pilot, "testkiddo") == []


async def test_l2_pin_expired_filter_with_empty_box_lists_expired_pins(app):
    """L2: search can filter "PIN expired" (training: Minh Nguyen's PIN expired five days ago)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await pilot.press("f2")
        select = app.screen.query_one("#status", Select)
        assert app.screen.focused is select
        assert (SearchFilter.PIN_EXPIRED.label, SearchFilter.PIN_EXPIRED) in select._options
        select.value = SearchFilter.PIN_EXPIRED
        await settle(app, pilot)
        assert [row[0] for row in result_rows(app)] == ["Nguyen, Minh"]
        assert "PIN expired" in screen_text(app) and "1 patient" in screen_text(app)
        # the filter and a name together narrow the list
        assert await search(app, pilot, "nguyen") != []
        assert await search(app, pilot, "testkiddo") == []
        assert "No patients with PIN expired match 'testkiddo'" in screen_text(app)


async def test_todays_appointments_and_enter_opens_patient(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        appointments = result_rows(app, "#appointments")
        assert appointments[0][:2] == ["09:30", "Testkiddo, Rosemary"]
        assert "O'Brien [Jr], Patrick" in [row[1] for row in appointments]
        await pilot.press("f3", "down", "enter")  # second appointment: Baby Girl Okafor
        await settle(app, pilot)
        assert isinstance(app.screen, PatientScreen)
        assert app.screen.page.patient.family_name == "Okafor"


async def test_enter_on_result_opens_patient_page(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_from_search(app, pilot, "testkiddo, basil")
        assert isinstance(app.screen, PatientScreen)
        page = str(app.screen.query_one("#basic-info").render())
        assert "Testkiddo, Basil" in page and "Unregistered" in page and "No PIN" in page
        caregivers = result_rows(app, "#caregivers")
        assert [row[:3] for row in caregivers] == [
            ["Cindy Testkiddo", "Mother", "Joint"],
            ["Jeff Testkiddo", "Father", "Joint"],
        ]
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.search_text == "testkiddo, basil"


async def test_back_from_patient_the_box_takes_the_next_name_and_appointments_are_fresh(app):
    """Back at the search the desk types the next name straight away (the old text is replaced),
    and today's appointments show the status the patient has now, not the one from sign-in."""
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert result_rows(app, "#appointments")[0][:4] == [
            "09:30",
            "Testkiddo, Rosemary",
            "6 y",
            "Unregistered",
        ]
        await search(app, pilot, "testkiddo, ros")
        await pilot.press("enter")
        await settle(app, pilot)
        rosemary = app.screen.page.patient
        family = family_for(rosemary.id, today=TODAY)
        issue_pins(
            app.desk.staff,
            IssueRequest(
                [rosemary.id], recipient_id=family.caregivers[0].id, delivery=Delivery.NONE
            ),
            now=NOW,
            today=TODAY,
        )
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.focused is app.screen.query_one("#search", Input)
        assert result_rows(app, "#appointments")[0][:4] == [
            "09:30",
            "Testkiddo, Rosemary",
            "6 y",
            "Pending Registration",
        ]
        await pilot.press(*"kim")
        await settle(app, pilot)
        assert app.screen.search_text == "kim"
        assert names(result_rows(app)) == ["Kim, Jordan"]


async def test_no_match_under_a_status_filter_says_the_filter_is_on(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        app.screen.query_one("#status", Select).value = PortalStatus.PENDING
        await settle(app, pilot)
        assert await search(app, pilot, "johnson") == []
        title = str(app.screen.query_one("#results-title").render())
        assert "with status Pending Registration" in title and "F2" in title


async def test_search_footer_fits_80_columns(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        footer = screen_text(app).splitlines()[-1]
        for label in ("Search", "Status", "Today", "Import", "Outbox", "Sign out", "Lock"):
            assert label in footer


async def test_names_display_exactly_not_as_markup(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert names(await search(app, pilot, "O'Brien")) == ["O'Brien [Jr], Patrick"]
        assert names(await search(app, pilot, "tester")) == ["Tester, a[/]b"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert str(app.screen.query_one("#patient-title").render()) == "a[/]b Tester"


async def test_registered_patient_shows_associations_and_generate_pin(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_from_search(app, pilot, "patel, ava")
        assert "Registered; PIN still open to another parent" in str(
            app.screen.query_one("#basic-info").render()
        )
        assert result_rows(app, "#associations")[0][0] != "None yet"
        assert app.screen.check_action("register", ()) is False
        assert app.screen.check_action("generate_pin", ()) is True


# -- R1, R2 ----------------------------------------------------------------------------------------
def record_registration(app) -> list[tuple[int, bool]]:
    calls: list[tuple[int, bool]] = []
    original = app.open_registration

    def open_registration(patient_id, *, second_parent=False, **loaded):
        calls.append((patient_id, second_parent))
        original(patient_id, second_parent=second_parent, **loaded)

    app.open_registration = open_registration
    return calls


async def test_r2_placeholder_name_fixed_then_registration_opens(app):
    calls = record_registration(app)
    async with app.run_test(size=SIZE) as pilot:
        await open_from_search(app, pilot, "okafor")
        note = str(app.screen.query_one("#placeholder-note").render())
        assert '"Baby Girl" is a placeholder name' in note
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, NameFixScreen)
        assert "(R2)" not in str(
            app.screen.query_one(".form-title").render()
        )  # rule ids are not desk words
        await pilot.press(*"Baby B", "enter")  # still a placeholder: refused, text kept
        await settle(app, pilot)
        assert isinstance(app.screen, NameFixScreen)
        assert "still a placeholder" in app.screen.query_one("#given-name-error", FieldError).text
        assert app.screen.query_one("#given-name", Input).value == "Baby B"
        app.screen.query_one("#given-name", Input).value = "Amara"
        await pilot.press("enter")
        await settle(app, pilot)
        patient_id = calls[0][0]
        assert calls == [(patient_id, False)]
        if find_spec("kiosk_screens.register"):
            from kiosk_screens.register import RegisterScreen

            assert isinstance(app.screen, RegisterScreen)
        from kiosk.people.patients import patient_page

        assert patient_page(patient_id, today=TODAY).patient.given_name == "Amara"


async def test_r1_unlinked_staff_told_what_to_do_and_no_registration(app):
    calls = record_registration(app)
    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await open_from_search(app, pilot, "testkiddo, basil", "devon")
        error = app.screen.query_one("#action-error", FieldError)
        assert error.display and error.text == NOT_LINKED  # on arrival, before any key
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, PatientScreen)
        assert calls == []
        error = app.screen.query_one("#action-error", FieldError)
        assert error.display and error.text == NOT_LINKED
        assert "Ask an administrator to link you" in error.text
        assert screen_text(app).count("Ask an administrator to link you") == 1  # told once
        assert notices == []  # no toast to outlive the page or the sign-out


# -- idle lock (S6) --------------------------------------------------------------------------------
async def test_lock_hides_patient_data_and_same_staff_returns_where_they_were(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        await search(app, pilot, "testkiddo")
        assert "Testkiddo, Rosemary" in screen_text(app)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        shown = screen_text(app)
        assert "Maria Lopez" in shown
        for name in ("Testkiddo", "Rosemary", "Okafor", "Brien"):
            assert name not in shown
        await pilot.press(*"wrong-pass", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        assert app.screen.query_one("#password-error", FieldError).text == WRONG_CREDENTIALS
        await pilot.press(*"training1", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.search_text == "testkiddo"
        assert names(result_rows(app)) == ["Testkiddo, Basil", "Testkiddo, Rosemary"]
        assert app.desk.staff.username == "maria"


async def test_someone_else_at_the_lock_starts_fresh(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_from_search(app, pilot, "testkiddo, basil")
        assert isinstance(app.screen, PatientScreen)
        app.lock()
        await settle(app, pilot)
        await pilot.press("ctrl+n", *"tasha", "enter", *"training1", "enter")
        await settle(app, pilot)
        assert app.desk.staff.username == "tasha"
        assert isinstance(app.screen, SearchScreen)


async def test_not_you_after_typing_the_password_signs_in_on_one_enter(app):
    """The password first, then "Not you?" and the username: Enter there signs in (no second
    Enter hidden in the password box that already holds it)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_from_search(app, pilot, "testkiddo, basil")
        app.lock()
        await settle(app, pilot)
        assert "Not you? (ctrl+n)" in screen_text(app)
        await pilot.press(*"training1", "ctrl+n", *"tasha", "enter")
        await settle(app, pilot)
        assert app.desk.staff.username == "tasha"
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.search_text == ""
        assert not any(isinstance(s, (PatientScreen, LockScreen)) for s in app.screen_stack)


async def test_idle_timer_locks_and_typing_counts_as_activity(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        timeout = app.idle_timeout
        assert timeout == 120  # the practice default: 2 minutes
        app.last_activity = time.monotonic() - timeout - 1
        await search(app, pilot, "kim")  # keys typed into the Input reset the idle clock
        assert app.check_idle_lock() is False
        assert app.check_idle_lock(now=time.monotonic() + timeout + 1) is True
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        # while locked the timer does not lock again
        assert app.check_idle_lock(now=time.monotonic() + 10 * timeout) is False
        assert sum(isinstance(s, LockScreen) for s in app.screen_stack) == 1


async def test_idle_seconds_override_locks_for_real(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        app.idle_seconds = 0.0
        app.check_idle_lock()
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)


async def test_no_lock_before_sign_in(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.check_idle_lock(now=time.monotonic() + 10_000) is False
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, SignInScreen)


async def test_lock_ending_parent_mode_discards_parent_screens(app):
    from textual.screen import Screen

    class FakeParentScreen(Screen):
        parent_mode = True

    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        app.push_screen(FakeParentScreen())
        await settle(app, pilot)
        app.lock(end_parent_mode=True)
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        assert not any(getattr(s, "parent_mode", False) for s in app.screen_stack)
        await pilot.press(*"training1", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)


async def test_admin_sees_import_key_only_when_import_screen_exists(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert app.screen.check_action("open_import", ()) == bool(
            find_spec("kiosk_screens.import_screen")
        )
    assert authenticate("devon", "training1").is_admin is False


# -- snapshots ---------------------------------------------------------------------------------------
def _snapshot_app(config):
    from dataclasses import replace

    return desk_app(replace(config, training=True))


def test_snapshot_sign_in(training, config, snap_compare):
    assert snap_compare(_snapshot_app(config), terminal_size=(100, 30))


async def _search_testkiddo(pilot):
    app = pilot.app
    await sign_in(app, pilot)
    # The box's cursor blinks every half second: on a busy machine the picture could be taken in
    # its dark half. Without the blink the cursor stays as typing left it, shown.
    app.screen.query_one("#search", Input).cursor_blink = False
    await search(app, pilot, "testkiddo")
    # the box keeps the focus while the near matches are sought: no blinking cursor in the picture
    app.screen.query_one("#search", Input).cursor_blink = False
    await pilot.pause()


def test_snapshot_search_100x30(training, config, snap_compare):
    assert snap_compare(
        _snapshot_app(config), terminal_size=(100, 30), run_before=_search_testkiddo
    )


def test_snapshot_search_80x24(training, config, snap_compare):
    assert snap_compare(_snapshot_app(config), terminal_size=(80, 24), run_before=_search_testkiddo)
