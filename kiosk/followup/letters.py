"""W2's letters: one page per family, for mailing, in the family's language.

A letter is the family's slip (R14: practice, portal address and its QR code, each child with
their PIN, the expiry date, the steps) under a greeting to the caregiver and a few words on why
it came. The PDF is drawn by kiosk.slip.pdf, the same code as the slip, in the slip's short-lived
child process (kiosk.slip.pdf_child, D1: the app never loads the PDF libraries); a saved PDF is a
slip file (S11): 0600, removed after ``printer.keep_minutes``, removed at once when it is printed.

The words are msgids of the gettext catalogs (kiosk.i18n, I1), like the slip's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from kiosk.config import Config
from kiosk.i18n import catalog
from kiosk.slip.content import SlipData
from kiosk.slip.printing import Printer


def letter_page(letter: dict, practice_name: str, portal_url: str) -> tuple[SlipData, list[str]]:
    """A sealed letter's contents (kiosk.followup.drive) as a slip and its lead paragraphs."""
    t = catalog(letter.get("language"))
    expires = dt.date.fromisoformat(letter["expires"])
    children = [(name, pin) for name, pin in letter["children"]]
    slip = SlipData(
        practice_name=practice_name,
        portal_url=portal_url,
        patient_name=letter["patient"],
        children=tuple(children),
        expires_on=expires,
        language=t.language,
        batch=letter["batch"],
        patient_ids=tuple(letter["ids"]),
    )
    from babel.lists import format_list  # "Ana, Luis and Eva" / "Ana, Luis y Eva"

    given = format_list([name.split(" ")[0] for name, _ in children], locale=t.locale)
    lead = [
        t.gettext("Dear {caregiver},").format(caregiver=letter["caregiver"]),
        t.gettext(
            "{practice} invites you to register {children} on our patient portal. Each child's "
            "PIN is below; it works until {date}. Keep this letter private: the PINs are for "
            "your family only."
        ).format(practice=practice_name, children=given, date=t.date(expires)),
    ]
    return slip, lead


def draw_letters(
    letters: list[dict],
    practice_name: str,
    portal_url: str,
    layout: str,
    fonts: Sequence[str] = (),
) -> bytes:
    """The letters' PDF, drawn in this process: the slip's child calls it
    (:func:`kiosk.slip.pdf_child.render_letters`), the app never does."""
    from kiosk.slip.pdf import render_pages

    paper = layout if layout in ("letter", "a4") else "letter"  # a receipt roll is no letter
    return render_pages(
        (letter_page(letter, practice_name, portal_url) for letter in letters), paper, fonts
    )


def print_or_save(
    letters: list[dict],
    drive_id: int,
    config: Config,
    *,
    practice_name: str,
    portal_url: str,
    print_them: bool,
    printer: Printer | None = None,
    username: str = "",
) -> tuple[Path | None, str]:
    """Make the drive's PDF, print it when asked (and a printer is set up, not in training),
    else save it as a slip file; (the saved file or None, the outcome in words)."""
    from kiosk.followup.drive import record_letters
    from kiosk.slip.pdf_child import render_letters
    from kiosk.slip.printing import CupsPrinter, save_pdf
    from kiosk.store import files

    files.remove_old_slips(config)
    pdf = render_letters(
        letters, practice_name, portal_url, config.printer.layout, config.printer.fonts
    )
    queue = config.printer.name
    tag = SlipData(practice_name, portal_url, "", (), dt.date.today(), batch=f"letters-{drive_id}")
    lead = ""
    if print_them and queue and not config.training:
        job, problem = (printer or CupsPrinter()).print_pdf(pdf, queue, f"kiosk letters {drive_id}")
        if job:
            record_letters(letters, username, "printed", "")
            return None, f"{len(letters)} letters sent to printer {queue} (job {job})."
        lead = f"{problem} "
    elif print_them:
        lead = (
            "Training mode: nothing is printed. " if config.training else "No printer is set up. "
        )
    path = save_pdf(pdf, tag, config)
    record_letters(letters, username, "saved", str(path))
    minutes = config.printer.keep_minutes
    return path, (
        f"{lead}{len(letters)} letters saved as {path}; it holds PINs and is deleted "
        f"{minutes:g} minutes after it was saved."
    )
