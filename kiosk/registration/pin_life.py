"""A PIN's life after the visit it was issued at (L1-L6): expiry, its facts and history, re-issue,
revoke, resend or redirect of its welcome, why a parent cannot register, and contact corrections.

Every state change here is one transaction that locks the patients it touches in id order first
(O1) and writes exactly one audit event per child it changes. Reads treat a PIN whose
``expires_at`` has passed as expired even before ``kiosk maintain`` has recorded it (L2), so no
screen or command shows an expired PIN as active in between.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kiosk import audit, validate
from kiosk.messages import outbox
from kiosk.messages.carriers import get_carrier
from kiosk.people.contact import format_us_cell, normalize_email, normalize_us_cell
from kiosk.people.staff import StaffUser
from kiosk.store.db import Prepared, lock_rows, retrying, tuples, write_transaction
from kiosk.store.models import (
    Association,
    Caregiver,
    OutboxMessage,
    Patient,
    PortalAccount,
    RedemptionAttempt,
    RegistrationPin,
    Relationship,
    Staff,
)
from kiosk.terms import (
    LANGUAGES,
    Authority,
    Channel,
    Delivery,
    MessageKind,
    MessageState,
    PinState,
    PortalStatus,
    RegistrationMethod,
    utcnow,
)

EXPIRED_REASON = "reached its expiry date"
AFTER_DELIVERY = (
    "The welcome was delivered, and its plain PIN is no longer kept anywhere. To send the "
    "family a new message, issue a new PIN: it replaces this one."
)
NOT_SENT = (
    "This PIN was issued with Do not send PIN, and its plain PIN is no longer kept anywhere. To "
    "send it, issue a new PIN with Email or Text message: it replaces this one."
)
NO_BODY = (
    "This welcome is no longer kept (its PINs ended or it was erased). To send the family a new message, "
    "issue a new PIN."
)
BEING_SENT = "The welcome is being sent right now; look again in a minute."
NOTHING_LEFT = (
    "Nothing is left to send: every PIN in this welcome has been used by a parent or has ended. "
    "A parent who still needs one gets a new PIN from the account page."
)
REGISTERED_NOT_TICKED = (
    "already Registered: not ticked. A second parent gets their own PIN from the account "
    "page (Generate PIN)."
)
SELF_REGISTERED_NOT_TICKED = (
    "Self Registered: not ticked. Validate the parent's account from the patient's page (i) "
    "after checking their ID; no PIN is needed."
)


class PinLifeError(ValueError):
    """An action on a PIN that cannot go ahead; ``field`` is the input it belongs next to and the
    message says why in plain words."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def required_reason(reason: str, missing: str) -> str:
    """``reason`` as stored (checked like all the desk types, kiosk.validate); PinLifeError next to
    the reason field, saying ``missing`` when it is empty."""
    try:
        text = validate.clean_text(
            reason, field="reason", label="The reason", limit=validate.REASON
        )
    except validate.InputProblem as problem:
        raise PinLifeError(f"{problem}.", "reason") from None
    if not text:
        raise PinLifeError(missing, "reason")
    return text


def _day(moment: dt.datetime | None) -> str:
    return f"{moment:%m/%d/%Y}" if moment else ""


# -- ending a PIN (R3, L2, L4) -------------------------------------------------------------------


# an active PIN ended, written once (kiosk.store.db.Prepared): an issue that replaces PINs ends one
# a child, and peewee writing it each time was a tenth of the desk's CPU for the issue (O1)
_END_PIN = Prepared(
    lambda id, state, at, reason, by: RegistrationPin.update(
        state=state, ended_at=at, ended_reason=reason, ended_by=by
    ).where((RegistrationPin.id == id) & (RegistrationPin.state == PinState.ACTIVE))
)


def end_pin(
    pin: RegistrationPin,
    patient: Patient,
    state: PinState,
    reason: str,
    username: str,
    now: dt.datetime,
    *,
    restore_status: bool = True,
    events: list[audit.Pending] | None = None,
) -> None:
    """End one active PIN inside the caller's transaction (the patient locked first): its state, who
    and why, one audit event; and unless another PIN takes over (``restore_status`` False), the
    child's status back to what it was before the PIN (L2) when the PIN had made it Pending.
    With ``events`` the event is added to them, for the caller to write last (S10, O1)."""
    expired = state == PinState.EXPIRED
    changed = _END_PIN.count(
        id=pin.id,
        state=state,
        at=RegistrationPin.ended_at.db_value(pin.expires_at if expired else now),
        reason=EXPIRED_REASON if expired else reason,
        by="" if expired else username,
    )
    if not changed:  # another desk ended it first: its event is written, not a second one
        return
    detail: dict[str, object] = {
        "pin": pin.id,
        "batch": pin.batch,
        "reason": EXPIRED_REASON if expired else reason,
    }
    # read again to restore the status; a replacement (the new PIN takes over) keeps ``patient``,
    # read under its lock by the caller: a round trip less a child (O1)
    current = Patient.get_by_id(patient.id) if restore_status else patient
    if restore_status and not pin.second_parent and current.portal_status == PortalStatus.PENDING:
        back = pin.prior_status or PortalStatus.UNREGISTERED
        if back == PortalStatus.PENDING:
            back = PortalStatus.UNREGISTERED
        Patient.update(portal_status=back, updated_at=now).where(Patient.id == patient.id).execute()
        detail["status"] = back
    action = {PinState.EXPIRED: audit.EXPIRE, PinState.REPLACED: audit.REPLACE}.get(
        state, audit.REVOKE
    )
    made = audit.event(
        action, staff="" if expired else username, patient=current, detail=detail, at=now
    )
    if events is None:
        audit.record_all([made])
    else:
        events.append(made)


def expire_due(now: dt.datetime | None = None) -> int:
    """L2: record every active PIN past its expiry as expired (once: a second run, or two runs at
    once, find nothing left to do); erase their unsent welcomes. Returns how many PINs expired.
    Safe to run every few minutes (``kiosk maintain``) and at start-up."""
    now = now or utcnow()
    due = sorted(
        {
            patient_id
            for (patient_id,) in tuples(
                RegistrationPin.select(RegistrationPin.patient).where(
                    (RegistrationPin.state == PinState.ACTIVE) & (RegistrationPin.expires_at <= now)
                )
            )
        }
    )
    count, batches = 0, set()
    for patient_id in due:
        ended = _expire_patient(patient_id, now)
        count += len(ended)
        batches |= ended
    if batches:
        outbox.erase_stale_bodies(now, batches=batches)
    return count


@retrying
def _expire_patient(patient_id: int, now: dt.datetime) -> set[str]:
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            return set()
        ended = set()
        for pin in RegistrationPin.select().where(
            (RegistrationPin.patient == patient_id)
            & (RegistrationPin.state == PinState.ACTIVE)
            & (RegistrationPin.expires_at <= now)
        ):
            end_pin(pin, patient, PinState.EXPIRED, EXPIRED_REASON, "", now)
            ended.add(pin.batch)
        return ended


@dataclass(frozen=True)
class MaintenanceReport:
    expired: int
    erased: int
    reminded: int = 0  # W3: families sent a reminder before their PINs expire
    ages: str = ""  # T2, T4: what the age policy and end dates changed, "" when nothing

    def summary(self) -> str:
        pins, messages = "PIN" + "s" * (self.expired != 1), "message" + "s" * (self.erased != 1)
        reminders = "reminder" + "s" * (self.reminded != 1)
        ages = f" {self.ages}" if self.ages else ""
        return (
            f"{self.expired} {pins} expired, {self.erased} unsent {messages} erased, "
            f"{self.reminded} {reminders} queued.{ages}"
        )


def maintain(
    now: dt.datetime | None = None, today: dt.date | None = None, *, sms_provider: bool = False
) -> MaintenanceReport:
    """What ``kiosk maintain`` does (and the app at start-up): expire PINs (L2), apply the age
    policy and association end dates on ``today`` (T2, T4), erase the unsent welcomes whose PINs
    have all ended (S11), queue the reminders due (W3; ``sms_provider``: texted through the SMS
    provider, I2). Idempotent."""
    from kiosk.followup import reminders
    from kiosk.registration.ages import apply_age_policy

    if today is None:  # the day of the ``now`` given (tests, training), else the desk's own
        today = now.date() if now is not None else dt.date.today()
    now = now or utcnow()
    expired = expire_due(now)
    ages = apply_age_policy(now, today).summary()
    erased = outbox.erase_stale_bodies(now)
    reminded = reminders.send_due(now, sms_provider=sms_provider)
    return MaintenanceReport(expired, erased, reminded, ages)


# -- the PIN's facts and history (L1) ------------------------------------------------------------


@dataclass(frozen=True)
class PinFacts:
    """One PIN as the account page shows it. Never the plain PIN (S2)."""

    id: int
    patient_id: int
    patient_name: str
    batch: str
    method: RegistrationMethod
    state: PinState  # as it stands now: an active PIN past its expiry is EXPIRED (L2)
    second_parent: bool
    issued_at: dt.datetime
    issued_by: str
    terminal: str
    delivery: Delivery
    print_slip: bool
    recipient: str  # the caregiver it was for, "" when none
    address: str  # where the welcome went, masked
    message: MessageState | None  # the welcome's delivery state, None when there was no message
    message_note: str  # why it failed or waits, or a note
    sent_at: dt.datetime | None
    expires_at: dt.datetime
    parents: tuple[str, ...]  # portal accounts that registered with it
    ended_at: dt.datetime | None
    ended_by: str
    ended_reason: str

    @property
    def kind(self) -> str:
        return _kind(self.method, self.second_parent)

    @property
    def state_words(self) -> str:
        """``Active until 12/31/2026``, ``Expired on ...``, ``Revoked on ... by ana: reason`` (L1)."""
        by = f" by {self.ended_by}" if self.ended_by else ""
        if self.state == PinState.ACTIVE:
            return f"Active until {_day(self.expires_at)}"
        if self.state == PinState.EXPIRED:
            return f"Expired on {_day(self.expires_at)}"
        if self.state == PinState.REPLACED:
            return f"Replaced on {_day(self.ended_at)}{by}"
        if self.state == PinState.REVOKED:
            return f"Revoked on {_day(self.ended_at)}{by}: {self.ended_reason}"
        return f"Used by every parent on {_day(self.ended_at)}"

    @property
    def issued_words(self) -> str:
        where = f" at {self.terminal}" if self.terminal else ""
        return f"Issued {self.issued_at:%m/%d/%Y %H:%M} by {self.issued_by}{where}"

    @property
    def delivery_words(self) -> str:
        """How the PIN reached the family and what became of the message (L1, L4)."""
        slip = "; slip printed" if self.print_slip else ""
        if self.delivery == Delivery.NONE:
            return f"Not sent (Do not send PIN){slip}"
        # no address on file (a seeded or imported PIN) says no empty "()" after the name (L1)
        address = f" ({self.address})" if self.recipient and self.address else self.address
        to = f" to {self.recipient}{address}" if self.recipient or self.address else ""
        how = f"{Delivery(self.delivery).label}{to}"
        if self.message is None:
            return f"{how}: no message{slip}"
        state = {
            MessageState.QUEUED: "queued, not sent yet",
            MessageState.SENDING: "being sent",
            MessageState.SENT: f"sent {_day(self.sent_at)}",
            MessageState.FAILED: "not sent",
        }[self.message]
        note = (
            f" ({self.message_note})"
            if self.message_note and self.message != MessageState.SENT
            else ""
        )
        return f"{how}: {state}{note}{slip}"

    @property
    def parents_words(self) -> str:
        return ", ".join(self.parents) if self.parents else "No parent has used it yet"


@dataclass(frozen=True)
class PinHistory:
    """The account page's PIN section: the active PIN, then the earlier ones, newest first (L1)."""

    active: PinFacts | None
    earlier: tuple[PinFacts, ...]

    @property
    def latest(self) -> PinFacts | None:
        return self.active or (self.earlier[0] if self.earlier else None)


def _kind(method: str, second_parent: bool) -> str:
    """The kind of PIN: "PIN", "Verification question", or either for a second parent (L1)."""
    word = "Verification question" if method == RegistrationMethod.QUESTION else "PIN"
    return f"Second-parent {word[0].lower()}{word[1:]}" if second_parent else word


def _state_now(row: RegistrationPin, now: dt.datetime) -> PinState:
    """The PIN's state as it stands at ``now``: an active one past its expiry is EXPIRED (L2)."""
    state = PinState(row.state)
    return PinState.EXPIRED if state == PinState.ACTIVE and row.expires_at <= now else state


def _facts(rows: Iterable[RegistrationPin], now: dt.datetime) -> list[PinFacts]:
    rows = list(rows)
    if not rows:
        return []
    staff = {
        s.id: s.display_name
        for s in Staff.select(Staff.id, Staff.display_name).where(
            Staff.id.in_({r.issued_by_id for r in rows})
        )
    }
    people: dict[int | None, str] = {
        c.id: c.full_name
        for c in Caregiver.select().where(
            Caregiver.id.in_({r.recipient_id for r in rows if r.recipient_id})
        )
    }
    patients = {
        p.id: p.full_name
        for p in Patient.select().where(Patient.id.in_({r.patient_id for r in rows}))
    }
    messages: dict[str, OutboxMessage] = {}
    message: OutboxMessage | None
    for message in (
        OutboxMessage.select(
            OutboxMessage.batch,
            OutboxMessage.channel,
            OutboxMessage.recipient,
            OutboxMessage.state,
            OutboxMessage.last_error,
            OutboxMessage.sent_at,
            OutboxMessage.id,
        )
        .where(OutboxMessage.batch.in_({r.batch for r in rows}))
        .order_by(OutboxMessage.id)
    ):
        messages[message.batch] = message  # the newest message of each batch
    parents: dict[int | None, list[str]] = {}
    for link in (
        Association.select(Association.pin, PortalAccount.display_name)
        .join(PortalAccount)
        .where(Association.pin.in_([r.id for r in rows]))
        .order_by(Association.created_at)
    ):
        parents.setdefault(link.pin_id, []).append(link.account.display_name)
    result = []
    for row in rows:
        message = messages.get(row.batch)
        state = _state_now(row, now)
        address = ""
        if message is not None:
            address = outbox.mask_recipient(message.channel, message.recipient)
        elif row.recipient_email:
            address = outbox.mask_recipient(Channel.EMAIL, row.recipient_email)
        elif row.recipient_cell:
            address = outbox.mask_recipient(Channel.TEXT, row.recipient_cell)
        result.append(
            PinFacts(
                row.id,
                row.patient_id,
                patients.get(row.patient_id, ""),
                row.batch,
                RegistrationMethod(row.method),
                state,
                row.second_parent,
                row.issued_at,
                staff.get(row.issued_by_id, ""),
                row.terminal,
                Delivery(row.delivery),
                row.print_slip,
                people.get(row.recipient_id, ""),
                address,
                MessageState(message.state) if message is not None else None,
                message.last_error if message is not None else "",
                message.sent_at if message is not None else None,
                row.expires_at,
                tuple(parents.get(row.id, ())),
                row.ended_at if state == row.state else row.expires_at,
                row.ended_by,
                row.ended_reason if state == row.state else EXPIRED_REASON,
            )
        )
    return result


def pin_history(patient_id: int, now: dt.datetime | None = None) -> PinHistory:
    """Every PIN the child has had, the active one apart (L1)."""
    now = now or utcnow()
    rows = (
        RegistrationPin.select()
        .where(RegistrationPin.patient == patient_id)
        .order_by(RegistrationPin.issued_at.desc(), RegistrationPin.id.desc())
    )
    facts = _facts(rows, now)
    active = next((f for f in facts if f.state == PinState.ACTIVE), None)
    return PinHistory(active, tuple(f for f in facts if f is not active))


def batch_pins(batch: str, now: dt.datetime | None = None) -> list[PinFacts]:
    """The PINs issued together in ``batch`` (one Register), as they stand now: the window that
    issued them shows which a parent has redeemed since (R12, R13) or that ended (L2, L4)."""
    rows = (
        RegistrationPin.select().where(RegistrationPin.batch == batch).order_by(RegistrationPin.id)
    )
    return _facts(rows, now or utcnow())


_LATEST_PIN = Prepared(
    lambda patient: (
        RegistrationPin.select()
        .where(RegistrationPin.patient == patient)
        .order_by(RegistrationPin.issued_at.desc(), RegistrationPin.id.desc())
        .limit(1)
    )
)


def latest_pin_of(patient: Any) -> Any:
    """The id of ``patient``'s latest PIN, as a subquery (:data:`_LATEST_PIN`'s order)."""
    pin = RegistrationPin.alias()
    return (
        pin.select(pin.id)
        .where(pin.patient == patient)
        .order_by(pin.issued_at.desc(), pin.id.desc())
        .limit(1)
    )


# every child's latest PIN in one statement: the registration window read them one a child, a
# round trip each (O1)
_LATEST_PINS = Prepared(
    lambda ids: RegistrationPin.select().where(
        RegistrationPin.id.in_([latest_pin_of(i) for i in ids])
    )
)


def latest_pins(patient_ids: list[int]) -> dict[int, RegistrationPin]:
    """Each of these patients' latest PIN, by patient id (none for a patient without one)."""
    return {pin.patient_id: pin for pin in _LATEST_PINS.rows(ids=patient_ids)}


def pin_state_words(patient: Patient, now: dt.datetime | None = None) -> str:
    """The PIN/VQ line of the account page and the registration window, one distinct phrase per state
    (L1): never "PIN Already Assigned" for two different things. From the PIN's own row: its
    other facts (who issued it, the message, the parents) are not part of the line, and reading
    them was five statements more for every child the page or the window shows."""
    return pin_words(patient, _LATEST_PIN.first(patient=patient.id), now)


def pin_words(
    patient: Patient, latest: RegistrationPin | None, now: dt.datetime | None = None
) -> str:
    """:func:`pin_state_words` for ``latest``, the patient's latest PIN as read already (None:
    it has none)."""
    now = now or utcnow()
    if latest is None:
        return (
            "Registered without a PIN"
            if patient.portal_status == PortalStatus.REGISTERED
            else "No PIN"
        )
    state = _state_now(latest, now)
    kind = _kind(latest.method, latest.second_parent)
    if state == PinState.ACTIVE:
        if patient.portal_status == PortalStatus.REGISTERED:
            if latest.second_parent:
                return f"Registered; second-parent PIN active until {_day(latest.expires_at)}"
            return f"Registered; PIN still open to another parent until {_day(latest.expires_at)}"
        return f"{kind} active until {_day(latest.expires_at)}"
    if state == PinState.EXPIRED:
        return f"{kind} expired on {_day(latest.expires_at)}"
    if state == PinState.REDEEMED or patient.portal_status == PortalStatus.REGISTERED:
        return "Registered; PIN used"
    if state == PinState.REVOKED:
        return f"{kind} revoked on {_day(latest.ended_at)}"
    return "No PIN"


# -- re-issue with eyes open (L3) ----------------------------------------------------------------


def active_pins(patient_ids: Iterable[int], now: dt.datetime | None = None) -> list[PinFacts]:
    """The active, unexpired PINs of these children (from this visit or any earlier one): what a new
    Register would replace, with their facts (L3)."""
    now = now or utcnow()
    rows = (
        RegistrationPin.select()
        .where(RegistrationPin.patient.in_(list(patient_ids)) & RegistrationPin.works_at(now))
        .order_by(RegistrationPin.patient, RegistrationPin.id)
    )
    return _facts(rows, now)


def not_ticked_reason(portal_status: str) -> str:
    """Why the registration window leaves a child unticked (L3, T3), or "" when it is ticked.

    Issuing never downgrades Registered or Self Registered (T3), so neither is ticked: ticking
    one would only earn the desk a refusal after Register.
    """
    if portal_status == PortalStatus.REGISTERED:
        return REGISTERED_NOT_TICKED
    if portal_status == PortalStatus.SELF_REGISTERED:
        return SELF_REGISTERED_NOT_TICKED
    return ""


# -- resend or redirect an undelivered welcome (L4) ----------------------------------------------


def _active_pin(patient_id: int, now: dt.datetime) -> RegistrationPin:
    pin = (
        RegistrationPin.select()
        .where((RegistrationPin.patient == patient_id) & RegistrationPin.works_at(now))
        .first()
    )
    if pin is None:
        raise PinLifeError(
            "This child has no active PIN. Issue a new PIN to send the family a message."
        )
    return pin


def _undelivered(pin: RegistrationPin) -> OutboxMessage:
    """The PIN's welcome if it can still be sent; else PinLifeError saying what to do instead."""
    if pin.delivery == Delivery.NONE:
        raise PinLifeError(NOT_SENT)
    message: OutboxMessage | None = (
        OutboxMessage.select()
        .where((OutboxMessage.batch == pin.batch) & (OutboxMessage.kind == MessageKind.WELCOME))
        .order_by(OutboxMessage.id.desc())
        .first()
    )
    if message is None:
        raise PinLifeError(NO_BODY)
    if message.state == MessageState.SENT:
        raise PinLifeError(AFTER_DELIVERY)
    if message.state == MessageState.SENDING:
        raise PinLifeError(BEING_SENT)
    if not message.body_text and not message.body_html:
        raise PinLifeError(NO_BODY)
    return message


def _something_left(batch: str, now: dt.datetime) -> None:
    """PinLifeError unless a PIN of the welcome's ``batch`` is active and no parent has used it
    yet: the welcome of PINs all used or ended gives nobody anything (L4, R13: another parent
    gets their own PIN). Read under the batch's lock, so a redemption that won the race is seen."""
    live = [
        pin_id
        for (pin_id,) in tuples(
            RegistrationPin.select(RegistrationPin.id).where(
                (RegistrationPin.batch == batch) & RegistrationPin.works_at(now)
            )
        )
    ]
    used = {
        pin_id
        for (pin_id,) in tuples(
            Association.select(Association.pin).where(Association.pin.in_(live))
        )
    }
    if not set(live) - used:
        raise PinLifeError(NOTHING_LEFT)


def welcome_refusal(pins: Iterable[PinFacts]) -> str:
    """Why the welcome that carries ``pins`` (one batch's, as batch_pins read them) cannot be sent
    now, as send_welcome_now and redirect_welcome would say it, or "" when it can: the screens
    offer Send only then (L4: an undelivered welcome, never a second one; R13: not for PINs every
    parent has used or that ended). The send itself checks again under the lock."""
    pins = list(pins)
    if not pins:
        return ""
    first = pins[0]
    if first.delivery == Delivery.NONE:
        return NOT_SENT
    if first.message is None:
        return NO_BODY
    if first.message == MessageState.SENT:
        return AFTER_DELIVERY
    if first.message == MessageState.SENDING:
        return BEING_SENT
    if not any(pin.state == PinState.ACTIVE and not pin.parents for pin in pins):
        return NOTHING_LEFT
    return ""


@contextmanager
def _welcome(
    patient_id: int, now: dt.datetime
) -> Iterator[tuple[RegistrationPin, OutboxMessage, list[int]]]:
    """A write transaction holding the children of the child's family batch (O1: locked in id order),
    with the child's active PIN and its welcome if it can still be sent (else PinLifeError)."""
    batch = _active_pin(patient_id, now).batch
    children = sorted(
        {
            p
            for (p,) in tuples(
                RegistrationPin.select(RegistrationPin.patient).where(
                    RegistrationPin.batch == batch
                )
            )
        }
    )
    with write_transaction():
        lock_rows(Patient, children)
        pin = _active_pin(patient_id, now)  # again under the lock: another desk may have ended it
        message = _undelivered(pin)
        _something_left(batch, now)
        yield pin, message, children


def _record_for_batch(
    event: str,
    staff: StaffUser,
    children: list[int],
    now: dt.datetime,
    message: OutboxMessage,
    detail: dict[str, object],
) -> None:
    """One audit event per child of the family batch the welcome ``message`` serves (L4), written
    together as the transaction's last step (S10, O1: the audit head last)."""
    patients = {p.id: p for p in Patient.select().where(Patient.id.in_(children))}
    audit.record_all(
        [
            audit.event(
                event,
                staff=staff.username,
                patient=patients[child],
                at=now,
                detail={"message_id": message.message_id, "batch": message.batch, **detail},
            )
            for child in children
        ]
    )


@retrying
def send_welcome_now(
    staff: StaffUser, patient_id: int, *, now: dt.datetime | None = None
) -> outbox.MessageRow:
    """L4: make the child's undelivered welcome due now (a failed one gets a fresh set of tries);
    the caller then runs a delivery. One audit event per child of the family batch."""
    now = now or utcnow()
    with _welcome(patient_id, now) as (pin, message, batch_patients):
        outbox.queue_again(message.id, now)
        _record_for_batch(
            audit.SEND_NOW, staff, batch_patients, now, message, {"was": message.state}
        )
    return outbox.list_messages(batch=pin.batch, limit=1)[0]


@retrying
def redirect_welcome(
    staff: StaffUser,
    patient_id: int,
    caregiver_id: int,
    *,
    now: dt.datetime | None = None,
    sms_provider: bool = False,
) -> outbox.MessageRow:
    """L4: send the child's undelivered welcome to another caregiver with contact authority over every
    child in it: the same sealed message, re-addressed (their email for an email, their cell for a
    text), due now. The PINs record the new recipient. One audit event per child.
    ``sms_provider``: texts go through the SMS provider (I2), to any cell whatever its carrier."""
    now = now or utcnow()
    with _welcome(patient_id, now) as (pin, message, batch_patients):
        caregiver = Caregiver.get_or_none(Caregiver.id == caregiver_id)
        if caregiver is None:
            raise PinLifeError("That caregiver no longer exists; reopen the patient.", "recipient")
        live = list(
            RegistrationPin.select().where(
                (RegistrationPin.batch == pin.batch) & (RegistrationPin.state == PinState.ACTIVE)
            )
        )
        with_authority = {
            r.patient_id
            for r in Relationship.select().where(
                (Relationship.caregiver == caregiver)
                & (Relationship.authority != Authority.NONE)
                & Relationship.patient.in_([p.patient_id for p in live])
            )
        }
        lacking = [p for p in live if p.patient_id not in with_authority]
        if lacking:
            name = Patient.get_by_id(lacking[0].patient_id).given_name
            raise PinLifeError(
                f"{caregiver.full_name} has no contact authority for {name}; choose a caregiver "
                "with Joint or Sole authority.",  # R15
                "recipient",
            )
        changes: dict[str, object]
        if message.channel == Channel.EMAIL:
            if not caregiver.email:
                raise PinLifeError(
                    f"{caregiver.full_name} has no email address: add it first (Edit contact).",
                    "email",
                )
            address = caregiver.email.strip().lower()
            changes = {"recipient": address}
            pin_changes = {"recipient": caregiver, "recipient_email": address}
        else:
            carrier = get_carrier(caregiver.carrier)
            digits = normalize_us_cell(caregiver.cell or "")
            if sms_provider and digits is not None:  # I2: the number itself, no gateway
                address, carrier_key = "+1" + digits, ""
            elif not caregiver.cell or carrier is None or carrier.retired:
                raise PinLifeError(
                    f"{caregiver.full_name} has no cell number with a working carrier: add them "
                    "first (Edit contact).",
                    "cell",
                )
            else:
                address, carrier_key = carrier.address_for(caregiver.cell), carrier.key
            changes = {"recipient": address, "carrier": carrier_key}
            pin_changes = {
                "recipient": caregiver,
                "recipient_cell": caregiver.cell,
                "carrier": carrier_key,
            }
        outbox.queue_again(message.id, now, **changes)
        RegistrationPin.update(**pin_changes).where(
            RegistrationPin.id.in_([p.id for p in live])
        ).execute()
        moved = {
            "caregiver": caregiver.id,
            "from": outbox.mask_recipient(message.channel, message.recipient),
            "to": outbox.mask_recipient(message.channel, address),
        }
        _record_for_batch(audit.REDIRECT, staff, batch_patients, now, message, moved)
    return outbox.list_messages(batch=pin.batch, limit=1)[0]


# -- contact edit in place (L6) ------------------------------------------------------------------


# ContactChange's fields and the column each is stored in, for a caregiver and a patient alike
_STORED = {"email": "email", "cell": "cell", "carrier": "carrier", "language": "preferred_language"}


@dataclass(frozen=True)
class ContactChange:
    """What the desk typed for a caregiver; None leaves that field as it is."""

    email: str | None = None
    cell: str | None = None
    carrier: str | None = None
    language: str | None = None


def _contact_values(change: ContactChange) -> dict[str, str]:
    """The change as it would be stored; PinLifeError naming the first field that is wrong."""
    values: dict[str, str] = {}
    if change.email is not None:
        try:
            text = validate.clean_text(
                change.email, field="email", label="The email address", limit=validate.EMAIL
            )
        except validate.InputProblem as problem:
            raise PinLifeError(f"{problem}.", "email") from None
        email = normalize_email(text) if text else ""
        if email is None:
            raise PinLifeError(
                "Enter a valid email address, like name@example.com, or leave it empty.", "email"
            )
        values["email"] = email.lower()
    if change.cell is not None:
        text = validate.one_line(change.cell)
        cell = normalize_us_cell(text) if text else ""
        if cell is None:
            raise PinLifeError(
                "Enter a 10-digit US cell number, like (317) 555-0101, or leave it empty.", "cell"
            )
        values["cell"] = cell
    if change.carrier is not None:
        if change.carrier and get_carrier(change.carrier) is None:
            raise PinLifeError("Unknown carrier; choose one from the list.", "carrier")
        values["carrier"] = change.carrier
    if change.language is not None:
        if change.language not in LANGUAGES:
            raise PinLifeError(
                f"Choose a language kiosk writes in: {', '.join(LANGUAGES)}.", "language"
            )
        values["language"] = change.language
    return values


@retrying
def update_contact(
    staff: StaffUser, caregiver_id: int, change: ContactChange, *, now: dt.datetime | None = None
) -> Caregiver:
    """L6: correct a caregiver's email, cell, carrier and language, checked like everything typed at the
    desk (kiosk.validate, kiosk.people.contact); one audit event naming the fields changed (not their values).
    Returns the caregiver as stored."""
    now = now or utcnow()
    values = _contact_values(change)
    children = [
        r.patient_id
        for r in Relationship.select(Relationship.patient).where(
            Relationship.caregiver == caregiver_id
        )
    ]
    with write_transaction():
        lock_rows(
            Patient, children
        )  # O1: the order every writer takes; their PIN rows name this caregiver
        caregiver = Caregiver.get_or_none(Caregiver.id == caregiver_id)
        if caregiver is None:
            raise PinLifeError("That caregiver no longer exists; reopen the patient.", "caregiver")
        changed = sorted(
            key for key, value in values.items() if getattr(caregiver, _STORED[key]) != value
        )
        if not changed:
            return caregiver
        if values.get("cell") == "" and "carrier" not in values:
            values["carrier"] = ""
        for key, value in values.items():
            setattr(caregiver, _STORED[key], value)
        caregiver.updated_at = now
        caregiver.save()
        audit.record(
            audit.CONTACT_EDIT,
            staff=staff.username,
            at=now,
            detail={"caregiver": caregiver.id, "changed": changed},
        )
    return caregiver


@retrying
def update_patient_contact(
    staff: StaffUser, patient_id: int, change: ContactChange, *, now: dt.datetime | None = None
) -> Patient:
    """T1: the patient's own email, cell, carrier and language (for Send to Minor), checked and
    audited as a caregiver's are (L6). Returns the patient as stored."""
    now = now or utcnow()
    values = _contact_values(change)
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            raise PinLifeError("That patient no longer exists; reopen the patient.", "patient")
        if values.get("cell") == "" and "carrier" not in values:
            values["carrier"] = ""
        changed = sorted(
            key for key, value in values.items() if getattr(patient, _STORED[key]) != value
        )
        if not changed:
            return patient
        Patient.update(
            updated_at=now, **{_STORED[key]: value for key, value in values.items()}
        ).where(Patient.id == patient.id).execute()
        audit.record(
            audit.CONTACT_EDIT,
            staff=staff.username,
            patient=patient,
            at=now,
            detail={"patient": patient.id, "changed": changed},
        )
    return Patient.get_by_id(patient_id)


def contact_words(caregiver: Caregiver) -> str:
    """A caregiver's contact details as the desk reads them back."""
    carrier = get_carrier(caregiver.carrier)
    cell = format_us_cell(caregiver.cell) if caregiver.cell else "no cell"
    return (
        f"{caregiver.email or 'no email'}; {cell}{f' ({carrier.name})' if carrier else ''}; "
        f"language {caregiver.preferred_language}"
    )


# -- the pin list for the command line (L2, L5) ---------------------------------------------------


@dataclass(frozen=True)
class PinLine:
    facts: PinFacts
    chart_number: str
    status: PortalStatus


def list_pins(
    *,
    active: bool = False,
    expiring_days: int | None = None,
    expired: bool = False,
    now: dt.datetime | None = None,
    limit: int = 1000,
) -> list[PinLine]:
    """PINs for ``kiosk pin list``: active ones (optionally only those expiring within N days), or
    expired ones (recorded, or past their date and not yet recorded). Newest first."""
    now = now or utcnow()
    query = RegistrationPin.select()
    if expired:
        query = query.where(
            (RegistrationPin.state == PinState.EXPIRED)
            | ((RegistrationPin.state == PinState.ACTIVE) & (RegistrationPin.expires_at <= now))
        )
    elif active or expiring_days is not None:
        query = query.where(RegistrationPin.works_at(now))
        if expiring_days is not None:
            query = query.where(
                RegistrationPin.expires_at <= now + dt.timedelta(days=expiring_days)
            )
    rows = list(
        query.order_by(RegistrationPin.issued_at.desc(), RegistrationPin.id.desc()).limit(limit)
    )
    patients = {
        p.id: p
        for p in Patient.select(Patient.id, Patient.chart_number, Patient.portal_status).where(
            Patient.id.in_({r.patient_id for r in rows})
        )
    }
    return [
        PinLine(
            f,
            patients[f.patient_id].chart_number,
            PortalStatus(patients[f.patient_id].portal_status),
        )
        for f in _facts(rows, now)
    ]


def patient_by_chart(chart_number: str) -> Patient:
    patient = Patient.get_or_none(Patient.chart_number == validate.one_line(chart_number))
    if patient is None:
        raise PinLifeError(
            f"No patient with chart number {validate.one_line(chart_number)[:64]!r}."
        )
    return patient


def staff_named(username: str) -> StaffUser | None:
    """The active staff member with this username (for ``kiosk pin revoke --by``), or None."""
    row = Staff.get_or_none(
        (Staff.username == validate.one_line(username).lower()) & (Staff.active == True)  # noqa: E712 - a peewee expression, not a truth test
    )
    return (
        StaffUser(row.id, row.username, row.display_name, row.portal_user, row.is_admin)
        if row
        else None
    )


# -- why a parent cannot register (L5) -----------------------------------------------------------

# What each kind of failed try means to the desk (kiosk.registration.portal.Outcome's stored words).
FAILURE_WORDS = {
    "wrong date": "birth date did not match the PIN",
    "wrong answer": "wrong answer to the question",
    "ended pin": "an ended PIN (replaced, revoked or used)",
    "expired": "an expired PIN",
    "refused: locked": "refused while locked",
    "refused: terminal paused": "refused: that terminal paused",
    "refused: practice paused": "refused: redeeming paused practice-wide",
}


@dataclass(frozen=True)
class RegistrationBlock:
    """Why a parent cannot register a child right now (L5): tries that named the child in the last
    day by kind, the lock-out's end, the PIN's state."""

    failures: tuple[tuple[str, int], ...]  # (what went wrong, how many), most first
    locked_until: dt.datetime | None
    toward_revoking: int
    pin_words: str

    @property
    def locked(self) -> bool:
        return self.locked_until is not None

    @property
    def lines(self) -> list[str]:
        """The account page's plain words, most important first."""
        from kiosk.registration.portal import FAILURES_TO_REVOKE

        lines = []
        if self.locked_until is not None:
            lines.append(
                f"Locked until {self.locked_until:%m/%d/%Y %H:%M} UTC after too many failed tries "
                "(an administrator can clear it)."
            )
        if self.failures:
            lines.append(
                "Failed tries in the last day: "
                + ", ".join(f"{n} {kind}" for kind, n in self.failures)
                + "."
            )
        if self.toward_revoking:
            lines.append(
                f"{self.toward_revoking} of {FAILURES_TO_REVOKE} failures in a row that revoke the PIN."
            )
        return lines or ["No failed tries in the last day."]


def registration_block(patient_id: int, now: dt.datetime | None = None) -> RegistrationBlock:
    """L5: what the account page says about why a parent cannot register this child."""
    from kiosk.registration.portal import guessing_status

    now = now or utcnow()
    status = guessing_status(patient_id, now=now)
    kinds = sorted(
        ((FAILURE_WORDS.get(k, k), n) for k, n in status.failures.items()),
        key=lambda kn: (-kn[1], kn[0]),
    )
    patient = Patient.get_by_id(patient_id)
    return RegistrationBlock(
        tuple(kinds), status.locked_until, status.toward_revoking, pin_state_words(patient, now)
    )


@retrying
def clear_lockout(
    staff: StaffUser, patient_id: int, reason: str, *, now: dt.datetime | None = None
) -> None:
    """L5: an administrator clears the child's lock-out and its count toward revoking the PIN, with a
    reason; one audit event. The earlier failures stay in the record but count no more."""
    from kiosk.registration.portal import Outcome, guessing_status

    now = now or utcnow()
    if not staff.is_admin:
        raise PinLifeError("Only an administrator can clear a lock-out.", "staff")
    reason = required_reason(
        reason, "Say why the lock-out is cleared (for example: identity checked at the desk)."
    )
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            raise PinLifeError("That patient no longer exists.")
        status = guessing_status(patient_id, now=now)
        if status.locked_until is None and not status.toward_revoking:
            raise PinLifeError(f"{patient.full_name} is not locked out: nothing to clear.")
        RedemptionAttempt.create(
            patient=patient, at=now, succeeded=False, terminal="", outcome=Outcome.CLEARED
        )
        audit.record(
            audit.LOCK_CLEARED,
            staff=staff.username,
            patient=patient,
            at=now,
            detail={
                "reason": reason,
                "was_locked_until": status.locked_until,
                "failures_in_row": status.toward_revoking,
            },
        )


def locked_children(now: dt.datetime | None = None) -> list[tuple[Patient, dt.datetime]]:
    """Children whose redemption is locked now, with when it ends (``kiosk pin list --locked``)."""
    from kiosk.registration.portal import LOCK_FOR, NAMING, WINDOW, guessing_status

    now = now or utcnow()
    recent = {
        p
        for (p,) in tuples(
            RedemptionAttempt.select(RedemptionAttempt.patient)
            .distinct()
            .where(
                (RedemptionAttempt.at > now - WINDOW - LOCK_FOR)
                & RedemptionAttempt.outcome.in_([str(o) for o in NAMING])
            )
        )
    }
    result = []
    for patient in Patient.select().where(Patient.id.in_(list(recent))).order_by(Patient.id):
        until = guessing_status(patient.id, now=now).locked_until
        if until is not None:
            result.append((patient, until))
    return result
