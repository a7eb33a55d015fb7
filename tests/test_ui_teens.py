"""Teens and access over time on screen, at 80x24 (T1-T5): Send to Minor's own address and its
warning, the teen's own account made at the kiosk, the ID check on the register summary,
Validate, and an association suspended, resumed, given an end date and removed."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest
from textual.widgets import DataTable, Static

from kiosk.people.patients import patient_page
from kiosk.people.staff import authenticate
from kiosk.store.models import Association, AuditEvent, RegistrationPin
from kiosk.terms import AssociationKind, AssociationState, IdCheck, PortalStatus
from kiosk_screens.parent import ChildScreen, MyAccountScreen
from kiosk_screens.patient import PatientScreen
from kiosk_screens.pin_life import (
    EndDateDialog,
    PatientContactDialog,
    ReasonDialog,
    ValidateDialog,
)
from kiosk_screens.register import RegisterScreen
from kiosk_screens.register_options import IdNoteDialog

from conftest import NOW, TODAY, desk_app, find_patient, screen_text, settle
from test_ui_parent import add_child, create_account, type_into

SIZE = (80, 24)
DATE = r"\d\d/\d\d/\d{4}"


@pytest.fixture
def app(training, config, tmp_path):
    slips = replace(config.printer, output_dir=str(tmp_path / "slips"))
    return desk_app(replace(config, printer=slips))


async def open_window(app, pilot, given: str, family: str) -> RegisterScreen:
    app.desk.staff = authenticate("maria", "training1")
    app.open_registration(find_patient(given, family).id)
    await settle(app, pilot)
    assert isinstance(app.screen, RegisterScreen)
    return app.screen


async def open_page(app, pilot, given: str, family: str) -> PatientScreen:
    app.desk.staff = authenticate("maria", "training1")
    app.open_patient(find_patient(given, family).id)
    await settle(app, pilot)
    assert isinstance(app.screen, PatientScreen)
    return app.screen


def line(screen, name: str) -> str:
    label = screen.query_one(f"#{name}-line", Static)
    return str(label.render()) if label.display else ""


def said(screen, name: str) -> str:
    label = screen.query_one(f"#{name}-error")
    return label.text if label.display else ""


async def press(app, pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(app, pilot)


# -- T1 -------------------------------------------------------------------------------------------


async def test_t1_minor_shows_the_teens_own_address_and_warns_when_it_is_a_parents(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Jordan", "Kim")
        assert "Parent/Guardian" in line(screen, "send-to")
        assert "grace.kim@example.com" in line(screen, "address")
        await press(app, pilot, "m")
        assert "Minor" in line(screen, "send-to")
        assert "jordan.kim@example.com (Jordan's own, on record)" in line(screen, "address")
        assert said(screen, "address") == ""

        await press(app, pilot, "o")  # correct the teen's own address on the record
        assert isinstance(app.screen, PatientContactDialog)
        await type_into(app, pilot, "contact-email", "grace.kim@example.com")
        await press(app, pilot, "ctrl+s")
        assert app.screen is screen
        assert "grace.kim@example.com (Jordan's own" in line(screen, "address")
        warning = said(screen, "address")
        assert (
            "same as Grace Kim's (Mother)" in warning
            and "the PIN would reach the parent" in warning
        )
        assert "same as Grace Kim's" in screen_text(app)  # in sight at 80x24


async def test_t1_the_teen_redeems_at_the_kiosk_into_their_own_account(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Jordan", "Kim")
        await press(app, pilot, "m", "ctrl+r")
        jordan = find_patient("Jordan", "Kim")
        pin = RegistrationPin.get(RegistrationPin.patient == jordan.id)
        assert pin.recipient_email == "jordan.kim@example.com" and pin.recipient_id is None
        assert "jordan.kim@example.com is queued" in str(screen.query_one("#outcome").render())

        await press(app, pilot, "c")  # Complete / Log In: the teen at the kiosk
        await create_account(app, pilot, "Jordan Kim", "jordan.kim@example.com")
        assert isinstance(app.screen, ChildScreen)
        await add_child(app, pilot, f"{jordan.dob:%m/%d/%Y}")
        assert isinstance(app.screen, MyAccountScreen)
        said = str(app.screen.query_one("#message", Static).render())
        assert "Jordan, this is now your own portal account" in said  # not "your child"
        assert "Jordan  (your own account, Full Access)" in screen_text(app)
    [row] = patient_page(jordan.id, today=TODAY).associations
    assert row.kind == AssociationKind.OWN and row.account_name == "Jordan Kim"


# -- T5 -------------------------------------------------------------------------------------------


async def test_t5_the_id_check_is_one_key_and_other_asks_how(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Rosemary", "Testkiddo")
        assert "ID checked" in line(screen, "id-check") and "Photo ID" in line(screen, "id-check")
        await press(app, pilot, "i")
        assert "Known to staff" in line(screen, "id-check")
        await press(app, pilot, "i")
        assert isinstance(app.screen, IdNoteDialog)
        await type_into(app, pilot, "id-note", "birth certificate")
        await press(app, pilot, "enter")
        assert "Other: birth certificate" in line(screen, "id-check")
        assert "Other: birth certificate" in screen_text(app)
        await press(app, pilot, "ctrl+r")
    kids = [find_patient(given).id for given in ("Rosemary", "Basil")]
    pins = list(RegistrationPin.select().where(RegistrationPin.patient.in_(kids)))
    assert len(pins) == 2 and all(
        (p.id_check, p.id_check_note) == (IdCheck.OTHER, "birth certificate") for p in pins
    )


# -- T3 -------------------------------------------------------------------------------------------


async def test_t3_validate_a_self_registered_family_after_an_id_check(app):
    async with app.run_test(size=SIZE) as pilot:
        page = await open_page(app, pilot, "Liam", "Chen")
        assert "Self Registered" in str(page.query_one("#basic-info").render())
        await press(app, pilot, "i")
        assert isinstance(app.screen, ValidateDialog)
        await press(app, pilot, "ctrl+s")  # the practice's default: Photo ID
        assert app.screen is page
        assert "Registered" in str(page.query_one("#basic-info").render())
        assert "Validated (Photo ID)" in str(page.query_one("#pin-outcome").render())
    liam = find_patient("Liam", "Chen")
    assert patient_page(liam.id, today=TODAY).patient.portal_status == PortalStatus.REGISTERED
    assert '"photo id"' in AuditEvent.get(AuditEvent.action == "validate").detail


async def test_t3_a_name_in_brackets_reads_as_typed_in_the_validate_dialog(app):
    """T3: the validate dialog's title is the child's name as typed, never markup: "[Jr]" is not
    dropped as a style, and "[/]" does not stop the app."""
    from kiosk.store.models import Patient

    Patient.update(given_name="Liam [Jr] [/]").where(Patient.chart_number == "100801").execute()
    async with app.run_test(size=SIZE) as pilot:
        await open_page(app, pilot, "Liam [Jr] [/]", "Chen")
        await press(app, pilot, "i")
        assert isinstance(app.screen, ValidateDialog)
        assert "Validate Liam [Jr] [/]'s registration" in screen_text(app)


# -- T4 -------------------------------------------------------------------------------------------


def association_cells(page) -> list[str]:
    table = page.query_one("#associations", DataTable)
    return [str(cell) for cell in table.get_row_at(0)]


async def give_reason(app, pilot, text: str) -> None:
    assert isinstance(app.screen, ReasonDialog)
    await type_into(app, pilot, "reason", text)
    await press(app, pilot, "enter")


async def test_t4_suspend_resume_end_date_and_remove_an_association(app):
    async with app.run_test(size=SIZE) as pilot:
        page = await open_page(app, pilot, "Kai", "Morgan")
        cells = association_cells(page)
        assert cells[0] == "Rosa Delgado" and "Limited" in cells  # the whole label: detail line
        assert any(c.startswith("Active until") for c in cells)  # the foster placement's end
        page.query_one("#associations", DataTable).focus()

        await press(app, pilot, "k")
        await give_reason(app, pilot, "custody order")
        assert "Suspended: custody order" in association_cells(page)
        assert "Unregistered" in str(page.query_one("#basic-info").render())
        await press(app, pilot, "k")
        await give_reason(app, pilot, "order lifted")
        assert "Active until" in " ".join(association_cells(page))

        await press(app, pilot, "n")
        assert isinstance(app.screen, EndDateDialog)
        await type_into(app, pilot, "end-date", "12/31/2026")
        await press(app, pilot, "enter")
        await type_into(app, pilot, "end-reason", "placement ends")
        await press(app, pilot, "enter")
        assert "Active until 12/31/2026" in association_cells(page)

        await press(app, pilot, "x")
        await give_reason(app, pilot, "foster placement ended")
        assert "Ended: foster placement ended" in association_cells(page)
        page.query_one("#associations", DataTable).scroll_visible(animate=False)
        await settle(app, pilot)
        assert "Ended: foster placement ended" in screen_text(app)  # listed, in sight at 80x24
    kai = find_patient("Kai", "Morgan")
    [row] = patient_page(kai.id, today=TODAY).associations
    assert row.state == AssociationState.ENDED
    assert patient_page(kai.id, today=TODAY).patient.portal_status == PortalStatus.UNREGISTERED


async def test_t4_associations_fit_80_columns_with_access_state_end_and_since(app):
    """T4: at 80x24 the Associations table shows every column without scrolling sideways: whose,
    the state with its end date, the access level and since when; the email and the whole
    labels are on the highlighted row's detail line."""
    async with app.run_test(size=SIZE) as pilot:
        page = await open_page(app, pilot, "Kai", "Morgan")
        table = page.query_one("#associations", DataTable)
        table.focus()
        table.scroll_visible(animate=False)
        await settle(app, pilot)
        assert table.virtual_size.width <= table.size.width  # nothing off to the right
        shown = screen_text(app)
        header = next(line for line in shown.splitlines() if "Account" in line)
        assert header.split()[:4] == ["Account", "State", "Access", "Since"]  # then the scrollbar
        [row] = [line for line in shown.splitlines() if line.startswith("  Rosa Delgado")]
        _, _, state, until, ends, access, since = row.split()
        assert (state, until, access) == ("Active", "until", "Limited")
        assert re.fullmatch(DATE, ends) and re.fullmatch(DATE, since)
        detail = str(page.query_one("#association-detail", Static).render())
        assert "<rosa.delgado@example.org>: Limited: No Chart Access; Active until" in detail
        assert "<rosa.delgado@example.org>" in shown  # the detail line, in sight too


def test_t4_patient_page_associations_snapshot(snap_compare, app):
    """At 80x24: Kai's Associations table with every column in sight and the detail line (T4)."""
    kai = find_patient("Kai", "Morgan")
    # the association's "since" is when training data was loaded: fixed, for a picture that holds
    Association.update(created_at=NOW).where(Association.patient == kai.id).execute()
    issued = NOW - dt.timedelta(days=11)  # the PIN's issue time, else the minute the test runs
    # and its expiry, which training data's load took from the real clock: the picture changed daily
    RegistrationPin.update(issued_at=issued, expires_at=issued + dt.timedelta(days=30)).where(
        RegistrationPin.patient == kai.id
    ).execute()

    async def open_kai(pilot):
        page = await open_page(app, pilot, "Kai", "Morgan")
        page.query_one("#associations", DataTable).focus()
        page.query_one("#association-detail").scroll_visible(animate=False)
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_kai)
