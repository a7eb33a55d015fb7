"""The search box at 80x24 (N1, N2): near matches say why, Enter opens, Down and Ctrl+F behave."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from textual.widgets import DataTable, Input

from kiosk.store.models import Appointment, Caregiver, Patient, Relationship
from kiosk.terms import Authority, PortalStatus
from kiosk_screens.patient import PatientScreen
from kiosk_screens.search import SearchScreen

from conftest import TODAY, desk_app, keys_handled, region_text, screen_text, settle
from test_ui_staff import result_rows, search, sign_in

SIZE = (80, 24)


@pytest.fixture
def app(training, config):
    return desk_app(config)


def opened_patient(app) -> str:
    assert isinstance(app.screen, PatientScreen), app.screen
    return str(app.screen.query_one("#patient-title").render())


async def test_n2_a_near_match_says_why_it_matched(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        rows = await search(app, pilot, "testkido")  # a letter missing
        assert rows and all("(" in row[0] for row in rows)
        assert "Testkiddo, Rosemary (" in screen_text(app)
        rows = await search(app, pilot, "Cindy Testkiddo")  # the mother's name shows her children
        assert "Testkiddo, Rosemary (caregiver Cindy Testkiddo)" in [row[0] for row in rows]


async def test_n1_enter_on_a_single_match_opens_it(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        rows = await search(app, pilot, "testkiddo, rosemary")
        assert len(rows) == 1
        await pilot.press("enter")
        await settle(app, pilot)
        assert opened_patient(app) == "Rosemary Testkiddo"


async def test_n1_enter_on_several_opens_the_highlighted_first_one(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        rows = await search(app, pilot, "testkiddo")
        assert len(rows) > 1
        first = rows[0][0]
        await pilot.press("enter")
        await settle(app, pilot)
        family, given = first.split(" (")[0].split(", ")
        assert opened_patient(app) == f"{given} {family}"


async def test_n1_down_moves_into_the_list_and_enter_opens_that_row(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        rows = await search(app, pilot, "testkiddo")
        await pilot.press("down")
        results = app.screen.query_one("#results", DataTable)
        assert app.screen.focused is results and results.cursor_row == 0
        await pilot.press("down", "enter")
        await settle(app, pilot)
        family, given = rows[1][0].split(" (")[0].split(", ")
        assert opened_patient(app) == f"{given} {family}"


async def test_n1_enter_typed_before_the_results_opens_the_first_when_they_come(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        app.screen.query_one("#search", Input).focus()
        await pilot.press(
            *"testkiddo, rosemary", "enter"
        )  # no pause: the search is still debouncing
        await settle(app, pilot)
        assert opened_patient(app) == "Rosemary Testkiddo"


async def test_n1_ctrl_f_selects_the_box_text_so_typing_replaces_it(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        await search(app, pilot, "testkiddo")
        box = app.screen.query_one("#search", Input)
        assert app.screen.focused is box  # still in the box
        await pilot.press("ctrl+f")
        await keys_handled(app, pilot)
        assert box.selected_text == "testkiddo"
        await pilot.press(*"okafor")
        await settle(app, pilot)
        assert box.value == "okafor" and result_rows(app)[0][0].startswith("Okafor")


async def test_n1_enter_with_no_match_stays_in_the_box(app):
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert await search(app, pilot, "qqqqzzzz") == []
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(
            app.screen, SearchScreen
        ) and "No patients match 'qqqqzzzz'" in screen_text(app)


async def test_n2_exact_matches_show_while_the_near_ones_are_still_sought(app):
    """The screen never waits on the slower tolerant search (N2): the exact rows are on screen
    while it runs, and the near ones join below them, the first rows and the cursor untouched."""
    release = threading.Event()
    exact_search = app.desk.search

    def slow_near_matches(text, status=None, *, tolerant=True):
        if tolerant:
            release.wait(60)  # held until the test has looked at the screen
        return exact_search(text, status, tolerant=tolerant)

    app.desk.search = slow_near_matches
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        app.screen.query_one("#search", Input).focus()
        await pilot.press(*"testkiddo")
        for _ in range(400):  # the exact phase's rows, while the tolerant phase is held
            await pilot.pause(0.05)
            if result_rows(app):
                break
        exact = result_rows(app)
        assert exact and all("(" not in row[0] for row in exact)  # exact ones only, so far
        assert not release.is_set()  # and the near matches are still being looked for
        release.set()
        await settle(app, pilot)
        assert result_rows(app)[: len(exact)] == exact


# -- N2: the results fit the window -----------------------------------------------------------------
LONG_GIVEN, LONG_FAMILY = "Maximiliana Evangelina", "Papadopoulou-Rodriguez"
LONG_CAREGIVER = "Grace Kimberly-Anderson"


def add_long_named_family() -> None:
    """A Pending child (the longest status) whose name, and the reason a caregiver's name finds
    her for, are longer than the Name column has room for at 80 columns."""
    carer = Caregiver.create(given_name="Grace", family_name="Kimberly-Anderson")
    child = Patient.create(
        chart_number="L1",
        given_name=LONG_GIVEN,
        family_name=LONG_FAMILY,
        dob=dt.date(2018, 6, 7),
        portal_status=PortalStatus.PENDING,
    )
    Relationship.create(caregiver=carer, patient=child, role="Mother", authority=Authority.JOINT)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
async def test_n2_a_long_name_and_reason_never_push_the_status_off_the_screen(app, size):
    """N2: a long name with its reason is elided in the Name column, the table does not scroll
    sideways, the status stays on screen, and the line under the table reads the highlighted
    row's name and reason whole."""
    add_long_named_family()
    whole = f"{LONG_FAMILY}, {LONG_GIVEN} (caregiver {LONG_CAREGIVER})"
    async with app.run_test(size=size) as pilot:
        await sign_in(app, pilot)
        rows = await search(app, pilot, LONG_CAREGIVER)
        assert [row[0] for row in rows] == [whole]
        table = app.screen.query_one("#results", DataTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0
        shown = region_text(app, "#results")
        status = "Pending Registration" if size[0] >= 80 else "Pending"
        assert status in shown.splitlines()[1]  # the first row, beside the elided name
        assert LONG_FAMILY[:12] in shown and "…" in shown and whole not in shown
        assert " ".join(region_text(app, "#results-detail").split()) == whole


async def test_n1_the_box_says_what_it_takes_whole_at_80x24(app):
    """Before anything is typed, the box's placeholder and the line under it read whole at 80x24,
    not cut mid-word ("chart or birth", "birth date; F")."""
    from kiosk_screens.search import HINT

    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        box = app.screen.query_one("#search", Input)
        assert box.placeholder in region_text(app, "#search")
        assert HINT in screen_text(app)


@pytest.mark.parametrize("columns", [40, 50, 60])
async def test_n1_d1_a_narrow_desk_reads_the_hint_and_todays_heading_whole(app, columns):
    """D1: at 40-60 columns the line under the box and today's appointments' heading say a shorter
    sentence whole (what the box takes, F2, today's date, F7), never one cut off; wider again, the
    hint says its long words; a search's count line reads whole too."""
    async with app.run_test(size=(columns, 24)) as pilot:
        await sign_in(app, pilot)
        for title, must in (
            ("#results-title", "; F2: status"),
            ("#appointments-title", "F7: worklists"),
        ):
            words = str(app.screen.query_one(title).render())
            assert region_text(app, title).strip() == words and words.endswith(must)
        assert f"{TODAY:%m/%d/%Y}" in region_text(app, "#appointments-title")
        assert "DOB" in region_text(app, "#results-title")
        await pilot.press(*"testkiddo")
        await settle(app, pilot)
        words = str(app.screen.query_one("#results-title").render())
        assert region_text(app, "#results-title").strip() == words and "patients" in words
        await pilot.press(*["backspace"] * 9)
        await settle(app, pilot)
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert "birth date; F2: status" in region_text(app, "#results-title")


async def test_n2_short_names_need_no_detail_line(app):
    """N2: while every name fits its column, no line under the table repeats it."""
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        await search(app, pilot, "testkiddo, rosemary")
        assert not app.screen.query_one("#results-detail").display


# -- today's appointments fit the window too ------------------------------------------------------
LONG_PROVIDER = "Dr. Evangelina Kimberly-Anderson"


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
async def test_n2_todays_appointments_never_scroll_sideways(app, size):
    """Today's appointments (before anything is typed) fit the window: a long name and provider
    are cut in their columns, Time, Name, Age and the status stay on screen (Provider too from 80
    columns up), and the line under the table reads the highlighted one's name and provider whole."""
    add_long_named_family()
    child = Patient.get(Patient.chart_number == "L1")
    at = dt.datetime.combine(TODAY, dt.time(7, 45))  # the first of the day: the highlighted row
    Appointment.create(patient=child, starts_at=at, provider=LONG_PROVIDER)
    async with app.run_test(size=size) as pilot:
        await sign_in(app, pilot)
        await settle(app, pilot)
        table = app.screen.query_one("#appointments", DataTable)
        assert table.row_count > 1
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert table.max_scroll_x == 0
        header, first, *_ = region_text(app, "#appointments").splitlines()
        wide = size[0] >= 80
        assert header.split() == ["Time", "Name", "Age", "Portal", "status"] + ["Provider"] * wide
        status = "Pending Registration" if wide else "Pending"
        assert "07:45" in first and LONG_FAMILY[:12] in first and "…" in first
        assert status in first and ("Registration" in first) == wide  # short word under 80
        assert (LONG_PROVIDER[:8] in first) == wide and LONG_PROVIDER not in first
        whole = f"{LONG_FAMILY}, {LONG_GIVEN} — {LONG_PROVIDER}"
        assert " ".join(region_text(app, "#appointments-detail").split()) == whole


async def test_n2_a_patient_with_two_appointments_today_is_listed_twice_and_opens(app):
    """A child booked twice today (a morning visit and an afternoon recheck) is two rows of the
    day's list, not an error, and Enter on either opens that child's page."""
    add_long_named_family()
    child = Patient.get(Patient.chart_number == "L1")
    for hour in (7, 16):
        Appointment.create(
            patient=child, starts_at=dt.datetime.combine(TODAY, dt.time(hour, 5)), provider="Dr. A"
        )
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        await settle(app, pilot)
        table = app.screen.query_one("#appointments", DataTable)
        times = [str(table.get_row(key)[0]) for key in table.rows]
        assert "07:05" in times and "16:05" in times
        table.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "PatientScreen"
        assert app.screen.patient_id == child.id


async def test_d1_signing_in_reads_the_day_once_and_searches_for_nothing(app):
    """A low-spec kiosk's sign-in (D1) reads today's appointments once and runs no search for the
    empty box; back from a patient the day and the search are read again, and a blanked box still
    empties the list and says what it takes (N1), with no search."""
    calls: list[str] = []
    find, day = app.desk.search, app.desk.todays_appointments
    app.desk.search = lambda *a, **k: calls.append("search") or find(*a, **k)
    app.desk.todays_appointments = lambda: calls.append("day") or day()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(app, pilot)
        assert calls == ["day"]
        assert app.screen.query_one("#appointments", DataTable).row_count
        assert await search(app, pilot, "testkiddo, rosemary")
        assert calls == ["day", "search", "search"]  # the exact matches, then the near ones
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen) and calls.count("day") == 2
        assert calls.count("search") == 4 and len(result_rows(app)) == 1
        box = app.screen.query_one("#search", Input)
        box.focus()
        box.value = ""
        await settle(app, pilot)
        assert result_rows(app) == [] and calls.count("search") == 4
        assert "Type a name, a parent's name" in screen_text(app)


# -- D1: a narrow desk reads each result whole ------------------------------------------------------
@pytest.mark.parametrize("columns", [40, 50, 60])
async def test_d1_a_narrow_desk_reads_every_status_and_the_no_match_lines_whole(app, columns):
    """D1: at 40-60 columns the results and today's appointments keep their status words whole
    (Age gives way under 60, DOB under 50, read on the line under the table), no table scrolls
    sideways, and the "no match" lines, with what was typed, are never cut mid-word."""
    async with app.run_test(size=(columns, 24)) as pilot:
        await sign_in(app, pilot)
        for table_id in ("#results", "#appointments"):
            table = app.screen.query_one(table_id, DataTable)
            assert table.max_scroll_x == 0
        box = app.screen.query_one("#search", Input)
        assert box.placeholder in region_text(app, "#search")  # what the box takes, whole
        header, *lines = region_text(app, "#appointments").splitlines()
        assert "Portal status" in header
        assert sum("Unregistered" in line for line in lines) >= 3
        rows = await search(app, pilot, "testkiddo")
        assert len(rows) == 2
        header, *lines = region_text(app, "#results").splitlines()
        assert "Portal status" in header and ("DOB" in header) == (columns >= 50)
        assert [line.split()[-1] for line in lines[:2]] == ["Unregistered"] * 2
        assert ("Age" in header) == (columns >= 60)
        detail = " ".join(region_text(app, "#results-detail").split())
        if columns < 50:  # the highlighted child's birth date, on the line under the table
            assert re.fullmatch(r"Testkiddo, Basil — \d\d/\d\d/\d{4}, \d+ y", detail)
        await search(app, pilot, "zzqqzzqqzzqqzzqq")
        title = str(app.screen.query_one("#results-title").render())
        assert region_text(app, "#results-title").strip() == title and title.startswith("No ")
        # Unregistered: still no match, and F2 says so
        await pilot.press("f2", "down", "down", "enter")
        await settle(app, pilot)
        title = str(app.screen.query_one("#results-title").render())
        assert region_text(app, "#results-title").strip() == title and "F2" in title
