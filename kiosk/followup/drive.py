"""W2: a registration drive issues PINs family by family for a worklist's families, with one
letter per family (one PDF for mailing) and/or one welcome message per family.

:func:`plan_drive` says what a drive would do and writes nothing (the dry run). :func:`start_drive`
records the drive and its families; :func:`run_drive` issues each waiting family through the
registration engine (all of the family's PINs or none, one welcome as at the desk: R5, R6) and
marks it done in the same transaction, so a drive stopped half-way leaves every family either
finished or untouched, and running it again skips the finished ones.

A letter holds plain PINs. Until the letters are made it is kept sealed under the key file with
the family's row (S11), so letters of families finished before a crash are not lost; once the PDF
is printed or saved the sealed copies are erased, and the saved PDF is a slip file: readable by
kiosk only, deleted after ``printer.keep_minutes`` (kiosk.store.files).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk import audit
from kiosk.followup.worklist import WorklistFamily
from kiosk.people.contact import normalize_us_cell, valid_email
from kiosk.people.names import is_placeholder_name
from kiosk.people.staff import StaffUser
from kiosk.registration.engine import IssueRequest, IssueResult, RegistrationError, issue_pins
from kiosk.security import seal, unseal
from kiosk.store.db import lock_rows, run_in_transaction, tuples, write_transaction
from kiosk.store.models import Caregiver, Drive, DriveFamily, Patient, Relationship
from kiosk.terms import Authority, Delivery, DriveState, PortalStatus, utcnow

Progress = Callable[[str, int, int], None]
LETTER_PURPOSE = "drive letter"
# W2 registers the children nobody has registered yet: Unregistered ones, and Pending ones whose
# PIN the letter replaces. Registered and Self Registered children are never issued (R4, T3).
TO_REGISTER = (PortalStatus.UNREGISTERED, PortalStatus.PENDING)


@dataclass(frozen=True)
class DriveOptions:
    letters: bool = True  # one letter per family in one PDF
    messages: bool = False  # one welcome message per family (email, else text), when it can be
    print_letters: bool = False  # send the PDF to the desk's printer (else save it)


@dataclass(frozen=True)
class PlannedFamily:
    family: WorklistFamily
    children: tuple[int, ...]  # the children the drive would issue PINs for
    delivery: Delivery
    problem: str = ""  # why the drive would skip the family ("" when it would issue)

    @property
    def letter(self) -> bool:
        return not self.problem

    @property
    def message(self) -> bool:
        return not self.problem and self.delivery != Delivery.NONE


@dataclass(frozen=True)
class DrivePlan:
    """The dry run (W2): what the drive would do, family by family, and the totals."""

    worklist: str
    options: DriveOptions
    families: tuple[PlannedFamily, ...]

    @property
    def issued(self) -> list[PlannedFamily]:
        return [f for f in self.families if not f.problem]

    def summary(self) -> str:
        ready = self.issued
        children = sum(len(f.children) for f in ready)
        letters = len(ready) if self.options.letters else 0
        messages = sum(f.message for f in ready) if self.options.messages else 0
        skipped = len(self.families) - len(ready)
        return (
            f"{len(ready)} famil{'y' if len(ready) == 1 else 'ies'}, {children} "
            f"child{'' if children == 1 else 'ren'}, {letters} letter{'' if letters == 1 else 's'}, "
            f"{messages} message{'' if messages == 1 else 's'}"
            + (f"; {skipped} skipped" if skipped else "")
        )


@dataclass
class DriveReport:
    drive_id: int
    done: int = 0  # families issued by this run
    already: int = 0  # families an earlier run had finished
    skipped: list[str] = field(default_factory=list)  # "Family: why"
    letters: int = 0
    letters_file: Path | None = None
    letters_note: str = ""
    messages: int = 0

    def summary(self) -> str:
        text = f"Drive {self.drive_id}: {self.done} families issued"
        if self.already:
            text += f", {self.already} finished before"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        text += f"; {self.messages} messages queued; {self.letters} letters"
        return text + (f". {self.letters_note}" if self.letters_note else ".")


# -- the dry run --------------------------------------------------------------------------------
def plan_drive(
    families: Iterable[WorklistFamily], options: DriveOptions, worklist: str = ""
) -> DrivePlan:
    """What a drive would do for ``families`` (writes nothing)."""
    rows = list(families)
    statuses = {
        pid: (status, given, placeholder)
        for pid, status, given, placeholder in tuples(
            Patient.select(
                Patient.id, Patient.portal_status, Patient.given_name, Patient.placeholder_name
            ).where(Patient.id.in_([c.id for f in rows for c in f.children]))
        )
    }
    carers = {
        c.id: c
        for c in Caregiver.select().where(
            Caregiver.id.in_([f.caregiver_id for f in rows if f.caregiver_id])
        )
    }
    planned = []
    for family in rows:
        kids = [
            c.id for c in family.children if c.id in statuses and statuses[c.id][0] in TO_REGISTER
        ]
        planned.append(
            _plan_one(family, kids, carers.get(family.caregiver_id or 0), statuses, options)
        )
    return DrivePlan(worklist, options, tuple(planned))


def _plan_one(
    family: WorklistFamily,
    kids: list[int],
    caregiver: Caregiver | None,
    statuses: dict[int, tuple[str, str, bool]],
    options: DriveOptions,
) -> PlannedFamily:
    delivery = _delivery(caregiver) if options.messages else Delivery.NONE
    problem = ""
    if not kids:
        problem = "no child left to register"
    elif caregiver is None:
        problem = "no caregiver with contact authority"  # R15
    elif named := [
        statuses[k][1] for k in kids if statuses[k][2] or is_placeholder_name(statuses[k][1])
    ]:
        problem = f"{named[0]} is a placeholder name: fix it at the desk first"  # R2
    elif delivery == Delivery.NONE and not options.letters:
        problem = "no email or cell to send to, and no letter"
    return PlannedFamily(family, tuple(kids), delivery, problem)


def _delivery(caregiver: Caregiver | None) -> Delivery:
    """The family's message: email when the caregiver has a valid one, else a text when they have a
    cell and a working carrier, else none (the letter alone)."""
    if caregiver is None:
        return Delivery.NONE
    if valid_email(caregiver.email):
        return Delivery.EMAIL
    if normalize_us_cell(caregiver.cell) and caregiver.carrier:
        from kiosk.messages.carriers import get_carrier

        carrier = get_carrier(caregiver.carrier)
        if carrier is not None and not carrier.retired:
            return Delivery.TEXT
    return Delivery.NONE


# -- recording and running a drive --------------------------------------------------------------
def start_drive(plan: DrivePlan, *, username: str, now: dt.datetime | None = None) -> int:
    """Record the drive and its families (all waiting) in one transaction; return its id."""
    with write_transaction():
        drive = Drive.create(
            worklist=plan.worklist[:250],
            letters=plan.options.letters,
            messages=plan.options.messages,
            created_by=username,
            created_at=now or utcnow(),
        )
        rows = [
            {
                "drive": drive.id,
                "patient": f.family.patient_id,
                "caregiver": f.family.caregiver_id,
                "children": ",".join(str(c.id) for c in f.family.children)[:250],
            }
            for f in plan.families
        ]
        for start in range(0, len(rows), 500):
            DriveFamily.insert_many(rows[start : start + 500]).execute()
    return drive.id


@dataclass(frozen=True)
class DriveRow:
    id: int
    worklist: str
    created_at: dt.datetime
    created_by: str
    waiting: int
    done: int
    skipped: int
    finished: bool


def list_drives(unfinished_only: bool = False) -> list[DriveRow]:
    from peewee import fn

    counts: dict[int, dict[str, int]] = {}
    for drive_id, state, count in tuples(
        DriveFamily.select(DriveFamily.drive, DriveFamily.state, fn.COUNT(DriveFamily.id)).group_by(
            DriveFamily.drive, DriveFamily.state
        )
    ):
        counts.setdefault(drive_id, {})[state] = count
    rows = []
    for drive in Drive.select().order_by(Drive.id):
        c = counts.get(drive.id, {})
        row = DriveRow(
            drive.id,
            drive.worklist,
            drive.created_at,
            drive.created_by,
            c.get(DriveState.WAITING, 0),
            c.get(DriveState.DONE, 0),
            c.get(DriveState.SKIPPED, 0),
            drive.finished_at is not None,
        )
        if not (unfinished_only and row.finished):
            rows.append(row)
    return rows


def run_drive(
    drive_id: int,
    staff: StaffUser,
    *,
    now: dt.datetime | None = None,
    today: dt.date | None = None,
    terminal: str = "",
    progress: Progress | None = None,
    make_letters: Callable[[list[dict], int], tuple[Path | None, str]] | None = None,
) -> DriveReport:
    """Issue every waiting family of the drive, one transaction each, then make the letters of
    every family issued (by this run or an earlier one) whose letter is not made yet.
    ``make_letters(letters, drive_id)`` prints or saves the PDF: (the saved file or None, a note)."""
    drive = Drive.get_by_id(drive_id)
    report = DriveReport(drive_id)
    report.already = (
        DriveFamily.select()
        .where((DriveFamily.drive == drive_id) & (DriveFamily.state == DriveState.DONE))
        .count()
    )
    waiting = [
        row.id
        for row in DriveFamily.select(DriveFamily.id)
        .where((DriveFamily.drive == drive_id) & (DriveFamily.state == DriveState.WAITING))
        .order_by(DriveFamily.id)
    ]
    total = len(waiting)
    if progress:
        progress("Issuing PINs", 0, total)
    for n, row_id in enumerate(waiting, 1):
        state, note, result = run_in_transaction(
            _issue_family, row_id, staff, drive, now=now, today=today, terminal=terminal
        )
        if state == DriveState.DONE and result is not None:
            report.done += 1
            report.messages += result.message_id is not None
        elif state == DriveState.SKIPPED:
            report.skipped.append(note)
        if progress:
            progress("Issuing PINs", n, total)
    if drive.letters:
        letters = _sealed_letters(drive_id)
        if letters and make_letters is not None:
            if progress:
                progress("Making letters", 0, len(letters))
            report.letters_file, report.letters_note = make_letters(
                [letter for _, letter in letters], drive_id
            )
            report.letters = len(letters)
            _erase_letters([row_id for row_id, _ in letters])
            if progress:
                progress("Making letters", len(letters), len(letters))
    with write_transaction():
        Drive.update(
            finished_at=now or utcnow(), letters_file=str(report.letters_file or "")
        ).where(Drive.id == drive_id).execute()
    return report


def _issue_family(
    row_id: int,
    staff: StaffUser,
    drive: Drive,
    *,
    now: dt.datetime | None,
    today: dt.date | None,
    terminal: str,
) -> tuple[DriveState, str, IssueResult | None]:
    """One family, in the caller's transaction: its PINs, its welcome and its done mark land
    together or not at all."""
    row = DriveFamily.get_by_id(row_id)
    ids = [int(i) for i in row.children.split(",") if i]
    lock_rows(Patient, ids)  # O1: the patients first, as the engine does
    row = DriveFamily.get_by_id(row_id)  # under the locks: another run may have finished it
    if row.state != DriveState.WAITING:
        return DriveState(row.state), "", None
    caregiver = Caregiver.get_or_none(Caregiver.id == row.caregiver_id)
    kids = _still_to_register(ids, caregiver)
    family = WorklistFamily(row.patient_id, row.caregiver_id, "", (), "")
    statuses = {
        p.id: (p.portal_status, p.given_name, p.placeholder_name)
        for p in Patient.select().where(Patient.id.in_(kids))
    }
    options = DriveOptions(letters=drive.letters, messages=drive.messages)
    planned = _plan_one(family, kids, caregiver, statuses, options)
    name = caregiver.full_name if caregiver else f"patient {row.patient_id}"
    if planned.problem:
        _mark(row_id, DriveState.SKIPPED, note=planned.problem)
        return DriveState.SKIPPED, f"{name}: {planned.problem}", None
    assert caregiver is not None  # _plan_one skips a family without one
    request = IssueRequest(
        patient_ids=kids,
        recipient_id=caregiver.id,
        delivery=planned.delivery,
        email=caregiver.email if planned.delivery == Delivery.EMAIL else "",
        cell=caregiver.cell if planned.delivery == Delivery.TEXT else "",
        carrier=caregiver.carrier if planned.delivery == Delivery.TEXT else "",
        print_slip=drive.letters,
    )
    try:
        result = issue_pins(staff, request, now=now, today=today, terminal=terminal)
    except RegistrationError as error:
        why = error.problems[0].message if error.problems else str(error)
        _mark(row_id, DriveState.SKIPPED, note=why[:250])
        return DriveState.SKIPPED, f"{name}: {why}", None
    letter = ""
    if drive.letters:
        letter = seal(
            LETTER_PURPOSE, json.dumps(_letter(result, caregiver)), f"drive-family-{row_id}"
        )
    _mark(row_id, DriveState.DONE, batch=result.batch, letter=letter, done_at=now or utcnow())
    return DriveState.DONE, "", result


def _still_to_register(ids: list[int], caregiver: Caregiver | None) -> list[int]:
    """The family's children the drive issues for now: still to register, and still in this
    caregiver's authority (a change since the drive was planned is honoured)."""
    if caregiver is None:
        return []
    held = {
        pid
        for (pid,) in tuples(
            Relationship.select(Relationship.patient).where(
                (Relationship.caregiver == caregiver.id)
                & (Relationship.authority != Authority.NONE)
                & Relationship.patient.in_(ids)
            )
        )
    }
    return [
        pid
        for (pid,) in tuples(
            Patient.select(Patient.id)
            .where(Patient.id.in_(list(held)) & Patient.portal_status.in_(list(TO_REGISTER)))
            .order_by(Patient.dob, Patient.id)
        )
    ]


def _mark(row_id: int, state: DriveState, **changes: object) -> None:
    DriveFamily.update(state=state, **changes).where(DriveFamily.id == row_id).execute()


def _letter(result: IssueResult, caregiver: Caregiver) -> dict:
    return {
        "caregiver": caregiver.full_name,
        "language": result.language,
        "patient": result.patient_name,
        "children": [[p.patient_name, p.pin] for p in result.pins],
        "expires": result.expires_on.isoformat(),
        "batch": result.batch,
        "ids": [p.patient_id for p in result.pins],
    }


def _sealed_letters(drive_id: int) -> list[tuple[int, dict]]:
    rows = tuples(
        DriveFamily.select(DriveFamily.id, DriveFamily.letter)
        .where(
            (DriveFamily.drive == drive_id)
            & (DriveFamily.state == DriveState.DONE)
            & (DriveFamily.letter != "")
        )
        .order_by(DriveFamily.id)
    )
    return [
        (row_id, json.loads(unseal(LETTER_PURPOSE, sealed, f"drive-family-{row_id}")))
        for row_id, sealed in rows
    ]


def _erase_letters(row_ids: list[int]) -> None:
    """S11: the sealed PINs go once the letters are printed or saved."""
    with write_transaction():
        for start in range(0, len(row_ids), 500):
            DriveFamily.update(letter="").where(
                DriveFamily.id.in_(row_ids[start : start + 500])
            ).execute()


def erase_stale_letters(now: dt.datetime | None = None) -> int:
    """Letters of a drive nobody finished, kept sealed past the PIN lifetime, open nothing: erase
    them (S11). Run at the start of every drive."""
    from kiosk.store.models import Practice

    lifetime = Practice.get().pin_lifetime_days
    cutoff = (now or utcnow()) - dt.timedelta(days=lifetime)
    with write_transaction():
        return (
            DriveFamily.update(letter="")
            .where((DriveFamily.letter != "") & (DriveFamily.done_at <= cutoff))
            .execute()
        )


def record_letters(letters: list[dict], username: str, kind: str, file: str) -> None:
    """One PRINT event per child on a letter (S5), as a slip records: never the PINs."""
    events: list[audit.Pending] = []
    with write_transaction():
        for letter in letters:
            patients = {p.id: p for p in Patient.select().where(Patient.id.in_(letter["ids"]))}
            for patient_id in letter["ids"]:
                events.append(
                    audit.event(
                        audit.PRINT,
                        staff=username,
                        patient=patients.get(patient_id, patient_id),
                        detail={
                            "batch": letter["batch"],
                            "outcome": kind,
                            "file": file,
                            "letter": True,
                        },
                    )
                )
        audit.record_all(events)  # S10, O1: the audit head locked once, last
