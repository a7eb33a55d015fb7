"""R14: names are data, so the printed slip shows every name exactly as recorded, in any script
DejaVu Sans covers, with the font shipped in data/fonts/ and embedded in the PDF."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.slip.pdf import FONT_DIR, LAYOUTS, render_slip_pdf, unprintable_names

from test_slip import URL, decode_qr, make_slip, page_image, pdf_pages, pdf_text

NAMES = ("Nguyễn Thị Ánh", "Zoë O'Brien [Jr]", "Ђорђе Петровић", "Αλέξανδρος")
FIVE = (*NAMES, "Łukasz Żółć-Wiśniewski")
PINS = ("ABCDE-FGHJK", "MNPRS-TVWXY", "BCDFG-HJKLM", "NPQRS-TVWXZ", "CDEFG-HJKMN")


def flat(data: bytes, pins=()) -> str:
    """The page's text as one line: a long name may wrap, at a space or after a hyphen.

    ``pins`` are taken out first: a wrapped name's PIN sits beside its first line, so the text
    reads "Łukasz ABCDE-FGHJK Żółć-Wiśniewski".
    """
    text = pdf_text(data)
    for pin in pins:
        text = text.replace(pin, " ")
    return " ".join(re.sub(r"-\r?\n", "-", text).split())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_five_siblings_in_any_script_print_exactly_on_one_page(layout):
    data = render_slip_pdf(make_slip(children=tuple(zip(FIVE, PINS))), layout)
    assert len(pdf_pages(data)) == 1
    text = flat(data, PINS)
    assert "Portal registration for Nguyễn Thị Ánh and selected siblings" in text
    for name, pin in zip(FIVE, PINS):
        assert name in text
        assert pin in pdf_text(data)
    assert "PINs expire on December 22, 2026." in text
    assert decode_qr(page_image(data)) == [URL]


@pytest.mark.parametrize("name", NAMES)
def test_each_name_is_the_slip_title_and_its_row(name):
    """Bold (title) and regular (child row) faces both carry the name."""
    text = flat(render_slip_pdf(make_slip(children=((name, "ABCDE-FGHJK"),)), "letter"))
    assert f"Portal registration for {name} Scan" in text  # one child: no siblings named
    assert text.count(name) == 2


def test_practice_name_prints_exactly():
    slip = make_slip()
    slip = type(slip)(**{**slip.__dict__, "practice_name": "Педијатрија Нови Сад — Ärzte & Co."})
    assert "Педијатрија Нови Сад — Ärzte & Co." in flat(render_slip_pdf(slip, "a4"))


def test_a_name_typed_with_combining_accents_prints_as_the_same_letters():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    assert decomposed != "Nguyễn Thị Ánh"
    text = flat(render_slip_pdf(make_slip(children=((decomposed, "ABCDE-FGHJK"),)), "receipt"))
    assert "Nguyễn Thị Ánh" in text


def test_slips_made_one_after_another_keep_their_own_names():
    """The parsed font is shared between slips; each PDF's glyph subset must still be its own."""
    cyrillic = make_slip(children=(("Ђорђе Петровић", "ABCDE-FGHJK"),))
    greek = make_slip(children=(("Αλέξανδρος", "MNPRS-TVWXY"),))
    first = flat(render_slip_pdf(cyrillic, "letter"))
    between = flat(render_slip_pdf(greek, "letter"))
    again = flat(render_slip_pdf(cyrillic, "letter"))
    assert first == again and "Ђорђе Петровић" in again and "Αλέξανδρος" not in again
    assert "Αλέξανδρος" in between and "Ђорђе" not in between


def test_the_font_ships_with_the_app_and_is_embedded():
    assert (FONT_DIR / "LICENSE-DejaVu.txt").is_file()
    data = render_slip_pdf(make_slip(children=(("Αλέξανδρος", "ABCDE-FGHJK"),)), "letter")
    assert b"/FontFile2" in data and b"DejaVuSans" in data
    assert len(data) < 100_000  # a subset, not the whole font


# Letters of the scripts the slip promises: Latin (with Extended-A/B and Vietnamese), Greek, Cyrillic.
# Latin Extended Additional stops at U+1EFB: DejaVu Sans 2.37 has no glyphs for U+1EFC-1EFF (Middle
# Welsh V and Y with loop), which the slip preview names as unprintable like any other missing letter.
_LETTERS = st.characters(
    categories=("Lu", "Ll"),
    include_characters="-' ",
    min_codepoint=0x41,
    max_codepoint=0x1EFB,
).filter(
    lambda ch: (
        ch in "-' "
        or (
            unicodedata.normalize("NFC", ch) == ch
            and any(
                lo <= ord(ch) <= hi
                for lo, hi in ((0x41, 0x24F), (0x386, 0x3CE), (0x400, 0x4FF), (0x1E00, 0x1EFB))
            )
        )
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(_LETTERS, min_size=1, max_size=20).map(str.strip).filter(lambda s: s and "  " not in s)
)
def test_any_latin_greek_or_cyrillic_name_prints_exactly(name):
    assert name in flat(render_slip_pdf(make_slip(children=((name, "ABCDE-FGHJK"),)), "letter"))


def test_letters_the_font_lacks_are_named_not_printed_silently():
    """Found by the property test above: U+1EFC (Latin capital letter middle-Welsh V) has no glyph."""
    slip = make_slip(children=(("Ỽ", "ABCDE-FGHJK"),))
    assert unprintable_names(slip) == ["Ỽ"]


def test_names_the_font_cannot_print_are_named_and_the_rest_are_not():
    """I1: Arabic and Hebrew print in the shipped fonts; Ethiopic and Devanagari in none."""
    assert unprintable_names(make_slip(children=tuple(zip(FIVE, PINS)))) == []
    slip = make_slip(
        children=(
            ("ሰላም ተስፋዬ", PINS[0]),
            ("Zoë O'Brien [Jr]", PINS[1]),
            ("محمد علي", PINS[2]),
            ("प्रिया", PINS[3]),
            ("ሰላም ተስፋዬ", PINS[4]),
        )
    )
    assert unprintable_names(slip) == [slip.patient_name, "प्रिया"] == ["ሰላም ተስፋዬ", "प्रिया"]
