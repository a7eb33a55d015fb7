"""Acceptance of the printable slip (R14, S7, O2), through the engine and the screens.

What a parent gets and what the front desk sees: the slip made from a real issue holds each PIN
and the expiry and no date of birth or chart number, on paper (PDF text, every layout) and on
screen; the QR code scans from the page and from the terminal as the preview draws it; printing
runs beside the UI and always ends in plain words (job id, error, or where the PDF was saved).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from pathlib import Path

import pytest
from textual.widgets import Static

from kiosk.config import PrinterConfig
from kiosk.people.staff import authenticate
from kiosk.registration.engine import IssuedPin, IssueRequest, IssueResult, issue_pins
from kiosk.slip.content import slip_from_issue, slip_text_lines
from kiosk.slip.pdf import LAYOUTS, render_slip_pdf
from kiosk.slip.printing import print_slip
from kiosk.store.models import Caregiver, Patient
from kiosk.store.practice import practice_settings
from kiosk.terms import Delivery, RegistrationMethod, long_date
from kiosk_screens.slip_preview import SENT, SlipPreviewScreen

from conftest import (
    NOW,
    TODAY,
    FakePrinter,
    desk_app,
    keys_handled,
    region_text,
    screen_cells,
    screen_text,
    settle,
)
from test_slip import decode_qr, page_image, pdf_pages, pdf_text

BLOCK_TOP = {"▀", "█"}
BLOCK_BOTTOM = {"▄", "█"}


def family(name: str) -> list[Patient]:
    return list(Patient.select().where(Patient.family_name == name).order_by(Patient.chart_number))


RECIPIENTS = {"Testkiddo": "cindy.testkiddo@example.com", "Núñez-García": "ana.nunez@example.com"}


def issue_family(staff, name: str) -> tuple[IssueResult, list[Patient]]:
    """The real Register action for a whole family, nothing sent, slip wanted."""
    children = family(name)
    parent = Caregiver.get(Caregiver.email == RECIPIENTS[name])
    request = IssueRequest(
        patient_ids=[c.id for c in children],
        recipient_id=parent.id,
        delivery=Delivery.NONE,
        print_slip=True,
    )
    return issue_pins(staff, request, now=NOW, today=TODAY), children


def written_dobs(child: Patient) -> list[str]:
    """Every way a date of birth could appear on a slip."""
    dob = child.dob
    return [
        dob.isoformat(),
        f"{dob:%m/%d/%Y}",
        f"{dob.month}/{dob.day}/{dob.year}",
        f"{dob:%m/%d/%y}",
        f"{dob:%m%d%y}",
        long_date(dob, "en"),
        long_date(dob, "es"),
    ]


def assert_minimum_necessary(
    text: str, result: IssueResult, children: list[Patient], expiry: str
) -> None:
    flat = " ".join(text.split())
    for issued in result.pins:
        assert issued.pin and issued.pin in flat, issued.patient_name
        assert issued.patient_name in flat
    assert expiry in flat
    for child in children:
        assert child.chart_number not in flat
        for dob in written_dobs(child):
            assert dob not in flat, f"date of birth {dob} on the slip"


# ---------------------------------------------------------------- paper: PDF text in every layout


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("surname", "expiry"),
    [
        ("Testkiddo", "PINs expire on December 22, 2026."),
        ("Núñez-García", "Los PIN vencen el 22 de diciembre de 2026."),
    ],
)
def test_r14_s7_a_real_issue_prints_each_pin_and_the_expiry_and_no_dob_or_chart(
    front_desk, layout, surname, expiry
):
    result, children = issue_family(front_desk, surname)
    assert len(result.pins) == len(children) >= 2
    data = render_slip_pdf(slip_from_issue(result, practice_settings()), layout)

    assert len(pdf_pages(data)) == 1
    assert_minimum_necessary(pdf_text(data), result, children, expiry)
    assert decode_qr(page_image(data)) == [practice_settings().portal_url]


def test_r14_the_spanish_family_gets_a_spanish_slip_from_the_engine(front_desk):
    """The family's preferred language (Núñez-García: es) chooses the slip's words, with no English left."""
    result, _ = issue_family(front_desk, "Núñez-García")
    lines = slip_text_lines(slip_from_issue(result, practice_settings()))
    text = "\n".join(lines)
    assert lines[1] == f"Registro en el portal para {result.patient_name} y hermanos seleccionados"
    assert "Cómo registrarse" in lines
    for english in ("Portal registration", "expire", "How to register", "Scan", "Child "):
        assert english not in text


# ---------------------------------------------------------------- screen: the preview as drawn


@pytest.fixture
def desk_config(config, tmp_path):
    return dataclasses.replace(config, printer=PrinterConfig(output_dir=str(tmp_path / "slips")))


@pytest.fixture
def app(training, desk_config):
    return desk_app(desk_config)


async def open_preview(app, pilot, result: IssueResult) -> SlipPreviewScreen:
    app.desk.staff = authenticate("maria", "training1")
    app.show_slip(result)
    await settle(app, pilot)
    assert isinstance(app.screen, SlipPreviewScreen)
    return app.screen


def screen_image(app, scale: int = 6):
    """The screen as a phone camera sees it: every cell two pixels high (half blocks), in its colours."""
    from PIL import Image

    cells = screen_cells(app)
    width = max(len(row) for row in cells)
    image = Image.new("L", (width, 2 * len(cells)), 0)

    def grey(rgb):
        return int(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])

    for y, row in enumerate(cells):
        for x, (ch, fg, bg) in enumerate(row):
            image.putpixel((x, 2 * y), grey(fg if ch in BLOCK_TOP else bg))
            image.putpixel((x, 2 * y + 1), grey(fg if ch in BLOCK_BOTTOM else bg))
    return image.resize((width * scale, 2 * len(cells) * scale), Image.NEAREST)


def five_siblings() -> IssueResult:
    names = [
        "Maximiliana Guadalupe Cruz",
        "Basil Testkiddo",
        "O'Brien [Jr]",
        "a[/]b Núñez",
        "Sofía Núñez-García",
    ]
    pins = ["JFKAY-TTJYV", "NVTHF-PCJQW", "ABCDE-FGHJK", "MNPRS-WXYZA", "QRSTU-VWXYZ"]
    return IssueResult(
        batch="0123456789abcdef",
        patient_name=names[0],
        language="en",
        pins=tuple(
            IssuedPin(n + 1, name.split()[0], name, pin)
            for n, (name, pin) in enumerate(zip(names, pins))
        ),
        expires_on=dt.date(2026, 12, 22),
        method=RegistrationMethod.PIN,
        message_id=None,
        delivery=Delivery.NONE,
    )


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_r14_the_qr_code_in_the_preview_scans_from_the_screen(app, size):
    """What the terminal shows (characters and colours as drawn) decodes to the portal URL."""
    async with app.run_test(size=size) as pilot:
        result, _ = issue_family(authenticate("maria", "training1"), "Testkiddo")
        await open_preview(app, pilot, result)
        assert decode_qr(screen_image(app)) == [app.desk.practice.portal_url]


async def test_r14_five_siblings_preview_at_80x24_still_scans_and_shows_the_first_pins(app):
    async with app.run_test(size=(80, 24)) as pilot:
        result = five_siblings()
        await open_preview(app, pilot, result)
        assert decode_qr(screen_image(app)) == [app.desk.practice.portal_url]
        shown = screen_text(app)
        assert "O'Brien [Jr]" in shown and "a[/]b Núñez" in shown  # patient text is never markup
        slip = region_text(app, "#slip-text")
        assert all(issued.pin in slip for issued in result.pins)
        for name in ("Maximiliana Guadalupe Cruz", "Sofía Núñez-García"):  # wrapped between words
            assert all(word in slip for word in name.split()), name


async def test_s7_the_preview_screen_shows_each_pin_and_expiry_but_no_dob_or_chart(app):
    async with app.run_test(size=(100, 30)) as pilot:
        result, children = issue_family(authenticate("maria", "training1"), "Testkiddo")
        await open_preview(app, pilot, result)
        slip = region_text(app, "#slip-text")
        assert_minimum_necessary(slip, result, children, "PINs expire on December 22, 2026.")
        whole = screen_text(app)
        for child in children:
            assert child.chart_number not in whole
            assert not any(dob in whole for dob in written_dobs(child))


# ---------------------------------------------------------------- printing from the preview


def printer_app(desk_config, printer: FakePrinter, **config):
    """The app with the print queue "desk" set up, printing through ``printer``."""
    config = dataclasses.replace(
        desk_config, printer=dataclasses.replace(desk_config.printer, name="desk"), **config
    )
    return desk_app(config, printer=printer)


def outcome(app) -> str:
    return str(app.screen.query_one("#print-outcome", Static).render())


async def test_r14_printing_runs_beside_the_ui_and_then_shows_the_cups_job(training, desk_config):
    """While the printer has not answered, the preview still takes keys; then it names the job."""
    gate = threading.Event()
    app = printer_app(desk_config, FakePrinter(gate=gate))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_preview(app, pilot, five_siblings())
        await pilot.press("p")
        await keys_handled(app, pilot, at_once=True)
        assert outcome(app) == SENT  # at once, while the printer is still waiting on the gate
        body = app.screen.query_one("#slip-body")
        await pilot.press("end")  # the screen answers keys meanwhile
        await keys_handled(app, pilot, at_once=True)
        assert outcome(app) == SENT
        gate.set()
        await settle(app, pilot)
        assert outcome(app) == "The slip was sent to printer desk (job desk-1)."
        assert body.is_mounted


async def test_r14_a_printer_error_is_shown_in_plain_words_and_the_slip_saved(
    training, desk_config
):
    app = printer_app(
        desk_config,
        FakePrinter("Printer desk did not take the slip: the printer or class does not exist."),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await open_preview(app, pilot, five_siblings())
        await pilot.press("p")
        await settle(app, pilot)
        said = outcome(app)
        assert said.startswith(
            "Printer desk did not take the slip: the printer or class does not exist. "
            "The slip was saved as "
        )
        assert Path(re.sub(r"\.$", "", said.rsplit(" saved as ", 1)[1])).exists()


async def test_o2_training_prints_nothing_even_with_a_printer_set(training, desk_config):
    printer = FakePrinter()
    app = printer_app(desk_config, printer, training=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_preview(app, pilot, five_siblings())
        await pilot.press("p")
        await settle(app, pilot)
        assert outcome(app).startswith("Training mode: nothing is printed. The slip was saved as ")
        assert printer.jobs == []


# ---------------------------------------------------------------- a slip that cannot be saved


def test_r14_a_slip_folder_that_cannot_be_made_is_said_in_plain_words(config, tmp_path):
    """No printer and printer.output_dir unusable: a sentence for the desk, not an exception."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cfg = dataclasses.replace(config, printer=PrinterConfig(output_dir=str(blocker / "slips")))
    slip = slip_from_issue(five_siblings(), _Practice())

    done = print_slip(slip, cfg)

    assert not done.printed and done.pdf_path is None
    assert done.message.startswith(
        f"No printer is set up. The slip could not be saved in {blocker / 'slips'} ("
    )
    assert done.message.endswith("): check printer.output_dir.")


async def test_r14_the_preview_survives_a_slip_that_cannot_be_saved(training, config, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    app = desk_app(
        dataclasses.replace(config, printer=PrinterConfig(output_dir=str(blocker / "slips")))
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await open_preview(app, pilot, five_siblings())
        await pilot.press("p")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, SlipPreviewScreen)
        assert "The slip could not be saved in" in outcome(app)


@dataclasses.dataclass(frozen=True)
class _Practice:
    """What slip_from_issue reads of the practice settings, without a database."""

    name: str = "Sunny Hills Pediatrics"
    portal_url: str = "https://portal.example.org/register"
