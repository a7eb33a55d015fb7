"""The front desk's vocabulary: statuses, roles, options, and the small pure helpers around them.

No Peewee here, so screens can use these words without touching the database layer.
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata

# The languages kiosk writes to a family in, and the one it writes to a given family (I1).
from kiosk.i18n import LANGUAGES as LANGUAGES
from kiosk.i18n import N_, catalog
from kiosk.i18n import language_of as language_of

# Every closed set of words below is a StrEnum whose values are the strings stored in the database:
# a member equals its stored string, and a value read back is turned into its member with ``Kind(value)``.


class Labelled(enum.StrEnum):
    """Stored words with the words the desk reads beside them: ``FULL = "full", "Full Access"``."""

    label: str

    def __new__(cls, value: str, label: str = "") -> Labelled:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        return member


class PortalStatus(Labelled):
    """Portal status of a patient (R4), in the order the desk's status filter lists them."""

    UNREGISTERED = "Unregistered"
    SELF_REGISTERED = "Self Registered"
    PENDING = "Pending", "Pending Registration"
    REGISTERED = "Registered"


class CaregiverRole(enum.StrEnum):
    """A caregiver's role toward a patient (R15)."""

    MOTHER = "Mother"
    FATHER = "Father"
    STEPPARENT = "Stepparent"
    GUARDIAN = "Guardian"
    FOSTER_PARENT = "Foster parent"
    GRANDPARENT = "Grandparent"
    OTHER = "Other"


class Authority(enum.StrEnum):
    """A caregiver's contact authority for a patient (R15); NONE is stored as the word "None"."""

    JOINT = "Joint"
    SOLE = "Sole"
    NONE = "None"


class RegistrationMethod(Labelled):
    """What the parent registers with: a PIN or a verification question (R10)."""

    PIN = "pin", "PIN"
    QUESTION = "question", "Verification Question"


class Access(Labelled):
    """What a redeemed PIN lets the parent see (R9)."""

    FULL = "full", N_("Full Access")  # a parent reads it too (I1)
    LIMITED = "limited", N_("Limited: No Chart Access")


class Delivery(Labelled):
    """How the PIN reaches the family (R7)."""

    EMAIL = "email", "Email"
    TEXT = "text", "Text message"
    NONE = "none", "Do not send PIN"


class SendTo(Labelled):
    """Who the PIN is for: a parent or guardian, or the patient (R8)."""

    PARENT = "parent", "Parent/Guardian"
    MINOR = "minor", "Minor"


class IdCheck(Labelled):
    """How the desk identified the person a PIN or a validation vouches for (T5)."""

    PHOTO_ID = "photo id", "Photo ID"
    KNOWN = "known", "Known to staff"
    OTHER = "other", "Other (with a note)"


class AssociationKind(Labelled):
    """Whose portal account an association is (T1): a parent's (proxy) or the patient's own."""

    PARENT = "parent", "Parent/Guardian"
    OWN = "own", "Patient's own"


class AssociationState(Labelled):
    """Where an association stands (T4): only an active one, before its end date, gives access."""

    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    ENDED = "ended", "Ended"


class AgeStage(enum.StrEnum):
    """The age policy a patient's record has been brought to (T2): stored so each transition is
    applied once, on the day, and a later change by the desk is not undone."""

    CHILD = ""
    TEEN = "teen"
    ADULT = "adult"


class DatabasePurpose(enum.StrEnum):
    """What a database holds (D2): a practice's real families, or made-up ones for a demo or training."""

    PRACTICE = "practice"
    DEMO = "demo"
    TRAINING = "training"


class PinState(enum.StrEnum):
    """Where an issued PIN is in its life (R3, S4, L2)."""

    ACTIVE = "active"
    REDEEMED = "redeemed"
    REPLACED = "replaced"
    REVOKED = "revoked"
    EXPIRED = "expired"


class SearchFilter(Labelled):
    """Search filters that are not a portal status (L2)."""

    PIN_EXPIRED = "pin expired", "PIN expired"


class WorklistKind(Labelled):
    """The follow-up worklists (W1): which families to enrol."""

    APPOINTMENTS = "appointments", "Appointments"
    UNREGISTERED = "unregistered", "Unregistered"
    PIN_EXPIRED = "pin expired", "PIN expired"
    PENDING_OVER = "pending over", "Pending over N days"
    EXPIRING = "expiring", "PIN expiring within N days"
    SELF_REGISTERED = "self registered", "Self Registered to validate"
    TURNING = "turning", "Turning 12 or 18 within N days"


class DriveState(enum.StrEnum):
    """Where one family is in a registration drive (W2)."""

    WAITING = "waiting"
    DONE = "done"
    SKIPPED = "skipped"


class MessageState(enum.StrEnum):
    """Where a welcome message is in the outbox (O3)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class MessageKind(enum.StrEnum):
    """What an outbox message is: a family's welcome with its PINs (R6), or the reminder without
    them that goes a few days before those PINs expire (W3)."""

    WELCOME = "welcome"
    REMINDER = "reminder"


class Channel(enum.StrEnum):
    """How a welcome message travels: email, or a text through the carrier's gateway (R7, O3)."""

    EMAIL = "email"
    TEXT = "text"


class Glyphs(enum.StrEnum):
    """Which characters the desk's screens draw with (the ``glyphs`` setting)."""

    AUTO = "auto"  # the Linux console's when TERM=linux, else the full set
    CONSOLE = "console"  # what the Linux console's fonts hold, in its 16 colours
    FULL = "full"  # half blocks, tall borders: any terminal emulator


class SmtpSecurity(enum.StrEnum):
    """How kiosk talks to the mail server (the ``smtp.security`` setting)."""

    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


def is_one_of(kind: type[enum.StrEnum], value: object) -> bool:
    """Whether ``value`` is one of ``kind``'s stored strings: for words from a file, the command line or a
    caller that passed a plain string (Python 3.11's ``in`` on an enum takes members only)."""
    return isinstance(value, str) and value in {member.value for member in kind}


def fold(text: str | None) -> str:
    """Search key: lower case ASCII letters and digits only ("Núñez-García" -> "nunezgarcia").

    Letters that do not decompose are spelled the way a desk types them in ASCII (N2: Groß ->
    gross, Søren -> soren, Łukasz -> lukasz, Þór -> thor), and other scripts are transliterated
    (Ольга -> olga, 李小龙 -> lixiaolong) by anyascii, so no name gets an empty key."""
    if not text:
        return ""
    from anyascii import anyascii  # its tables load per Unicode block, on first use

    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if not plain.isascii():
        plain = anyascii(plain)
    return "".join(ch for ch in plain.lower() if ch.isascii() and ch.isalnum())


def utcnow() -> dt.datetime:
    """Naive UTC, the one way kiosk stores times."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def long_date(day: dt.date, language: str = "en") -> str:
    """``December 22, 2026`` or ``22 de diciembre de 2026`` (Babel), whatever the machine's locale."""
    return catalog(language).date(day)
