"""The worklist (W1) and the registration drive (W2) at 80x24, keyboard only: each list, Enter
opening the family's registration and Escape coming back to the same row, paging, and a drive's
dry run, run, crash and second run."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from textual.widgets import DataTable, Label

from kiosk.followup import drive as drive_module
from kiosk.followup.worklist import WorklistQuery, all_families
from kiosk.store.db import write_transaction
from kiosk.store.models import Caregiver, DriveFamily, Patient, Relationship
from kiosk.terms import Authority, DriveState, PortalStatus, WorklistKind
from kiosk_screens.drive_screen import DriveScreen
from kiosk_screens.register import RegisterScreen
from kiosk_screens.worklist import WorklistScreen

from conftest import NOW, TODAY, Notices, desk_app, screen_text, settle
from test_followup import crash_on_the_second_family
from test_ui_staff import sign_in

SIZE = (80, 24)


@pytest.fixture
def app_config(config, tmp_path):
    return dataclasses.replace(
        config, printer=dataclasses.replace(config.printer, output_dir=str(tmp_path / "slips"))
    )


@pytest.fixture
def app(training, app_config):
    return desk_app(app_config)


async def open_worklist(app, pilot) -> None:
    await sign_in(app, pilot)
    await pilot.press("f7")
    await settle(app, pilot)
    assert isinstance(app.screen, WorklistScreen)


def caregivers(app) -> list[str]:
    table = app.screen.query_one("#families", DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def title(app) -> str:
    return str(app.screen.query_one("#worklist-title", Label).render())


async def choose(app, pilot, kind: WorklistKind) -> None:
    """F2, then the list by arrows and Enter, as the desk does it."""
    await pilot.press("f2", "enter")
    await settle(app, pilot)
    await pilot.press("home", *["down"] * list(WorklistKind).index(kind))
    await pilot.press("enter")
    await settle(app, pilot)


def cut(name: str, width: int = 20) -> str:
    """A name as its column shows it: cut with an ellipsis when it is too long."""
    return name if len(name) <= width else name[: width - 1] + "…"


def expected(kind: WorklistKind, **window) -> list[str]:
    families = all_families(WorklistQuery(kind, **window), today=TODAY, now=NOW)
    return [cut(f.caregiver_name) for f in families]


@pytest.mark.parametrize("kind", list(WorklistKind), ids=lambda k: k.value)
async def test_w1_each_list_shows_its_families_one_row_each(app, kind):
    async with app.run_test(size=SIZE) as pilot:
        await open_worklist(app, pilot)
        await choose(app, pilot, kind)
        shown = caregivers(app)
        assert shown == expected(kind, days=14)[:15]
        assert title(app).startswith(WorklistQuery(kind).describe())
        if shown:
            assert shown[0] in screen_text(app)  # drawn, not only held


async def test_w1_appointments_by_date_range_and_provider(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_worklist(app, pilot)
        await choose(app, pilot, WorklistKind.APPOINTMENTS)
        today = caregivers(app)
        assert today and all("Appointment" in str(row) for row in _rows(app))
        app.screen.query_one("#provider").focus()
        await pilot.press(*"Dr. Nobody", "enter")
        await settle(app, pilot)
        assert caregivers(app) == [] and "no families" in title(app)
        app.screen.query_one("#start").focus()
        await pilot.press(*"13/45/2026", "enter")
        await settle(app, pilot)
        assert "is not a date" in title(app)


def _rows(app) -> list[list[str]]:
    table = app.screen.query_one("#families", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_w1_enter_opens_the_registration_and_escape_returns_to_the_same_row(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_worklist(app, pilot)
        family = all_families(WorklistQuery(), today=TODAY, now=NOW)
        third = [f for _, f in zip(range(3), family)][2]
        await pilot.press("down", "down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, RegisterScreen)  # not the account page first
        assert third.children[0].name in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert app.screen.query_one("#families", DataTable).cursor_row == 2


@pytest.fixture
def many_families(training):
    """Twenty more Unregistered families: the list has two pages."""
    with write_transaction():
        for n in range(20):
            carer = Caregiver.create(given_name="Parent", family_name=f"Zz{n:02d}")
            child = Patient.create(
                chart_number=f"ZZ{n}",
                given_name="Kid",
                family_name=f"Zz{n:02d}",
                dob=dt.date(2020, 1, 1),
            )
            Relationship.create(
                caregiver=carer, patient=child, role="Mother", authority=Authority.SOLE
            )


async def test_w1_n_and_p_turn_the_pages(many_families, app):
    async with app.run_test(size=SIZE) as pilot:
        await open_worklist(app, pilot)
        first = caregivers(app)
        assert len(first) == 15 and "n: next page" in title(app)
        await pilot.press("n")
        await settle(app, pilot)
        second = caregivers(app)
        assert "page 2" in title(app) and set(first).isdisjoint(second)
        assert first + second == expected(WorklistKind.UNREGISTERED)[:30]
        await pilot.press("p")
        await settle(app, pilot)
        assert caregivers(app) == first and "page 1" in title(app)


# -- W2 ------------------------------------------------------------------------------------------
def drive_text(app) -> str:
    return "\n".join(str(label.render()) for label in app.screen.query(Label))


async def test_w2_marked_families_dry_run_then_run(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_worklist(app, pilot)
        pending = Patient.select().where(Patient.portal_status == PortalStatus.PENDING).count()
        # the first two families: Tyler; Layla (Pending: the letter's PIN replaces hers) and Yusuf
        await pilot.press("space", "space", "d")
        await settle(app, pilot)
        assert isinstance(app.screen, DriveScreen)
        assert "Dry run: 2 families, 3 children, 2 letters, 0 messages." in drive_text(app)
        await pilot.press("tab", "space")  # Messages
        await settle(app, pilot)
        assert "Dry run: 2 families, 3 children, 2 letters, 2 messages." in drive_text(app)
        assert (
            Patient.select().where(Patient.portal_status == PortalStatus.PENDING).count() == pending
        )
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        text = drive_text(app)
        assert "Drive 1: 2 families issued; 2 messages queued; 2 letters." in text
        assert "Making letters: 2 of 2" in text and "letters saved as" in text
        assert "Drive 1: 2 families issued" in screen_text(app)  # readable at 80x24
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, WorklistScreen)
        assert len(caregivers(app)) == 12  # the two families are Pending now: off the list


async def test_w2_a_drive_that_crashed_is_finished_by_ctrl_u(app, monkeypatch):
    real = crash_on_the_second_family(monkeypatch, "the machine went down")
    notices = Notices()
    async with app.run_test(size=SIZE, message_hook=notices) as pilot:
        await open_worklist(app, pilot)
        await pilot.press("space", "space", "space", "d")
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert notices  # said in plain words by the app's handler; the app stays up
        states = [r.state for r in DriveFamily.select().order_by(DriveFamily.id)]
        assert states == [DriveState.DONE, DriveState.WAITING, DriveState.WAITING]
        assert "stopped with 2 families waiting: Ctrl+U finishes it" in drive_text(app)
        monkeypatch.setattr(drive_module, "issue_pins", real)
        await pilot.press("ctrl+u")
        await settle(app, pilot)
        assert "2 families issued, 1 finished before" in drive_text(app)
        assert [r.state for r in DriveFamily.select()] == [DriveState.DONE] * 3


# -- D1: the worklist fits the window ---------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
async def test_w1_d1_the_worklist_fits_the_window_and_reads_a_cut_family_whole(app, size):
    """W1, D1: every box of the bar is on the screen and a typed date reads whole in it (the bar
    takes two rows under 100 columns); the families never scroll sideways (Why has no column
    under 80), and the line under the table reads the highlighted family whole: a caregiver's
    long name is cut to "Elizabeth Montgomer…" in its column."""
    from textual.widgets import Input

    from conftest import region_text

    async with app.run_test(size=size) as pilot:
        await open_worklist(app, pilot)
        screen = app.screen
        for box in ("#kind", "#days", "#start", "#end", "#provider"):
            assert screen.region.contains_region(screen.query_one(box).region), box
        screen.query_one("#start", Input).value = "11/24/2026"
        await settle(app, pilot)
        assert "11/24/2026" in region_text(app, "#start")
        table = screen.query_one("#families", DataTable)
        assert table.max_scroll_x == 0
        assert ("Why" in region_text(app, "#families").splitlines()[0]) == (size[0] >= 80)
        row = next(n for n, name in enumerate(caregivers(app)) if "Montgomer" in name)
        table.move_cursor(row=row)
        await settle(app, pilot)
        detail = " ".join(region_text(app, "#families-detail").split())
        whole = "Elizabeth Montgomery-Fitzwilliam-Vanderbilt-Smythe — Christopher: Unregistered"
        assert detail.startswith(whole), detail
