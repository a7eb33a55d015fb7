"""The desk at 60x20, the smallest size it is drawn for: the registration window's summary packs
its choices into a few lines so the tables keep room, the Patient List and the Associations
table fit without scrolling sideways, and the slip preview puts the QR code under its words.
Back at 80x24 each screen is drawn as before (the snapshots at both sizes hold the pictures)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from textual.widgets import DataTable, Static

from kiosk.people.contact import format_us_cell
from kiosk.people.staff import authenticate
from kiosk_screens.patient import PatientScreen
from kiosk_screens.register import RegisterScreen
from kiosk_screens.register_options import ITEMS
from kiosk_screens.slip_preview import SlipPreviewScreen

from conftest import desk_app, find_patient, issue_result, region_text, screen_text, settle

SMALL, DESK = (60, 20), (80, 24)
DATE = r"\d\d/\d\d/\d{4}"


@pytest.fixture
def app(training, config):
    return desk_app(config)


async def _signed_in(app, pilot) -> None:
    app.signed_in(authenticate("maria", "training1"))
    await settle(app, pilot)


async def _window(app, pilot) -> RegisterScreen:
    await _signed_in(app, pilot)
    app.open_registration(find_patient("Rosemary").id)
    await settle(app, pilot)
    assert isinstance(app.screen, RegisterScreen)
    return app.screen


def _packed(screen: RegisterScreen) -> str:
    packed = screen.query_one("#summary-packed", Static)
    return str(packed.render()) if packed.display else ""


def _fits(table: DataTable) -> bool:
    """Nothing of the table lies off to its right."""
    return table.virtual_size.width <= table.size.width


async def test_r5_r7_the_register_summary_packs_at_60x20_and_the_children_stay_in_sight(app):
    """R5, R7-R10: at 60x20 every choice Register commits is in sight in three lines, each its
    key and its words; both children are listed with their PINs after Register, and the Patient
    List does not scroll sideways (Role, always Patient, is left out; the status is its short
    word)."""
    async with app.run_test(size=SMALL) as pilot:
        window = await _window(app, pilot)
        packed = _packed(window)
        assert packed.splitlines() == [
            "w Register with PIN  a Full Access  d Email",
            "o cindy.testkiddo@example.com (on file)  i Photo ID",
            "p Print PIN: no  l English (Cindy Testkiddo's, on file)",
        ]
        assert not any(window.query_one(f"#{item.name}-line").display for item in ITEMS)
        shown = screen_text(app)
        assert "Rosemary Testkiddo" in shown and "Basil Testkiddo" in shown
        await pilot.press("d")  # a choice changed: the packed lines say it at once
        await settle(app, pilot)
        assert "d Text message" in _packed(window)
        await pilot.press("d", "d")  # back to Email, through Do not send PIN
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        table = window.query_one("#patients", DataTable)
        assert _fits(table)
        header = next(
            line for line in screen_text(app).splitlines() if line.startswith("  Register")
        )
        assert header.split() == ["Register", "Patient", "PIN", "Status"]
        shown = screen_text(app)
        assert window.result is not None
        for pin in window.result.pins:
            assert pin.pin in shown
        assert shown.count("Pending") == 2 and "Issued for Rosemary, Basil" in shown


async def test_r5_the_summary_lines_come_back_at_80x24(app):
    """R5: a window opened at 60x20 and widened to 80x24 shows one line per choice again, with
    its label, and the Patient List's Role column."""
    async with app.run_test(size=SMALL) as pilot:
        window = await _window(app, pilot)
        await pilot.resize_terminal(*DESK)
        await settle(app, pilot)
        assert _packed(window) == ""
        shown = screen_text(app)
        assert " a  Access         Full Access" in shown
        header = next(line for line in shown.splitlines() if line.startswith("  Register"))
        assert header.split() == ["Register", "Patient", "PIN", "Status", "Role"]


async def test_r14_the_slip_preview_puts_the_qr_under_its_words_at_60x20(app):
    """R14: at 60x20 the slip's words take the whole width (a child and its PIN on one line) and
    the QR code follows them, whole within the 60 columns; Page down reaches it."""
    async with app.run_test(size=SMALL) as pilot:
        await _signed_in(app, pilot)
        app.show_slip(
            issue_result(
                ("Rosemary", "Rosemary Testkiddo", "JFKAY-TTJYV"),
                ("Basil", "Basil Testkiddo", "NVTHF-PCJQW"),
            )
        )
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SlipPreviewScreen)
        words, qr = screen.query_one("#slip-text"), screen.query_one("#slip-qr")
        assert words.region.width >= 54 and qr.region.y >= words.region.bottom
        assert qr.region.right <= 60
        assert "https://portal.sunnyhills.example.org/register" in screen_text(app)
        assert re.search(r"Rosemary Testkiddo +JFKAY-TTJYV", screen_text(app))
        await pilot.press("pagedown", "pagedown")
        await settle(app, pilot)
        assert "█▀▀▀▀▀█" in region_text(app, "#slip-body")


async def test_t4_the_associations_table_fits_60_columns(app):
    """T4: at 60x20 the Associations table shows whose, the state with its end date and the
    access level without scrolling sideways; since when is on the detail line. At 80x24 the
    Since column is back."""
    async with app.run_test(size=SMALL) as pilot:
        await _signed_in(app, pilot)
        app.open_patient(find_patient("Kai", "Morgan").id)
        await settle(app, pilot)
        page = app.screen
        assert isinstance(page, PatientScreen)
        table = page.query_one("#associations", DataTable)
        table.focus()
        page.query_one("#association-detail").scroll_visible(animate=False)
        await settle(app, pilot)
        assert _fits(table)
        header, row = region_text(app, "#associations").splitlines()
        assert header.split() == ["Account", "State", "Access"]
        assert re.fullmatch(rf"Rosa Delgado Active until {DATE} Limited", " ".join(row.split()))
        detail = " ".join(str(page.query_one("#association-detail", Static).render()).split())
        assert re.search(rf"since {DATE}$", detail)
        await pilot.resize_terminal(*DESK)
        await settle(app, pilot)
        assert [str(column.label) for column in table.ordered_columns][-1] == "Since"
        assert _fits(table)


async def test_l6_the_caregivers_table_fits_60_columns(app):
    """L6: at 60x20 the Caregivers table shows each caregiver's name, role and authority without
    scrolling sideways; the highlighted one's email and cell are on the detail line under it, and
    follow the cursor. At 80x24 Email and Cell are columns again and the detail line goes."""
    async with app.run_test(size=SMALL) as pilot:
        await _signed_in(app, pilot)
        app.open_patient(find_patient("Rosemary").id)
        await settle(app, pilot)
        page = app.screen
        assert isinstance(page, PatientScreen)
        table = page.query_one("#caregivers", DataTable)
        table.focus()
        detail = page.query_one("#caregiver-detail", Static)
        detail.scroll_visible(animate=False)
        await settle(app, pilot)
        assert _fits(table)
        header, *rows = region_text(app, "#caregivers").splitlines()
        assert header.split() == ["Name", "Role", "Authority"]
        assert len(page.page.caregivers) > 1
        first = page.page.caregivers[0]
        assert " ".join(rows[0].split()) == f"{first.name} {first.role} {first.authority}"
        for caregiver in page.page.caregivers:
            await settle(app, pilot)
            said = " ".join(str(detail.render()).split())
            assert said.startswith(f"{caregiver.name} ({caregiver.role}): {caregiver.email}")
            cell = format_us_cell(caregiver.cell) if caregiver.cell else ""
            assert (f"cell {cell}" in said) if cell else ("cell" not in said)
            await pilot.press("down")
        await pilot.resize_terminal(*DESK)
        await settle(app, pilot)
        assert [str(column.label) for column in table.ordered_columns][-2:] == ["Email", "Cell"]
        assert _fits(table)


async def test_l6_the_caregivers_table_says_a_cell_number_as_people_read_it(app):
    """L6: at 80x24 the Caregivers table shows a cell number as the rest of the desk writes it,
    (317) 555-0101, not bare digits, and still fits: an email cut to make room is read whole on
    the line under the table for the highlighted caregiver."""
    async with app.run_test(size=DESK) as pilot:
        await _signed_in(app, pilot)
        app.open_patient(find_patient("Rosemary").id)
        await settle(app, pilot)
        page = app.screen
        table = page.query_one("#caregivers", DataTable)
        table.focus()
        page.query_one("#caregiver-detail", Static).scroll_visible(animate=False)
        await settle(app, pilot)
        shown = region_text(app, "#caregivers")
        assert "(317) 555-0101" in shown and "3175550101" not in shown
        assert _fits(table)
        cindy = page.page.caregivers[0]
        if cindy.email not in shown:  # cut to fit: whole under the table
            assert cindy.email in str(page.query_one("#caregiver-detail", Static).render())


@pytest.mark.parametrize("rows", [12, 10])
async def test_d1_the_sign_in_keeps_its_password_and_hint_in_sight_at_12_rows_or_fewer(app, rows):
    """D1: on a short terminal the sign-in's fields go borderless, so the password field and the
    hint (the keys, Quit among them) are on the screen, and a wrong password's message too."""
    from textual.widgets import Input

    async with app.run_test(size=(80, rows)) as pilot:
        await settle(app, pilot)
        password = app.screen.query_one("#password", Input)
        assert app.screen.region.contains_region(password.region)
        assert "Enter: next field / sign in" in screen_text(app)
        await pilot.press(*"maria", "enter", *"wrong", "enter")
        await settle(app, pilot)
        assert "Wrong username or password" in screen_text(app)


@pytest.mark.parametrize("rows", [12, 10])
async def test_r14_the_registers_outcome_is_in_sight_at_12_rows_or_fewer(app, rows):
    """R14: at 12 rows or fewer, what Register did is read whole: the summary above it scrolls."""
    async with app.run_test(size=(80, rows)) as pilot:
        await _window(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        said = " ".join(screen_text(app).split())
        assert "Issued for Rosemary, Basil" in said and "c to complete at the kiosk." in said


@pytest.mark.parametrize("columns", [40, 60])
async def test_o2_d1_narrow_desks_read_the_training_banner_whole_and_search_in_a_wide_box(
    training, config, columns
):
    """O2: under 64 columns the TRAINING banner says its short words whole (on two lines where
    even those do not fit); D1: at 40 columns the status filter goes under the search box, which
    keeps the screen's width rather than 8 columns."""

    from textual.widgets import Input, Select

    app = desk_app(replace(config, training=True))
    async with app.run_test(size=(columns, 24)) as pilot:
        await _signed_in(app, pilot)
        said = " ".join(screen_text(app).split())
        assert "TRAINING — data not real; nothing sent or printed" in said
        box = app.screen.query_one("#search", Input)
        assert box.region.width >= columns - 30
        assert app.screen.region.contains_region(app.screen.query_one("#status", Select).region)


async def test_r14_a_saved_slips_path_never_leaves_a_lone_full_stop_at_80x24(app, tmp_path):
    """R14, D1: at 80x24 the words saying where the slip was saved end with its path, however the
    path falls on the lines: never a "." wrapped alone onto a line of its own (nor one a desk
    copying the path would take with it)."""
    from pathlib import Path

    async with app.run_test(size=DESK) as pilot:
        await _signed_in(app, pilot)
        app.show_slip(issue_result(("Rosemary", "Rosemary Testkiddo", "JFKAY-TTJYV")))
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        outcome = app.screen.query_one("#print-outcome", Static)
        name = Path(str(outcome.render()).split(" saved as ", 1)[1].rstrip(".")).name
        # a folder whose length puts the path's last letter at the end of a line
        room, base = outcome.content_region.width, str(tmp_path / "slips-")
        folder = base + "x" * ((-(len(base) + 1 + len(name))) % room)
        config = app.desk.config
        app.desk.config = replace(config, printer=replace(config.printer, output_dir=folder))
        await pilot.press("p")
        await settle(app, pilot)
        lines = [line.strip() for line in region_text(app, "#print-outcome").splitlines()]
        said = str(outcome.render())
        assert folder in said and said.split(" saved as ", 1)[1].startswith(folder)
        assert "." not in lines and lines[-1], lines
