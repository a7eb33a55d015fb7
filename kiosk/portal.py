"""The parent's side (R11-R13, S4): portal accounts and redeeming PINs.

A PIN is found by its keyed hash. A wrong date of birth, a wrong PIN, and a replaced or revoked
PIN all get the same answer, so a guess learns nothing. Failures count against the patient: the
PIN's patient when the PIN is right but the date is wrong, otherwise every patient born that day
who has an active PIN (the child a guesser is after). Five failures in fifteen minutes pause that
patient's redemption for fifteen minutes; twenty in a row revoke the PIN (S4). A new PIN does not
reset either count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kiosk import audit, pins, validate
from kiosk.contact import valid_email
from kiosk.db import lock_rows, retrying, write_transaction
from kiosk.models import Association, Patient, PortalAccount, Practice, RedemptionAttempt, RegistrationPin
from kiosk.registration import answer_digest, pin_digest
from kiosk.security import hash_password, unknown_user_hash, verify_password
from kiosk.terms import Access, PinState, PortalStatus, RegistrationMethod, fold, utcnow

WINDOW = dt.timedelta(minutes=15)
LOCK_FOR = dt.timedelta(minutes=15)
FAILURES_TO_LOCK = 5
FAILURES_TO_REVOKE = 20
LOCKOUT_REASON = "too many failed attempts"

GENERIC = ("That date of birth and PIN do not match a registration we can use. Check both and try again, "
           "or ask the front desk.")
EXPIRED = "This PIN has expired. Ask the front desk for a new one."
LOCKED = "Too many tries for this child. Please wait 15 minutes, or ask the front desk for help."
MIN_PASSWORD = 10


class PortalError(Exception):
    """What the parent is told; ``field`` says which input it belongs next to."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PortalLogin:
    """The portal account (a ``PortalAccount`` row) a parent has created or signed in to."""

    id: int
    email: str
    display_name: str


@dataclass(frozen=True)
class Redeemed:
    patient_id: int
    given_name: str
    access: str  # label: Full Access / Limited: No Chart Access


@dataclass(frozen=True)
class Child:
    patient_id: int
    given_name: str
    access: str


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """A plain-words reason the password is too weak, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    lowered = password.lower()
    if len(set(lowered)) < 5:
        return "Use more different characters."
    for part in [email.split("@")[0].lower(), *name.lower().split()]:
        if len(part) >= 3 and part in lowered:
            return "Do not use your name or email in the password."
    if lowered in {"password123", "1234567890", "qwertyuiop", "letmein123", "iloveyou12"}:
        return "That password is too common."
    return None


def create_account(email: str, display_name: str, password: str) -> PortalLogin:
    email = email.strip().lower()
    try:
        name = validate.clean_text(display_name, field="name", label="Your name", limit=validate.DISPLAY_NAME)
        validate.check_length(password, field="password", label="A password", limit=validate.PASSWORD)
    except validate.InputProblem as problem:
        raise PortalError(f"{problem}.", problem.field) from None
    if not name:
        raise PortalError("Enter your name.", "name")
    if not valid_email(email):
        raise PortalError("Enter a valid email address, like name@example.com.", "email")
    if (problem := password_problem(password, email, name)) is not None:
        raise PortalError(problem, "password")
    with write_transaction():
        if PortalAccount.select().where(PortalAccount.email == email).exists():
            raise PortalError("An account with this email already exists: sign in instead.", "email")
        row = PortalAccount.create(email=email, display_name=name, password_hash=hash_password(password))
    return PortalLogin(row.id, row.email, row.display_name)


SIGN_IN_TRIES = 5
SIGN_IN_PAUSED = "Too many tries for this account. Please wait 15 minutes, or ask the front desk for help."


def sign_in(email: str, password: str, *, now: dt.datetime | None = None) -> PortalLogin:
    """A parent's sign-in; 5 wrong passwords in 15 minutes pause that account's sign-in for 15."""
    now = now or utcnow()
    email = email.strip().lower()
    who = "portal:" + email[:120]
    if audit.failures_since_success(who, audit.PORTAL_SIGN_IN_FAILED, audit.PORTAL_SIGN_IN, now - WINDOW) >= SIGN_IN_TRIES:
        audit.record(audit.SIGN_IN_PAUSED, staff=who, at=now)
        raise PortalError(SIGN_IN_PAUSED, "password")
    row = PortalAccount.get_or_none(PortalAccount.email == email)
    ok = verify_password(password, row.password_hash if row else unknown_user_hash()) and row is not None
    audit.record(audit.PORTAL_SIGN_IN if ok else audit.PORTAL_SIGN_IN_FAILED, staff=who, at=now)
    if not ok:
        raise PortalError("Email or password is not right.", "password")
    return PortalLogin(row.id, row.email, row.display_name)


def children_of(account_id: int) -> list[Child]:
    rows = (Association.select(Association, Patient).join(Patient).where(Association.account == account_id)
            .order_by(Association.created_at))
    return [Child(a.patient.id, a.patient.given_name, Access(a.access).label) for a in rows]


def _locked(patient_id: int, now: dt.datetime) -> bool:
    recent = (RedemptionAttempt.select().where((RedemptionAttempt.patient == patient_id)
                                               & (RedemptionAttempt.succeeded == False)  # noqa: E712
                                               & (RedemptionAttempt.at > now - WINDOW - LOCK_FOR))
              .order_by(RedemptionAttempt.at))
    times = [a.at for a in recent]
    # Locked while some run of FAILURES_TO_LOCK failures within WINDOW ended less than LOCK_FOR ago.
    for i in range(FAILURES_TO_LOCK - 1, len(times)):
        if times[i] - times[i - FAILURES_TO_LOCK + 1] <= WINDOW and now - times[i] < LOCK_FOR:
            return True
    return False


def _failures_in_row(patient_id: int) -> int:
    last_success = (RedemptionAttempt.select(RedemptionAttempt.at)
                    .where((RedemptionAttempt.patient == patient_id) & (RedemptionAttempt.succeeded == True))  # noqa
                    .order_by(RedemptionAttempt.at.desc()).first())
    last_revoke = (RegistrationPin.select(RegistrationPin.ended_at)
                   .where((RegistrationPin.patient == patient_id) & (RegistrationPin.ended_reason == LOCKOUT_REASON))
                   .order_by(RegistrationPin.ended_at.desc()).first())
    since = max([t for t in (last_success and last_success.at, last_revoke and last_revoke.ended_at) if t],
                default=None)
    query = RedemptionAttempt.select().where((RedemptionAttempt.patient == patient_id)
                                             & (RedemptionAttempt.succeeded == False))  # noqa: E712
    if since is not None:
        query = query.where(RedemptionAttempt.at > since)
    return query.count()


def _fail(patient_ids: list[int], now: dt.datetime, how: str) -> None:
    """Record a failed try against each patient; lock or revoke as S4 says."""
    with write_transaction():
        lock_rows(Patient, patient_ids)  # O1: patients in id order, the audit head last
        if not patient_ids:  # nobody to count it against, but every attempt is audited
            audit.record(audit.REDEEM_FAILED, at=now, detail={"how": how})
        for patient_id in patient_ids:
            RedemptionAttempt.create(patient=patient_id, at=now, succeeded=False)
            audit.record(audit.REDEEM_FAILED, patient=Patient.get_by_id(patient_id), at=now, detail={"how": how})
            if _locked(patient_id, now):
                audit.record(audit.LOCK_OUT, patient=Patient.get_by_id(patient_id), at=now,
                             detail={"minutes": int(LOCK_FOR.total_seconds() // 60)})
            if _failures_in_row(patient_id) >= FAILURES_TO_REVOKE:
                for pin in RegistrationPin.select().where((RegistrationPin.patient == patient_id)
                                                          & (RegistrationPin.state == PinState.ACTIVE)):
                    pin.state, pin.ended_at, pin.ended_reason = PinState.REVOKED, now, LOCKOUT_REASON
                    pin.save()
                    audit.record(audit.REVOKE, patient=Patient.get_by_id(patient_id), at=now,
                                 detail={"pin": pin.id, "reason": LOCKOUT_REASON})


def _refused_while_locked(patient_ids: list[int], now: dt.datetime) -> None:
    """A try during a lock-out is audited (S4: every attempt), but not counted again: it neither
    extends the lock nor moves the PIN closer to being revoked."""
    with write_transaction():
        for patient_id in patient_ids:
            audit.record(audit.REDEEM_FAILED, patient=Patient.get_by_id(patient_id), at=now, detail={"how": "locked"})


def _candidates(dob: dt.date) -> list[int]:
    """Patients born on ``dob`` with an active PIN: who a wrong guess counts against."""
    return [p.id for p in Patient.select(Patient.id).join(RegistrationPin)
            .where((Patient.dob == dob) & (RegistrationPin.state == PinState.ACTIVE)).distinct()]


@retrying
def redeem(account_id: int, dob: dt.date, *, pin: str = "", family_name: str = "", answer: str = "",
           now: dt.datetime | None = None) -> Redeemed:
    """Tie a child to the parent's account with the child's DOB and the PIN (or question answer).

    The same PIN works for further parents until it has been used by the practice's
    ``parents_per_pin`` accounts (R13). Raises PortalError with one generic message otherwise.
    """
    now = now or utcnow()
    row = _find(dob, pin, family_name, answer)
    if row is None:
        targets = _candidates(dob)
        locked = [p for p in targets if _locked(p, now)]
        if locked:
            _refused_while_locked(locked, now)
            raise PortalError(LOCKED)
        _fail(targets, now, "no match")
        raise PortalError(GENERIC)
    patient = row.patient
    if _locked(patient.id, now):
        _refused_while_locked([patient.id], now)
        raise PortalError(LOCKED)
    if patient.dob != dob:
        _fail([patient.id], now, "date of birth")
        raise PortalError(GENERIC)
    if row.state != PinState.ACTIVE:
        _fail([patient.id], now, row.state)
        raise PortalError(GENERIC)
    if row.expires_at <= now:
        with write_transaction():
            RedemptionAttempt.create(patient=patient, at=now, succeeded=False)
            audit.record(audit.REDEEM_FAILED, patient=patient, at=now, detail={"how": "expired"})
        raise PortalError(EXPIRED)
    with write_transaction():
        lock_rows(Patient, [patient.id])
        pin_row = RegistrationPin.get_by_id(row.id)  # re-read under the write lock
        if pin_row.state != PinState.ACTIVE:
            raise PortalError(GENERIC)
        link, created = Association.get_or_create(account=account_id, patient=patient,
                                                  defaults={"access": pin_row.access, "pin": pin_row, "created_at": now})
        if created:
            pin_row.redemptions += 1
            if pin_row.redemptions >= Practice.get().parents_per_pin:
                pin_row.state, pin_row.ended_at, pin_row.ended_reason = PinState.REDEEMED, now, "used by every parent"
            pin_row.save()
        (Patient.update(portal_status=PortalStatus.REGISTERED, updated_at=now)
         .where(Patient.id == patient.id).execute())
        RedemptionAttempt.create(patient=patient, at=now, succeeded=True)
        audit.record(audit.REDEEM, patient=patient, at=now,
                     detail={"account": account_id, "pin": pin_row.id, "access": link.access, "new": created})
    return Redeemed(patient.id, patient.given_name, Access(link.access).label)


def _find(dob: dt.date, pin: str, family_name: str, answer: str) -> RegistrationPin | None:
    if pin:
        canonical = pins.normalize_pin(pin)
        if canonical is None:
            return None
        return (RegistrationPin.select(RegistrationPin, Patient).join(Patient)
                .where(RegistrationPin.pin_hash == pin_digest(canonical)).first())
    if answer and family_name:
        rows = (RegistrationPin.select(RegistrationPin, Patient).join(Patient)
                .where((Patient.dob == dob) & (Patient.family_key == fold(family_name))
                       & (RegistrationPin.method == RegistrationMethod.QUESTION)
                       & (RegistrationPin.state == PinState.ACTIVE)))
        return next((r for r in rows if r.answer_hash == answer_digest(r.patient.id, answer)), None)
    return None


def question_for(dob: dt.date, family_name: str) -> str | None:
    """The verification question set for a child (R10), so the parent can answer it."""
    row = (RegistrationPin.select(RegistrationPin.question).join(Patient)
           .where((Patient.dob == dob) & (Patient.family_key == fold(family_name))
                  & (RegistrationPin.method == RegistrationMethod.QUESTION)
                  & (RegistrationPin.state == PinState.ACTIVE)).first())
    return row.question if row else None
