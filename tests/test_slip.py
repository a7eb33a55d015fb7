"""R14, S7: the registration slip's words, its QR code on screen and on paper, and its one page."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import replace

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from kiosk.slip.content import (
    SlipData,
    fill_qr_url,
    qr_lines,
    qr_target,
    slip_from_issue,
    slip_text_lines,
)
from kiosk.slip.pdf import LAYOUTS, render_slip_pdf
from kiosk.terms import long_date

from conftest import NOW, TODAY

URL = "https://portal.example.org/register"


def make_slip(
    children=(("Rosemary Testkiddo", "JFKAY-TTJYV"), ("Basil Testkiddo", "MNPRS-WXYZA")),
    language="en",
    url=URL,
) -> SlipData:
    return SlipData(
        "Sunny Hills Pediatrics",
        url,
        children[0][0],
        tuple(children),
        dt.date(2026, 12, 22),
        language,
    )


def pdf_pages(data: bytes) -> pdfium.PdfDocument:
    return pdfium.PdfDocument(data)


def pdf_text(data: bytes) -> str:
    doc = pdf_pages(data)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def decode_qr(image: Image.Image) -> list[str]:
    return [
        code.text
        for code in zxingcpp.read_barcodes(image)
        if code.format == zxingcpp.BarcodeFormat.QRCode
    ]


def page_image(data: bytes, scale: float = 2) -> Image.Image:
    return pdf_pages(data)[0].render(scale=scale).to_pil()


@pytest.fixture
def family_slip(front_desk):
    """A slip for a real issue: the Núñez-García children, family language Spanish, nothing sent."""
    from kiosk.registration.engine import IssueRequest, issue_pins
    from kiosk.store.models import Caregiver, Patient
    from kiosk.store.practice import practice_settings
    from kiosk.terms import Delivery

    children = list(
        Patient.select().where(Patient.family_name == "Núñez-García").order_by(Patient.chart_number)
    )
    ana = Caregiver.get(Caregiver.email == "ana.nunez@example.com")
    request = IssueRequest(
        patient_ids=[c.id for c in children],
        recipient_id=ana.id,
        delivery=Delivery.NONE,
        print_slip=True,
    )
    result = issue_pins(front_desk, request, now=NOW, today=TODAY)
    return slip_from_issue(result, practice_settings()), result, children


@pytest.mark.parametrize("layout", LAYOUTS)
def test_printed_qr_code_opens_the_portal_url(layout):
    """R14: the QR code on the rasterised page decodes back to the portal URL."""
    url = "https://portal.sunnyhills.example/register?practice=4411"
    data = render_slip_pdf(make_slip(url=url), layout)
    assert decode_qr(page_image(data)) == [url]


def test_slip_for_an_issue_holds_each_pin_and_the_expiry_and_no_dob_or_chart(family_slip):
    """R14, S7: every child's name and PIN and the expiry are printed; date of birth and chart are not."""
    slip, result, children = family_slip
    assert result.language == "es" and len(result.pins) == len(children) >= 2
    text = pdf_text(render_slip_pdf(slip, "letter"))
    flat = " ".join(text.split())
    assert "Registro en el portal para Sofía Núñez-García y hermanos seleccionados" in flat
    for issued in result.pins:
        assert issued.pin and issued.pin in text
        assert issued.patient_name in flat
    assert f"Los PIN vencen el {long_date(result.expires_on, 'es')}." in flat
    assert slip.portal_url.startswith("https://") and slip.portal_url in text
    for child in children:
        assert child.chart_number not in text
        for shown in (
            child.dob.isoformat(),
            f"{child.dob:%m/%d/%Y}",
            f"{child.dob.month}/{child.dob.day}/{child.dob.year}",
            long_date(child.dob, "es"),
            long_date(child.dob, "en"),
        ):
            assert shown not in flat


def test_slip_from_issue_keeps_the_batch_and_ids_for_the_audit_but_prints_neither(family_slip):
    slip, result, children = family_slip
    assert slip.batch == result.batch
    assert slip.patient_ids == tuple(c.id for c in children)
    assert result.batch not in pdf_text(render_slip_pdf(slip, "a4"))


def test_english_slip_reads_as_the_parent_needs():
    """R14: title, URL in large print, PINs, expiry and the three steps, in English."""
    flat = " ".join(pdf_text(render_slip_pdf(make_slip(), "letter")).split())
    assert "Portal registration for Rosemary Testkiddo and selected siblings" in flat
    assert "Sunny Hills Pediatrics" in flat
    assert "JFKAY-TTJYV" in flat and "MNPRS-WXYZA" in flat
    assert "PINs expire on December 22, 2026." in flat
    assert "1. Scan the QR code" in flat
    assert "2. Enter your child's date of birth and the PIN" in flat
    assert '3. Registering more than one child? Choose "Add another child"' in flat


def test_spanish_slip_is_all_spanish():
    lines = slip_text_lines(make_slip(language="es"))
    text = "\n".join(lines)
    assert lines[1] == "Registro en el portal para Rosemary Testkiddo y hermanos seleccionados"
    assert "Los PIN vencen el 22 de diciembre de 2026." in lines
    assert (
        '3. ¿Registra a más de un hijo(a)? Elija "Agregar otro hijo" y escriba el siguiente PIN.'
        in lines
    )
    for english in ("Portal registration", "expire", "Scan", "Enter your child"):
        assert english not in text
    flat = " ".join(pdf_text(render_slip_pdf(make_slip(language="es"), "receipt")).split())
    assert "Cómo registrarse" in flat and "código QR" in flat


def test_unknown_language_falls_back_to_english():
    assert slip_text_lines(make_slip(language="fr"))[1].startswith("Portal registration for")


def test_verification_question_slip_says_to_answer_the_question():
    """R10: no PIN to print, so the slip tells the parent to answer the question instead."""
    slip = make_slip(children=(("Rosemary Testkiddo", ""), ("Basil Testkiddo", "")))
    lines = slip_text_lines(slip)
    assert any(
        line.startswith("Rosemary Testkiddo") and line.endswith("answer the question")
        for line in lines
    )
    assert (  # R10: the parent types the child's last name with the answer
        "2. Enter your child's last name, date of birth and the answer to the question we asked "
        "you." in lines
    )
    assert not any("PIN" in line and "expire" in line for line in lines)  # no PIN to expire
    assert "Register by December 22, 2026. After that, ask the front desk again." in lines
    assert "answer the question" in pdf_text(render_slip_pdf(slip, "letter"))


def test_a_one_child_slip_names_no_siblings_and_its_one_pin():
    lines = slip_text_lines(make_slip(children=(("Rosemary Testkiddo", "JFKAY-TTJYV"),)))
    assert lines[1] == "Portal registration for Rosemary Testkiddo"
    assert "The PIN expires on December 22, 2026." in lines


@pytest.mark.parametrize("layout", LAYOUTS)
def test_five_siblings_with_long_names_fit_one_page(layout):
    children = [
        (f"Maximiliana Guadalupe de la Cruz-Oyelaran {n}", f"ABCDE-FGHJ{'KMNPR'[n]}")
        for n in range(5)
    ]
    data = render_slip_pdf(make_slip(children=children), layout)
    assert len(pdf_pages(data)) == 1
    text = pdf_text(data)
    for _, pin in children:
        assert pin in text
    assert "December 22, 2026" in text
    assert decode_qr(page_image(data)) == [URL]


def test_receipt_is_80_mm_wide_and_as_long_as_its_content():
    one = pdf_pages(render_slip_pdf(make_slip(children=[("Ann Lee", "ABCDE-FGHJK")]), "receipt"))[0]
    five = pdf_pages(
        render_slip_pdf(make_slip(children=[("Ann Lee", "ABCDE-FGHJK")] * 5), "receipt")
    )[0]
    mm = 72 / 25.4
    assert one.get_width() == pytest.approx(80 * mm, abs=0.1)
    assert five.get_height() > one.get_height() > 100 * mm


def test_r14_a_receipt_is_as_long_as_its_own_content_whatever_was_printed_before(monkeypatch):
    """Receipts are measured on a reused document (fonts loaded once, a fresh one after a few
    dozen): the receipts before it, long and short, change nothing about the next one's length."""
    import kiosk.slip.pdf

    monkeypatch.setattr(kiosk.slip.pdf, "_MEASURES_PER_DOCUMENT", 4)  # cross a replacement or two
    short = make_slip(children=[("Ann Lee", "ABCDE-FGHJK")])
    first = pdf_pages(render_slip_pdf(short, "receipt"))[0].get_height()
    for n in range(10):
        render_slip_pdf(make_slip(children=[("Ann Lee", "ABCDE-FGHJK")] * (1 + n % 5)), "receipt")
    assert pdf_pages(render_slip_pdf(short, "receipt"))[0].get_height() == first


def test_letter_and_a4_page_sizes():
    mm = 72 / 25.4
    assert pdf_pages(render_slip_pdf(make_slip(), "letter"))[0].get_size() == pytest.approx(
        (612, 792), abs=0.1
    )
    assert pdf_pages(render_slip_pdf(make_slip(), "a4"))[0].get_size() == pytest.approx(
        (210 * mm, 297 * mm), abs=0.1
    )


def test_unknown_layout_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="letter, a4, receipt"):
        render_slip_pdf(make_slip(), "legal")


def test_patient_text_is_shown_exactly_in_the_preview():
    """Patient text is data, never markup: brackets survive untouched."""
    slip = make_slip(children=[("O'Brien [Jr] a[/]b", "ABCDE-FGHJK")])
    lines = slip_text_lines(slip)
    assert "Portal registration for O'Brien [Jr] a[/]b" in lines
    assert any(
        line.startswith("O'Brien [Jr] a[/]b") and line.endswith("ABCDE-FGHJK") for line in lines
    )
    assert "Portal address: https://portal.example.org/register" in lines


def render_half_blocks(lines: list[str], *, invert: bool = False, scale: int = 8) -> Image.Image:
    """Draw the text QR the way a console shows it: each cell is two pixels high, top and bottom."""
    top = {" ": 0, "▀": 1, "▄": 0, "█": 1}
    bottom = {" ": 0, "▀": 0, "▄": 1, "█": 1}
    width, height = len(lines[0]), 2 * len(lines)
    image = Image.new("L", (width, height), 255)
    for y, line in enumerate(lines):
        for x, ch in enumerate(line):
            for dy, drawn in ((0, top[ch]), (1, bottom[ch])):
                if drawn != invert:
                    image.putpixel((x, 2 * y + dy), 0)
    return image.resize((width * scale, height * scale), Image.NEAREST)


@pytest.mark.parametrize("invert", [False, True])
def test_screen_qr_scans_back_to_the_portal_url(invert):
    lines = qr_lines(URL, invert=invert)
    assert decode_qr(render_half_blocks(lines, invert=invert)) == [URL]


def test_screen_qr_is_square_with_a_quiet_zone_and_fits_a_small_console():
    lines = qr_lines(URL)
    assert len({len(line) for line in lines}) == 1
    width = len(lines[0])
    assert abs(2 * len(lines) - width) <= 1  # two modules per line: square on screen
    assert lines[0] == " " * width and lines[-1].strip("▀ ") == ""
    assert all(line[:2] == "  " and line[-2:] == "  " for line in lines)
    assert width <= 40 and len(lines) <= 20  # leaves room for the slip text at 80x24
    assert set("".join(lines)) <= set(" ▀▄█")


def test_importing_the_slip_loads_neither_the_qr_library_nor_fpdf():
    """Start-up stays fast: the QR and PDF libraries load only when a slip is made."""
    code = (
        "import sys, kiosk.slip.content, kiosk.slip.pdf, kiosk.slip.printing; "
        "print(sorted(m for m in ('segno', 'fpdf', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# -- practice.qr_url: the QR opens the registration with the PIN filled in ---------------------

QR_TEMPLATE = URL + "?pin={pin}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_r14_a_qr_url_template_puts_the_first_pin_in_the_printed_qr(layout):
    """R14, P2: with practice.qr_url the printed QR decodes to the page with the first child's PIN
    (the page's ?pin= parameter); the printed address stays the plain portal URL."""
    slip = make_slip()
    slip = replace(slip, qr_url=fill_qr_url(QR_TEMPLATE, slip.children))
    data = render_slip_pdf(slip, layout)
    assert decode_qr(page_image(data)) == [URL + "?pin=JFKAY-TTJYV"]
    text = pdf_text(data)
    assert URL in text and "?pin=" not in text


@pytest.mark.parametrize("invert", [False, True])
def test_r14_the_screen_qr_with_a_pin_still_scans_and_fits_the_console(invert):
    slip = make_slip()
    target = qr_target(replace(slip, qr_url=fill_qr_url(QR_TEMPLATE, slip.children)))
    lines = qr_lines(target, invert=invert)
    assert decode_qr(render_half_blocks(lines, invert=invert)) == [URL + "?pin=JFKAY-TTJYV"]
    assert len(lines[0]) <= 40 and len(lines) <= 20


def test_r14_without_a_template_or_a_pin_the_qr_holds_the_plain_portal_url():
    question = (("Rosemary Testkiddo", ""),)
    assert fill_qr_url(QR_TEMPLATE, question) == "" and fill_qr_url("", make_slip().children) == ""
    assert qr_target(make_slip()) == URL
    data = render_slip_pdf(make_slip(children=question), "letter")
    assert decode_qr(page_image(data)) == [URL]


def test_r14_the_desk_fills_the_template_from_its_settings(family_slip, config):
    from kiosk.config import PracticeConfig

    from conftest import desk

    _, result, _ = family_slip
    plain = desk(config).slip_for(result)
    assert plain.qr_url == "" and qr_target(plain) == plain.portal_url
    templated = replace(config, practice=PracticeConfig(qr_url=QR_TEMPLATE))
    slip = desk(templated).slip_for(result)
    assert slip.qr_url == f"{URL}?pin={result.pins[0].pin}"


def test_r14_the_qr_template_must_hold_the_pin_placeholder_once():
    from kiosk.config import ConfigError, config_from_mapping

    config = config_from_mapping({"practice": {"qr_url": QR_TEMPLATE}})
    assert config.practice.qr_url == QR_TEMPLATE
    for bad in (URL, URL + "?pin={pin}&again={pin}", URL + "?pin={PIN}", "portal/{pin}"):
        with pytest.raises(ConfigError, match="practice.qr_url"):
            config_from_mapping({"practice": {"qr_url": bad}})
