"""The printable registration slip (R14): its words in English or Spanish, and its QR code as text.

This module stays light: the app may import it at start-up. ``qrcode`` is imported inside
:func:`qr_matrix`; the PDF is made by :mod:`kiosk.slip.pdf` and printed by :mod:`kiosk.slip.printing`,
both loaded only when a slip is made.

A slip carries the practice, the portal URL, each child's name and PIN, the expiry date and the
steps for the parent. It never carries a date of birth, chart number or clinical data (S7):
:class:`SlipData` has no field that could hold them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.terms import language_of, long_date

if TYPE_CHECKING:  # for the type checker only: this module does not import the engine
    from kiosk.registration.engine import IssueResult
    from kiosk.store.practice import PracticeSettings

_WORDS = {
    "en": {
        "title": "Portal registration for {patient} and selected siblings",
        "url": "Portal address",
        "scan": "Scan to open the portal",
        "child": "Child",
        "pin": "PIN",
        "no_pin": "answer the question",
        "expires": "PINs expire on {date}.",
        "steps": "How to register",
        "step1": "Scan the QR code with your phone's camera, or type the portal address into your browser.",
        "step2": "Enter your child's date of birth and the PIN shown next to their name.",
        "step2_question": "Enter your child's date of birth and the answer to the question we asked you.",
        "step3": 'Registering more than one child? Choose "Add another child" and enter the next PIN.',
        "step3_question": 'Registering more than one child? Choose "Add another child" and repeat step 2.',
    },
    "es": {
        "title": "Registro en el portal para {patient} y hermanos seleccionados",
        "url": "Dirección del portal",
        "scan": "Escanee para abrir el portal",
        "child": "Niño(a)",
        "pin": "PIN",
        "no_pin": "responda la pregunta",
        "expires": "Los PIN vencen el {date}.",
        "steps": "Cómo registrarse",
        "step1": "Escanee el código QR con la cámara de su teléfono o escriba la dirección del portal en su navegador.",
        "step2": "Escriba la fecha de nacimiento de su hijo(a) y el PIN que aparece junto a su nombre.",
        "step2_question": "Escriba la fecha de nacimiento de su hijo(a) y la respuesta a la pregunta que le hicimos.",
        "step3": '¿Registra a más de un hijo(a)? Elija "Agregar otro hijo" y escriba el siguiente PIN.',
        "step3_question": '¿Registra a más de un hijo(a)? Elija "Agregar otro hijo" y repita el paso 2.',
    },
}


@dataclass(frozen=True)
class SlipData:
    """Everything printed on a slip, and the ids the audit trail needs (never printed)."""

    practice_name: str
    portal_url: str
    patient_name: str  # the patient registration was started from: the slip's title
    children: tuple[
        tuple[str, str], ...
    ]  # (full name, grouped PIN or "" for a verification question)
    expires_on: dt.date
    language: str = "en"  # "en" | "es"; anything else prints in English
    batch: str = ""
    patient_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SlipText:
    """The slip's words in the family's language, shared by the screen preview and the PDF."""

    title: str
    practice: str
    url_label: str
    url: str
    scan: str
    child_header: str
    pin_header: str
    children: tuple[tuple[str, str], ...]  # (name, PIN or the "answer the question" words)
    expires: str
    steps_header: str
    steps: tuple[str, str, str]


def slip_from_issue(result: IssueResult, practice: PracticeSettings) -> SlipData:
    """A slip for an ``IssueResult`` (kiosk.registration.engine) and ``PracticeSettings`` (kiosk.store.practice)."""
    return SlipData(
        practice_name=practice.name,
        portal_url=practice.portal_url,
        patient_name=result.patient_name,
        children=tuple((issued.patient_name, issued.pin) for issued in result.pins),
        expires_on=result.expires_on,
        language=language_of(result.language),
        batch=result.batch,
        patient_ids=tuple(issued.patient_id for issued in result.pins),
    )


def slip_text(slip: SlipData) -> SlipText:
    language = language_of(slip.language)
    words = _WORDS[language]
    by_question = bool(slip.children) and not any(pin for _, pin in slip.children)
    suffix = "_question" if by_question else ""
    return SlipText(
        title=words["title"].format(patient=slip.patient_name),
        practice=slip.practice_name,
        url_label=words["url"],
        url=slip.portal_url,
        scan=words["scan"],
        child_header=words["child"],
        pin_header=words["pin"],
        children=tuple((name, pin or words["no_pin"]) for name, pin in slip.children),
        expires=words["expires"].format(date=long_date(slip.expires_on, language)),
        steps_header=words["steps"],
        steps=(words["step1"], words["step2" + suffix], words["step3" + suffix]),
    )


def slip_text_lines(slip: SlipData) -> list[str]:
    """The slip as plain lines for the on-screen preview (show with markup=False)."""
    text = slip_text(slip)
    width = max([len(text.child_header), *(len(name) for name, _ in text.children)])
    return [
        text.practice,
        text.title,
        "",
        f"{text.url_label}: {text.url}",
        "",
        f"{text.child_header:<{width}}  {text.pin_header}",
        *(f"{name:<{width}}  {pin}" for name, pin in text.children),
        "",
        text.expires,
        "",
        text.steps_header,
        *(f"{n}. {step}" for n, step in enumerate(text.steps, 1)),
    ]


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code's modules (True = dark), without a quiet zone. Error correction M."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


# Two modules per character cell, top and bottom: (top dark, bottom dark) -> glyph.
_HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_lines(url: str, *, quiet_zone: int = 2, invert: bool = False) -> list[str]:
    """The QR code as text in Unicode half blocks: each line is two rows of modules.

    Glyphs draw the dark modules, so show it dark-on-light (for example a Static styled
    ``color: black; background: white`` with markup=False). For a light-on-dark console with no
    styling, pass ``invert=True``: glyphs then draw the light modules and the quiet zone.
    ``quiet_zone`` is the light margin in modules (the QR standard asks for 4; 2 scans from a
    screen and fits an 80x24 console).
    """
    matrix = qr_matrix(url)
    size = len(matrix) + 2 * quiet_zone
    light = [False] * size
    rows = [light] * quiet_zone + [
        [False] * quiet_zone + row + [False] * quiet_zone for row in matrix
    ]
    rows += [light] * quiet_zone
    if len(rows) % 2:
        rows.append(light)
    if invert:
        rows = [[not dark for dark in row] for row in rows]
    return [
        "".join(_HALF_BLOCKS[top, bottom] for top, bottom in zip(upper, lower))
        for upper, lower in zip(rows[0::2], rows[1::2])
    ]
