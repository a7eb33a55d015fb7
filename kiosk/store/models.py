"""The records of docs/rules.md "People and records", as Peewee models.

Text that people search by is also stored folded (lower case, accents and punctuation removed)
in ``*_key`` columns with plain indexes, so a prefix search is an index range scan on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from kiosk.store.db import database
from kiosk.terms import (
    Access,
    AgeStage,
    AssociationKind,
    AssociationState,
    Authority,
    DatabasePurpose,
    Delivery,
    DriveState,
    IdCheck,
    MessageKind,
    MessageState,
    PinState,
    PortalStatus,
    RegistrationMethod,
    SendTo,
    fold,
    utcnow,
)

EMPTY = pw.SQL("DEFAULT ''")  # a text column's default in the database itself


class BaseModel(pw.Model):
    id = pw.AutoField()  # what peewee adds anyway, declared so that type checkers know it

    class Meta:
        database = database
        legacy_table_names = False


class SchemaMeta(BaseModel):
    """One row: the schema version this database is at."""

    version = pw.IntegerField()


class Practice(BaseModel):
    """Practice settings: one row."""

    name = pw.CharField()
    portal_url = pw.CharField()
    pin_lifetime_days = pw.IntegerField(default=30)
    idle_lock_minutes = pw.FloatField(default=2.0)
    parents_per_pin = pw.IntegerField(default=2)  # R13: how many parents one PIN can register
    key_check = pw.CharField(
        default=""
    )  # HMAC of a fixed text under the PIN key: a wrong key file is caught (S2)
    purpose = pw.CharField(
        default=DatabasePurpose.PRACTICE
    )  # a DatabasePurpose: demo data goes only where it says so (D2)
    reminder_days = pw.IntegerField(default=0)  # W3: days before expiry to remind; 0: off
    teen_age = pw.IntegerField(default=12)  # T1, T2: Send to Minor, and parents' teen access
    majority_age = pw.IntegerField(default=18)  # T2: parents' associations end
    teen_parent_access = pw.CharField(default=Access.LIMITED)  # T1, T2: an Access
    id_check_default = pw.CharField(default=IdCheck.PHOTO_ID)  # T5: an IdCheck


class Staff(BaseModel):
    username = pw.CharField(unique=True)
    display_name = pw.CharField()
    password_hash = pw.CharField()
    portal_user = pw.CharField(
        null=True
    )  # Practice Portal user this staff member is linked to (R1)
    is_admin = pw.BooleanField(default=False)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)

    @property
    def is_linked(self) -> bool:
        return bool(self.portal_user)


class Patient(BaseModel):
    chart_number = pw.CharField(unique=True)
    given_name = pw.CharField()
    family_name = pw.CharField()
    given_key = pw.CharField(default="")
    family_key = pw.CharField(default="")
    dob = pw.DateField()
    sex = pw.CharField(default="U")  # F, M, O, U
    preferred_language = pw.CharField(default="en")
    portal_status = pw.CharField(default=PortalStatus.UNREGISTERED)
    placeholder_name = pw.BooleanField(
        default=False
    )  # set by import when the given name is a placeholder (R2)
    # T1: the patient's own contact, for Send to Minor (entered at the desk); a default in the
    # database too, for the bulk writers that name their columns (demo data, imports)
    email = pw.CharField(default="", constraints=[EMPTY])
    cell = pw.CharField(default="", constraints=[EMPTY])  # digits only, US 10-digit
    carrier = pw.CharField(default="", constraints=[EMPTY])
    age_stage = pw.CharField(default=AgeStage.CHILD, constraints=[EMPTY])  # T2: the last applied
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            # searches order by family_key, given_key, dob: name, DOB and status searches read that order
            # straight from an index; "last, first" checks the given name inside either name index
            (("family_key", "given_key", "dob"), False),
            (("given_key", "family_key"), False),
            (("dob", "family_key", "given_key"), False),
            (("portal_status", "family_key", "given_key", "dob"), False),
            (("portal_status",), False),  # W4: the status counts read this narrow one
            (("age_stage", "dob"), False),  # T2: who reaches an age today, one range each
        )

    def save(self, *args: Any, **kwargs: Any) -> int:
        self.given_key, self.family_key = fold(self.given_name), fold(self.family_name)
        saved = super().save(*args, **kwargs)
        from kiosk.people.search_index import (
            index_patients,  # N1: the search terms follow the names
        )

        index_patients([self.id])
        return saved

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Caregiver(BaseModel):
    given_name = pw.CharField()
    family_name = pw.CharField()
    email = pw.CharField(default="")
    cell = pw.CharField(default="")  # digits only, US 10-digit
    carrier = pw.CharField(default="")  # key into the carrier table (messages)
    preferred_language = pw.CharField(default="en")
    external_id = pw.CharField(
        null=True, unique=True
    )  # identifier in the practice's records (import)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    def save(self, *args: Any, **kwargs: Any) -> int:
        saved = super().save(*args, **kwargs)
        from kiosk.people.search_index import (
            index_caregivers,  # N1: a parent's name, phone or email finds the child
        )

        index_caregivers([self.id])
        return saved

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class Relationship(BaseModel):
    """A caregiver's role and contact authority toward one patient (R15)."""

    caregiver = pw.ForeignKeyField(Caregiver, backref="relationships", on_delete="CASCADE")
    # no index of its own: the (patient, caregiver) index below serves it
    patient = pw.ForeignKeyField(Patient, backref="relationships", on_delete="CASCADE", index=False)
    caregiver_id: int  # the ids peewee keeps beside each foreign key, declared for the type checker
    patient_id: int
    role = pw.CharField()
    authority = pw.CharField(default=Authority.JOINT)

    class Meta:
        # a child's caregivers are read from the index alone (N1: a name with a birth date reads
        # the parents of every child born that day)
        indexes = ((("caregiver", "patient"), True), (("patient", "caregiver"), False))

    @property
    def has_authority(self) -> bool:
        return self.authority != Authority.NONE


class SearchTerm(BaseModel):
    """One word a patient is found by (N1): each part of each name (folded, and as written for a
    non-Latin script), the chart number, and a caregiver's name parts, phone and email (rows with
    ``caregiver`` set; they find the caregiver's children through Relationship). ``field`` says
    which. Kept in step by kiosk.people.search_index wherever patients and caregivers are written."""

    term = pw.CharField()
    field = pw.CharField()
    # no index of their own: the (patient, term) and (caregiver, term) indexes below serve both
    patient = pw.ForeignKeyField(Patient, null=True, on_delete="CASCADE", index=False)
    caregiver = pw.ForeignKeyField(Caregiver, null=True, on_delete="CASCADE", index=False)

    class Meta:
        # term first: exact and prefix lookups are index range scans; the others let a second word
        # of the query be checked per patient or caregiver, and rows be replaced when a name changes
        indexes = (
            (("term", "patient", "caregiver", "field"), False),
            (("patient", "term"), False),
            (("caregiver", "term"), False),
        )


# N1 at a million patients: each side's name terms on their own, so a count or join over a
# child's name parts never reads the parents' rows of the same word (Jennifer: thousands of mothers,
# no child), and the reverse; field is in them so the lookups read the index alone
SearchTerm.add_index(
    SearchTerm.index(
        SearchTerm.term, SearchTerm.patient, SearchTerm.field, name="search_term_child_terms"
    ).where(SearchTerm.patient.is_null(False))
)
SearchTerm.add_index(
    SearchTerm.index(
        SearchTerm.term, SearchTerm.caregiver, SearchTerm.field, name="search_term_parent_terms"
    ).where(SearchTerm.caregiver.is_null(False))
)
# N1: chart numbers on their own, so a chart of letters ("newborn", "infant-mom": an imported
# record's id) is one probe, never a walk through every name term of that spelling. A lookup
# writes field = 'chart' as this does (SQLite uses a partial index only for the same condition)
SearchTerm.add_index(
    SearchTerm.index(
        SearchTerm.term, SearchTerm.patient, SearchTerm.field, name="search_term_charts"
    ).where(pw.SQL("\"field\" = 'chart'"))
)


class BornParentTerm(BaseModel):
    """A parent's name term beside each of their children's birth dates (N1: "ana 5/17/2018"): a
    first name with a birth date finds the children whose parent has that name part from one range
    of one index, not by walking every parent of the day's children. Derived rows, kept in step by
    triggers on relationship, search_term and patient (kiosk.people.born_parents), whatever writes."""

    dob = pw.DateField()
    term = pw.CharField()
    patient_id = pw.IntegerField()  # no foreign keys: the triggers remove what a cascade removes
    caregiver_id = pw.IntegerField()

    class Meta:
        primary_key = False  # rows by the million, looked up by day only: no id or its index
        # the day's range of a term, in order; the triggers' deletes find a parent's rows
        indexes = (
            (("dob", "term", "patient_id", "caregiver_id"), False),
            (("caregiver_id", "patient_id"), False),
        )


class ParentNameChild(BaseModel):
    """A parent's whole-name term beside each of their children's listed rows (N1: "Amanda
    Dvořák" shows her children): the list is the first rows of one range of one index, in the
    order it is shown, not a walk of the parents, their relationships and each child's row.
    Derived rows, kept in step by triggers on relationship, search_term, patient and caregiver
    (kiosk.people.parent_names), whatever writes."""

    term = pw.CharField()
    family_key = pw.CharField()
    given_key = pw.CharField()
    dob = pw.DateField()
    patient_id = pw.IntegerField()  # no foreign keys: the triggers remove what a cascade removes
    caregiver_id = pw.IntegerField()
    given_name = pw.CharField()  # the child's row as the list shows it
    family_name = pw.CharField()
    portal_status = pw.CharField()
    carer_given = pw.CharField()  # the parent's name as the row's reason says it
    carer_family = pw.CharField()

    class Meta:
        primary_key = False  # rows by the million, read by term only: no id or its index
        # the triggers' updates and deletes find a parent's rows
        indexes = ((("caregiver_id", "patient_id"), False),)


# a term's rows in the list's order (kiosk.people.parent_names.LISTED)
ParentNameChild.add_index(
    ParentNameChild.index(
        ParentNameChild.term,
        ParentNameChild.family_key,
        ParentNameChild.given_key,
        ParentNameChild.dob,
        ParentNameChild.patient_id,
        ParentNameChild.caregiver_id,
        name="parent_name_child_listed",
    )
)


class SearchKey(BaseModel):
    """The tolerant lookup (N2): every distinct name word under its deletion variants (a word with
    one or two letters left out: a typo, a swap or a missing letter meets the word there) and its
    double-metaphone codes (``#`` and the code). Words are only added, never removed: a word nobody
    has any more finds no patient, which costs nothing."""

    key = pw.CharField()
    word = pw.CharField()

    class Meta:
        primary_key = pw.CompositeKey("key", "word")


class Appointment(BaseModel):
    patient = pw.ForeignKeyField(Patient, backref="appointments", on_delete="CASCADE")
    starts_at = pw.DateTimeField(index=True)  # local wall-clock time of the practice
    provider = pw.CharField(default="")
    reason = pw.CharField(default="")

    class Meta:
        indexes = ((("provider", "starts_at"), False),)  # W1: one provider's appointments by date


class RegistrationPin(BaseModel):
    """One issued PIN (or verification question) for one patient. Only its hash is stored (S2)."""

    patient = pw.ForeignKeyField(Patient, backref="pins", on_delete="CASCADE")
    batch = pw.CharField(index=True)  # the family issue this PIN was part of
    method = pw.CharField(default=RegistrationMethod.PIN)
    pin_hash = pw.CharField(null=True, unique=True)  # keyed hash, looked up directly on redeem
    question = pw.CharField(null=True)
    answer_hash = pw.CharField(null=True)
    access = pw.CharField(default=Access.FULL)
    delivery = pw.CharField(default=Delivery.EMAIL)
    print_slip = pw.BooleanField(default=False)
    send_to = pw.CharField(default=SendTo.PARENT)
    recipient = pw.ForeignKeyField(Caregiver, null=True, on_delete="SET NULL")
    recipient_email = pw.CharField(default="")
    recipient_cell = pw.CharField(default="")
    carrier = pw.CharField(default="")
    second_parent = pw.BooleanField(default=False)  # issued to an additional parent (R13)
    issued_by = pw.ForeignKeyField(Staff, on_delete="RESTRICT")
    issued_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    state = pw.CharField(default=PinState.ACTIVE)
    redemptions = pw.IntegerField(default=0)
    ended_at = pw.DateTimeField(null=True)
    ended_reason = pw.CharField(default="")
    ended_by = pw.CharField(
        default=""
    )  # staff username who replaced or revoked it; "" for the system (L1)
    prior_status = pw.CharField(
        default=""
    )  # the child's status before this PIN: back to it on expiry (L2)
    terminal = pw.CharField(default="")  # the desk it was issued at, when known (D1, L1)
    first_used_at = pw.DateTimeField(null=True)  # when a parent first used it (W4)
    id_check = pw.CharField(default="", constraints=[EMPTY])  # T5: how they were identified
    id_check_note = pw.CharField(default="", constraints=[EMPTY])  # T5: what "other" was
    # I1: the language the family's slip or welcome was given in, as the desk chose it; a family
    # given no welcome message (Do not send PIN) has nowhere else to keep it for its reminder (W3)
    language = pw.CharField(default="", constraints=[EMPTY])
    patient_id: int  # the ids peewee keeps beside each foreign key, declared for the type checker
    issued_by_id: int
    recipient_id: int | None

    @staticmethod
    def works_at(now: dt.datetime) -> pw.Expression:
        """A PIN a parent can still use at ``now``: active, and not yet expired (L1, L2)."""
        return (RegistrationPin.state == PinState.ACTIVE) & (RegistrationPin.expires_at > now)

    class Meta:
        # search's "PIN expired" filter (L2) reads the expired and the active-past-date PINs; the
        # enrollment report (W4) reads all it counts of the PINs issued since a date from one index;
        # the worklist's "Pending over N days" (W1) reads the active ones by issue date
        indexes = (
            (("state", "expires_at"), False),
            (("issued_at", "second_parent", "issued_by", "redemptions", "first_used_at"), False),
            (("state", "issued_at"), False),
        )


# R3, enforced by the database: at most one active PIN per patient. Two desks racing to issue
# for the same child cannot both commit.
RegistrationPin.add_index(
    RegistrationPin.index(
        RegistrationPin.patient, unique=True, name="registration_pin_one_active"
    ).where(RegistrationPin.state == PinState.ACTIVE)
)


class PortalAccount(BaseModel):
    email = pw.CharField(unique=True)  # stored lower case
    display_name = pw.CharField()
    password_hash = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)


class Association(BaseModel):
    """A portal account tied to a patient, with the access level its PIN carried (R9, R13)."""

    account = pw.ForeignKeyField(PortalAccount, backref="associations", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, backref="associations", on_delete="CASCADE")
    access = pw.CharField(default=Access.FULL)
    pin = pw.ForeignKeyField(RegistrationPin, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    kind = pw.CharField(default=AssociationKind.PARENT)  # T1: a parent's, or the patient's own
    state = pw.CharField(default=AssociationState.ACTIVE)  # T4
    ends_on = pw.DateField(null=True)  # T4: access ends at the start of this day
    changed_at = pw.DateTimeField(null=True)  # T4: the last suspend, resume or end
    changed_by = pw.CharField(default="")  # staff username; "" for the maintenance run
    reason = pw.CharField(default="")  # T4: why it was suspended or ended
    account_id: int
    patient_id: int
    pin_id: int | None  # the id peewee keeps beside the foreign key, declared for the type checker

    class Meta:
        indexes = ((("account", "patient"), True), (("patient",), False))


class PortalToken(BaseModel):
    """An API token one practice portal authenticates with (P1): only its keyed digest is kept, so
    the database holds nothing a client could present; revoking keeps the row for the audit."""

    name = pw.CharField(unique=True)
    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    revoked_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)


class RedemptionAttempt(BaseModel):
    """Every try at redeeming or at finding a verification question, kept for the guessing limits
    (S4, S8). ``patient`` is the child the try named (by its PIN or its question), or null when it
    named none; ``outcome`` says what went wrong (kiosk.registration.portal's outcome words)."""

    patient = pw.ForeignKeyField(Patient, backref="attempts", on_delete="CASCADE", null=True)
    at = pw.DateTimeField(default=utcnow)
    succeeded = pw.BooleanField()
    terminal = pw.CharField(default="")
    outcome = pw.CharField(default="")

    class Meta:
        indexes = ((("patient", "at"), False), (("terminal", "at"), False), (("at",), False))


class SignInAttempt(BaseModel):
    """Every checked staff or parent sign-in, kept for the growing delay and the lock (S12).
    ``who`` is a staff username or ``portal:`` and a parent's email; ``outcome`` is ok, wrong or
    unlocked (an administrator cleared the failures)."""

    who = pw.CharField()
    terminal = pw.CharField(default="")
    at = pw.DateTimeField(default=utcnow)
    outcome = pw.CharField()

    class Meta:
        indexes = ((("who", "at"), False),)


class OutboxMessage(BaseModel):
    """A welcome message waiting to go, or gone (O3). The body is erased once sent (S2)."""

    message_id = pw.CharField(unique=True)  # stable Message-ID: a retry is the same message
    batch = pw.CharField(index=True)
    kind = pw.CharField(default=MessageKind.WELCOME)  # a MessageKind: only the welcome carries PINs
    channel = pw.CharField()  # a Channel
    recipient = pw.CharField()  # address (for text: the gateway address)
    carrier = pw.CharField(default="")
    language = pw.CharField(default="en")
    subject = pw.CharField(default="")
    body_text = pw.TextField(default="")
    body_html = pw.TextField(default="")
    state = pw.CharField(default=MessageState.QUEUED, index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)
    # I2: a text sent through the SMS provider: the provider's id for it (its SID) and the last
    # delivery status the provider reported (queued, sent, delivered, undelivered, failed ...)
    provider_id = pw.CharField(default="", index=True)
    delivery = pw.CharField(default="")
    # O3, I2: a try ended without knowing whether the provider took the message (its answer timed
    # out, or kiosk stopped mid-send): the next try asks the provider before sending again
    maybe_sent = pw.BooleanField(default=False)


# W3, enforced by the database: at most one reminder per family batch, however many maintenance
# runs (or desks starting at once) look for due reminders.
OutboxMessage.add_index(
    OutboxMessage.index(OutboxMessage.batch, unique=True, name="outbox_message_one_reminder").where(
        OutboxMessage.kind == MessageKind.REMINDER
    )
)


class Drive(BaseModel):
    """A registration drive (W2): a worklist's families, issued one by one, with a letter each
    and/or a welcome message each."""

    worklist = pw.CharField()  # the worklist in words
    letters = pw.BooleanField(default=True)
    messages = pw.BooleanField(default=False)
    created_by = pw.CharField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)
    letters_file = pw.CharField(default="")  # where the letters were saved; "" when printed or none


class DriveFamily(BaseModel):
    """One family of a drive. ``done`` is written in the same transaction as its PINs, so a drive
    stopped half-way leaves every family either finished or untouched, and a second run skips the
    finished ones. ``letter`` holds the family's letter (names and plain PINs) sealed with the
    key file (S11) until the letters are made, then erased."""

    drive = pw.ForeignKeyField(Drive, backref="families", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, on_delete="CASCADE")  # the child the family was found by
    caregiver = pw.ForeignKeyField(Caregiver, null=True, on_delete="SET NULL")
    # the family's patient ids when the drive was planned, comma separated
    children = pw.CharField()
    state = pw.CharField(default=DriveState.WAITING)
    batch = pw.CharField(default="")
    note = pw.CharField(default="")  # why it was skipped
    letter = pw.TextField(default="")
    done_at = pw.DateTimeField(null=True)
    drive_id: int  # the ids peewee keeps beside each foreign key, declared for the type checker
    patient_id: int
    caregiver_id: int | None

    class Meta:
        indexes = ((("drive", "state"), False),)


class AuditEvent(BaseModel):
    """Append-only, hash-chained record of who did what to which patient (S5)."""

    seq = pw.IntegerField(unique=True)
    at = pw.DateTimeField()
    action = pw.CharField()
    staff = pw.CharField(default="")  # username, not a key: the trail outlives the rows it names
    patient_id = pw.IntegerField(null=True, index=True)
    chart_number = pw.CharField(default="")
    detail = pw.TextField(default="")  # JSON
    prev_hash = pw.CharField()
    hash = pw.CharField()

    class Meta:
        indexes = ((("staff", "action", "at"), False),)  # sign-in throttling counts recent failures


class AuditHead(BaseModel):
    """One row: the last sequence number and hash. Updating it first serialises writers."""

    seq = pw.IntegerField(default=0)
    last_hash = pw.CharField(default="0" * 64)
    keyed_from = pw.IntegerField(
        default=1
    )  # first event with a keyed hash (S10); those before: plain SHA-256


ALL_MODELS = [
    SchemaMeta,
    Practice,
    Staff,
    Patient,
    Caregiver,
    Relationship,
    SearchTerm,
    SearchKey,
    BornParentTerm,
    ParentNameChild,
    Appointment,
    RegistrationPin,
    PortalAccount,
    Association,
    RedemptionAttempt,
    SignInAttempt,
    OutboxMessage,
    PortalToken,
    Drive,
    DriveFamily,
    AuditEvent,
    AuditHead,
]
