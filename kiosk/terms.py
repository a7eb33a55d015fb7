"""The front desk's vocabulary: statuses, roles, options, and the small pure helpers around them.

No Peewee here, so screens can use these words without touching the database layer.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

# Portal status of a patient (R4).
UNREGISTERED, PENDING, REGISTERED, SELF_REGISTERED = "Unregistered", "Pending", "Registered", "Self Registered"
PORTAL_STATUSES = (UNREGISTERED, SELF_REGISTERED, PENDING, REGISTERED)
STATUS_LABELS = {PENDING: "Pending Registration"}

# Caregiver roles and contact authority (R15).
ROLES = ("Mother", "Father", "Stepparent", "Guardian", "Foster parent", "Grandparent", "Other")
JOINT, SOLE, NO_AUTHORITY = "Joint", "Sole", "None"
AUTHORITIES = (JOINT, SOLE, NO_AUTHORITY)

# Registration PIN options (R7-R10) and states.
METHOD_PIN, METHOD_QUESTION = "pin", "question"
ACCESS_FULL, ACCESS_LIMITED = "full", "limited"
ACCESS_LABELS = {ACCESS_FULL: "Full Access", ACCESS_LIMITED: "Limited: No Chart Access"}
DELIVERY_EMAIL, DELIVERY_TEXT, DELIVERY_NONE = "email", "text", "none"
SEND_TO_PARENT, SEND_TO_MINOR = "parent", "minor"
PIN_ACTIVE, PIN_REDEEMED, PIN_REPLACED, PIN_REVOKED = "active", "redeemed", "replaced", "revoked"

LANGUAGES = ("en", "es")


def fold(text: str | None) -> str:
    """Search key: lower case ASCII letters and digits only ("Núñez-García" -> "nunezgarcia")."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if ch.isascii() and ch.isalnum())


def utcnow() -> dt.datetime:
    """Naive UTC, the one way kiosk stores times."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}


def language_of(language: str | None) -> str:
    """The language kiosk writes to a family in: theirs when translated, else English."""
    return language if language in LANGUAGES else "en"


def long_date(day: dt.date, language: str = "en") -> str:
    """``December 22, 2026`` or ``22 de diciembre de 2026``, whatever the machine's locale."""
    month = _MONTHS[language_of(language)][day.month - 1]
    if language_of(language) == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"

