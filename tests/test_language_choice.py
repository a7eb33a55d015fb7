"""I1: the desk chooses the family's language at Register (default: the recipient's on record), and
the choice carries through to the slip, the welcome message, the letters and parent mode."""

from __future__ import annotations

from textual.widgets import Static

from kiosk.followup.drive import _letter
from kiosk.people.patients import family_for, search_patients
from kiosk.registration.engine import IssueRequest, check_issue, issue_pins
from kiosk.slip.content import slip_from_issue, slip_text_lines
from kiosk.store.models import Caregiver, OutboxMessage
from kiosk.store.practice import practice_settings
from kiosk.terms import Delivery
from kiosk_screens.parent import ParentModeScreen
from kiosk_screens.slip_preview import SlipPreviewScreen

from conftest import NOW, TODAY, region_text, settle
from test_ui_register import app, desk_config, line, open_window, register

SIZE = (80, 24)


def request_for_testkiddo(**changes) -> IssueRequest:
    rows = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}
    cindy = next(
        c
        for c in family_for(rows["Rosemary"], today=TODAY).caregivers
        if c.name.startswith("Cindy")
    )
    return IssueRequest(
        [rows["Rosemary"], rows["Basil"]],
        recipient_id=cindy.id,
        email="cindy.testkiddo@example.com",
        **changes,
    )


def test_i1_the_desks_choice_overrides_the_record_for_slip_welcome_and_letter(training, front_desk):
    request = request_for_testkiddo(language="es")
    cindy = Caregiver.get_by_id(request.recipient_id)
    assert cindy.preferred_language == "en"  # the record says English
    result = issue_pins(front_desk, request, now=NOW, today=TODAY)
    assert result.language == "es"
    welcome = OutboxMessage.get(OutboxMessage.batch == result.batch)
    assert welcome.language == "es"
    slip = "\n".join(slip_text_lines(slip_from_issue(result, practice_settings())))
    assert "Los PIN vencen el" in slip and "Dirección del portal" in slip
    assert _letter(result, cindy)["language"] == "es"


def test_i1_without_a_choice_the_record_decides(training, front_desk):
    result = issue_pins(front_desk, request_for_testkiddo(), now=NOW, today=TODAY)
    assert result.language == "en"


def test_i1_a_language_without_a_catalog_is_refused_next_to_its_line(training, front_desk):
    problems = check_issue(front_desk, request_for_testkiddo(language="tlh"), today=TODAY)
    assert [p.field for p in problems] == ["language"]
    assert "'tlh'" in problems[0].message and "en, es" in problems[0].message


async def test_i1_the_desk_chooses_spanish_on_the_summary_and_the_family_gets_spanish(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        assert line(screen, "language").endswith("English (Cindy Testkiddo's, on file)")
        await pilot.press("l")
        await settle(app, pilot)
        assert line(screen, "language").endswith("Spanish (chosen for this family)")
        await pilot.press("p")  # the slip opens after Register
        await register(app, pilot)

        assert isinstance(app.screen, SlipPreviewScreen)
        slip = " ".join(region_text(app, "#slip-text").split())
        assert "Registro en el portal para Rosemary Testkiddo" in slip
        welcome = OutboxMessage.select().order_by(OutboxMessage.id.desc()).first()
        assert welcome.language == "es"

        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("c")  # Complete / Log In: parent mode opens in the family's language
        await settle(app, pilot)
        assert isinstance(app.screen, ParentModeScreen)
        title = str(app.screen.query_one(".parent-title", Static).render())
        assert title == "¡Bienvenido! Vamos a preparar su portal de pacientes."
