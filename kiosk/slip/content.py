"""The printable registration slip (R14): its words in the family's language (I1), its QR code as text.

This module stays light: the app may import it at start-up. ``segno`` is imported inside
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

from kiosk.i18n import catalog, language_of

if TYPE_CHECKING:  # for the type checker only: this module does not import the engine
    from kiosk.registration.engine import IssueResult
    from kiosk.store.practice import PracticeSettings


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
    language: str = "en"  # a kiosk.i18n language; anything else prints in English
    batch: str = ""
    patient_ids: tuple[int, ...] = ()
    # what the QR code opens when it is not the plain portal_url: the portal's registration with
    # a PIN filled in (practice.qr_url). It holds a PIN: it is printed, never logged or stored.
    qr_url: str = ""
    to_minor: bool = False  # T1: the PIN was sent to the patient: the slip speaks to the teen


def qr_target(slip: SlipData) -> str:
    """The address in the slip's QR code: ``qr_url`` when there is one, else the portal URL."""
    return slip.qr_url or slip.portal_url


def fill_qr_url(template: str, children: tuple[tuple[str, str], ...]) -> str:
    """``template`` (practice.qr_url) with ``{pin}`` replaced by the first child's PIN, so the
    QR opens the registration with it typed (the birth date is still asked); "" without a
    template or a PIN (a verification question): the QR then holds the plain portal URL."""
    from urllib.parse import quote

    pin = next((pin for _, pin in children if pin), "")
    return template.replace("{pin}", quote(pin, safe="")) if template and pin else ""


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


def slip_from_issue(
    result: IssueResult, practice: PracticeSettings, qr_template: str = ""
) -> SlipData:
    """A slip for an ``IssueResult`` (kiosk.registration.engine) and ``PracticeSettings``
    (kiosk.store.practice); ``qr_template``: practice.qr_url, the QR's address with ``{pin}``."""
    children = tuple((issued.patient_name, issued.pin) for issued in result.pins)
    return SlipData(
        practice_name=practice.name,
        portal_url=practice.portal_url,
        patient_name=result.patient_name,
        children=children,
        expires_on=result.expires_on,
        language=language_of(result.language),
        batch=result.batch,
        patient_ids=tuple(issued.patient_id for issued in result.pins),
        qr_url=fill_qr_url(qr_template, children),
        to_minor=result.to_minor,
    )


def slip_text(slip: SlipData) -> SlipText:
    t = catalog(slip.language)
    by_question = bool(slip.children) and not any(pin for _, pin in slip.children)
    # The button the parent presses on the portal page and in parent mode: the same msgid (I1).
    another = t.gettext("Add another child")
    if by_question:
        # R10: a question is redeemed with the child's last name as well (no PIN names the child)
        step2 = t.gettext(
            "Enter your child's last name, date of birth and the answer to the question we "
            "asked you."
        )
        step3 = t.gettext(
            'Registering more than one child? Choose "{button}" and repeat step 2.'
        ).format(button=another)
    else:
        step2 = t.gettext("Enter your child's date of birth and the PIN shown next to their name.")
        step3 = t.gettext(
            'Registering more than one child? Choose "{button}" and enter the next PIN.'
        ).format(button=another)
    several = len(slip.children) > 1
    title = (
        t.gettext("Portal registration for {patient} and selected siblings")
        if several
        else t.gettext("Portal registration for {patient}")
    )
    child_header = t.gettext("Child")
    if slip.to_minor:  # T1: the teen's own PIN and account, one patient, no siblings
        title, child_header = (
            t.gettext("Your own portal registration, {patient}"),
            t.gettext("Name"),
        )
        step2 = (
            t.gettext(
                "Enter your last name, date of birth and the answer to the question we asked you."
            )
            if by_question
            else t.gettext("Enter your date of birth and the PIN shown next to your name.")
        )
        step3 = t.gettext(
            "This is your own portal account, not your parent's: keep your PIN and password to "
            "yourself."
        )
    no_pin = t.gettext("answer the question")
    date = t.date(slip.expires_on)
    if by_question:  # no PIN to expire: the question's answer can be used until then
        expires = t.gettext("Register by {date}. After that, ask the front desk again.")
    elif several:  # a slip lists one child or several: two sentences say both in every language
        expires = t.gettext("PINs expire on {date}.")
    else:
        expires = t.gettext("The PIN expires on {date}.")
    return SlipText(
        title=title.format(patient=slip.patient_name),
        practice=slip.practice_name,
        url_label=t.gettext("Portal address"),
        url=slip.portal_url,
        scan=t.gettext("Scan to open the portal"),
        child_header=child_header,
        pin_header=t.gettext("PIN"),
        children=tuple((name, pin or no_pin) for name, pin in slip.children),
        expires=expires.format(date=date),
        steps_header=t.gettext("How to register"),
        steps=(
            t.gettext(
                "Scan the QR code with your phone's camera, or type the portal address into your "
                "browser."
            ),
            step2,
            step3,
        ),
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
    # segno rather than qrcode: qrcode imports Pillow's drawing and font modules for its image
    # styles even when only the matrix is asked for, 3.8 MiB of a low-spec kiosk against 1.8 (D1)
    import segno

    code = segno.make_qr(url, error="m", boost_error=False)  # the smallest version that holds it
    return [[bool(module) for module in row] for row in code.matrix]


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
