"""The slip as a one-page PDF (R14): Letter, A4, or an 80 mm receipt for thermal printers.

fpdf2 is imported inside :func:`render_slip_pdf`, so importing this module costs nothing. The QR
code is drawn as vector squares from the QR code's matrix, sharp at any printer resolution.

Text is set in DejaVu Sans, shipped in data/fonts/ and embedded (subset) in each PDF, so a name
prints exactly as recorded: Latin with any accent (Vietnamese included), Greek, Cyrillic and the
other scripts DejaVu Sans covers. Text is printed in NFC form (canonically the same text), so a
name typed with combining accents prints each letter as one glyph. Only the PIN, always ASCII,
uses the core Courier font, for its fixed-width letters. Two faces ship, regular and bold (no
italic). DejaVu Sans is wider than Helvetica, so the portal address and the expiry line step down
in size (never below body text) to stay on one line.

Names in other scripts (I1) print in fallback fonts, tried in order for each letter DejaVu Sans
lacks: Noto Sans Arabic and Noto Sans Hebrew (shipped, regular and bold), then the fonts in
``printer.fonts`` (by default Noto Sans CJK from Debian's fonts-noto-cjk, the optional CJK extra,
when it is installed). A page that needs one is set with fpdf2's text shaping (HarfBuzz, through
uharfbuzz): Arabic letters join, marks are placed, and right-to-left runs read right to left
(Unicode bidi) inside a left-to-right slip. Fonts are added to a document only when its text
needs them, so a Latin slip costs what it did. A name with a letter no font has is named by
:func:`unprintable_names` before printing, so the desk can write it by hand.

Only fpdf2's public font API is used (``add_font``, ``set_font``, ``set_fallback_fonts``,
``set_text_shaping``); which letters the faces cover is read once from the font files' own
character maps with fontTools (:func:`_covered_codepoints`, :func:`_faces`).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk import DATA_DIR
from kiosk.slip.content import SlipData, SlipText, qr_matrix, qr_target, slip_text

if TYPE_CHECKING:  # fpdf2 is imported only when a slip is drawn
    from fpdf import FPDF

FONT_DIR = DATA_DIR / "fonts"
_FONT = "DejaVuSans"  # the family name given to fpdf2
_FONT_FILES = {
    "": "DejaVuSans-Subset.ttf",
    "B": "DejaVuSans-Bold-Subset.ttf",
}  # style -> file in FONT_DIR

# I1: the shipped fallbacks, whole and unmodified (SIL OFL), each with its bold beside it
_SHIPPED_FALLBACKS = ("NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf")
# printer.fonts when it is empty: the CJK extra, Debian's fonts-noto-cjk, when installed. "#2" is
# the face in the collection: Noto Sans CJK SC (every face has Kana and Hangul; Han forms differ)
DEFAULT_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#2",)

LAYOUTS = ("letter", "a4", "receipt")


@dataclass(frozen=True)
class _Layout:
    width: float  # mm
    height: float  # mm; 0 means as long as the content (receipt roll)
    margin: float
    qr: float  # side of the QR code, quiet zone included
    body: float  # font sizes in points
    title: float
    url: float
    pin: float
    line: float  # line height in mm for body text


_LAYOUTS = {
    "letter": _Layout(215.9, 279.4, 20, 60, 12, 18, 20, 16, 6.0),
    "a4": _Layout(210.0, 297.0, 20, 60, 12, 18, 20, 16, 6.0),
    "receipt": _Layout(80.0, 0, 4, 46, 9, 12, 12, 12, 4.2),
}
_QR_QUIET_ZONE = 4  # modules, as the QR standard asks for on paper
_ROLL = 1000.0  # mm: the page a receipt is first drawn on to measure its length


@dataclass(frozen=True)
class _Face:
    """A fallback font (I1): the family name given to fpdf2, its files and what it covers."""

    family: str
    regular: Path
    bold: Path | None  # None: bold text in this script prints in the regular face
    number: int  # the face in a .ttc collection
    covered: frozenset[int]


def font_path(entry: str) -> tuple[Path, int]:
    """A ``printer.fonts`` entry as (file, face number): ``FILE`` or ``FILE.ttc#N``."""
    name, _, number = entry.rpartition("#") if "#" in entry else (entry, "", "0")
    return Path(name).expanduser(), int(number) if number.isdigit() else 0


@cache
def _faces(fonts: tuple[str, ...] = ()) -> tuple[_Face, ...]:
    """The fallback fonts in the order they are tried: the shipped ones, then ``fonts``
    (printer.fonts; empty: :data:`DEFAULT_FONTS`), each only when its file is there."""
    from fontTools.ttLib import TTFont

    entries = [str(FONT_DIR / name) for name in _SHIPPED_FALLBACKS] + list(fonts or DEFAULT_FONTS)
    faces: list[_Face] = []
    for entry in entries:
        path, number = font_path(entry)
        if not path.is_file():
            continue  # the optional CJK extra is not installed: its names are reported instead
        bold = path.with_name(path.name.replace("Regular", "Bold"))
        with TTFont(path, lazy=True, fontNumber=number) as font:
            covered = frozenset(font.getBestCmap())
        faces.append(
            _Face(
                f"Fallback{len(faces)}",
                path,
                bold if "Regular" in path.name and bold.is_file() else None,
                number,
                covered,
            )
        )
    return tuple(faces)


def _use_fonts(pdf: FPDF, fonts: tuple[str, ...], values: Iterable[str]) -> None:
    """Add the fallback fonts this page's text needs to ``pdf`` (once per document) and shape the
    page when it has a letter DejaVu Sans lacks (joining, marks, right to left); a page without
    one is set as before, without reading any fallback font."""
    missing = {ord(ch) for value in values for ch in _nfc(value)} - _covered_codepoints()
    faces = _faces(fonts) if missing else ()
    for face in faces:
        if not missing & face.covered:
            continue
        if face.family.lower() not in pdf.fonts:
            pdf.add_font(face.family, "", face.regular, collection_font_number=face.number)
            if face.bold is not None:
                pdf.add_font(face.family, "B", face.bold, collection_font_number=face.number)
    added = [face.family for face in faces if face.family.lower() in pdf.fonts]
    # exact_match False: a script without a bold face prints its bold text in the regular one
    pdf.set_fallback_fonts(added, exact_match=False)
    pdf.set_text_shaping(bool(missing))


def _slip_values(text: SlipText, lead: Sequence[str] = ()) -> list[str]:
    """Every string drawn on the page with DejaVu Sans."""
    return [
        text.title,
        text.practice,
        text.url_label,
        text.url,
        text.scan,
        text.child_header,
        text.pin_header,
        *(part for row in text.children for part in row),
        text.expires,
        text.steps_header,
        *text.steps,
        *lead,
    ]


def unprintable_names(slip: SlipData, fonts: Sequence[str] = ()) -> list[str]:
    """The names on the slip (practice, title, children), each once, with a letter no font has a
    glyph for; [] when everything prints. ``fonts`` is printer.fonts (I1): without the CJK extra
    installed, Chinese, Japanese and Korean names would print as empty boxes, so the desk is told
    before printing and can write those names on the slip by hand."""
    names = dict.fromkeys(
        [slip.practice_name, slip.patient_name, *(name for name, _ in slip.children)]
    )
    missing = {ord(ch) for name in names for ch in _nfc(name) if not ch.isspace()}
    missing -= _covered_codepoints()
    # The fallback fonts are read only for a name DejaVu Sans lacks a letter of: reading the CJK
    # font's character map costs a desk ~35 MiB it never gets back (benchmarks/lowspec.py).
    if missing:
        faces = _faces(tuple(fonts))
        missing = {cp for cp in missing if not any(cp in face.covered for face in faces)}
    return [name for name in names if any(ord(ch) in missing for ch in _nfc(name))]


def render_slip_pdf(slip: SlipData, layout: str = "letter", fonts: Sequence[str] = ()) -> bytes:
    """The slip as PDF bytes, always one page. ``layout`` is letter, a4 or receipt; ``fonts`` is
    printer.fonts, the fallback fonts for scripts the shipped ones lack (I1)."""
    if layout not in _LAYOUTS:
        raise ValueError(f"slip layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    spec = _LAYOUTS[layout]
    text = slip_text(slip)
    matrix = qr_matrix(qr_target(slip))
    # a receipt is cut where it ends
    height = spec.height or _receipt_length(spec, text, matrix, tuple(fonts))
    pdf = _document(spec, height, text.title)
    _use_fonts(pdf, tuple(fonts), _slip_values(text))
    _draw(pdf, spec, text, matrix)
    return bytes(pdf.output())


def render_pages(
    pages: Iterable[tuple[SlipData, Sequence[str]]],
    layout: str = "letter",
    fonts: Sequence[str] = (),
) -> bytes:
    """Several slips in one PDF, a page each, each after its own lead lines (a letter's greeting
    and introduction, W2). The QR code is one image embedded once and placed on every page:
    ten thousand letters with a few hundred vector squares each would take most of a minute
    to draw and make the file ten times larger."""
    if layout not in ("letter", "a4"):
        raise ValueError(f"letters are printed on letter or a4 paper, not {layout!r}")
    spec = _LAYOUTS[layout]
    pdf: FPDF | None = None
    codes: dict[str, tuple[list[list[bool]], Any]] = {}
    for slip, lead in pages:
        text = slip_text(slip)
        if pdf is None:
            pdf = _document(spec, spec.height, text.practice)
        url = qr_target(slip)
        if url not in codes:
            matrix = qr_matrix(url)
            codes[url] = matrix, _qr_image(matrix)
        matrix, image = codes[url]
        _use_fonts(pdf, tuple(fonts), _slip_values(text, lead))
        _draw(pdf, spec, text, matrix, lead, image)
    if pdf is None:
        raise ValueError("no letters to print")
    return bytes(pdf.output())


def _qr_image(matrix: list[list[bool]], pixels: int = 12) -> Any:
    """The QR code as a black-and-white image, ``pixels`` a module: 12 is over 300 dpi at 60 mm,
    as sharp as the printer prints."""
    from PIL import Image

    size = len(matrix)
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    return image.resize((size * pixels, size * pixels), Image.Resampling.NEAREST)


def _document(spec: _Layout, height: float, title: str) -> FPDF:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format=(spec.width, height))
    pdf.set_auto_page_break(False)
    pdf.set_margins(spec.margin, spec.margin, spec.margin)
    pdf.set_creator("kiosk")
    pdf.set_title(_nfc(title))
    for style, name in _FONT_FILES.items():
        pdf.add_font(_FONT, style, FONT_DIR / name)
    return pdf


_MEASURES_PER_DOCUMENT = 64
_measuring = threading.Lock()
_measurers: dict[_Layout, tuple[FPDF, int]] = {}


def _receipt_length(
    spec: _Layout, text: SlipText, matrix: list[list[bool]], fonts: tuple[str, ...]
) -> float:
    """Where a receipt's content ends (mm, bottom margin included): drawn on a roll-long page of a
    document that is never written out. Loading the fonts costs more than drawing, so one such
    document measures 64 receipts (a page each) before a fresh one replaces it."""
    with _measuring:  # print and preview workers may measure at once
        measurer = _measurers.get(spec)
        if measurer is None or measurer[1] >= _MEASURES_PER_DOCUMENT:
            measurer = (_document(spec, _ROLL, ""), 0)
        pdf, uses = measurer
        _measurers[spec] = (pdf, uses + 1)
        _use_fonts(pdf, fonts, _slip_values(text))
        return _draw(pdf, spec, text, matrix) + spec.margin


def _draw(
    pdf: FPDF,
    spec: _Layout,
    text: SlipText,
    matrix: list[list[bool]],
    lead: Sequence[str] = (),
    qr_image: Any = None,
) -> float:
    """Draw the slip on a new page of ``pdf``, ``lead`` paragraphs under the practice's name;
    the height its content takes, in mm. The QR code is drawn as vector squares, or given
    ``qr_image`` (:func:`_qr_image`), placed as that image."""
    from fpdf.enums import Align, XPos, YPos

    pdf.add_page()
    inner = spec.width - 2 * spec.margin
    left = spec.margin
    line = spec.line
    nl_x, nl_y = XPos.LMARGIN, YPos.NEXT  # after a cell: the next line, at the left margin

    def write(
        size: float, value: str, style: str = "", align: Align = Align.C, h: float = 0
    ) -> None:
        pdf.set_font(_FONT, style, size)
        _paragraph(pdf, inner, h or size * 0.45, _nfc(value), align)

    write(spec.body + 1, text.practice, "B")
    pdf.ln(line * 0.3)
    for paragraph in lead:
        write(spec.body, paragraph, align=Align.L, h=line * 0.9)
        pdf.ln(line * 0.3)
    write(spec.title, text.title, "B")
    pdf.ln(line * 0.5)
    pdf.set_line_width(0.3)
    pdf.line(left, pdf.get_y(), left + inner, pdf.get_y())
    pdf.ln(line * 0.5)

    # The QR code, centred, with its quiet zone left white.
    modules = len(matrix) + 2 * _QR_QUIET_ZONE
    unit = spec.qr / modules
    x0 = left + (inner - spec.qr) / 2 + _QR_QUIET_ZONE * unit
    y0 = pdf.get_y() + _QR_QUIET_ZONE * unit
    pdf.set_fill_color(0, 0, 0)
    if qr_image is not None:  # one image the whole document shares (letters, W2)
        side = len(matrix) * unit
        pdf.image(qr_image, x0, y0, side, side)
    for r, row in enumerate(matrix if qr_image is None else ()):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(x0 + start * unit, y0 + r * unit, (c - start) * unit, unit, style="F")
            else:
                c += 1
    pdf.set_y(pdf.get_y() + spec.qr - _QR_QUIET_ZONE * unit * 0.5)
    write(spec.body, text.scan, h=line)
    pdf.ln(line * 0.5)

    write(spec.body, text.url_label, h=line)
    write(_fitting_size(pdf, text.url, "B", spec.url, spec.body, inner), text.url, "B")
    pdf.ln(line)

    # The children and their PINs: name on the left (wrapping), PIN on the right.
    pdf.set_font("Courier", "B", spec.pin)
    pin_width = pdf.get_string_width("MMMMM-MMMMM") + 2
    name_width = inner - pin_width
    pdf.set_font(_FONT, "B", spec.body)
    pdf.cell(name_width, line, _nfc(text.child_header))
    pdf.cell(pin_width, line, _nfc(text.pin_header), align=Align.R, new_x=nl_x, new_y=nl_y)
    pdf.set_line_width(0.2)
    pdf.line(left, pdf.get_y(), left + inner, pdf.get_y())
    row_height = max(line, spec.pin * 0.5)
    for name, pin in text.children:
        top = pdf.get_y() + 1
        pdf.set_xy(left + name_width, top)
        pdf.set_font(*(("Courier", "B", spec.pin) if _is_pin(pin) else (_FONT, "", spec.body)))
        pdf.cell(pin_width, row_height, _nfc(pin), align=Align.R)
        pdf.set_xy(left, top)
        pdf.set_font(_FONT, "", spec.body + 1)
        name = _nfc(name)
        one_line = pdf.get_string_width(name) <= name_width - 2 * pdf.c_margin
        pdf.multi_cell(
            name_width,
            row_height if one_line else line,
            name,
            align=Align.L,
            new_x=nl_x,
            new_y=nl_y,
        )
        pdf.set_y(max(pdf.get_y(), top + row_height) + 1)
        pdf.line(left, pdf.get_y(), left + inner, pdf.get_y())
    pdf.ln(line * 0.6)
    write(
        _fitting_size(pdf, text.expires, "B", spec.body + 1, spec.body, inner),
        text.expires,
        "B",
        align=Align.L,
        h=line,
    )
    pdf.ln(line * 0.6)

    write(spec.body + 1, text.steps_header, "B", align=Align.L, h=line)
    number_width = spec.body * 0.5
    pdf.set_font(_FONT, "", spec.body)
    for n, step in enumerate(text.steps, 1):
        pdf.cell(number_width, line, f"{n}.")
        _paragraph(pdf, inner - number_width, line, _nfc(step), Align.L)
    return pdf.get_y()


def _paragraph(pdf: FPDF, width: float, h: float, value: str, align: Any) -> None:
    """``value`` in lines of ``width`` from the current x, one cell a line, then the next line at
    the left margin: what ``multi_cell`` does, with the words measured once per font (a drive's
    letters repeat the same words thousands of times, and multi_cell measures each line letter by
    letter). A word wider than a line is left to multi_cell, which breaks it."""
    from fpdf.enums import Align, XPos, YPos

    x = pdf.get_x()
    room = width - 2 * pdf.c_margin
    font = (pdf.font_family, pdf.font_style, pdf.font_size_pt)
    words = value.split(" ")
    sizes = [_word_width(pdf, font, word) for word in words]
    if max(sizes, default=0) > room or "\n" in value:
        pdf.multi_cell(width, h, value, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    space = _word_width(pdf, font, " ")
    lines: list[tuple[list[str], float]] = [([], 0.0)]
    for word, size in zip(words, sizes):
        on_line, used = lines[-1]
        if on_line and used + space + size > room:
            lines.append(([], 0.0))
            on_line, used = lines[-1]
        on_line.append(word)
        lines[-1] = (on_line, size if len(on_line) == 1 else used + space + size)
    # A page set without shaping (every letter in DejaVu Sans) places each line itself: fpdf2's
    # text() at the baseline cell() would use, a fraction of cell()'s cost. Shaped pages (other
    # scripts, fallback fonts) go through cell(), which shapes.
    plain = not pdf.text_shaping
    for on_line, used in lines:
        line = " ".join(on_line)
        if plain:
            if align == Align.C:
                dx = (width - used) / 2
            elif align == Align.R:
                dx = width - pdf.c_margin - used
            else:
                dx = pdf.c_margin
            top = pdf.get_y()
            pdf.text(x + dx, top + 0.5 * h + 0.3 * pdf.font_size, line)
            pdf.set_xy(pdf.l_margin, top + h)
        else:
            pdf.set_x(x)
            pdf.cell(width, h, line, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


_widths: dict[tuple[str, str, float, str], float] = {}


def _word_width(pdf: FPDF, font: tuple[str, str, float], word: str) -> float:
    key = (*font, word)
    width = _widths.get(key)
    if width is None:
        if len(_widths) > 100_000:  # names vary without end: keep the cache bounded
            _widths.clear()
        width = _widths[key] = pdf.get_string_width(word)
    return width


def _fitting_size(
    pdf: FPDF, value: str, style: str, largest: float, smallest: float, width: float
) -> float:
    """The largest font size from ``largest`` down to ``smallest`` at which ``value`` fits one line."""
    size = largest
    pdf.set_font(_FONT, style, size)
    while size > smallest and pdf.get_string_width(_nfc(value)) > width - 2 * pdf.c_margin:
        size = max(smallest, size - 1)
        pdf.set_font(_FONT, style, size)
    return size


def _is_pin(value: str) -> bool:
    return len(value) == 11 and value[5] == "-" and value.replace("-", "").isalpha()


def _nfc(value: str) -> str:
    """The text as recorded, in composed form: one glyph per accented letter."""
    return unicodedata.normalize("NFC", value)


@cache
def _covered_codepoints() -> frozenset[int]:
    """The characters both faces (regular and bold) have a glyph for, from their character maps."""
    from fontTools.ttLib import TTFont

    def cmap(name: str) -> frozenset[int]:
        with TTFont(FONT_DIR / name, lazy=True) as font:
            return frozenset(font.getBestCmap())

    return frozenset.intersection(*(cmap(name) for name in _FONT_FILES.values()))
