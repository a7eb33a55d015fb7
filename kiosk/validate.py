"""Checking what people type or import before it is stored: text fields and dates, in one place (O5).

Every name, chart number, email, question, answer and password that enters kiosk passes through
here, from the desk, parent mode, the CLI and the importers alike, on SQLite and PostgreSQL:

- **Control characters are refused**, never stored and never silently changed: a NUL, a tab, an
  escape sequence or a line break in a name is a mistake (or an attack on whoever reads it later),
  and PostgreSQL refuses a NUL with a raw error. The answer names the field.
- **One set of length limits** (:data:`LIMITS`). SQLite stores any length and PostgreSQL refuses
  more than its column holds; checking here gives both the same plain answer.
- **One date parser** (:func:`parse_date`) for every date a person types or a file carries, and
  :func:`parse_birth_date` for a date of birth: between 1900-01-01 and today.
"""

from __future__ import annotations

import datetime as dt
import re

from kiosk.i18n import Phrase  # a parent may read these problems: said in their language (I1)

# The longest value each kind of field takes (characters). Names are per part (given, family);
# a display name is a whole name. PostgreSQL columns hold 255: every limit is below that.
NAME = 60
DISPLAY_NAME = 120
CHART_NUMBER = 64  # a FHIR resource id is at most 64 characters and may be the chart number
EMAIL = 254  # RFC 5321: the longest address a mail server takes
USERNAME = 64
QUESTION = 200
ANSWER = 100
PASSWORD = 128  # NIST SP 800-63B: allow at least 64
IDENTIFIER = 200  # a caregiver's id in the practice's records (with a FHIR identifier's system)
REASON = 200  # why staff revoked a PIN
LIMITS = {
    "name": NAME,
    "display_name": DISPLAY_NAME,
    "chart_number": CHART_NUMBER,
    "email": EMAIL,
    "username": USERNAME,
    "question": QUESTION,
    "answer": ANSWER,
    "password": PASSWORD,
    "identifier": IDENTIFIER,
    "reason": REASON,
}

EARLIEST_BIRTH = dt.date(1900, 1, 1)

# C0 and C1 controls (NUL, tab, line breaks, ESC, DEL...), lone surrogates (not storable as UTF-8),
# the Unicode line and paragraph separators, and bidirectional overrides, which make a name read
# differently from what it holds.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class InputProblem(ValueError):
    """A value that cannot be taken; ``field`` is the input it belongs next to, the message says
    why in plain words."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def text_problem(value: str, label: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored as ``label`` (control characters, too long), or None."""
    if _CONTROL.search(value):
        return Phrase(
            "{label} has a control character in it (such as a tab, a line break or NUL)",
            label=label,
        )
    length = len(" ".join(value.split()))
    if length > limit:
        return Phrase(
            "{label} is at most {limit} characters (this one has {length})",
            label=label,
            limit=limit,
            length=length,
        )
    return None


def clean_text(value: str | None, *, field: str, label: str, limit: int) -> str:
    """``value`` with spaces trimmed and runs of spaces made one; InputProblem when it has a control
    character or is longer than ``limit`` after that."""
    value = value or ""
    problem = text_problem(value, label, limit)
    if problem:
        raise InputProblem(field, problem)
    return " ".join(value.split())


def check_length(value: str, *, field: str, label: str, limit: int) -> str:
    """``value`` unchanged (a password: every character counts) if it is at most ``limit`` long."""
    if len(value) > limit:
        raise InputProblem(
            field, Phrase("{label} is at most {limit} characters", label=label, limit=limit)
        )
    return value


def one_line(text: str) -> str:
    """Text stored before these checks (or from elsewhere), shown as one line of plain words: line
    breaks, tabs and other unprintable characters become spaces. For output (a mail header, a
    message), where refusing is no longer possible."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T[0-9:.+Z-]*)?", re.ASCII)
_DATE_SLASH = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})", re.ASCII)
_DATE_DIGITS = re.compile(r"(\d{2})(\d{2})(\d{2}|\d{4})", re.ASCII)


def _fields(text: str, today: dt.date) -> tuple[int, int, int] | None:
    """(year, month, day) as written, or None when ``text`` is not written as a whole date."""
    match = _DATE_ISO.fullmatch(text)
    if match:
        year, month, day = map(int, match.groups())
        return year, month, day
    match = _DATE_SLASH.fullmatch(text) or _DATE_DIGITS.fullmatch(text)
    if not match:
        return None
    month, day, year_text = int(match.group(1)), int(match.group(2)), match.group(3)
    year = int(year_text)
    if len(year_text) == 2:  # a birth year: never in the future
        year += 2000 if 2000 + year <= today.year else 1900
    return year, month, day


def parse_date(text: str | None, today: dt.date | None = None) -> dt.date | None:
    """A date as the desk types it or an export writes it, or None.

    2022-05-17 (also with a time after a T), 5/17/2022, 05/17/2022, 05-17-2022, 5/17/22, 051722,
    05172022. A two-digit year is the latest one not after ``today``.
    """
    written = _fields((text or "").strip(), today or dt.date.today())
    if written is None:
        return None
    try:
        return dt.date(*written)
    except ValueError:
        return None


def parse_birth_date(
    text: str | None, today: dt.date | None = None, *, field: str = "dob", label: str = "birth date"
) -> dt.date:
    """A date of birth between 1900-01-01 and ``today``; InputProblem saying what is wrong."""
    today = today or dt.date.today()
    text = (text or "").strip()
    if not text:
        raise InputProblem(field, f"no {label}")
    written = _fields(text, today)
    if written is None:
        raise InputProblem(field, f"{label} {text[:40]!r} is not a full date (YYYY-MM-DD)")
    try:
        day = dt.date(*written)
    except ValueError:
        raise InputProblem(field, f"{label} {text!r} is not a real date") from None
    if not EARLIEST_BIRTH <= day <= today:
        raise InputProblem(
            field, f"{label} {text!r} is not between {EARLIEST_BIRTH:%Y-%m-%d} and today"
        )
    return day
