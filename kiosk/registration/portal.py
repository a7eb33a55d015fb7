"""The parent's side (R11-R13, S4, S8): portal accounts and redeeming PINs.

A PIN is found by its keyed digest. Every try at redeeming, and every lookup of a verification
question, is kept (RedemptionAttempt) with the terminal it came from and its outcome. A try
*names a child* when its PIN is one of that child's PINs (in any state), or, on the question
route, when the birth date and family name find the child's active question and the answer is
wrong; a try that names no child is kept with no patient. The limits:

- **Per terminal (S8):** TERMINAL_FAILURES failures at one terminal within PAUSE_WINDOW pause
  redeeming there until the oldest of them is older than that.
- **Across the practice (S8):** PRACTICE_FAILURES failures within PAUSE_WINDOW, at all terminals
  together, pause redeeming everywhere the same way.
- **Per child (S4):** FAILURES_TO_LOCK failures naming the child within WINDOW lock its
  redemption for LOCK_FOR.
- **Revoking (S4):** FAILURES_TO_REVOKE failures in a row that name the child's *active* PIN
  (its right PIN with a wrong birth date, or a wrong answer to its active question) revoke that
  PIN. A right PIN with a birth date that is another child's counts against the PIN's own child,
  never the child born that day. A new PIN resets neither count; a success resets both.

So a stranger who knows only a birth date names no child: the guesses count against the
terminal and the practice, and never lock or revoke a family's PIN. Tries refused by a limit are
kept and audited but counted nowhere, so they neither extend a pause nor bring a revocation
closer. An unknown PIN, a wrong date, a locked child and a revoked PIN all get the one reply
GENERIC after the same work (one keyed lookup, one answer digest, the same counting queries and
writes), padded to REPLY_FLOOR; only a right PIN and date whose PIN has expired are told so.
Staff read a child's recent failures with ``guessing_status``; lock-outs, pauses and revocations
are audited.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import peewee
from peewee import fn

from kiosk import audit, throttle, validate
from kiosk.i18n import N_, NPhrase, Phrase
from kiosk.people.contact import valid_email
from kiosk.registration import pins
from kiosk.security import (  # noqa: F401  (MIN_PASSWORD: the account form shows it)
    MIN_PASSWORD,
    answer_digest,
    default_terminal,
    hash_password,
    needs_rehash,
    pin_digest,
    unknown_user_hash,
    verify_password,
)
from kiosk.security import password_problem as _password_problem
from kiosk.store.db import Prepared, is_sqlite, lock_rows, retrying, tuples, write_transaction
from kiosk.store.models import (
    Association,
    Patient,
    PortalAccount,
    Practice,
    RedemptionAttempt,
    RegistrationPin,
)
from kiosk.terms import (
    Access,
    AssociationKind,
    AssociationState,
    PinState,
    PortalStatus,
    RegistrationMethod,
    SendTo,
    fold,
    utcnow,
)

WINDOW = dt.timedelta(minutes=15)
LOCK_FOR = dt.timedelta(minutes=15)
FAILURES_TO_LOCK = 5
FAILURES_TO_REVOKE = 20
PAUSE_WINDOW = dt.timedelta(hours=1)
TERMINAL_FAILURES = 20
PRACTICE_FAILURES = 100
LOCKOUT_REASON = "too many failed attempts"
# Every refusal and every question lookup takes at least this long (S8): the queries above cost
# about the same on every path, but not exactly (a named child's rows are read, an unknown PIN's
# are not); the floor hides what is left. Tests set it to 0.
REPLY_FLOOR = 0.05  # seconds

# What a parent reads: msgids said in the family's language where shown (I1).
GENERIC = N_(
    "That date of birth and PIN do not match a registration we can use right now. Check both and try "
    "again; after several tries, wait 15 minutes or ask the front desk."
)
EXPIRED = N_("This PIN has expired. Ask the front desk for a new one.")
SUSPENDED = N_("Your access to this child is suspended. Ask the front desk.")  # T4


class Outcome(StrEnum):
    """What one try came to (RedemptionAttempt.outcome)."""

    OK = "ok"
    NO_MATCH = "no match"  # names no child
    WRONG_DATE = "wrong date"  # the child's active PIN, another birth date
    WRONG_ANSWER = "wrong answer"  # the child's active question, another answer
    ENDED = "ended pin"  # one of the child's replaced, revoked or used-up PINs
    EXPIRED = "expired"  # right PIN and date, too late: counted nowhere
    NO_QUESTION = "no question"  # a question lookup that found none: names no child
    QUESTION = "question shown"  # a question lookup that found one: counted nowhere
    LOCKED = "refused: locked"  # refusals are kept and audited, counted nowhere
    PAUSED_HERE = "refused: terminal paused"
    PAUSED = "refused: practice paused"
    CLEARED = "cleared by staff"  # an administrator cleared the lock-out (L5): earlier failures count no more
    CHECKED = "checked"  # a right PIN and date checked without redeeming (P1): counted nowhere


COUNTED = (
    Outcome.NO_MATCH,
    Outcome.WRONG_DATE,
    Outcome.WRONG_ANSWER,
    Outcome.ENDED,
    Outcome.NO_QUESTION,
)
NAMING = (Outcome.WRONG_DATE, Outcome.WRONG_ANSWER, Outcome.ENDED)
REVOKING = (Outcome.WRONG_DATE, Outcome.WRONG_ANSWER)


class PortalError(Exception):
    """What the parent is told; ``field`` says which input it belongs next to. ``message`` is a
    msgid or a :class:`~kiosk.i18n.Phrase`: ``catalog(language).say(error.message)`` says it in the
    parent's language (I1); ``str(error)`` is the English."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field
        self.message = message


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
    own: bool = False  # T1: the patient's own account, not a parent's


@dataclass(frozen=True)
class Child:
    patient_id: int
    given_name: str
    access: str
    own: bool = False  # T1: the patient's own account (a teen's), not a parent's link


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """Why a new parent password is refused, or None: the staff policy (S12), since NIST SP 800-63B
    rev 4 asks 15 characters of any single-factor password; this parent's name and email are the
    words it must not contain."""
    return _password_problem(password, context=(email.split("@")[0], name))


def create_account(email: str, display_name: str, password: str) -> PortalLogin:
    email = email.strip().lower()
    try:
        name = validate.clean_text(
            display_name, field="name", label=Phrase("Your name"), limit=validate.DISPLAY_NAME
        )
        validate.check_length(
            password, field="password", label=Phrase("A password"), limit=validate.PASSWORD
        )
    except validate.InputProblem as problem:
        # TRANSLATORS: a sentence made of what is wrong with a field, and its full stop
        raise PortalError(Phrase("{problem}.", problem=problem.message), problem.field) from None
    if not name:
        raise PortalError(Phrase("Enter your name."), "name")
    if not valid_email(email):
        raise PortalError(Phrase("Enter a valid email address, like name@example.com."), "email")
    if (weak := password_problem(password, email, name)) is not None:
        raise PortalError(weak, "password")
    hashed = hash_password(
        password
    )  # most of a second at the OWASP cost: not while holding the lock (O1)
    with write_transaction():
        if PortalAccount.select().where(PortalAccount.email == email).exists():
            raise PortalError(
                Phrase("An account with this email already exists: sign in instead."), "email"
            )
        row = PortalAccount.create(email=email, display_name=name, password_hash=hashed)
    return PortalLogin(row.id, row.email, row.display_name)


def sign_in(
    email: str, password: str, *, terminal: str | None = None, now: dt.datetime | None = None
) -> PortalLogin:
    """A parent's sign-in. Wrong passwords slow the email down at this terminal (kiosk.throttle,
    S12); a parent's account is never locked outright, only slowed."""
    now = now or utcnow()
    terminal = (terminal or default_terminal())[:64]
    email = validate.one_line(
        email
    ).lower()  # O5: a control character matches nobody, raises nothing
    who = "portal:" + email[:120]
    try:
        throttle.check(who, terminal, now, lock_after=None)
    except throttle.TooSoon as wait:
        audit.record(
            audit.SIGN_IN_PAUSED,
            staff=who,
            at=now,
            detail={"terminal": terminal, "seconds": wait.seconds},
        )
        raise PortalError(
            NPhrase(
                "Too many tries for this account: wait {seconds} second, then try again.",
                "Too many tries for this account: wait {seconds} seconds, then try again.",
                wait.seconds,
                seconds=wait.seconds,
            ),
            "password",
        ) from None
    row = PortalAccount.get_or_none(PortalAccount.email == email)
    ok = throttle.try_password(
        who,
        terminal,
        now,
        password,
        row.password_hash if row else None,
        succeeded=audit.PORTAL_SIGN_IN,
        failed=audit.PORTAL_SIGN_IN_FAILED,
        store_rehash=lambda hashed: (
            PortalAccount.update(password_hash=hashed).where(PortalAccount.email == email).execute()
        ),
    )
    if row is None or not ok:
        raise PortalError(Phrase("Email or password is not right."), "password")
    return PortalLogin(row.id, row.email, row.display_name)


def account(account_id: int) -> PortalLogin | None:
    """The portal account with this id, or None."""
    row = PortalAccount.get_or_none(PortalAccount.id == account_id)
    return PortalLogin(row.id, row.email, row.display_name) if row else None


def children_of(account_id: int, today: dt.date | None = None) -> list[Child]:
    """The patients this account sees today: its live associations only (T4)."""
    from kiosk.people.patients import live

    rows = (
        Association.select(Association, Patient)
        .join(Patient)
        .where((Association.account == account_id) & live(today or dt.date.today()))
        .order_by(Association.created_at)
    )
    return [
        Child(
            a.patient.id,
            a.patient.given_name,
            Access(a.access).label,
            a.kind == AssociationKind.OWN,
        )
        for a in rows
    ]


def _failures(*outcomes: Outcome) -> peewee.ModelSelect[RedemptionAttempt]:
    return RedemptionAttempt.select().where(
        RedemptionAttempt.outcome.in_([str(o) for o in outcomes])
    )


def _locked_until(patient_id: int, now: dt.datetime) -> dt.datetime | None:
    """When the child's lock ends (S4), or None: locked while some run of FAILURES_TO_LOCK failures
    naming it within WINDOW ended less than LOCK_FOR ago."""
    since = max(now - WINDOW - LOCK_FOR, _cleared_at(patient_id) or dt.datetime.min)
    times: list[dt.datetime] = list(
        _failures(*NAMING)
        .select(RedemptionAttempt.at)
        .where((RedemptionAttempt.patient == patient_id) & (RedemptionAttempt.at > since))
        .order_by(RedemptionAttempt.at)
        .scalars()
    )
    return _lock_end(times, now)


def _lock_end(times: list[dt.datetime], now: dt.datetime) -> dt.datetime | None:
    """When a lock made by these failure times (oldest first) ends, or None (S4)."""
    until = None
    for i in range(FAILURES_TO_LOCK - 1, len(times)):
        if times[i] - times[i - FAILURES_TO_LOCK + 1] <= WINDOW and now - times[i] < LOCK_FOR:
            until = times[i] + LOCK_FOR
    return until


def _cleared_at(patient_id: int) -> dt.datetime | None:
    """When an administrator last cleared the child's lock-out (L5), or None."""
    return (
        _failures(Outcome.CLEARED)
        .select(fn.MAX(RedemptionAttempt.at))
        .where(RedemptionAttempt.patient == patient_id)
        .scalar()
    )


def _failures_in_row(patient_id: int) -> int:
    """Failures naming the child's active PIN since its last success, lock-out revocation or cleared
    lock-out (S4, L5)."""
    last_success = (
        RedemptionAttempt.select(fn.MAX(RedemptionAttempt.at))
        .where((RedemptionAttempt.patient == patient_id) & (RedemptionAttempt.succeeded == True))  # noqa
        .scalar()
    )
    last_revoke = (
        RegistrationPin.select(fn.MAX(RegistrationPin.ended_at))
        .where(
            (RegistrationPin.patient == patient_id)
            & (RegistrationPin.ended_reason == LOCKOUT_REASON)
        )
        .scalar()
    )
    since = max(
        [t for t in (last_success, last_revoke, _cleared_at(patient_id)) if t], default=None
    )
    query = _failures(*REVOKING).where(RedemptionAttempt.patient == patient_id)
    if since is not None:
        query = query.where(RedemptionAttempt.at > since)
    return query.count()


@dataclass(frozen=True)
class _Standing:
    here: int  # counted failures at this terminal within PAUSE_WINDOW
    everywhere: int  # and at every terminal
    naming: list[dt.datetime]  # failures naming the child that a lock could still come from
    in_row: int
    now: dt.datetime

    @property
    def locked_until(self) -> dt.datetime | None:
        return _lock_end(self.naming, self.now)

    def refusal(self) -> Outcome | None:
        if self.here >= TERMINAL_FAILURES:
            return Outcome.PAUSED_HERE
        if self.everywhere >= PRACTICE_FAILURES:
            return Outcome.PAUSED
        return Outcome.LOCKED if self.locked_until else None


def _standing_counts(
    patient: peewee.Value, terminal: peewee.Value, paused_since: peewee.Value
) -> peewee.Select:
    """One row: counted failures at the terminal and everywhere since ``paused_since``, and the
    child's last clearing, success and lock-out revocation."""
    attempt = RedemptionAttempt
    recent = _failures(*COUNTED).where(attempt.at > paused_since).select(fn.COUNT(attempt.id))
    mine = attempt.patient == patient
    return peewee.Select(
        columns=[
            recent.where(attempt.terminal == terminal),
            recent,
            _failures(Outcome.CLEARED).select(fn.MAX(attempt.at)).where(mine),
            attempt.select(fn.MAX(attempt.at)).where(mine & (attempt.succeeded == True)),  # noqa: E712
            RegistrationPin.select(fn.MAX(RegistrationPin.ended_at)).where(
                (RegistrationPin.patient == patient)
                & (RegistrationPin.ended_reason == LOCKOUT_REASON)
            ),
        ]
    )


def _naming_times(
    patient: peewee.Value, lock_since: peewee.Value, row_since: peewee.Value
) -> peewee.Select:
    """The child's failures that name it since a lock could begin, and those that count toward
    revoking since ``row_since``, oldest first."""
    attempt = RedemptionAttempt
    return (
        attempt.select(attempt.at, attempt.outcome)
        .where(
            (attempt.patient == patient)
            & (
                (attempt.outcome.in_([str(o) for o in NAMING]) & (attempt.at > lock_since))
                | (attempt.outcome.in_([str(o) for o in REVOKING]) & (attempt.at > row_since))
            )
        )
        .order_by(attempt.at)
    )


_STANDING_COUNTS = Prepared(_standing_counts)
_NAMING_TIMES = Prepared(_naming_times)


def _standing(patient_id: int, terminal: str, now: dt.datetime) -> _Standing:
    """The limits' counts in two statements written once (P1: redemptions under load), the same
    ones whether or not the try named a child (0 names none), so the reply takes the same time
    (S8). The same figures as ``_locked_until`` and ``_failures_in_row``."""
    [(here, everywhere, *last)] = _STANDING_COUNTS(
        patient=patient_id, terminal=terminal, paused_since=now - PAUSE_WINDOW
    )
    # a subquery's column comes back untyped (text on SQLite): the field makes it a datetime again
    at = RedemptionAttempt.at.python_value
    cleared, success, revoked = (at(t) for t in last)
    lock_since = max(now - WINDOW - LOCK_FOR, cleared or dt.datetime.min)
    row_since = max([t for t in (success, revoked, cleared) if t], default=dt.datetime.min)
    times: list[dt.datetime] = []
    in_row = 0
    for when, outcome in _NAMING_TIMES(
        patient=patient_id, lock_since=lock_since, row_since=row_since
    ):
        when = at(when)
        if when > lock_since and outcome in NAMING:
            times.append(when)
        if when > row_since and outcome in REVOKING:
            in_row += 1
    return _Standing(int(here), int(everywhere), times, in_row, now)


def _record_failure(
    patient: Patient | None, outcome: Outcome, before: _Standing, terminal: str, now: dt.datetime
) -> None:
    """Keep and audit one failed or refused try; pause, lock or revoke as the limits say. Does the
    same queries on every path (S8: the reply's timing tells nothing). The audit events are written
    last, together (kiosk.audit.record_all)."""
    RedemptionAttempt.create(
        patient=patient, at=now, succeeded=False, terminal=terminal, outcome=outcome
    )
    events = [
        audit.event(
            audit.REDEEM_FAILED,
            patient=patient,
            at=now,
            detail={"how": str(outcome), "terminal": terminal},
        )
    ]
    naming = [*before.naming, now] if patient is not None and outcome in NAMING else before.naming
    locked_until = _lock_end(naming, now)
    if outcome in COUNTED:
        for count, limit, scope in (
            (before.here, TERMINAL_FAILURES, "terminal"),
            (before.everywhere, PRACTICE_FAILURES, "practice"),
        ):
            if count + 1 == limit:
                events.append(
                    audit.event(
                        audit.REDEEM_PAUSED,
                        at=now,
                        detail={
                            "scope": scope,
                            "terminal": terminal,
                            "minutes": PAUSE_WINDOW.seconds // 60,
                        },
                    )
                )
    if outcome in COUNTED and patient is not None:
        if locked_until and not before.locked_until:
            events.append(
                audit.event(
                    audit.LOCK_OUT,
                    patient=patient,
                    at=now,
                    detail={"minutes": int(LOCK_FOR.total_seconds() // 60), "terminal": terminal},
                )
            )
        if outcome in REVOKING and before.in_row + 1 >= FAILURES_TO_REVOKE:
            for pin in RegistrationPin.select().where(
                (RegistrationPin.patient == patient.id) & (RegistrationPin.state == PinState.ACTIVE)
            ):
                pin.state, pin.ended_at, pin.ended_reason = PinState.REVOKED, now, LOCKOUT_REASON
                pin.save()
                events.append(
                    audit.event(
                        audit.REVOKE,
                        patient=patient,
                        at=now,
                        detail={"pin": pin.id, "reason": LOCKOUT_REASON},
                    )
                )
    audit.record_all(events)


def _outcome(
    row: RegistrationPin | None, by_question: bool, dob: dt.date, answer_ok: bool, now: dt.datetime
) -> Outcome:
    if row is None:
        return Outcome.NO_MATCH
    if by_question:  # found by this birth date and family name
        if not answer_ok:
            return Outcome.WRONG_ANSWER
    elif row.patient.dob != dob:
        return Outcome.WRONG_DATE if row.state == PinState.ACTIVE else Outcome.ENDED
    if row.state != PinState.ACTIVE:
        return Outcome.ENDED
    return Outcome.EXPIRED if row.expires_at <= now else Outcome.OK


def redeem(
    account_id: int,
    dob: dt.date,
    *,
    pin: str = "",
    family_name: str = "",
    answer: str = "",
    terminal: str | None = None,
    now: dt.datetime | None = None,
) -> Redeemed:
    """Tie a child to the parent's account with the child's DOB and the PIN (or question answer).

    The same PIN works for further parents until it has been used by the practice's
    ``parents_per_pin`` accounts (R13). Raises PortalError with GENERIC otherwise (EXPIRED for a
    right PIN and date that came too late); the guessing limits are in this module's docstring.
    """
    return _try(
        account_id, dob, pin=pin, family_name=family_name, answer=answer, terminal=terminal, now=now
    )


def check(
    dob: dt.date,
    *,
    pin: str = "",
    family_name: str = "",
    answer: str = "",
    terminal: str | None = None,
    now: dt.datetime | None = None,
) -> Redeemed:
    """Whether ``redeem`` would tie the child to an account now (P1: a portal asks before it makes
    the parent an account), and whose it is. The same try as ``redeem`` in every way (kept,
    audited, limited, the same replies) except that a right one links nothing: it is kept as
    CHECKED, counted nowhere, and resets no count."""
    return _try(
        None, dob, pin=pin, family_name=family_name, answer=answer, terminal=terminal, now=now
    )


@retrying
def _try(
    account_id: int | None,
    dob: dt.date,
    *,
    pin: str,
    family_name: str,
    answer: str,
    terminal: str | None,
    now: dt.datetime | None,
) -> Redeemed:
    started = time.monotonic()
    now = now or utcnow()
    terminal = (terminal or default_terminal())[:64]
    row, answer_ok = _find(dob, pin, family_name, answer)
    outcome = _outcome(row, bool(answer and family_name), dob, answer_ok, now)
    patient = row.patient if row is not None else None
    with write_transaction():
        # O1: the patient first, the audit head last; on PostgreSQL an unknown PIN locks "no row" (id 0),
        # the same query (S8)
        lock_rows(Patient, [patient.id if patient else 0])
        if outcome != Outcome.OK and not is_sqlite():
            # PostgreSQL: failures are counted one at a time, so the limits are exact under
            # concurrent tries (S4, S8) in every thread and every worker process; the head is still
            # the last lock taken (O1). Successes take it only for their last statements.
            audit.lock_head()
        before = _standing(patient.id if patient else 0, terminal, now)
        refusal = before.refusal()
        if refusal is None and outcome == Outcome.OK and row is not None:
            if account_id is not None:
                return _link(account_id, row, terminal, now)
            RedemptionAttempt.create(
                patient=patient, at=now, succeeded=False, terminal=terminal, outcome=Outcome.CHECKED
            )
            audit.record(
                audit.REDEEM_CHECKED, patient=patient, at=now, detail={"terminal": terminal}
            )
            return Redeemed(
                row.patient.id,
                row.patient.given_name,
                Access(row.access).label,
                row.send_to == SendTo.MINOR,
            )
        _record_failure(patient, refusal or outcome, before, terminal, now)
    _pad(started)
    raise PortalError(EXPIRED if refusal is None and outcome == Outcome.EXPIRED else GENERIC)


def _pad(started: float) -> None:
    time.sleep(max(0.0, REPLY_FLOOR - (time.monotonic() - started)))


def _terms(send_to: str, pin_access: str, patient: Patient, today: dt.date) -> tuple[str, str]:
    """The association a redeemed PIN makes (T1): the patient's own account for a Send to Minor
    PIN; else a parent's, whose access to a patient between the practice's teen age and majority
    is at most the practice's teen level (T2). A parent's PIN for an adult makes none."""
    from kiosk.people.patients import age_years

    if send_to == SendTo.MINOR:
        return AssociationKind.OWN, pin_access
    practice = Practice.get()
    age = age_years(patient.dob, today)
    if age >= practice.majority_age:
        raise PortalError(GENERIC)  # T2: maintenance ends such a PIN; until it runs, refused
    if age >= practice.teen_age and practice.teen_parent_access == Access.LIMITED:
        return AssociationKind.PARENT, Access.LIMITED
    return AssociationKind.PARENT, pin_access


def _link(account_id: int, row: RegistrationPin, terminal: str, now: dt.datetime) -> Redeemed:
    """The winning try's writes, in as few statements as they take (P1): the PIN re-read under the
    patient's lock with the practice's parents_per_pin, the link, the PIN's count, the status, the
    attempt, and the audit event last."""
    patient = row.patient
    found: tuple[str, int, str, str, int] = next(
        tuples(
            RegistrationPin.select(
                RegistrationPin.state,
                RegistrationPin.redemptions,
                RegistrationPin.access,
                RegistrationPin.send_to,
                Practice.select(Practice.parents_per_pin).limit(1),
            ).where(RegistrationPin.id == row.id)
        )
    )
    state, redemptions, pin_access, send_to, parents_per_pin = found
    if state != PinState.ACTIVE:
        raise PortalError(GENERIC)
    kind, access = _terms(send_to, pin_access, patient, now.date())
    created = (
        Association.insert(
            account=account_id,
            patient=patient.id,
            access=access,
            pin=row.id,
            created_at=now,
            kind=kind,
        )
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    ) == 1
    if not created:  # this account had the child already: as that association stands (T4)
        link = Association.get(
            (Association.account == account_id) & (Association.patient == patient.id)
        )
        if link.state == AssociationState.SUSPENDED:
            raise PortalError(SUSPENDED)  # T4: a new PIN does not lift a suspension; the desk does
        if link.state == AssociationState.ENDED or (
            link.ends_on is not None and link.ends_on <= now.date()
        ):  # T4: an ended association counts as none: the new PIN makes it anew
            created = True
            Association.update(
                access=access,
                pin=row.id,
                kind=kind,
                state=AssociationState.ACTIVE,
                ends_on=None,
                created_at=now,
                changed_at=now,
                changed_by="",
                reason="",
            ).where(Association.id == link.id).execute()
        else:  # the level they have stays
            access, kind = link.access, link.kind
    if created:
        redemptions += 1
        own = kind == AssociationKind.OWN  # T1: a minor's PIN makes one account, their own
        ended = redemptions >= (1 if own else parents_per_pin)  # R13
        RegistrationPin.update(
            redemptions=redemptions,
            **({"first_used_at": now} if redemptions == 1 else {}),  # W4: the report's days
            **(
                dict(
                    state=PinState.REDEEMED,
                    ended_at=now,
                    ended_reason="used by the patient" if own else "used by every parent",
                )
                if ended
                else {}
            ),
        ).where(RegistrationPin.id == row.id).execute()
    (
        Patient.update(portal_status=PortalStatus.REGISTERED, updated_at=now)
        .where(Patient.id == patient.id)
        .execute()
    )
    RedemptionAttempt.create(
        patient=patient, at=now, succeeded=True, terminal=terminal, outcome=Outcome.OK
    )
    audit.record(
        audit.REDEEM,
        patient=patient,
        at=now,
        detail={
            "account": account_id,
            "pin": row.id,
            "access": access,
            "kind": kind,
            "new": created,
            "terminal": terminal,
        },
    )
    return Redeemed(
        patient.id, patient.given_name, Access(access).label, kind == AssociationKind.OWN
    )


def _question_rows(dob: dt.date, family_name: str) -> list[RegistrationPin]:
    """The active question registrations for a birth date and family name, first issued first."""
    return list(
        RegistrationPin.select(RegistrationPin, Patient)
        .join(Patient)
        .where(
            (Patient.dob == dob)
            & (Patient.family_key == fold(family_name))
            & (RegistrationPin.method == RegistrationMethod.QUESTION)
            & (RegistrationPin.state == PinState.ACTIVE)
        )
        .order_by(RegistrationPin.id)
    )


def _find(
    dob: dt.date, pin: str, family_name: str, answer: str
) -> tuple[RegistrationPin | None, bool]:
    """The registration a try names, and whether its answer is right: one keyed lookup and one
    answer digest on every path (S8). A wrong answer names the first child's question, the one
    ``question_for`` shows."""
    if answer and family_name:
        rows = _question_rows(dob, family_name)
        for row in rows:
            if hmac.compare_digest(row.answer_hash or "", answer_digest(row.patient.id, answer)):
                return row, True
        return (rows[0] if rows else None), False
    answer_digest(0, answer)  # the same work as the question route
    canonical = pins.normalize_pin(pin) if pin else None
    row = (
        RegistrationPin.select(RegistrationPin, Patient)
        .join(Patient)
        .where(RegistrationPin.pin_hash == pin_digest(canonical or "not a pin"))
        .first()
    )
    return (row if canonical else None), False


@retrying
def question_for(
    dob: dt.date, family_name: str, *, terminal: str | None = None, now: dt.datetime | None = None
) -> str | None:
    """The verification question set for a child (R10), so the parent can answer it, or None.

    A lookup is an attempt (S8): kept and audited; one that finds nothing counts as a failure at
    this terminal and across the practice, and none is answered while they are paused or the
    child is locked.
    """
    started = time.monotonic()
    now = now or utcnow()
    terminal = (terminal or default_terminal())[:64]
    rows = _question_rows(dob, family_name)
    patient = rows[0].patient if rows else None
    with write_transaction():
        lock_rows(Patient, [patient.id if patient else 0])
        if not is_sqlite():  # counted one at a time, as a failing try is (S8)
            audit.lock_head()
        before = _standing(patient.id if patient else 0, terminal, now)
        refusal = before.refusal()
        outcome = refusal or (Outcome.QUESTION if rows else Outcome.NO_QUESTION)
        RedemptionAttempt.create(
            patient=patient, at=now, succeeded=False, terminal=terminal, outcome=outcome
        )
        audit.record(
            audit.QUESTION_LOOKUP,
            patient=patient,
            at=now,
            detail={"how": str(outcome), "terminal": terminal},
        )
        if outcome == Outcome.NO_QUESTION:
            for count, limit, scope in (
                (before.here, TERMINAL_FAILURES, "terminal"),
                (before.everywhere, PRACTICE_FAILURES, "practice"),
            ):
                if count + 1 == limit:
                    audit.record(
                        audit.REDEEM_PAUSED, at=now, detail={"scope": scope, "terminal": terminal}
                    )
    _pad(started)
    return rows[0].question if rows and refusal is None else None


@dataclass(frozen=True)
class GuessingStatus:
    """What staff see about guessing at one child's registration (S4, S8)."""

    failures: dict[
        str, int
    ]  # outcome -> tries naming the child in the last day (since a clearing), refusals included
    locked_until: dt.datetime | None
    toward_revoking: (
        int  # failures in a row that name its active PIN (FAILURES_TO_REVOKE revoke it)
    )


def guessing_status(patient_id: int, *, now: dt.datetime | None = None) -> GuessingStatus:
    now = now or utcnow()
    since = max(now - dt.timedelta(days=1), _cleared_at(patient_id) or dt.datetime.min)
    rows = (
        RedemptionAttempt.select(
            RedemptionAttempt.outcome, fn.COUNT(RedemptionAttempt.id).alias("n")
        )
        .where(
            (RedemptionAttempt.patient == patient_id)
            & ~RedemptionAttempt.succeeded
            & (RedemptionAttempt.at > since)
            & (RedemptionAttempt.outcome != "")
        )
        .group_by(RedemptionAttempt.outcome)
        .tuples()
    )
    counts: dict[str, int] = dict(cast(Iterable[tuple[str, int]], rows))
    counts.pop(Outcome.QUESTION, None)
    counts.pop(Outcome.CLEARED, None)
    counts.pop(Outcome.CHECKED, None)
    return GuessingStatus(counts, _locked_until(patient_id, now), _failures_in_row(patient_id))


@dataclass(frozen=True)
class PinStanding:
    method: str  # a RegistrationMethod
    state: str  # a PinState
    access: str  # label
    issued_at: dt.datetime
    expires_at: dt.datetime
    redemptions: int


@dataclass(frozen=True)
class Registration:
    """Where one child's portal registration stands (P1): what a practice's portal may read."""

    patient_id: int
    portal_status: str  # a PortalStatus
    accounts: int  # portal accounts tied to the child
    parents_per_pin: int  # R13
    pins: list[PinStanding]  # newest first
    locked_until: dt.datetime | None  # S4


def registration_state(patient_id: int, *, now: dt.datetime | None = None) -> Registration | None:
    """The child's registration, or None when there is no such patient. No secret is in it."""
    from kiosk.people.patients import live

    patient = Patient.get_or_none(Patient.id == patient_id)
    if patient is None:
        return None
    pins_rows = (
        RegistrationPin.select()
        .where(RegistrationPin.patient == patient_id)
        .order_by(RegistrationPin.issued_at.desc(), RegistrationPin.id.desc())
    )
    return Registration(
        patient.id,
        patient.portal_status,
        Association.select()
        .where((Association.patient == patient_id) & live((now or utcnow()).date()))
        .count(),  # T4: accounts that see the child now
        Practice.get().parents_per_pin,
        [
            PinStanding(
                p.method, p.state, Access(p.access).label, p.issued_at, p.expires_at, p.redemptions
            )
            for p in pins_rows
        ],
        _locked_until(patient_id, now or utcnow()),
    )
