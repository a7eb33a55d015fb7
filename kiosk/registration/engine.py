"""The registration engine: checks, issuing PINs for a family, second-parent PINs, revoking.

Screens, the CLI and the tests all go through these functions. Nothing is written until every
check passes, and then one transaction writes the PINs, the status changes, the welcome message
and the audit events (R5, R6, O3).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import peewee

from kiosk import audit, security, validate
from kiosk.i18n import LANGUAGES, offered
from kiosk.messages import outbox
from kiosk.messages.carriers import carrier_warning, get_carrier
from kiosk.messages.welcome import compose_welcome
from kiosk.ops.terminals import default_language
from kiosk.people.contact import format_us_cell, normalize_us_cell, valid_email
from kiosk.people.names import is_placeholder_name, placeholder_message
from kiosk.people.patients import age_years
from kiosk.people.staff import StaffUser
from kiosk.registration import pins
from kiosk.store.db import (
    Prepared,
    database,
    insert_sql,
    is_sqlite,
    lock_rows,
    retrying,
    write_transaction,
)
from kiosk.store.models import (
    Association,
    Caregiver,
    Patient,
    Practice,
    RegistrationPin,
    Relationship,
)
from kiosk.terms import (
    Access,
    AssociationKind,
    Authority,
    Channel,
    Delivery,
    IdCheck,
    PinState,
    PortalStatus,
    RegistrationMethod,
    SendTo,
    is_one_of,
    utcnow,
)

NOT_LINKED = (
    "Your sign-in is not linked to a Practice Portal user, so you cannot issue PINs. "
    "Ask an administrator to link you (kiosk staff link USERNAME PORTAL_USER), then sign in again."
)


@dataclass(frozen=True)
class Problem:
    """One reason an action cannot go ahead, and the field it belongs next to."""

    field: str  # staff, patients, name:<id>, status:<id>, recipient, email, cell, carrier, send_to, question, answer
    message: str


class RegistrationError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)


@dataclass
class IssueRequest:
    """What the registration window collected (R5, R7-R10)."""

    patient_ids: list[
        int
    ]  # the checked children; the first is the patient registration started from
    recipient_id: int | None = None  # caregiver who receives the PIN (R15)
    method: RegistrationMethod = RegistrationMethod.PIN
    question: str = ""
    answer: str = ""
    access: Access = Access.FULL
    delivery: Delivery = Delivery.EMAIL
    email: str = ""
    cell: str = ""
    carrier: str = ""
    print_slip: bool = False
    send_to: SendTo = SendTo.PARENT  # MINOR: to the patient's own email or cell on record (T1)
    second_parent: bool = False  # R13: a Registered patient's additional parent
    id_check: IdCheck | None = None  # T5: how they were identified; None: the practice's default
    id_check_note: str = ""  # T5: what "Other" was
    # I1: the slip, welcome and letters' language, as the desk chose it for this family; empty:
    # the recipient's preferred language on record (else the first child's, else the desk's)
    language: str = ""


@dataclass(frozen=True)
class IssuedPin:
    patient_id: int
    given_name: str
    patient_name: str
    pin: str  # grouped "JFKAY-TTJYV"; "" for a verification question


@dataclass(frozen=True)
class IssueResult:
    batch: str
    patient_name: str
    language: str
    pins: tuple[IssuedPin, ...]
    expires_on: dt.date
    method: RegistrationMethod
    message_id: str | None
    delivery: Delivery = Delivery.EMAIL
    recipient: str = ""  # where the welcome message goes, as the desk should read it back
    warnings: tuple[str, ...] = ()  # T1: the teen's address is a caregiver's, and the like
    to_minor: bool = False  # T1: sent to the patient, so the slip speaks to the teen


def staff_may_issue(staff: StaffUser) -> Problem | None:
    """R1: only a staff member linked to the Practice Portal issues PINs."""
    return None if staff.is_linked else Problem("staff", NOT_LINKED)


# An issue's reads, written once (kiosk.store.db.Prepared): peewee writing their SQL for every
# issue was most of the desk's CPU for it, with every desk's issue sharing the machine (O1)
_PATIENTS = Prepared(lambda ids: Patient.select().where(Patient.id.in_(ids)))
# the same, each locked as lock_rows locks it, in id order (O1): the lock and the read in one
# statement, not two round trips (SQLite's IMMEDIATE transaction holds the database already)
_LOCKED_PATIENTS = Prepared(
    lambda ids: (
        Patient.select().where(Patient.id.in_(ids)).order_by(Patient.id)
        if is_sqlite()
        else Patient.select()
        .where(Patient.id.in_(ids))
        .order_by(Patient.id)
        .for_update("FOR NO KEY UPDATE")  # type: ignore[arg-type]  # stubs: bool
    )
)
_CAREGIVER = Prepared(lambda id: Caregiver.select().where(Caregiver.id == id).limit(1))
_LINKS = Prepared(
    lambda caregiver, patients: Relationship.select().where(
        (Relationship.caregiver == caregiver) & (Relationship.patient.in_(patients))
    )
)
_ACTIVE_PINS = Prepared(
    lambda ids: RegistrationPin.select().where(
        RegistrationPin.patient.in_(ids) & (RegistrationPin.state == PinState.ACTIVE)
    )
)
_PRACTICE = Prepared(lambda: Practice.select().limit(1))
# what each Pending child's PINs recorded of its status before them, the latest last (L2)
_PRIOR_STATUSES = Prepared(
    lambda ids: (
        RegistrationPin.select(RegistrationPin.patient, RegistrationPin.prior_status)
        .where((RegistrationPin.patient.in_(ids)) & (RegistrationPin.prior_status != ""))
        .order_by(RegistrationPin.issued_at, RegistrationPin.id)
    )
)
_NOW_PENDING = Prepared(
    lambda ids, at: Patient.update(portal_status=PortalStatus.PENDING, updated_at=at).where(
        Patient.id.in_(ids)
    )
)


def _practice() -> Practice:
    """The practice's row (``Practice.get()``: DoesNotExist when there is none)."""
    practice = _PRACTICE.first()
    return Practice.get() if practice is None else practice  # none: peewee's DoesNotExist


def _patients(ids: list[int], read: Prepared = _PATIENTS) -> list[Patient]:
    rows = {p.id: p for p in read.rows(ids=ids)}
    return [rows[i] for i in ids if i in rows]


def _caregiver(caregiver_id: int) -> Caregiver | None:
    return _CAREGIVER.first(id=caregiver_id)


@dataclass(frozen=True)
class _Read:
    """What :func:`issue_pins` has read already, so that :func:`check_issue` does not read it again
    (O1: every statement is a round trip to a PostgreSQL server, in a transaction that ends by
    queueing on the audit head)."""

    practice: Practice
    children: list[Patient]
    recipient: Caregiver | None


def check_issue(
    staff: StaffUser,
    request: IssueRequest,
    *,
    today: dt.date | None = None,
    sms_provider: bool = False,
    read: _Read | None = None,
) -> list[Problem]:
    """Every reason this request cannot be issued, each next to its field. Writes nothing.
    ``sms_provider``: texts go through the SMS provider (I2), which needs no carrier."""
    today = today or dt.date.today()
    problems: list[Problem] = []
    if (problem := staff_may_issue(staff)) is not None:
        problems.append(problem)
    children = read.children if read else _patients(list(dict.fromkeys(request.patient_ids)))
    if not children:
        problems.append(Problem("patients", "Check at least one child to register."))
    if request.second_parent and len(children) > 1:
        problems.append(Problem("patients", "A second-parent PIN is for one patient at a time."))
    practice = read.practice if read else Practice.get()
    minor = request.send_to == SendTo.MINOR
    registered = (PortalStatus.REGISTERED, PortalStatus.SELF_REGISTERED)
    for child in children:
        if child.placeholder_name or is_placeholder_name(child.given_name):
            problems.append(Problem(f"name:{child.id}", placeholder_message(child.given_name)))
        # T3: issuing never downgrades Registered or Self Registered; the teen's own PIN (T1)
        # leaves the parents' registration as it is
        if child.portal_status == PortalStatus.REGISTERED and not (request.second_parent or minor):
            problems.append(
                Problem(
                    f"status:{child.id}",
                    f"{child.given_name} {child.family_name} is already Registered: issue a second "
                    "parent their own PIN from the patient's account (Generate PIN) instead.",
                )
            )
        if child.portal_status == PortalStatus.SELF_REGISTERED and not (
            request.second_parent or minor
        ):
            problems.append(
                Problem(
                    f"status:{child.id}",
                    f"{child.given_name} {child.family_name} is Self Registered: Validate the "
                    "parent's account after checking their ID, or issue a second parent their own PIN.",
                )
            )
        if request.second_parent and child.portal_status not in registered:
            problems.append(
                Problem(
                    f"status:{child.id}",
                    "A second-parent PIN needs the patient to be Registered "
                    "first; register the patient with a normal PIN.",
                )
            )
    if not is_one_of(RegistrationMethod, request.method):
        problems.append(Problem("method", "Register with PIN or Verification Question."))
    if request.method == RegistrationMethod.QUESTION:
        if why := validate.text_problem(request.question, "The question", validate.QUESTION):
            problems.append(Problem("question", f"{why}."))
        elif len(request.question.strip()) < 5:
            problems.append(Problem("question", "Write the question the parent will answer."))
        if why := validate.text_problem(request.answer, "The answer", validate.ANSWER):
            problems.append(Problem("answer", f"{why}."))
        elif len(request.answer.strip()) < 2:
            problems.append(Problem("answer", "Write the answer (at least 2 characters)."))
    if not is_one_of(Access, request.access):
        problems.append(Problem("access", "Choose Full Access or Limited: No Chart Access."))
    if not is_one_of(SendTo, request.send_to):
        problems.append(Problem("send_to", "Send to Parent/Guardian or Minor."))
    elif minor:
        problems += _minor_problems(request, children, practice, today, sms_provider)
    if request.id_check is not None:
        from kiosk.registration.access import id_check_problem

        if (wrong := id_check_problem(request.id_check, request.id_check_note)) is not None:
            problems.append(Problem(*wrong))
    if read:
        recipient = read.recipient
    else:
        recipient = _caregiver(request.recipient_id) if request.recipient_id and not minor else None
    if request.recipient_id and recipient is None and not minor:
        problems.append(
            Problem("recipient", "That caregiver no longer exists; reopen the patient.")
        )
    if recipient is not None:
        links = _LINKS.rows(caregiver=recipient.id, patients=[c.id for c in children])
        lacking = [
            c
            for c in children
            if not any(r.patient_id == c.id and r.authority != Authority.NONE for r in links)
        ]
        if lacking:
            problems.append(
                Problem(
                    "recipient",
                    f"{recipient.full_name} has no contact authority for "
                    f"{lacking[0].given_name}; choose a caregiver with Joint or Sole authority.",
                )
            )
    elif request.send_to == SendTo.PARENT and not request.second_parent:
        problems.append(Problem("recipient", "Choose the caregiver who receives the PIN."))
    if not is_one_of(Delivery, request.delivery):
        problems.append(Problem("delivery", "Choose Email, Text message or Do not send."))
    elif minor:
        pass  # T1: the patient's own address on record, checked by _minor_problems
    elif request.delivery == Delivery.EMAIL:
        if not valid_email(request.email):
            problems.append(
                Problem(
                    "email",
                    "Enter a valid email address, like name@example.com."
                    if request.email.strip()
                    else "Enter the email address the PIN goes to.",
                )
            )
    elif request.delivery == Delivery.TEXT:
        if normalize_us_cell(request.cell) is None:
            problems.append(
                Problem("cell", "Enter a 10-digit US cell number, like (317) 555-0101.")
            )
        if sms_provider:
            pass  # I2: the provider reaches any US cell, whatever its carrier
        elif not request.carrier:
            problems.append(Problem("carrier", "Choose the cell carrier: a text message needs it."))
        elif (carrier := get_carrier(request.carrier)) is None:
            problems.append(Problem("carrier", "Unknown carrier; choose one from the list."))
        elif carrier.retired and (
            warning := carrier_warning(request.carrier)
        ):  # the family would get nothing
            problems.append(Problem("carrier", warning))
    if request.language and offered(request.language) is None:
        problems.append(
            Problem(
                "language",
                f"kiosk has no {request.language!r} catalog: choose one of {', '.join(LANGUAGES)}.",
            )
        )
    return problems


def _minor_problems(
    request: IssueRequest,
    children: list[Patient],
    practice: Practice,
    today: dt.date,
    sms_provider: bool,
) -> list[Problem]:
    """T1: Send to Minor is for one patient of the practice's teen age or older, who has no portal
    account of their own yet, and goes to the address on the patient's own record."""
    problems = []
    if len(children) > 1:
        problems.append(
            Problem("patients", "Send to Minor is for one patient at a time: untick the others.")
        )
    if request.second_parent:
        problems.append(Problem("send_to", "A second-parent PIN goes to a parent, not the minor."))
    young = [c for c in children if age_years(c.dob, today) < practice.teen_age]
    if young:
        problems.append(
            Problem(
                "send_to",
                f"Send to Minor is only for patients {practice.teen_age} or older; "
                f"{young[0].given_name} is {age_years(young[0].dob, today)}.",
            )
        )
    if len(children) != 1:
        return problems
    teen = children[0]
    from kiosk.people.patients import live

    if (
        Association.select()
        .where(
            (Association.patient == teen.id)
            & (Association.kind == AssociationKind.OWN)
            & live(today)
        )
        .exists()
    ):
        problems.append(
            Problem("send_to", f"{teen.given_name} already has their own portal account.")
        )
    if request.delivery == Delivery.EMAIL and not valid_email(teen.email):
        problems.append(
            Problem(
                "email",
                f"Enter {teen.given_name}'s own email on the patient record first (Edit contact).",
            )
        )
    elif request.delivery == Delivery.TEXT:
        carrier = get_carrier(teen.carrier)
        if not teen.cell or not (sms_provider or (carrier is not None and not carrier.retired)):
            problems.append(
                Problem(
                    "cell",
                    f"Enter {teen.given_name}'s own cell and a working carrier on the patient "
                    "record first (Edit contact).",
                )
            )
    return problems


def _end_active(
    patient: Patient,
    now: dt.datetime,
    state: PinState,
    reason: str,
    username: str,
    events: list[audit.Pending],
    active: list[RegistrationPin] | None = None,
) -> set[str]:
    """End the patient's active PIN, its audit event added to ``events`` for the caller to write
    last; return the batches it belonged to, whose unsent welcome the caller erases
    (:func:`_erase_ended`). A PIN already past its expiry is recorded as expired, not as
    replaced or revoked (L2: expiry is a state of its own). ``active``: the patient's active PINs,
    when the caller has read them already (under the patient's lock)."""
    from kiosk.registration.pin_life import end_pin

    old = (
        list(
            RegistrationPin.select().where(
                (RegistrationPin.patient == patient) & (RegistrationPin.state == PinState.ACTIVE)
            )
        )
        if active is None
        else active
    )
    for pin in old:
        end_pin(
            pin,
            patient,
            PinState.EXPIRED if pin.expires_at <= now else state,
            reason,
            username,
            now,
            restore_status=state != PinState.REPLACED,
            events=events,
        )
    return {pin.batch for pin in old}


def _statuses_before_pins(children: list[Patient]) -> dict[int, str]:
    """What each child's status was before any of its PINs (L2): its own status, or for a Pending
    child whose PIN is being replaced, what its latest PIN that recorded one recorded. One
    statement for every Pending child (O1: each is a round trip to a PostgreSQL server)."""
    statuses = {child.id: child.portal_status for child in children}
    pending = [c.id for c in children if c.portal_status == PortalStatus.PENDING]
    for child_id in pending:
        statuses[child_id] = PortalStatus.UNREGISTERED
    for child_id, prior in _PRIOR_STATUSES(ids=pending) if pending else ():  # the latest stays
        statuses[child_id] = prior
    return statuses


def _erase_ended(batches: set[str], now: dt.datetime, events: list[audit.Pending]) -> int:
    """S11: the unsent welcome of a batch whose PINs have all ended is erased in the same
    transaction that ended them, its event added to ``events`` (written with the others, last):
    the audit head is taken once, and there is no moment when the PINs have ended and the body is
    still there. The caller cuts the WAL after its commit (:func:`_cut_wal`)."""
    return outbox.erase_ended_batches(batches, now, events)


def _cut_wal(erased: int) -> None:
    """S11: erased bodies must not linger in SQLite's WAL once the erasing transaction committed."""
    if erased:
        outbox.truncate_wal()


@retrying
def issue_pins(
    staff: StaffUser,
    request: IssueRequest,
    *,
    now: dt.datetime | None = None,
    today: dt.date | None = None,
    terminal: str = "",
    sms_provider: bool = False,
) -> IssueResult:
    """Issue PINs for every checked child in one transaction (R3-R10); return the plain PINs once.

    The family is read and checked inside that transaction, under the patients' locks: a parent
    redeeming at the kiosk meanwhile either finished first (the child is Registered, and refused
    here) or waits and finds the PIN replaced. A Registered child is never put back to Pending (R4)."""
    now = now or utcnow()
    today = today or dt.date.today()
    practice = _practice()
    expires_at = now + dt.timedelta(days=practice.pin_lifetime_days)
    batch = secrets.token_hex(8)
    ids = list(dict.fromkeys(request.patient_ids))
    minor = request.send_to == SendTo.MINOR
    recipient = _caregiver(request.recipient_id) if request.recipient_id and not minor else None
    by_question = request.method == RegistrationMethod.QUESTION
    id_check = request.id_check or IdCheck(practice.id_check_default)  # T5
    issued: list[IssuedPin] = []
    warnings: tuple[str, ...] = ()
    message_id = None
    ended: set[str] = set()
    events: list[audit.Pending] = []  # S10, O1: written last, so the audit head is locked last
    try:
        with write_transaction():
            # O1: patients locked in id order before anything else, the audit head last; read
            # under those locks: what check_issue reads of them holds
            children = _patients(ids, _LOCKED_PATIENTS)
            problems = check_issue(
                staff,
                request,
                today=today,
                sms_provider=sms_provider,
                read=_Read(practice, children, recipient),
            )
            if problems:
                raise RegistrationError(problems)  # nothing written yet; the transaction ends empty
            if minor:  # T1: the teen's own address on record, never one typed for the occasion
                from kiosk.registration.access import same_as_caregiver

                teen = children[0]
                email, cell, carrier_choice = teen.email, teen.cell, teen.carrier
                warnings = tuple(w for w in [same_as_caregiver(teen)] if w)
            else:
                email, cell, carrier_choice = request.email, request.cell, request.carrier
            cell = (normalize_us_cell(cell) or "") if request.delivery == Delivery.TEXT else ""
            language = (
                offered(request.language)  # I1: the desk's choice for this family
                or (recipient.preferred_language if recipient else children[0].preferred_language)
                or default_language()  # D1: the desk's language for a family without one
            )
            # O1: one statement for every child's active PINs, one for the new PINs and one for
            # the statuses, not three a child: each is a round trip to a PostgreSQL server
            active: dict[int, list[RegistrationPin]] = {child.id: [] for child in children}
            for pin in _ACTIVE_PINS.rows(ids=ids):
                active[pin.patient_id].append(pin)
            new_pins: list[dict] = []
            pending: list[int] = []
            priors = _statuses_before_pins(children)
            for child in children:
                prior = priors[child.id]
                ended |= _end_active(
                    child,
                    now,
                    PinState.REPLACED,
                    "replaced by a new PIN",
                    staff.username,
                    events,
                    active[child.id],
                )
                plain = pins.generate_pin() if request.method == RegistrationMethod.PIN else ""
                new_pins.append(
                    dict(
                        patient=child,
                        batch=batch,
                        method=request.method,
                        pin_hash=security.pin_digest(plain) if plain else None,
                        question=request.question.strip() if by_question else None,
                        answer_hash=security.answer_digest(child.id, request.answer)
                        if by_question
                        else None,
                        access=request.access,
                        delivery=request.delivery,
                        print_slip=request.print_slip,
                        send_to=request.send_to,
                        recipient=recipient,
                        recipient_email=email.strip().lower()
                        if request.delivery == Delivery.EMAIL
                        else "",
                        recipient_cell=cell,
                        carrier=carrier_choice if request.delivery == Delivery.TEXT else "",
                        second_parent=request.second_parent,
                        issued_by=staff.id,  # who is signed in: staff rows are never deleted
                        issued_at=now,
                        expires_at=expires_at,
                        prior_status=prior,
                        terminal=terminal[:64],
                        id_check=id_check,
                        id_check_note=request.id_check_note.strip(),
                        language=language,  # W3: the reminder speaks it, welcome or none
                    )
                )
                if not request.second_parent and child.portal_status not in (
                    PortalStatus.REGISTERED,
                    PortalStatus.SELF_REGISTERED,
                ):  # T3: never a downgrade
                    pending.append(child.id)
                events.append(
                    audit.event(
                        audit.ISSUE,
                        staff=staff.username,
                        patient=child,
                        at=now,
                        detail={
                            "batch": batch,
                            "method": request.method,
                            "access": request.access,
                            "delivery": request.delivery,
                            "print": request.print_slip,
                            "send_to": request.send_to,
                            "second_parent": request.second_parent,
                            "recipient": recipient.id if recipient else None,
                            "id_check": id_check,
                            "id_check_note": request.id_check_note.strip(),
                        },
                    )
                )
                issued.append(
                    IssuedPin(
                        child.id,
                        child.given_name,
                        f"{child.given_name} {child.family_name}",
                        pins.format_pin(plain) if plain else "",
                    )
                )
            database.execute_sql(*insert_sql(RegistrationPin, new_pins))  # written once (O1)
            if pending:
                _NOW_PENDING.count(ids=pending, at=Patient.updated_at.db_value(now))
            destination = ""
            if request.delivery in (Delivery.EMAIL, Delivery.TEXT):
                welcome = compose_welcome(
                    practice_name=practice.name,
                    portal_url=practice.portal_url,
                    children=[(p.given_name, p.pin) for p in issued],
                    expires_on=expires_at.date(),
                    language=language,
                    to_minor=minor,
                )
                channel, send_to, carrier_key = Channel.TEXT, cell, ""
                if request.delivery == Delivery.EMAIL:
                    channel = Channel.EMAIL
                    destination = send_to = email.strip().lower()
                elif sms_provider:  # I2: to the number itself, through the SMS provider
                    destination = format_us_cell(cell)
                else:
                    carrier = get_carrier(carrier_choice)
                    if carrier is None:  # not reached: check_issue refuses an unknown carrier
                        raise RegistrationError(
                            [Problem("carrier", "Unknown carrier; choose one from the list.")]
                        )
                    # the desk reads back the cell it knows, not the carrier's gateway (R11)
                    destination, carrier_key = format_us_cell(cell), carrier_choice
                message_id = outbox.enqueue(
                    batch=batch,
                    channel=channel,
                    recipient=send_to,
                    welcome=welcome,
                    language=language,
                    carrier=carrier_key,
                    now=now,
                )
            erased = _erase_ended(ended, now, events)
            # the audit head's lock, which every audited writer queues on, is held only from here
            # to the commit: not across the PIN hashing, the welcome and the outbox above (O1)
            audit.record_all(events)
    except peewee.IntegrityError:
        raise RegistrationError(
            [
                Problem(
                    "patients",
                    "Another desk issued a PIN for one of these children at the "
                    "same moment. Reopen the patient to see the current PIN state.",
                )
            ]
        ) from None
    _cut_wal(erased)
    return IssueResult(
        batch,
        issued[0].patient_name,
        language,
        tuple(issued),
        expires_at.date(),
        RegistrationMethod(request.method),
        message_id,
        Delivery(request.delivery),
        destination,
        warnings,
        minor,
    )


def _required_text(value: str, field: str, label: str, limit: int, missing: str) -> str:
    """``value`` as stored (checked like all the desk types, kiosk.validate); RegistrationError
    next to ``field``, saying ``missing`` when it is empty."""
    try:
        text = validate.clean_text(value, field=field, label=label, limit=limit)
    except validate.InputProblem as problem:
        raise RegistrationError([Problem(problem.field, f"{problem}.")]) from None
    if not text:
        raise RegistrationError([Problem(field, missing)])
    return text


@retrying
def revoke_pin(
    staff: StaffUser,
    patient_id: int,
    reason: str = "revoked by staff",
    *,
    now: dt.datetime | None = None,
) -> bool:
    """End the patient's active PIN with ``reason`` (L4): audited once, its unsent welcome erased, the
    child's status back to what it was before the PIN. False if there was no active PIN (one found
    past its expiry is recorded as expired instead)."""
    now = now or utcnow()
    reason = _required_text(
        reason, "reason", "The reason", validate.REASON, "Say why the PIN is revoked."
    )
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_or_none(Patient.id == patient_id)
        if patient is None:
            raise RegistrationError([Problem("patients", "That patient no longer exists.")])
        had = (
            RegistrationPin.select()
            .where((RegistrationPin.patient == patient) & RegistrationPin.works_at(now))
            .exists()
        )
        events: list[audit.Pending] = []
        ended = _end_active(patient, now, PinState.REVOKED, reason, staff.username, events)
        erased = _erase_ended(ended, now, events)
        audit.record_all(events)
    _cut_wal(erased)
    return had


@retrying
def fix_given_name(staff: StaffUser, patient_id: int, given_name: str) -> str:
    """R2: put the child's given name in Basic Info; return it as stored."""
    name = _required_text(
        given_name, "given_name", "Given name", validate.NAME, "Enter the child's given name."
    )
    if is_placeholder_name(name):
        raise RegistrationError(
            [
                Problem(
                    "given_name",
                    f'"{name}" is still a placeholder; enter the name the parents chose.',
                )
            ]
        )
    with write_transaction():
        lock_rows(Patient, [patient_id])
        patient = Patient.get_by_id(patient_id)
        old = patient.given_name
        patient.given_name, patient.placeholder_name, patient.updated_at = name, False, utcnow()
        patient.save()
        audit.record(
            audit.NAME_FIX, staff=staff.username, patient=patient, detail={"from": old, "to": name}
        )
    return name
