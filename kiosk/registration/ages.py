"""Access over time (T2, T4): what the practice's teen age and age of majority change, on the
day, by the desk's clock; and associations whose end date has come.

Run by ``kiosk maintain`` (and at start-up) through :func:`kiosk.registration.pin_life.maintain`.
Each patient's transition is one transaction that locks the patient first (O1) and is recorded
on the patient (``age_stage``), so it is applied once: running twice changes nothing, and a
change the desk makes afterwards (a parent given Full Access again) is not undone. Patients with
nothing to change (no parent's account, no parent's PIN, Unregistered) are marked in one
statement, so a practice of a million patients costs one query, not a million transactions.

- **Teen age** (``teen_age``, default 12): parents' associations take the practice's teen level
  (``teen_parent_access``, default Limited).
- **Majority** (``majority_age``, default 18): parents' associations end (audited; each parent
  whose access was live gets one message through the outbox), any PIN held for a parent ends,
  and the patient is Unregistered for their own registration (Registered when they already have
  their own account, Pending while their own PIN is active).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee

from kiosk import audit
from kiosk.messages import outbox
from kiosk.messages.notices import compose_majority_notice
from kiosk.ops.terminals import default_language
from kiosk.people.patients import age_years, born_by, live
from kiosk.registration.access import settle_status
from kiosk.store.db import lock_rows, retrying, tuples, write_transaction
from kiosk.store.models import (
    Association,
    Caregiver,
    Patient,
    PortalAccount,
    Practice,
    RegistrationPin,
)
from kiosk.terms import (
    Access,
    AgeStage,
    AssociationKind,
    AssociationState,
    Channel,
    PinState,
    PortalStatus,
    SendTo,
    utcnow,
)

MAJORITY_REASON = "the patient reached the age of majority"
END_DATE_REASON = "its end date was reached"


@dataclass(frozen=True)
class AgeReport:
    teens: int = 0  # patients whose parents' access became the teen level
    adults: int = 0  # patients who came of age with something to change
    ended: int = 0  # associations ended (majority or end date)
    notices: int = 0  # messages queued to parents

    def summary(self) -> str:
        if not (self.teens or self.adults or self.ended):
            return ""
        return (
            f"{self.teens} reached the teen age, {self.adults} came of age, "
            f"{self.ended} association{'s' * (self.ended != 1)} ended, "
            f"{self.notices} parent{'s' * (self.notices != 1)} told."
        )


def _parent_links() -> peewee.ModelSelect[Association]:
    return Association.select(Association.patient).where(
        (Association.kind == AssociationKind.PARENT) & (Association.state != AssociationState.ENDED)
    )


def _ids(query: peewee.ModelSelect[Any], key: peewee.Field = Patient.id) -> list[int]:
    return [patient_id for (patient_id,) in tuples(query.order_by(key))]


def apply_age_policy(now: dt.datetime | None = None, today: dt.date | None = None) -> AgeReport:
    """T2, T4: every transition due on ``today``; idempotent. Returns what changed."""
    if today is None:  # the day of the ``now`` given, else the desk's own
        today = now.date() if now is not None else dt.date.today()
    now = now or utcnow()
    practice = Practice.get()
    ended = notices = 0
    for patient_id in _ids(
        Association.select(Association.patient)
        .distinct()
        .where(
            (Association.state != AssociationState.ENDED)
            & Association.ends_on.is_null(False)
            & (Association.ends_on <= today)
        ),
        Association.patient,
    ):
        ended += _end_dated(patient_id, now, today)
    adult_by = born_by(today, practice.majority_age)
    parent_pins = RegistrationPin.select(RegistrationPin.patient).where(
        (RegistrationPin.state == PinState.ACTIVE) & (RegistrationPin.send_to == SendTo.PARENT)
    )
    adult_work = (
        Patient.id.in_(_parent_links())
        | Patient.id.in_(parent_pins)
        | (Patient.portal_status != PortalStatus.UNREGISTERED)
    )
    # (age_stage, dob) index: one range per stage below adult, not a scan of every adult
    adult_due = Patient.age_stage.in_([AgeStage.CHILD, AgeStage.TEEN]) & (Patient.dob <= adult_by)
    adults = 0
    for patient_id in _ids(Patient.select(Patient.id).where(adult_due & adult_work)):
        done, changed, told, batches = _come_of_age(patient_id, practice, now, today)
        adults, ended, notices = adults + done, ended + changed, notices + told
        if batches:
            outbox.erase_stale_bodies(now, batches=batches)  # S11: a parent's PIN it ended
    _mark(AgeStage.ADULT, adult_due & ~adult_work)
    level = Access(practice.teen_parent_access)
    teen_due = (
        (Patient.dob <= born_by(today, practice.teen_age))
        & (Patient.dob > adult_by)
        & (Patient.age_stage == AgeStage.CHILD)
    )
    teen_work = Patient.id.in_(_parent_links().where(Association.access != level))
    teens = 0
    for patient_id in _ids(Patient.select(Patient.id).where(teen_due & teen_work)):
        teens += _become_teen(patient_id, practice, now, today)
    _mark(AgeStage.TEEN, teen_due & ~teen_work)
    return AgeReport(teens, adults, ended, notices)


@retrying
def _mark(stage: AgeStage, where: peewee.Expression) -> None:
    """The patients with nothing to change reach ``stage`` in one statement."""
    with write_transaction():
        Patient.update(age_stage=stage).where(where).execute()


@retrying
def _end_dated(patient_id: int, now: dt.datetime, today: dt.date) -> int:
    """T4: end the patient's associations whose end date has come, one audit event each."""
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            return 0
        due = list(
            Association.select().where(
                (Association.patient == patient_id)
                & (Association.state != AssociationState.ENDED)
                & (Association.ends_on <= today)
            )
        )
        events: list[audit.Pending] = []  # S10, O1: written last, so the audit head is locked last
        for link in due:
            _end(link, patient, END_DATE_REASON, now, events)
        if due:
            status = settle_status(patient, today, now)
            if status != patient.portal_status:
                events.append(
                    audit.event(
                        audit.AGE_TRANSITION,
                        patient=patient,
                        at=now,
                        detail={"status": status, "reason": END_DATE_REASON},
                    )
                )
        audit.record_all(events)
        return len(due)


def _end(
    link: Association,
    patient: Patient,
    reason: str,
    now: dt.datetime,
    events: list[audit.Pending],
) -> None:
    """End the association; its audit event is added to ``events``, for the caller to write last."""
    Association.update(
        state=AssociationState.ENDED, changed_at=now, changed_by="", reason=reason
    ).where(Association.id == link.id).execute()
    events.append(
        audit.event(
            audit.ASSOCIATION_END,
            patient=patient,
            at=now,
            detail={"association": link.id, "account": link.account_id, "reason": reason},
        )
    )


@retrying
def _become_teen(patient_id: int, practice: Practice, now: dt.datetime, today: dt.date) -> int:
    """T2: the parents' associations take the teen level; 1 when this run applied it."""
    level = Access(practice.teen_parent_access)
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None or patient.age_stage != AgeStage.CHILD:
            return 0  # another run got here first
        if not practice.teen_age <= age_years(patient.dob, today) < practice.majority_age:
            return 0
        links = [
            link.id
            for link in Association.select().where(
                (Association.patient == patient_id)
                & (Association.kind == AssociationKind.PARENT)
                & (Association.state != AssociationState.ENDED)
                & (Association.access != level)
            )
        ]
        Association.update(access=level).where(Association.id.in_(links)).execute()
        Patient.update(age_stage=AgeStage.TEEN).where(Patient.id == patient_id).execute()
        audit.record(
            audit.AGE_TRANSITION,
            patient=patient,
            at=now,
            detail={"stage": AgeStage.TEEN, "access": level, "associations": links},
        )
        return 1


def _language(account: PortalAccount, patient: Patient) -> str:
    """The parent's language: that of the caregiver with the account's email, else the patient's."""
    caregiver = Caregiver.get_or_none(Caregiver.email == account.email)
    return (
        (caregiver.preferred_language if caregiver else "")
        or patient.preferred_language
        or default_language()
    )


@retrying
def _come_of_age(
    patient_id: int, practice: Practice, now: dt.datetime, today: dt.date
) -> tuple[int, int, int, set[str]]:
    """T2 at majority for one patient: (1 when this run applied it, associations ended, parents
    told, batches of PINs ended)."""
    from kiosk.registration.pin_life import end_pin

    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None or patient.age_stage == AgeStage.ADULT:
            return 0, 0, 0, set()  # another run got here first
        if age_years(patient.dob, today) < practice.majority_age:
            return 0, 0, 0, set()
        links = list(
            Association.select(Association, PortalAccount)
            .join(PortalAccount)
            .where(
                (Association.patient == patient_id)
                & (Association.kind == AssociationKind.PARENT)
                & (Association.state != AssociationState.ENDED)
            )
            .order_by(Association.id)
        )
        told = 0
        events: list[audit.Pending] = []  # S10, O1: written last, so the audit head is locked last
        for link in links:
            was_live = link.state == AssociationState.ACTIVE and (
                link.ends_on is None or link.ends_on > today
            )
            _end(link, patient, MAJORITY_REASON, now, events)
            if was_live:  # a suspended parent is not written to (T4)
                language = _language(link.account, patient)
                outbox.enqueue(
                    batch=f"majority-{patient.id}-{link.account_id}",
                    channel=Channel.EMAIL,
                    recipient=link.account.email,
                    welcome=compose_majority_notice(
                        practice_name=practice.name,
                        given_name=patient.given_name,
                        language=language,
                    ),
                    language=language,
                    now=now,
                )
                told += 1
        batches = set()
        for pin in RegistrationPin.select().where(
            (RegistrationPin.patient == patient_id)
            & (RegistrationPin.state == PinState.ACTIVE)
            & (RegistrationPin.send_to == SendTo.PARENT)
        ):
            expired = pin.expires_at <= now
            end_pin(
                pin,
                patient,
                PinState.EXPIRED if expired else PinState.REVOKED,
                MAJORITY_REASON,
                "",
                now,
                events=events,
            )
            batches.add(pin.batch)
        own = (
            Association.select()
            .where(
                (Association.patient == patient_id)
                & (Association.kind == AssociationKind.OWN)
                & live(today)
            )
            .exists()
        )
        own_pin = (
            RegistrationPin.select()
            .where(
                (RegistrationPin.patient == patient_id)
                & (RegistrationPin.state == PinState.ACTIVE)
                & (RegistrationPin.send_to == SendTo.MINOR)
            )
            .exists()
        )
        status = (
            PortalStatus.REGISTERED
            if own
            else PortalStatus.PENDING
            if own_pin
            else PortalStatus.UNREGISTERED
        )
        Patient.update(portal_status=status, age_stage=AgeStage.ADULT, updated_at=now).where(
            Patient.id == patient_id
        ).execute()
        events.append(
            audit.event(
                audit.AGE_TRANSITION,
                patient=patient,
                at=now,
                detail={
                    "stage": AgeStage.ADULT,
                    "associations": [link.id for link in links],
                    "told": told,
                    "pins": len(batches),
                    "status": status,
                },
            )
        )
        audit.record_all(events)
        return 1, len(links), told, batches
