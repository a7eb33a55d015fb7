"""W1: worklists of families to enrol, one row per family, a page at a time.

A worklist is a filter over children (appointments in a date range, Unregistered, PIN expired,
Pending over N days, PIN expiring within N days, Self Registered to validate, turning the teen
age or the age of majority within N days). Each matching child is read in the filter's order
through an index, and the children are gathered into families: a family is a caregiver with
contact authority and the children whose first such caregiver (R15's order: the earliest
relationship) they are, so every child is in exactly one row and one letter reaches one
caregiver (W2). A child with no caregiver with authority is a family of one.

Pages are read by key, not by offset: a page starts after the last child of the one before
(:attr:`WorklistPage.next_cursor`), so page 500 costs what page 1 does, and a family whose
children match on two pages is shown once, on the first.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from kiosk.store.db import tuples
from kiosk.store.models import Appointment, Caregiver, Patient, RegistrationPin, Relationship
from kiosk.terms import Authority, PinState, PortalStatus, WorklistKind

PAGE_SIZE = 15  # families a page: what fits an 80x24 screen with the filters above it
DEFAULT_DAYS = 14
MAX_DAYS = 3660
# T2's ages until the practice settings hold them (teen_age, majority_age); the settings win
# when they are there (:func:`turning_ages`).
TEEN_AGE, MAJORITY_AGE = 12, 18

Key = tuple[Any, ...]  # a child's place in the filter's order; a page's cursor is the last one
Hit = tuple[Key, int, str]  # (key, patient id, why the child is on the list)


@dataclass(frozen=True)
class WorklistQuery:
    """Which families: ``kind``, and its window (``days``; for appointments ``start``..``end``,
    both included, and an optional ``provider``)."""

    kind: WorklistKind = WorklistKind.UNREGISTERED
    days: int = DEFAULT_DAYS
    start: dt.date | None = None
    end: dt.date | None = None
    provider: str = ""

    def describe(self) -> str:
        """The worklist in words, for titles and the drive's record."""
        if self.kind == WorklistKind.APPOINTMENTS:
            span = f"{self.start:%m/%d/%Y}" if self.start else "today"
            if self.end and self.end != self.start:
                span += f"-{self.end:%m/%d/%Y}"
            return f"Appointments {span}" + (f", {self.provider}" if self.provider else "")
        if self.kind in (WorklistKind.UNREGISTERED, WorklistKind.SELF_REGISTERED):
            return self.kind.label
        if self.kind == WorklistKind.PIN_EXPIRED:
            return "PIN expired"
        return self.kind.label.replace("N days", f"{self.days} days")


@dataclass(frozen=True)
class FamilyChild:
    id: int
    name: str
    portal_status: PortalStatus
    given_name: str = ""

    @property
    def status_label(self) -> str:
        return self.portal_status.label


@dataclass(frozen=True)
class WorklistFamily:
    """One row: the caregiver with authority (None: the child has none), the children, and why
    the family is on the list (from the first of its children the filter found)."""

    patient_id: int  # the child the row was found by: registration opens from it
    caregiver_id: int | None
    caregiver_name: str
    children: tuple[FamilyChild, ...]
    why: str

    @property
    def key(self) -> str:
        return f"c{self.caregiver_id}" if self.caregiver_id else f"p{self.patient_id}"

    @property
    def children_text(self) -> str:
        return "; ".join(f"{c.name} ({c.status_label})" for c in self.children)

    @property
    def children_short(self) -> str:
        """The children by given name, grouped by status: "Layla: Pending; Yusuf, Amir: Unregistered"."""
        groups: dict[str, list[str]] = {}
        for child in self.children:
            groups.setdefault(child.portal_status.value, []).append(child.given_name or child.name)
        return "; ".join(f"{', '.join(names)}: {status}" for status, names in groups.items())


@dataclass(frozen=True)
class WorklistPage:
    query: WorklistQuery
    families: tuple[WorklistFamily, ...]
    cursor: Key | None  # where this page started (None: the first page)
    next_cursor: Key | None  # where the next one starts; None: this is the last page
    turning: tuple[int, int] = (TEEN_AGE, MAJORITY_AGE)


class WorklistError(ValueError):
    """A worklist that cannot be read as asked (dates the wrong way round, days out of range)."""


def turning_ages(practice: object | None = None) -> tuple[int, int]:
    """T2's teen age and age of majority: the practice's settings when it has them."""
    teen = getattr(practice, "teen_age", None) or TEEN_AGE
    majority = getattr(practice, "majority_age", None) or MAJORITY_AGE
    return int(teen), int(majority)


def check_query(query: WorklistQuery) -> None:
    if not 0 <= query.days <= MAX_DAYS:
        raise WorklistError(f"Days must be between 0 and {MAX_DAYS}.")
    if query.start and query.end and query.end < query.start:
        raise WorklistError("The end date is before the start date.")


# -- the filters: each reads matching children in its order, after a cursor ---------------------
Scan = Callable[[Key | None, int, Sequence[int] | None], list[Hit]]


def _after(rows: list[Hit], cursor: Key | None) -> list[Hit]:
    return rows if cursor is None else [row for row in rows if row[0] > cursor]


def _status_scan(status: PortalStatus) -> Scan:
    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        columns = (Patient.family_key, Patient.given_key, Patient.dob, Patient.id)
        query = Patient.select(*columns).where(Patient.portal_status == status)
        if ids is not None:
            query = query.where(Patient.id.in_(list(ids)))
        elif cursor is not None:  # (family, given, dob, id) after the cursor, by the status index
            query = query.where(pw.Tuple(*columns) > pw.Tuple(*cursor))
        rows = tuples(query.order_by(*columns).limit(limit))
        return [((f, g, _day(d), i), i, status.label) for f, g, d, i in rows]

    return scan


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _moment(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _appointment_scan(query: WorklistQuery, today: dt.date) -> Scan:
    start = query.start or today
    end = query.end or start
    first, last = dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time())
    last += dt.timedelta(days=1)

    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        sql = (
            Appointment.select(Appointment.starts_at, Appointment.id, Appointment.patient)
            .join(Patient)
            .where(
                (Appointment.starts_at >= (_moment(cursor[0]) if cursor else first))
                & (Appointment.starts_at < last)
                & (Patient.portal_status != PortalStatus.REGISTERED)  # nothing left to enrol
            )
        )
        if query.provider:
            sql = sql.where(Appointment.provider == query.provider)
        if ids is not None:
            sql = sql.where(Appointment.patient.in_(list(ids)))
        rows = tuples(sql.order_by(Appointment.starts_at, Appointment.id).limit(limit + 50))
        hits = [
            ((_moment(at), aid), pid, f"Appointment {_moment(at):%m/%d %H:%M}")
            for at, aid, pid in rows
        ]
        return _after(hits, cursor)[:limit]

    return scan


def _pin_scan(query: WorklistQuery, now: dt.datetime) -> Scan:
    """Active PINs in date: Pending over N days (oldest issue first) or expiring within N days
    (soonest first)."""
    pending = query.kind == WorklistKind.PENDING_OVER
    column = RegistrationPin.issued_at if pending else RegistrationPin.expires_at
    window = (
        (RegistrationPin.issued_at <= now - dt.timedelta(days=query.days))
        & (RegistrationPin.expires_at > now)
        if pending
        else (RegistrationPin.expires_at > now)
        & (RegistrationPin.expires_at <= now + dt.timedelta(days=query.days))
    )

    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        sql = RegistrationPin.select(column, RegistrationPin.id, RegistrationPin.patient).where(
            (RegistrationPin.state == PinState.ACTIVE) & window
        )
        if ids is not None:
            sql = sql.where(RegistrationPin.patient.in_(list(ids)))
        elif cursor is not None:
            sql = sql.where(column >= _moment(cursor[0]))
        rows = tuples(sql.order_by(column, RegistrationPin.id).limit(limit + 50))
        word = "Pending since" if pending else "PIN expires"
        hits = [
            ((_moment(at), pin), pid, f"{word} {_moment(at):%m/%d/%Y}") for at, pin, pid in rows
        ]
        return _after(hits, cursor)[:limit]

    return scan


def _expired_scan(now: dt.datetime) -> Scan:
    """L2's "PIN expired": the child's latest PIN ended by expiry (or is active past its date) and
    the child is not Registered; the most recently expired first. Two index ranges (expired PINs,
    active ones past their date), merged."""

    def one(state: PinState) -> Scan:
        def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
            pin, later = RegistrationPin.alias("x"), RegistrationPin.alias("y")
            newer = later.select(pw.SQL("1")).where(
                (later.patient == pin.patient)
                & (
                    (later.issued_at > pin.issued_at)
                    | ((later.issued_at == pin.issued_at) & (later.id > pin.id))
                )
            )
            sql = (
                pin.select(pin.expires_at, pin.id, pin.patient)
                .join(Patient, on=(pin.patient == Patient.id))
                .where(
                    (pin.state == state)
                    & (pin.expires_at <= now)
                    & ~pw.fn.EXISTS(newer)
                    & (Patient.portal_status != PortalStatus.REGISTERED)
                )
            )
            if ids is not None:
                sql = sql.where(pin.patient.in_(list(ids)))
            elif cursor is not None:
                sql = sql.where(pin.expires_at <= _moment(cursor[2]))
            rows = tuples(sql.order_by(pin.expires_at.desc(), pin.id.desc()).limit(limit + 50))
            hits = [
                (
                    (-_moment(at).timestamp(), -pid_pin, _moment(at)),
                    patient,
                    f"PIN expired {_moment(at):%m/%d/%Y}",
                )
                for at, pid_pin, patient in rows
            ]
            return _after(hits, cursor)[:limit]

        return scan

    return _merged([one(PinState.EXPIRED), one(PinState.ACTIVE)])


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _birthday(dob: dt.date, years: int) -> dt.date:
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:  # born 29 February: the birthday is 1 March in other years
        return dt.date(dob.year + years, 3, 1)


def _turning_scan(query: WorklistQuery, today: dt.date, ages: tuple[int, int]) -> Scan:
    """T2: children whose teen or majority birthday falls within the next N days, soonest first."""

    def one(age: int) -> Scan:
        low = _years_before(today, age) - dt.timedelta(days=1)  # 29 February born: 1 March
        high = _years_before(today + dt.timedelta(days=query.days), age)

        def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
            start = (
                max(low, _years_before(cursor[0], age) - dt.timedelta(days=1)) if cursor else low
            )
            sql = Patient.select(Patient.dob, Patient.id).where(
                (Patient.dob >= start) & (Patient.dob <= high)
            )
            if ids is not None:
                sql = sql.where(Patient.id.in_(list(ids)))
            rows = tuples(sql.order_by(Patient.dob, Patient.id).limit(limit + 50))
            hits = []
            for born, pid in rows:
                birthday = _birthday(_day(born), age)
                if today <= birthday <= today + dt.timedelta(days=query.days):
                    hits.append(((birthday, pid), pid, f"Turns {age} on {birthday:%m/%d/%Y}"))
            return _after(hits, cursor)[:limit]

        return scan

    return _merged([one(age) for age in sorted(set(ages))])


def _merged(scans: list[Scan]) -> Scan:
    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        parts = [part(cursor, limit, ids) for part in scans]
        return list(heapq.merge(*parts, key=lambda hit: hit[0]))[:limit]

    return scan


def _scan_for(
    query: WorklistQuery, today: dt.date, now: dt.datetime, ages: tuple[int, int]
) -> Scan:
    kind = WorklistKind(query.kind)
    if kind == WorklistKind.APPOINTMENTS:
        return _appointment_scan(query, today)
    if kind == WorklistKind.UNREGISTERED:
        return _status_scan(PortalStatus.UNREGISTERED)
    if kind == WorklistKind.SELF_REGISTERED:
        return _status_scan(PortalStatus.SELF_REGISTERED)
    if kind == WorklistKind.PIN_EXPIRED:
        return _expired_scan(now)
    if kind in (WorklistKind.PENDING_OVER, WorklistKind.EXPIRING):
        return _pin_scan(query, now)
    return _turning_scan(query, today, ages)


# -- from children to families ---------------------------------------------------------------
def _first_caregivers(patient_ids: Sequence[int]) -> dict[int, int]:
    """Each child's first caregiver with contact authority (the family it belongs to)."""
    first: dict[int, int] = {}
    rows = tuples(
        Relationship.select(Relationship.patient, Relationship.caregiver)
        .where(Relationship.patient.in_(list(set(patient_ids))) & _with_authority())
        .order_by(Relationship.id)
    )
    for patient, caregiver in rows:
        first.setdefault(patient, caregiver)
    return first


def _with_authority() -> pw.Expression:
    return Relationship.authority != Authority.NONE


@dataclass
class _Families:
    """Children grouped into families, with the children each family's caregiver holds."""

    members: dict[int, list[int]] = field(default_factory=dict)  # caregiver -> children

    @classmethod
    def of(cls, caregivers: set[int]) -> _Families:
        links = list(
            tuples(
                Relationship.select(Relationship.caregiver, Relationship.patient).where(
                    Relationship.caregiver.in_(list(caregivers)) & _with_authority()
                )
            )
        )
        first = _first_caregivers([patient for _, patient in links])
        families = cls()
        for caregiver, patient in links:
            if first.get(patient) == caregiver:
                families.members.setdefault(caregiver, []).append(patient)
        return families


def worklist_page(
    query: WorklistQuery,
    *,
    today: dt.date,
    now: dt.datetime,
    cursor: Key | None = None,
    size: int = PAGE_SIZE,
    ages: tuple[int, int] = (TEEN_AGE, MAJORITY_AGE),
) -> WorklistPage:
    """One page of ``query``'s families, starting after ``cursor`` (W1)."""
    check_query(query)
    scan = _scan_for(query, today, now, ages)
    found: dict[str, tuple[Hit, int | None]] = {}  # family key -> (first hit, caregiver)
    position = last_key = cursor
    batch, full, exhausted = size * 3, False, False
    while not (full or exhausted):
        hits = scan(position, batch, None)
        first = _first_caregivers([pid for _, pid, _ in hits])
        for hit in hits:
            caregiver = first.get(hit[1])
            family = f"c{caregiver}" if caregiver else f"p{hit[1]}"
            if family not in found:
                if len(found) == size:
                    full = True  # this child starts the next page
                    break
                found[family] = (hit, caregiver)
            last_key = hit[0]
        exhausted = not full and len(hits) < batch
        position = last_key
    families = _Families.of({c for _, c in found.values() if c})
    members = {
        key: families.members.get(c, [hit[1]]) if c else [hit[1]] for key, (hit, c) in found.items()
    }
    if (
        cursor is not None
    ):  # a family one of whose children came before the cursor was shown already
        everyone = [pid for ids in members.values() for pid in ids]
        matches = scan(None, len(everyone) * 4 + 10, everyone)
        earlier = {pid for key, pid, _ in matches if key <= cursor}
        found = {key: value for key, value in found.items() if earlier.isdisjoint(members[key])}
    rows = _rows(found, members, today)
    return WorklistPage(query, rows, cursor, None if exhausted else last_key, ages)


def _rows(
    found: dict[str, tuple[Hit, int | None]], members: dict[str, list[int]], today: dt.date
) -> tuple[WorklistFamily, ...]:
    ids = {pid for key in found for pid in members[key]}
    patients = {
        pid: (given, family, status, dob)
        for pid, given, family, status, dob in tuples(
            Patient.select(
                Patient.id,
                Patient.given_name,
                Patient.family_name,
                Patient.portal_status,
                Patient.dob,
            ).where(Patient.id.in_(list(ids)))
        )
    }
    caregivers = {
        cid: f"{given} {family}"
        for cid, given, family in tuples(
            Caregiver.select(Caregiver.id, Caregiver.given_name, Caregiver.family_name).where(
                Caregiver.id.in_([c for _, c in found.values() if c])
            )
        )
    }
    rows = []
    for key, (hit, caregiver) in found.items():
        kids = sorted(
            (pid for pid in members[key] if pid in patients),
            key=lambda p: (_day(patients[p][3]), p),
        )
        children = tuple(
            FamilyChild(
                pid,
                f"{patients[pid][0]} {patients[pid][1]}",
                PortalStatus(patients[pid][2]),
                patients[pid][0],
            )
            for pid in kids
        )
        name = caregivers.get(caregiver, "") if caregiver else "(no caregiver with authority)"
        rows.append(WorklistFamily(hit[1], caregiver, name, children, hit[2]))
    return tuple(rows)


def all_families(
    query: WorklistQuery,
    *,
    today: dt.date,
    now: dt.datetime,
    limit: int | None = None,
    ages: tuple[int, int] = (TEEN_AGE, MAJORITY_AGE),
) -> Iterator[WorklistFamily]:
    """Every family on the worklist, page after page (a drive's selection, W2)."""
    cursor: Key | None = None
    count = 0
    while True:
        page = worklist_page(query, today=today, now=now, cursor=cursor, size=100, ages=ages)
        for family in page.families:
            yield family
            count += 1
            if limit is not None and count >= limit:
                return
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
