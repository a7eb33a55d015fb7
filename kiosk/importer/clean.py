"""Turning the text of a practice's records into kiosk's values: phone, email, date, sex, language."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from kiosk.contact import normalize_email, normalize_us_cell

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class BadValue(ValueError):
    """A value that cannot be imported; the message says why, in the user's words."""


def digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def us_cell(text: str | None) -> str:
    """A US 10-digit number ("(555) 555-2003", "+1 555 555 2003", "tel:555.555.2003"), or "" when it
    is not one. The digits are checked by kiosk.contact, the same check registration makes (R7)."""
    return normalize_us_cell(digits(text)) or ""


def email_address(text: str | None) -> str:
    """The address as kiosk.contact accepts it (so registration will take it too), or ""."""
    text = (text or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return normalize_email(text) or ""


def name_text(text: str | None) -> str:
    """A name as written, without control characters (a NUL or an escape sequence in an export)
    and with runs of spaces made one."""
    text = "".join(ch if unicodedata.category(ch) != "Cc" else " " for ch in (text or ""))
    return " ".join(text.split())


def birth_date(text: str | None) -> dt.date:
    """YYYY-MM-DD (also MM/DD/YYYY as US exports write it); raises BadValue saying what is wrong."""
    text = (text or "").strip()
    if not text:
        raise BadValue("no birth date")
    us = _US_DATE.match(text)
    try:
        if us:
            return dt.date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise BadValue(f"birth date {text!r} is not a real date") from None
    raise BadValue(f"birth date {text!r} is not a full date (YYYY-MM-DD)")


SEXES = {"f": "F", "female": "F", "m": "M", "male": "M", "o": "O", "other": "O", "u": "U", "unknown": "U"}


def sex_code(text: str | None) -> str | None:
    """F, M, O or U; None when the record does not say; BadValue for anything else."""
    text = (text or "").strip().lower()
    if not text:
        return None
    if text not in SEXES:
        raise BadValue(f"sex {text!r} is not F, M, O or U")
    return SEXES[text]


def language_code(text: str | None) -> str | None:
    """"en" or "es" from a BCP 47 tag or a language name; None when unknown or not offered."""
    text = (text or "").strip().lower()
    if text.startswith(("es", "spa")) or text in {"spanish", "español", "espanol"}:
        return "es"
    if text.startswith(("en", "eng")) or text == "english":
        return "en"
    return None
