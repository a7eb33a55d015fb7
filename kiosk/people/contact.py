"""Checking a caregiver's email address and US cell number before a welcome goes to them (R7).

Both are deliberately plain: an address kiosk accepts is one any mail server will take (ASCII,
``local@domain.tld``), and a cell number is any ten-digit North American number
``NXX-NXX-XXXX`` (N = 2-9), written however the parent says it.
"""

from __future__ import annotations

import re

# The characters RFC 5322 allows in an unquoted local part ("dot-atom"), without the dots.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})")

_CELL = re.compile(
    r"(?:\+?1[ .-]?)?"  # country code, optional
    r"(?:\((?P<area1>[2-9]\d\d)\)|(?P<area2>[2-9]\d\d))[ .-]?"
    r"(?P<exchange>[2-9]\d\d)[ .-]?(?P<line>\d{4})",
    re.ASCII,  # \d is 0-9 only, not every script's digits
)


def valid_email(text: str) -> bool:
    """True when ``text`` is exactly one plain address (``name@example.com``); no spaces around it."""
    if not isinstance(text, str) or len(text) > 254 or text.count("@") != 1:
        return False
    local, domain = text.split("@")
    if len(local) > 64 or not _LOCAL.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not _TLD.fullmatch(labels[-1]):
        return False
    return all(_LABEL.fullmatch(label) for label in labels)


def normalize_email(text: object) -> str | None:
    """What the receptionist typed, trimmed and with the domain in lower case; None if not an address."""
    if not isinstance(text, str):
        return None
    local, _, domain = text.strip().rpartition("@")
    address = f"{local}@{domain.lower()}"
    return address if valid_email(address) else None


def normalize_us_cell(text: object) -> str | None:
    """Ten digits (``3175550101``) for a US cell number however it is written, else None.

    Accepts ``(317) 555-0101``, ``317.555.0101``, ``317-555-0101``, ``+1 317 555 0101``,
    ``13175550101``. Area code and exchange must start with 2-9.
    """
    if not isinstance(text, str):
        return None
    match = _CELL.fullmatch(text.strip())
    if match is None:
        return None
    return (match["area1"] or match["area2"]) + match["exchange"] + match["line"]


def format_us_cell(cell: str) -> str:
    """``3175550101`` as people read it: ``(317) 555-0101``."""
    return f"({cell[:3]}) {cell[3:6]}-{cell[6:]}"
