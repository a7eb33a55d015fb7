"""I1: the slip and the letters print each family's names in their own script: Latin, Cyrillic and
Greek in DejaVu Sans, Arabic and Hebrew in the shipped Noto fonts, shaped (joined, right to left),
and Chinese, Japanese and Korean with the CJK extra (Debian's fonts-noto-cjk) when installed.

The text is read back with pdfium (pypdfium2), which puts a right-to-left line back in reading
order. It orders a line by the direction most of its letters have, and a name's PIN sits on the
name's line, so the PIN column is taken off the page before the names are read: what is left
is the text as printed, in the order a reader reads it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest

from kiosk.config import ConfigError, config_from_mapping
from kiosk.slip.content import SlipData
from kiosk.slip.pdf import (
    DEFAULT_FONTS,
    FONT_DIR,
    LAYOUTS,
    font_path,
    render_pages,
    render_slip_pdf,
    unprintable_names,
)

from conftest import needs
from test_slip import URL, decode_qr, page_image

PIN = "JFKAY-TTJYV"
SCRIPTS = {
    "Latin": "Zoë Núñez-García",
    "Cyrillic": "Дмитрий Иванов",
    "Greek": "Γιώργος Παππάς",
    "Arabic": "محمد العلي",
    "Arabic, four words": "عبد الله بن محمد",
    "Hebrew": "יעל כהן",
    "Hebrew with a hyphen": "דוד בן-חיים",
    "Latin and Arabic": "Sofía محمد",
}
CJK = {"Chinese": "王小明", "Korean": "김민준", "Japanese": "さくら"}
CJK_EXTRA = font_path(DEFAULT_FONTS[0])[0]
NO_CJK = [str(FONT_DIR / "DejaVuSans-Subset.ttf")]  # printer.fonts without the CJK extra


def slip_for(*names: str, patient: str = "Rosemary Testkiddo") -> SlipData:
    return SlipData(
        "Sunny Hills Pediatrics",
        URL,
        patient,
        tuple((name, PIN) for name in names),
        dt.date(2026, 12, 22),
    )


def names_column(data: bytes, page: int = 0) -> list[str]:
    """The page's lines once the PIN column (every text right of the middle) is taken off."""
    sheet = pdfium.PdfDocument(data)[page]
    width, _ = sheet.get_size()
    for item in list(sheet.get_objects()):
        if item.type == pdfium_raw.FPDF_PAGEOBJ_TEXT and item.get_bounds()[0] > width / 2:
            sheet.remove_obj(item)
    sheet.gen_content()
    return [line.strip() for line in sheet.get_textpage().get_text_range().splitlines()]


def embedded_fonts(data: bytes) -> set[str]:
    """The subset fonts a PDF embeds, by name (fpdf2 names them ``XXXXXX+Name``)."""
    return {name.decode() for name in re.findall(rb"/BaseFont /\w+\+(\w+)", data)}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_i1_names_in_latin_cyrillic_greek_arabic_and_hebrew_read_back_exactly(layout):
    data = render_slip_pdf(slip_for(*SCRIPTS.values()), layout)
    lines = names_column(data)
    assert [name for name in SCRIPTS.values() if name not in lines] == []
    assert len(pdfium.PdfDocument(data)) == 1
    assert decode_qr(page_image(data)) == [URL]  # shaping the page leaves the QR as it was


@pytest.mark.parametrize("layout", LAYOUTS)
def test_i1_cjk_names_read_back_exactly_with_the_cjk_extra(layout):
    if not CJK_EXTRA.is_file():
        needs("the CJK extra (Debian's fonts-noto-cjk) is not installed")
    data = render_slip_pdf(slip_for(*CJK.values(), SCRIPTS["Arabic"]), layout)
    lines = names_column(data)
    assert [name for name in (*CJK.values(), SCRIPTS["Arabic"]) if name not in lines] == []


def test_i1_a_right_to_left_name_is_drawn_right_to_left():
    """The first letter of a Hebrew name is the rightmost one on paper (Unicode bidi)."""
    data = render_slip_pdf(slip_for("יעל"), "letter")
    sheet = pdfium.PdfDocument(data)[0]
    text = sheet.get_textpage()
    everything = text.get_text_range()
    first, last = everything.index("י"), everything.index("ל")
    assert text.get_charbox(first)[0] > text.get_charbox(last)[0]


def test_i1_the_title_carries_an_arabic_patient_name_in_bold():
    name = SCRIPTS["Arabic"]
    data = render_slip_pdf(slip_for(name, patient=name), "letter")
    assert name in names_column(data)
    assert {"NotoSansArabic", "NotoSansArabicBold"} <= embedded_fonts(data)  # both faces
    latin = render_slip_pdf(slip_for(SCRIPTS["Latin"]), "letter")
    assert embedded_fonts(latin) == {"DejaVuSansBook", "DejaVuSansBold"}  # no fallback needed


def test_i1_letters_print_the_names_in_their_script():
    """W2's letters are slips with a lead: a drive's pages need different scripts."""
    pages = [
        (slip_for(SCRIPTS["Hebrew"]), ["Dear parent,"]),
        (slip_for(SCRIPTS["Arabic"]), ["Dear parent,"]),
        (slip_for(SCRIPTS["Latin"]), ["Dear parent,"]),
    ]
    data = render_pages(pages, "letter")
    for number, name in enumerate((SCRIPTS["Hebrew"], SCRIPTS["Arabic"], SCRIPTS["Latin"])):
        assert name in names_column(data, number)


def test_i1_the_desk_is_told_of_names_no_font_can_print():
    amharic, hindi = "ሰላም ተስፋዬ", "प्रिया शर्मा"  # Ethiopic and Devanagari: no font for them
    slip = slip_for(SCRIPTS["Arabic"], amharic, CJK["Chinese"], SCRIPTS["Hebrew"], hindi)
    assert unprintable_names(slip, NO_CJK) == [amharic, CJK["Chinese"], hindi]
    if CJK_EXTRA.is_file():
        assert unprintable_names(slip) == [amharic, hindi]


def test_i1_a_font_list_names_files_that_exist(tmp_path):
    font = tmp_path / "Extra.ttf"
    font.write_bytes((FONT_DIR / "NotoSansHebrew-Regular.ttf").read_bytes())
    config = config_from_mapping({"printer": {"fonts": [str(font)]}})
    assert config.printer.fonts == (str(font),)
    assert config_from_mapping({}).printer.fonts == ()  # the default: the CJK extra if installed
    for bad in ([str(tmp_path / "missing.ttf")], [str(tmp_path)], "x.woff2", 5):
        with pytest.raises(ConfigError, match="printer.fonts"):
            config_from_mapping({"printer": {"fonts": bad}})


def test_i1_the_shipped_fonts_come_with_their_licence():
    for name in ("NotoSansArabic", "NotoSansHebrew"):
        for style in ("Regular", "Bold"):
            assert (FONT_DIR / f"{name}-{style}.ttf").is_file()
    assert "SIL Open Font License" in (FONT_DIR / "LICENSE-Noto.txt").read_text(encoding="utf-8")
    assert font_path("/x/Font.ttc#4") == (Path("/x/Font.ttc"), 4)
