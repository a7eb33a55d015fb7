"""Finding patients and reading what the front desk sees about them: search, patient page, family."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee

from kiosk import loaded
from kiosk.people.names import is_placeholder_name
from kiosk.store.db import Prepared
from kiosk.store.models import (
    Appointment,
    Association,
    Caregiver,
    Patient,
    PortalAccount,
    RegistrationPin,
    Relationship,
)
from kiosk.terms import (
    Access,
    AssociationKind,
    AssociationState,
    Authority,
    CaregiverRole,
    PinState,
    PortalStatus,
    fold,
    utcnow,
)
from kiosk.validate import parse_date

SEARCH_LIMIT = 100
_KEY_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def age_text(dob: dt.date, today: dt.date) -> str:
    """Age the way a pediatric desk says it: 9 d, 7 wk, 5 mo, 6 y."""
    days = (today - dob).days
    if days < 0:
        return "—"
    if days < 28:
        return f"{days} d"
    months = (today.year - dob.year) * 12 + today.month - dob.month - (today.day < dob.day)
    if months < 3:
        return f"{days // 7} wk"
    if months < 24:
        return f"{months} mo"
    return f"{age_years(dob, today)} y"


def age_years(dob: dt.date, today: dt.date) -> int:
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def born_by(today: dt.date, years: int) -> dt.date:
    """The latest birth date of someone ``years`` old ``today`` (as :func:`age_years` counts), so
    "aged N or more" is one index range on the birth date (T2)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # today is February 29 and that year has none
        return today.replace(year=today.year - years, day=28)


@dataclass(frozen=True)
class SearchQuery:
    family: str = ""
    given: str = ""
    dob: dt.date | None = None

    @property
    def empty(self) -> bool:
        return not (self.family or self.given or self.dob)


def parse_search(text: str, today: dt.date | None = None) -> SearchQuery:
    """One search box: a last name, "last, first", or a date of birth."""
    text = (text or "").strip()
    if not text:
        return SearchQuery()
    if text[0].isdigit():
        born = parse_date(text, today)
        return SearchQuery(dob=born) if born else SearchQuery()
    family, _, given = text.partition(",")
    return SearchQuery(family=fold(family), given=fold(given))


def _prefix_upper(prefix: str) -> str | None:
    """The smallest key greater than every key starting with ``prefix`` (None: no bound)."""
    chars = list(prefix)
    while chars:
        position = _KEY_ALPHABET.find(chars[-1])
        if position + 1 < len(_KEY_ALPHABET):
            chars[-1] = _KEY_ALPHABET[position + 1]
            return "".join(chars)
        chars.pop()
    return None


def _prefix(field: peewee.Field, prefix: str) -> peewee.Expression:
    upper = _prefix_upper(prefix)
    condition = field >= prefix
    return condition & (field < upper) if upper else condition


@dataclass(frozen=True)
class PatientRow:
    id: int
    given_name: str
    family_name: str
    dob: dt.date
    age: str
    portal_status: PortalStatus
    reason: str = ""  # why a near match matched (N2): "sounds like", "nickname", "caregiver Ana Ruiz"; "" when exact

    @property
    def name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    @property
    def status_label(self) -> str:
        return self.portal_status.label


def _row(patient: Patient, today: dt.date) -> PatientRow:
    return PatientRow(
        patient.id,
        patient.given_name,
        patient.family_name,
        patient.dob,
        age_text(patient.dob, today),
        PortalStatus(patient.portal_status),
    )


def search_patients(
    text: str,
    status: str | None = None,
    *,
    today: dt.date | None = None,
    limit: int = SEARCH_LIMIT,
    tolerant: bool = True,
    now: dt.datetime | None = None,
) -> list[PatientRow]:
    """Patients matching the search box (and status filter, or "PIN expired" at ``now``, L2): exact
    matches first, then the closest (N1, N2; kiosk.people.search says how)."""
    return loaded("kiosk.people.search").find_patients(
        text, status, today=today, limit=limit, tolerant=tolerant, now=now
    )


@dataclass(frozen=True)
class AppointmentRow:
    starts_at: dt.datetime
    provider: str
    reason: str
    patient: PatientRow


def todays_appointments(day: dt.date | None = None) -> list[AppointmentRow]:
    day = day or dt.date.today()
    start = dt.datetime.combine(day, dt.time())
    rows = (
        Appointment.select(Appointment, Patient)
        .join(Patient)
        .where(
            (Appointment.starts_at >= start)
            & (Appointment.starts_at < start + dt.timedelta(days=1))
        )
        .order_by(Appointment.starts_at)
    )
    return [AppointmentRow(a.starts_at, a.provider, a.reason, _row(a.patient, day)) for a in rows]


@dataclass(frozen=True)
class CaregiverRow:
    id: int
    name: str
    role: CaregiverRole
    authority: Authority
    email: str
    cell: str
    carrier: str
    language: str

    @property
    def has_authority(self) -> bool:
        return self.authority != Authority.NONE


@dataclass(frozen=True)
class ChildRow:
    id: int
    given_name: str
    family_name: str
    dob: dt.date
    age_years: int
    portal_status: PortalStatus
    placeholder: bool
    pin_state: str
    language: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def status_label(self) -> str:
        return self.portal_status.label


@dataclass(frozen=True)
class AssociationRow:
    account_name: str
    email: str
    access: str
    since: dt.date
    id: int = 0
    kind: AssociationKind = AssociationKind.PARENT  # T1: a parent's, or the patient's own
    state: AssociationState = AssociationState.ACTIVE  # T4: today's (past its end date: ended)
    ends_on: dt.date | None = None
    reason: str = ""  # why it was suspended or ended (T4)

    @property
    def live(self) -> bool:
        """Whether this account sees the patient now (T4)."""
        return self.state == AssociationState.ACTIVE

    @property
    def state_words(self) -> str:
        """``Active``, ``Active until 06/30/2027``, ``Suspended: custody order``, ``Ended: ...``."""
        if self.state == AssociationState.ACTIVE:
            return f"Active until {self.ends_on:%m/%d/%Y}" if self.ends_on else "Active"
        return f"{self.state.label}: {self.reason}" if self.reason else self.state.label


def live(today: dt.date) -> peewee.Expression:
    """T4: the associations that give access on ``today``: active, before their end date."""
    return (Association.state == AssociationState.ACTIVE) & (
        Association.ends_on.is_null() | (Association.ends_on > today)
    )


# The account page's and the registration window's statements, written once (kiosk.store.db.Prepared):
# peewee writing their SQL again for every page was half of a desk's CPU for it (S5, L1)
_LINKS = Prepared(
    lambda patient: (
        Association.select(Association, PortalAccount)
        .join(PortalAccount)
        .where(Association.patient == patient)
        .order_by(Association.created_at, Association.id)
    )
)


def association_rows(patient_id: int, today: dt.date) -> tuple[AssociationRow, ...]:
    """Every account tied to the patient, live or not, oldest first (T4: all visible)."""
    rows = []
    for a in _LINKS.rows(patient=patient_id):
        state = AssociationState(a.state)
        reason = a.reason
        if state == AssociationState.ACTIVE and a.ends_on is not None and a.ends_on <= today:
            state, reason = AssociationState.ENDED, f"end date {a.ends_on:%m/%d/%Y} reached"
        rows.append(
            AssociationRow(
                a.account.display_name,
                a.account.email,
                Access(a.access).label,
                a.created_at.date(),
                a.id,
                AssociationKind(a.kind),
                state,
                a.ends_on,
                reason,
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class PatientPage:
    """What the patient page shows (the desk's "account page", L1): Basic Info, portal status, PIN/VQ
    state, Associations (the portal accounts tied to the patient) and caregivers."""

    patient: ChildRow
    chart_number: str
    sex: str
    pin_expires: dt.datetime | None
    associations: tuple[AssociationRow, ...]
    caregivers: tuple[CaregiverRow, ...]
    email: str = ""  # T1: the patient's own, for Send to Minor
    cell: str = ""
    carrier: str = ""


@dataclass(frozen=True)
class Family:
    """The registration window's two tables (R5, R15)."""

    patient: ChildRow
    caregivers: tuple[CaregiverRow, ...]
    children: tuple[ChildRow, ...]  # the patient first, then siblings


class NotFound(LookupError):
    pass


def pin_state(patient: Patient, now: dt.datetime | None = None) -> str:
    """The PIN/VQ line of the account page: one distinct phrase per state (L1, L2)."""
    from kiosk.registration.pin_life import pin_state_words

    return pin_state_words(patient, now)


def _child(
    patient: Patient, today: dt.date, now: dt.datetime | None, latest: RegistrationPin | None
) -> ChildRow:
    """The child's row, its PIN/VQ line from ``latest``, its latest PIN as read already (L1)."""
    return ChildRow(
        patient.id,
        patient.given_name,
        patient.family_name,
        patient.dob,
        age_years(patient.dob, today),
        PortalStatus(patient.portal_status),
        patient.placeholder_name or is_placeholder_name(patient.given_name),
        loaded("kiosk.registration.pin_life").pin_words(patient, latest, now),
        patient.preferred_language,
    )


_PATIENT = Prepared(lambda id: Patient.select().where(Patient.id == id).limit(1))


def _patient(patient_id: int) -> Patient:
    patient = _PATIENT.first(id=patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return patient


_CAREGIVERS = Prepared(
    lambda patient: (
        Relationship.select(Relationship, Caregiver)
        .join(Caregiver)
        .where(Relationship.patient == patient)
        .order_by(Relationship.id)
    )
)


def caregivers_of(patient: Patient) -> tuple[CaregiverRow, ...]:
    rows = _CAREGIVERS.rows(patient=patient.id)
    result = [
        CaregiverRow(
            r.caregiver.id,
            r.caregiver.full_name,
            CaregiverRole(r.role),
            Authority(r.authority),
            r.caregiver.email,
            r.caregiver.cell,
            r.caregiver.carrier,
            r.caregiver.preferred_language,
        )
        for r in rows
    ]
    return tuple(sorted(result, key=lambda c: not c.has_authority))  # with authority first (R15)


def _siblings(patient: peewee.Value) -> peewee.BaseQuery:
    with_authority = Relationship.select(Relationship.caregiver).where(
        (Relationship.patient == patient) & (Relationship.authority != Authority.NONE)
    )
    other = Relationship.alias()
    ids = other.select(other.patient).where(
        other.caregiver.in_(with_authority)
        & (other.authority != Authority.NONE)
        & (other.patient != patient)
    )
    return Patient.select().where(Patient.id.in_(ids)).order_by(Patient.dob, Patient.given_key)


_SIBLINGS = Prepared(_siblings)


def siblings_of(patient: Patient) -> list[Patient]:
    """Patients who share a caregiver with contact authority over both (docs/rules.md "Siblings")."""
    return _SIBLINGS.rows(patient=patient.id)


def _page_pins(patient: peewee.Value, now: peewee.Value) -> peewee.BaseQuery:
    """The patient's latest PIN and its active, unexpired one (L2: never an expired one), the
    same row when it is both, each marked whether it is the active one (``active_now``)."""
    from kiosk.registration.pin_life import latest_pin_of

    active = peewee.ValueLiterals(RegistrationPin.state == PinState.ACTIVE) & (
        RegistrationPin.expires_at > now
    )
    return RegistrationPin.select(RegistrationPin, active.alias("active_now")).where(
        (RegistrationPin.patient == patient)
        & (RegistrationPin.id.in_([latest_pin_of(patient)]) | active)
    )


# One statement for the page's two PINs, not one each (O1); the state written into the SQL, not
# sent as a parameter, so that it can use registration_pin_one_active whatever the values
_PAGE_PINS = Prepared(_page_pins)


def patient_page(
    patient_id: int,
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    viewed_by: str = "",
) -> PatientPage:
    """The patient page. ``viewed_by`` (a staff username) records the look in the audit trail (S5)."""
    today = today or dt.date.today()
    patient = _patient(patient_id)
    if viewed_by:
        audit = loaded("kiosk.audit")
        audit.record(audit.VIEW, staff=viewed_by, patient=patient)
    now = now or utcnow()
    pins = _PAGE_PINS.rows(patient=patient.id, now=now)
    active = next((pin for pin in pins if pin.active_now), None)
    latest = max(pins, key=lambda pin: (pin.issued_at, pin.id), default=None)
    associations = association_rows(patient.id, today)
    return PatientPage(
        _child(patient, today, now, latest),
        patient.chart_number,
        patient.sex,
        active.expires_at if active else None,
        associations,
        caregivers_of(patient),
        patient.email,
        patient.cell,
        patient.carrier,
    )


def family_for(
    patient_id: int, *, today: dt.date | None = None, now: dt.datetime | None = None
) -> Family:
    today = today or dt.date.today()
    patient = _patient(patient_id)
    family = [patient, *siblings_of(patient)]
    latest = loaded("kiosk.registration.pin_life").latest_pins([p.id for p in family])
    children = tuple(_child(p, today, now, latest.get(p.id)) for p in family)
    return Family(children[0], caregivers_of(patient), children)
