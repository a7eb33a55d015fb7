"""Turning the text of a practice's records into kiosk's values: phone, email, sex, language.

Names and birth dates are checked by :mod:`kiosk.validate`, as everywhere else."""

from __future__ import annotations

import reprlib
from collections.abc import Callable

from kiosk import validate
from kiosk.people.contact import normalize_email, normalize_us_cell
from kiosk.validate import InputProblem


class BadValue(InputProblem):
    """A value that cannot be imported; the message says why, in the user's words."""

    def __init__(self, message: str):
        super().__init__("", message)


def text(value: str | None, label: str, limit: int = validate.NAME) -> str:
    """A name (or chart number) as :func:`kiosk.validate.clean_text` takes it; InputProblem naming
    ``label`` when it has a control character or is too long."""
    return validate.clean_text(value, field=label, label=label, limit=limit)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 40, 40


def shown(value: object, width: int = 40) -> str:
    """A value quoted for the report, cut short: a 10 MB field or a JSON object nested a thousand
    deep makes one short line."""
    if isinstance(value, str):
        return (
            repr(value)
            if len(value) <= width
            else repr(value[:width]) + f"... ({len(value)} characters)"
        )
    return _REPR.repr(value)


def digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def us_cell(text: str | None) -> str:
    """A US 10-digit number ("(555) 555-2003", "+1 555 555 2003", "tel:555.555.2003"), or "" when it
    is not one. The digits are checked by kiosk.people.contact, the same check registration makes (R7)."""
    return normalize_us_cell(digits(text)) or ""


def email_address(text: str | None) -> str:
    """The address as kiosk.people.contact accepts it (so registration will take it too), or ""."""
    text = (text or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return normalize_email(text) or ""


SEXES = {
    "f": "F",
    "female": "F",
    "m": "M",
    "male": "M",
    "o": "O",
    "other": "O",
    "u": "U",
    "unknown": "U",
}


def contact(
    raw_cell: str, raw_email: str, warn: Callable[[str], None], *, cell_label: str = "cell"
) -> tuple[str, str]:
    """(cell, email) as kiosk stores them; one that is not usable is left blank, with a warning
    naming it as the source does (``cell_label``: "cell" for a CSV column, "phone" for FHIR)."""
    cell, email = us_cell(raw_cell), email_address(raw_email)
    if raw_cell and not cell:
        blank = "left blank" if cell_label == "cell" else "cell left blank"
        warn(f"{cell_label} {shown(raw_cell)} is not a US 10-digit number; {blank}")
    if raw_email and not email:
        warn(f"email {shown(raw_email)} is not an email address; left blank")
    return cell, email


def sex_code(text: str | None) -> str | None:
    """F, M, O or U; None when the record does not say; BadValue for anything else."""
    text = (text or "").strip().lower()
    if not text:
        return None
    if text not in SEXES:
        raise BadValue(f"sex {text!r} is not F, M, O or U")
    return SEXES[text]


def language_code(text: str | None) -> str | None:
    """A language kiosk has a catalog for (I1), from a BCP 47 tag (``es-MX``) or a language's
    name in English or in itself (``French``, ``français``); None when unknown or not offered."""
    text = (text or "").strip().lower()
    if text.startswith(("es", "spa")) or text in {"spanish", "español", "espanol"}:
        return "es"
    if text.startswith(("en", "eng")) or text == "english":
        return "en"
    if not text:
        return None
    from kiosk.i18n import LANGUAGES, language_name, offered

    named = {
        language_name(code, reader).lower(): code for code in LANGUAGES for reader in ("en", code)
    }
    return named.get(text) or offered(text)
