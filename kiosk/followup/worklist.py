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
import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.store.db import database, is_sqlite
from kiosk.terms import Authority, PinState, PortalStatus, WorklistKind

if TYPE_CHECKING:
    from kiosk.store.practice import PracticeSettings

PAGE_SIZE = 15  # families a page: what fits an 80x24 screen with the filters above it
DEFAULT_DAYS = 14
MAX_DAYS = 3660
# T2's default ages; a desk reads the practice's own (teen_age, majority_age: :func:`turning_ages`)
TEEN_AGE, MAJORITY_AGE = 12, 18

Key = tuple[Any, ...]  # a child's place in the filter's order; a page's cursor is the last one
Hit = tuple[Key, int, str, int | None]  # (key, patient id, why it is listed, first caregiver)


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


def turning_ages(practice: PracticeSettings) -> tuple[int, int]:
    """T2's teen age and age of majority, as the practice set them."""
    return practice.teen_age, practice.majority_age


def check_query(query: WorklistQuery) -> None:
    if not 0 <= query.days <= MAX_DAYS:
        raise WorklistError(f"Days must be between 0 and {MAX_DAYS}.")
    if query.start and query.end and query.end < query.start:
        raise WorklistError("The end date is before the start date.")


# -- the filters: each reads matching children in its order, after a cursor ---------------------
# A scan returns up to ``limit`` hits after ``cursor`` in its order, or (``ids`` given) the hits
# among those children, whatever the cursor. Each hit carries the child's first caregiver with
# authority (a subquery on the relationship index), so a page costs a few statements. They are
# written as SQL text, as kiosk.people.search's are: building them with Peewee cost more than
# running them (W1's 50 ms a page).
Scan = Callable[[Key | None, int, Sequence[int] | None], list[Hit]]


class _Sql:
    """A statement's parameters, marked for SQLite (?) or PostgreSQL (%s)."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.sqlite = is_sqlite()

    def mark(self, value: Any) -> str:
        self.params.append(value.value if isinstance(value, enum.Enum) else value)
        return "?" if self.sqlite else "%s"

    def marks(self, values: Iterable[Any]) -> str:
        return ", ".join(self.mark(value) for value in values) or "NULL"

    def first_caregiver(self, patient: str) -> str:
        """The child's first caregiver with contact authority (R15's order): its family."""
        return (
            '(SELECT fl.caregiver_id FROM "relationship" fl WHERE fl.patient_id = '
            f"{patient} AND fl.authority <> {self.mark(Authority.NONE)} ORDER BY fl.id LIMIT 1)"
        )

    def page(
        self, patient: str, keys: str, cursor: Key | None, limit: int, ids: Sequence[int] | None
    ) -> str:
        """A keyset scan's tail: only the patients ``ids``, or else the rows after ``cursor`` in
        ``keys`` order (by the index on them), at most ``limit``."""
        if ids is not None:
            where = f" AND {patient} IN ({self.marks(ids)})"
        elif cursor is not None:
            where = f" AND ({keys}) > ({self.marks(cursor)})"
        else:
            where = ""
        return f"{where} ORDER BY {keys} LIMIT {int(limit)}"

    def rows(self, text: str) -> list[tuple[Any, ...]]:
        return list(database.execute_sql(text, self.params).fetchall())


# one range of a merged scan: its statement (given the marks, cursor, limit and ids) and its rows' hits
Part = tuple[
    Callable[["_Sql", Key | None, int, Sequence[int] | None], str],
    Callable[[tuple[Any, ...]], Hit],
]


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _moment(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _status_scan(status: PortalStatus) -> Scan:
    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        sql = _Sql()
        text = (
            f"SELECT p.family_key, p.given_key, p.dob, p.id, {sql.first_caregiver('p.id')} "
            f'FROM "patient" p WHERE p.portal_status = {sql.mark(status)}'
        )
        text += sql.page("p.id", "p.family_key, p.given_key, p.dob, p.id", cursor, limit, ids)
        return [((f, g, _day(d), i), i, status.label, c) for f, g, d, i, c in sql.rows(text)]

    return scan


def _appointment_scan(query: WorklistQuery, today: dt.date) -> Scan:
    start = query.start or today
    end = query.end or start
    first = dt.datetime.combine(start, dt.time())
    last = dt.datetime.combine(end, dt.time()) + dt.timedelta(days=1)

    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        sql = _Sql()
        text = (
            f"SELECT a.starts_at, a.id, a.patient_id, {sql.first_caregiver('a.patient_id')} "
            'FROM "appointment" a JOIN "patient" p ON p.id = a.patient_id '
            f"WHERE a.starts_at >= {sql.mark(first)} AND a.starts_at < {sql.mark(last)} "
            f"AND p.portal_status <> {sql.mark(PortalStatus.REGISTERED)}"  # nothing left to enrol
        )
        if query.provider:
            text += f" AND a.provider = {sql.mark(query.provider)}"
        text += sql.page("a.patient_id", "a.starts_at, a.id", cursor, limit, ids)
        return [
            ((_moment(at), aid), pid, f"Appointment {_moment(at):%m/%d %H:%M}", c)
            for at, aid, pid, c in sql.rows(text)
        ]

    return scan


def _pin_scan(query: WorklistQuery, now: dt.datetime) -> Scan:
    """Active PINs in date: Pending over N days (oldest issue first) or expiring within N days
    (soonest first)."""
    pending = query.kind == WorklistKind.PENDING_OVER
    column = "x.issued_at" if pending else "x.expires_at"
    word = "Pending since" if pending else "PIN expires"

    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        sql = _Sql()
        text = (
            f"SELECT {column}, x.id, x.patient_id, {sql.first_caregiver('x.patient_id')} "
            f'FROM "registration_pin" x WHERE x.state = {sql.mark(PinState.ACTIVE)} '
            f"AND x.expires_at > {sql.mark(now)}"
        )
        if pending:
            text += f" AND x.issued_at <= {sql.mark(now - dt.timedelta(days=query.days))}"
        else:
            text += f" AND x.expires_at <= {sql.mark(now + dt.timedelta(days=query.days))}"
        text += sql.page("x.patient_id", f"{column}, x.id", cursor, limit, ids)
        return [
            ((_moment(at), pin), pid, f"{word} {_moment(at):%m/%d/%Y}", c)
            for at, pin, pid, c in sql.rows(text)
        ]

    return scan


def _expired_scan(now: dt.datetime) -> Scan:
    """L2's "PIN expired": the child's latest PIN ended by expiry (or is active past its date) and
    the child is not Registered; the most recently expired first. Two index ranges (expired PINs,
    active ones past their date), merged; the key is (-time, -id, time, id)."""

    def one(state: PinState) -> Part:
        def text_for(sql: _Sql, cursor: Key | None, limit: int, ids: Sequence[int] | None) -> str:
            text = (
                f"SELECT x.expires_at, x.id, x.patient_id, {sql.first_caregiver('x.patient_id')} "
                'FROM "registration_pin" x JOIN "patient" p ON p.id = x.patient_id '
                f"WHERE x.state = {sql.mark(state)} AND x.expires_at <= {sql.mark(now)} "
                f"AND p.portal_status <> {sql.mark(PortalStatus.REGISTERED)} "
                'AND NOT EXISTS (SELECT 1 FROM "registration_pin" y WHERE y.patient_id = '
                "x.patient_id AND (y.issued_at > x.issued_at OR "
                "(y.issued_at = x.issued_at AND y.id > x.id)))"
            )
            if ids is not None:
                text += f" AND x.patient_id IN ({sql.marks(ids)})"
            elif cursor is not None:
                text += f" AND (x.expires_at, x.id) < ({sql.marks(cursor[2:])})"
            return text + f" ORDER BY x.expires_at DESC, x.id DESC LIMIT {int(limit)}"

        def hit(row: tuple[Any, ...]) -> Hit:
            at, pin_id, patient, caregiver = row
            when = _moment(at)
            key = (-when.timestamp(), -pin_id, when, pin_id)
            return key, patient, f"PIN expired {when:%m/%d/%Y}", caregiver

        return text_for, hit

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


def _first_born(age: int, after: dt.date, *, strictly: bool) -> dt.date:
    """The earliest birth date whose birthday at ``age`` is after ``after`` (or on it when not
    ``strictly``): birthdays only grow with the birth date, so this bounds a range exactly."""
    day = _years_before(after, age) - dt.timedelta(days=2)
    while _birthday(day, age) < after or (strictly and _birthday(day, age) == after):
        day += dt.timedelta(days=1)
    return day


def _turning_scan(query: WorklistQuery, today: dt.date, ages: tuple[int, int]) -> Scan:
    """T2: children whose teen or majority birthday falls within the next N days, soonest first;
    the key is (birthday, age, birth date, id)."""
    last = today + dt.timedelta(days=query.days)

    def one(age: int) -> Part:
        low = _first_born(age, today, strictly=False)
        high = _first_born(age, last, strictly=True)  # the first one born too late

        def text_for(sql: _Sql, cursor: Key | None, limit: int, ids: Sequence[int] | None) -> str:
            text = (
                f'SELECT p.dob, p.id, {sql.first_caregiver("p.id")} FROM "patient" p '
                f"WHERE p.dob >= {sql.mark(low)} AND p.dob < {sql.mark(high)}"
            )
            if ids is not None:
                text += f" AND p.id IN ({sql.marks(ids)})"
            elif cursor is not None:
                birthday, cursor_age, born, pid = cursor
                if age == cursor_age:
                    text += f" AND (p.dob, p.id) > ({sql.marks((born, pid))})"
                else:  # a younger age sorts first on the same birthday
                    after = _first_born(age, birthday, strictly=age < cursor_age)
                    text += f" AND p.dob >= {sql.mark(after)}"
            return text + f" ORDER BY p.dob, p.id LIMIT {int(limit)}"

        def hit(row: tuple[Any, ...]) -> Hit:
            born, pid, caregiver = _day(row[0]), row[1], row[2]
            birthday = _birthday(born, age)
            return (birthday, age, born, pid), pid, f"Turns {age} on {birthday:%m/%d/%Y}", caregiver

        return text_for, hit

    return _merged([one(age) for age in sorted(set(ages))])


def _merged(parts: list[Part]) -> Scan:
    """Several index ranges read in one statement (UNION ALL of each range's first rows: one
    round trip, which is what a loaded PostgreSQL server charges for), merged by key."""

    def scan(cursor: Key | None, limit: int, ids: Sequence[int] | None) -> list[Hit]:
        sql = _Sql()
        text = " UNION ALL ".join(
            f"SELECT {n} AS part, r{n}.* FROM ({text_for(sql, cursor, limit, ids)}) r{n}"
            for n, (text_for, _) in enumerate(parts)
        )
        hits = [parts[row[0]][1](tuple(row[1:])) for row in sql.rows(text)]
        return sorted(hits, key=lambda hit: hit[0])[:limit]

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
Member = tuple[int, str, str, str, dt.date]  # patient id, given name, family name, status, dob


def _members(caregivers: set[int]) -> tuple[dict[int, list[Member]], dict[int, str]]:
    """Each caregiver's family: the children whose first caregiver with authority they are; and
    the caregivers' names. One statement."""
    members: dict[int, list[Member]] = {}
    names: dict[int, str] = {}
    if not caregivers:
        return members, names
    sql = _Sql()
    text = (
        "SELECT r.caregiver_id, c.given_name, c.family_name, p.id, p.given_name, p.family_name, "
        f"p.portal_status, p.dob, {sql.first_caregiver('r.patient_id')} "
        'FROM "relationship" r JOIN "patient" p ON p.id = r.patient_id '
        'JOIN "caregiver" c ON c.id = r.caregiver_id '
        f"WHERE r.caregiver_id IN ({sql.marks(sorted(caregivers))}) "
        f"AND r.authority <> {sql.mark(Authority.NONE)}"
    )
    for carer, c_given, c_family, pid, given, family, status, dob, first in sql.rows(text):
        names[carer] = f"{c_given} {c_family}"
        if first == carer:
            members.setdefault(carer, []).append((pid, given, family, status, _day(dob)))
    return members, names


def _alone(patient_ids: set[int]) -> dict[int, Member]:
    """Children with no caregiver with authority: a family of one each."""
    if not patient_ids:
        return {}
    sql = _Sql()
    text = (
        'SELECT p.id, p.given_name, p.family_name, p.portal_status, p.dob FROM "patient" p '
        f"WHERE p.id IN ({sql.marks(sorted(patient_ids))})"
    )
    return {
        pid: (pid, given, family, status, _day(dob))
        for pid, given, family, status, dob in sql.rows(text)
    }


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
    found: dict[str, Hit] = {}  # family key -> the first hit of the family on this page
    position = last_key = cursor
    batch, full, exhausted = size + 5, False, False
    while not (full or exhausted):
        hits = scan(position, batch, None)
        for hit in hits:
            family = f"c{hit[3]}" if hit[3] else f"p{hit[1]}"
            if family not in found:
                if len(found) == size:
                    full = True  # this child starts the next page
                    break
                found[family] = hit
            last_key = hit[0]
        exhausted = not full and len(hits) < batch
        position = last_key
    members, names = _members({hit[3] for hit in found.values() if hit[3]})
    alone = _alone({hit[1] for hit in found.values() if not hit[3]})
    kids = {
        key: members.get(hit[3], []) if hit[3] else [alone[hit[1]]] if hit[1] in alone else []
        for key, hit in found.items()
    }
    others = [m[0] for key, hit in found.items() for m in kids[key] if m[0] != hit[1]]
    if cursor is not None and others:
        # a family another of whose children came before the cursor was shown already
        matches = scan(None, len(others) * 4 + 10, others)
        earlier = {hit[1] for hit in matches if hit[0] <= cursor}
        found = {
            key: hit
            for key, hit in found.items()
            if earlier.isdisjoint(member[0] for member in kids[key])
        }
    rows = []
    for key, hit in found.items():
        children = tuple(
            FamilyChild(pid, f"{given} {family}", PortalStatus(status), given)
            for pid, given, family, status, _dob in sorted(kids[key], key=lambda m: (m[4], m[0]))
        )
        name = names.get(hit[3], "") if hit[3] else "(no caregiver with authority)"
        rows.append(WorklistFamily(hit[1], hit[3], name, children, hit[2]))
    return WorklistPage(query, tuple(rows), cursor, None if exhausted else last_key, ages)


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
