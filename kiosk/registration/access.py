"""Who may see a patient in the portal, and on what terms (T1, T3, T4, T5): the patient's own
contact for Send to Minor, validating a self-registered family, and each association's access
level, end date, suspension and removal.

Only an *active* association before its end date gives access (:func:`kiosk.people.patients.live`):
the account's children, the portal API, the second parent's address list and the patient's
status all count those alone. Every change is one transaction that locks the patient first (O1)
and writes one audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk import audit, validate
from kiosk.people.patients import live
from kiosk.people.staff import StaffUser
from kiosk.registration.pin_life import PinLifeError, required_reason
from kiosk.store.db import lock_rows, retrying, write_transaction
from kiosk.store.models import Association, Caregiver, Patient, Relationship
from kiosk.terms import (
    AssociationKind,
    AssociationState,
    IdCheck,
    PortalStatus,
    is_one_of,
    utcnow,
)

NO_LINK = (
    "Your sign-in is not linked to a Practice Portal user, so you cannot vouch for a family."  # R1
)


class AccessError(PinLifeError):
    """A change to a patient's access that cannot go ahead; ``field`` is the input it belongs to."""


# -- how the person was identified (T5) ----------------------------------------------------------


def id_check_problem(check: str, note: str) -> tuple[str, str] | None:
    """(field, message) when the ID check as chosen cannot be recorded, else None."""
    if not is_one_of(IdCheck, check):
        return (
            "id_check",
            "Choose how the person was identified: Photo ID, Known to staff or Other.",
        )
    if why := validate.text_problem(note, "The note", validate.REASON):
        return "id_check_note", f"{why}."
    if check == IdCheck.OTHER and not note.strip():
        return "id_check_note", "Say how the person was identified (Other needs a note)."
    return None


# -- the patient's own contact (T1) --------------------------------------------------------------


@dataclass(frozen=True)
class TeenContact:
    """The patient's own address for Send to Minor, and why the desk should look twice."""

    patient_id: int
    given_name: str
    email: str
    cell: str
    carrier: str
    warning: str  # "" unless the address is a caregiver's (T1)
    name: str = ""
    language: str = "en"


def same_as_caregiver(patient: Patient) -> str:
    """T1: a warning when the patient's own email or cell is one of their caregivers' (the PIN would
    reach the parent, and the account made with it would not be the teen's), else ""."""
    rows = (
        Relationship.select(Relationship, Caregiver)
        .join(Caregiver)
        .where(Relationship.patient == patient.id)
        .order_by(Relationship.id)
    )
    for row in rows:
        caregiver = row.caregiver
        if patient.email and caregiver.email.lower() == patient.email.lower():
            what = "email"
        elif patient.cell and caregiver.cell == patient.cell:
            what = "cell number"
        else:
            continue
        return (
            f"{patient.given_name}'s own {what} is the same as {caregiver.full_name}'s "
            f"({row.role}): the PIN would reach the parent. Check it with {patient.given_name}."
        )
    return ""


def teen_contact(patient_id: int) -> TeenContact:
    patient = Patient.get_or_none(Patient.id == patient_id)
    if patient is None:
        raise AccessError("That patient no longer exists; reopen the patient.", "patient")
    return TeenContact(
        patient.id,
        patient.given_name,
        patient.email,
        patient.cell,
        patient.carrier,
        same_as_caregiver(patient),
        patient.full_name,
        patient.preferred_language,
    )


# -- the patient's status follows live access (T4) -----------------------------------------------


def settle_status(patient: Patient, today: dt.date, now: dt.datetime) -> str:
    """Inside the caller's transaction: a Registered or Self Registered patient left with no live
    association is Unregistered; an Unregistered one given access back is Registered (Self
    Registered when none of its live accounts came from a PIN). Returns the status as stored."""
    links = list(Association.select().where((Association.patient == patient.id) & live(today)))
    status = PortalStatus(Patient.get_by_id(patient.id).portal_status)
    wanted = status
    if not links and status in (PortalStatus.REGISTERED, PortalStatus.SELF_REGISTERED):
        wanted = PortalStatus.UNREGISTERED
    elif links and status == PortalStatus.UNREGISTERED:
        vouched = any(a.pin_id or a.kind == AssociationKind.OWN for a in links)
        wanted = PortalStatus.REGISTERED if vouched else PortalStatus.SELF_REGISTERED
    if wanted != status:
        Patient.update(portal_status=wanted, updated_at=now).where(
            Patient.id == patient.id
        ).execute()
    return wanted


# -- validating a self-registered family (T3) ----------------------------------------------------


@retrying
def validate_family(
    staff: StaffUser,
    patient_id: int,
    id_check: str,
    note: str = "",
    *,
    now: dt.datetime | None = None,
) -> None:
    """T3: the desk has checked the parent's ID (T5, recorded how) and confirms the account the
    parent made without a PIN: the patient becomes Registered, no PIN is issued."""
    now = now or utcnow()
    if not staff.is_linked:
        raise AccessError(NO_LINK, "staff")
    if (problem := id_check_problem(id_check, note)) is not None:
        raise AccessError(problem[1], problem[0])
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            raise AccessError("That patient no longer exists; reopen the patient.", "patient")
        if patient.portal_status != PortalStatus.SELF_REGISTERED:
            raise AccessError(
                f"{patient.full_name} is {PortalStatus(patient.portal_status).label}: only a Self "
                "Registered patient is validated.",
                "status",
            )
        Patient.update(portal_status=PortalStatus.REGISTERED, updated_at=now).where(
            Patient.id == patient.id
        ).execute()
        audit.record(
            audit.VALIDATE,
            staff=staff.username,
            patient=patient,
            at=now,
            detail={"id_check": id_check, "note": note.strip(), "status": PortalStatus.REGISTERED},
        )


# -- associations: end date, suspend, resume, remove (T4) ----------------------------------------


def _reason(reason: str) -> str:
    try:
        return required_reason(
            reason, "Say why (for example: custody order, foster placement ended)."
        )
    except PinLifeError as problem:
        raise AccessError(str(problem), problem.field) from None


def _change(
    staff: StaffUser,
    association_id: int,
    action: str,
    reason: str,
    *,
    now: dt.datetime,
    today: dt.date,
    allowed: tuple[AssociationState, ...],
    changes: dict[str, object],
    detail: dict[str, object] | None = None,
) -> None:
    reason = _reason(reason)
    row = Association.get_or_none(Association.id == association_id)
    if row is None:
        raise AccessError("That association no longer exists; reopen the patient.", "association")
    with write_transaction():
        lock_rows(Patient, [row.patient_id])
        row = Association.get_or_none(Association.id == association_id)
        if row is None:
            raise AccessError(
                "That association no longer exists; reopen the patient.", "association"
            )
        state = AssociationState(row.state)
        if state == AssociationState.ACTIVE and row.ends_on is not None and row.ends_on <= today:
            state = AssociationState.ENDED  # past its end date: ended, whether or not recorded
        if state not in allowed:
            raise AccessError(f"This association is {state.label.lower()}.", "association")
        Association.update(
            changed_at=now, changed_by=staff.username, reason=reason, **changes
        ).where(Association.id == row.id).execute()
        patient = Patient.get_by_id(row.patient_id)
        status = settle_status(patient, today, now)
        audit.record(
            action,
            staff=staff.username,
            patient=patient,
            at=now,
            detail={
                "association": row.id,
                "account": row.account_id,
                "reason": reason,
                "status": status,
                **(detail or {}),
            },
        )


@retrying
def suspend(
    staff: StaffUser, association_id: int, reason: str, *, now: dt.datetime, today: dt.date
) -> None:
    """T4: the account keeps its row but sees nothing until it is resumed."""
    _change(
        staff,
        association_id,
        audit.ASSOCIATION_SUSPEND,
        reason,
        now=now,
        today=today,
        allowed=(AssociationState.ACTIVE,),
        changes={"state": AssociationState.SUSPENDED},
    )


@retrying
def resume(
    staff: StaffUser, association_id: int, reason: str, *, now: dt.datetime, today: dt.date
) -> None:
    """T4: a suspended association gives access again (an ended one needs a new PIN)."""
    _change(
        staff,
        association_id,
        audit.ASSOCIATION_RESUME,
        reason,
        now=now,
        today=today,
        allowed=(AssociationState.SUSPENDED,),
        changes={"state": AssociationState.ACTIVE},
    )


@retrying
def remove(
    staff: StaffUser, association_id: int, reason: str, *, now: dt.datetime, today: dt.date
) -> None:
    """T4: end the association now. The row stays, ended, for the record (L1, S5)."""
    _change(
        staff,
        association_id,
        audit.ASSOCIATION_END,
        reason,
        now=now,
        today=today,
        allowed=(AssociationState.ACTIVE, AssociationState.SUSPENDED),
        changes={"state": AssociationState.ENDED},
    )


@retrying
def set_end_date(
    staff: StaffUser,
    association_id: int,
    ends_on: dt.date | None,
    reason: str,
    *,
    now: dt.datetime,
    today: dt.date,
) -> None:
    """T4: access ends at the start of ``ends_on`` (a foster placement's last day is the day
    before); None takes the end date away. A date not after today ends it now."""
    if ends_on is not None and ends_on <= today:
        remove(staff, association_id, reason, now=now, today=today)
        return
    _change(
        staff,
        association_id,
        audit.ASSOCIATION_END_DATE,
        reason,
        now=now,
        today=today,
        allowed=(AssociationState.ACTIVE, AssociationState.SUSPENDED),
        changes={"ends_on": ends_on},
        detail={"ends_on": ends_on.isoformat() if ends_on else None},
    )
