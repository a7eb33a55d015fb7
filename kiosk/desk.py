"""The front desk as one typed service: every operation the screens (and the CLI) need, on one
config, one clock, one way of sending messages, one printer and the signed-in staff member.

A thin facade: each method calls the domain function that holds the rule and hands back the
plain typed result it returns, passing the desk's clock and staff member down so callers never
thread ``now``/``today``/``staff`` themselves. Tests build a Desk with a fixed :class:`Clock`, fake
``senders`` (:class:`kiosk.messages.outbox.Sender` per channel) and a fake :class:`kiosk.slip.printing.Printer`
instead of patching modules.

The domain modules load when an operation first needs them, so building a Desk at start-up costs
nothing (O1): the QR, PDF and SMTP libraries stay unloaded until a slip or a message needs them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING

from kiosk import loaded
from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.people.staff import StaffUser
from kiosk.store.db import hand_on_connection  # loaded with the staff module already
from kiosk.terms import SearchFilter

if TYPE_CHECKING:
    from pathlib import Path

    from kiosk.audit import ChainProblem
    from kiosk.followup.drive import DriveOptions, DrivePlan, DriveReport, DriveRow
    from kiosk.followup.report import EnrollmentReport
    from kiosk.followup.worklist import Key, WorklistFamily, WorklistPage, WorklistQuery
    from kiosk.importer.report import ImportReport
    from kiosk.messages.outbox import DeliveryReport, MessageRow, Sender
    from kiosk.people.patients import (
        AppointmentRow,
        AssociationRow,
        Family,
        PatientPage,
        PatientRow,
    )
    from kiosk.registration.access import TeenContact
    from kiosk.registration.engine import IssueRequest, IssueResult, Problem
    from kiosk.registration.pin_life import (
        ContactChange,
        MaintenanceReport,
        PinFacts,
        PinHistory,
        RegistrationBlock,
    )
    from kiosk.registration.portal import Child, PortalLogin, Redeemed
    from kiosk.slip.content import SlipData
    from kiosk.slip.pdf_child import SlipChild
    from kiosk.slip.printing import Printer, PrintOutcome
    from kiosk.store.practice import PracticeSettings
    from kiosk.terms import IdCheck, MessageState

Progress = Callable[[str, int, int], None]


def _signed_out() -> Problem:
    from kiosk.registration.engine import Problem

    return Problem("staff", "Sign in again to issue PINs.")


class Desk:
    """One front desk: config, clock, message senders, printer and who is signed in."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        senders: Mapping[str, Sender] | None = None,
        printer: Printer | None = None,
        staff: StaffUser | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or Clock()
        # None: the configured ones (SMTP, or nothing sent in training, O2; kiosk.messages.outbox.senders_for).
        self.senders = senders
        self.printer = printer  # None: CUPS through lp (kiosk.slip.printing.CupsPrinter)
        self.staff = staff
        self._practice: PracticeSettings | None = None
        # the child that checked the letters of the slip on preview, kept to make its PDF (D1)
        self._slip_child: tuple[SlipData, SlipChild] | None = None

    # -- the desk itself ------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.config.training

    @property
    def practice(self) -> PracticeSettings:
        """The practice's settings as stored (read once; the store must be open)."""
        if self._practice is None:
            from kiosk.store.practice import practice_settings

            self._practice = practice_settings()
        return self._practice

    def now(self) -> dt.datetime:
        return self.clock.now()

    def hand_on_connection(self) -> None:
        """This thread is done with the database for now (a screen's worker at its end; the
        screen's own thread once the app has started): its PostgreSQL connection waits for the
        next worker (O1: a desk keeps two server connections between actions, not four)."""
        hand_on_connection()

    def today(self) -> dt.date:
        return self.clock.today()

    @property
    def username(self) -> str:
        """The signed-in staff member's username for the audit trail, "" when nobody is."""
        return self.staff.username if self.staff else ""

    # -- staff sign-in, lock and unlock (S6) ----------------------------------------------------
    def check_staff(self, username: str, password: str) -> StaffUser | None:
        """The staff member for these credentials, or None (raises kiosk.people.staff.SignInPaused).
        On the wall clock, not the desk's: the pause after wrong passwords counts real minutes."""
        from kiosk.people.staff import authenticate

        return authenticate(username, password)

    def sign_in(self, user: StaffUser) -> None:
        self.staff = user

    def sign_out(self) -> None:
        self.staff = None

    def is_signed_in(self, user: StaffUser) -> bool:
        """Whether ``user`` is who is signed in now (unlocking carries on their work)."""
        return self.staff is not None and self.staff.id == user.id

    # -- patients -------------------------------------------------------------------------------
    def search(
        self, text: str, status: str | None = None, *, tolerant: bool = True
    ) -> list[PatientRow]:
        """The search box (N1, N2); ``tolerant=False``: the exact matches only, the quick first look.
        ``status``: a portal status or ``SearchFilter.PIN_EXPIRED`` (on the desk's clock, L2)."""
        # the moment a PIN expires at is read only for that filter (the clock costs a search too)
        now = self.now() if status == SearchFilter.PIN_EXPIRED else None
        return loaded("kiosk.people.patients").search_patients(
            text, status, today=self.today(), tolerant=tolerant, now=now
        )

    def todays_appointments(self) -> list[AppointmentRow]:
        from kiosk.people.patients import todays_appointments

        return todays_appointments(self.today())

    def patient_page(self, patient_id: int, *, audited: bool = True) -> PatientPage:
        """The patient page; ``audited`` records the signed-in staff member's look (S5)."""
        return loaded("kiosk.people.patients").patient_page(
            patient_id,
            today=self.today(),
            now=self.now(),
            viewed_by=self.username if audited else "",
        )

    def family(self, patient_id: int) -> Family:
        return loaded("kiosk.people.patients").family_for(
            patient_id, today=self.today(), now=self.now()
        )

    def parse_dob(self, text: str) -> dt.date | None:
        """A date of birth as typed (05/17/2022, 2022-05-17, ...); None unless it is a real date
        between 1900 and today (kiosk.validate.parse_birth_date)."""
        from kiosk.validate import InputProblem, parse_birth_date

        try:
            return parse_birth_date(text, self.today())
        except InputProblem:
            return None

    # -- registration (R1-R15) ------------------------------------------------------------------
    def may_issue(self) -> Problem | None:
        """R1: why the signed-in staff member may not issue PINs, or None."""
        from kiosk.registration.engine import staff_may_issue

        return staff_may_issue(self.staff) if self.staff is not None else _signed_out()

    def check_issue(self, request: IssueRequest) -> list[Problem]:
        """Every reason ``request`` cannot be issued now; writes nothing."""
        from kiosk.registration.engine import check_issue

        return (
            check_issue(
                self.staff,
                request,
                today=self.today(),
                sms_provider=self.config.sms.configured,  # I2: texts need no carrier then
            )
            if self.staff
            else [_signed_out()]
        )

    def issue(self, request: IssueRequest) -> IssueResult:
        """Issue the PINs (raises kiosk.registration.engine.RegistrationError with every problem)."""
        return loaded("kiosk.registration.engine").issue_pins(
            self._signed_in(),
            request,
            now=self.now(),
            today=self.today(),
            terminal=self.config.terminal,
            sms_provider=self.config.sms.configured,
        )  # L1: the PIN's facts name the desk

    def revoke(self, patient_id: int, reason: str = "revoked by staff") -> bool:
        from kiosk.registration.engine import revoke_pin

        return revoke_pin(self._signed_in(), patient_id, reason, now=self.now())

    def fix_name(self, patient_id: int, given_name: str) -> str:
        """R2: the child's given name in Basic Info; returns it as stored."""
        from kiosk.registration.engine import fix_given_name

        return fix_given_name(self._signed_in(), patient_id, given_name)

    def _signed_in(self) -> StaffUser:
        """Who acts; a desk nobody is signed in at raises RegistrationError (R1)."""
        if self.staff is None:
            from kiosk.registration.engine import RegistrationError

            raise RegistrationError([_signed_out()])
        return self.staff

    # -- slips (R14) ----------------------------------------------------------------------------
    def slip_for(self, result: IssueResult) -> SlipData:
        from kiosk.slip.content import slip_from_issue

        return slip_from_issue(result, self.practice, self.config.practice.qr_url)

    def unprintable_names(self, slip: SlipData) -> list[str]:
        """Names on the slip with a letter the slip's font cannot print, asked of the child process
        that makes slips (D1: the app never loads the font library; raises SlipChildError). The
        child stays, loading the PDF libraries, to make this slip's PDF if it is printed."""
        from kiosk.slip.pdf_child import SlipChild

        self.end_slip()
        child = SlipChild()
        self._slip_child = (slip, child)
        printer = self.config.printer
        return child.unprintable(slip, printer.fonts, layout=printer.layout)

    def print_slip(self, slip: SlipData) -> PrintOutcome:
        """Print the slip, or save it as PDF (no printer, training, a refused job: O2)."""
        from kiosk.slip.printing import print_slip

        kept, self._slip_child = self._slip_child, None
        if kept is not None and kept[0] is not slip:
            kept[1].close()
            kept = None
        return print_slip(
            slip,
            self.config,
            username=self.username,
            printer=self.printer,
            child=kept[1] if kept else None,
        )

    def end_slip(self, slip: SlipData | None = None) -> None:
        """The preview of ``slip`` (of any slip: None) closed: the child waiting to make its PDF
        ends (this never blocks the caller)."""
        kept = self._slip_child
        if kept is not None and (slip is None or kept[0] is slip):
            self._slip_child = None
            kept[1].close()

    # -- follow-up: worklists and registration drives (W1, W2) ---------------------------------
    def worklist(self, query: WorklistQuery, cursor: Key | None = None) -> WorklistPage:
        """One page of a worklist's families (W1; raises kiosk.followup.worklist.WorklistError)."""
        from kiosk.followup.worklist import turning_ages, worklist_page

        return worklist_page(
            query,
            today=self.today(),
            now=self.now(),
            cursor=cursor,
            ages=turning_ages(self.practice),
        )

    def plan_drive(
        self,
        query: WorklistQuery,
        options: DriveOptions,
        *,
        families: Sequence[WorklistFamily] | None = None,
        limit: int | None = None,
    ) -> DrivePlan:
        """W2's dry run: the chosen ``families``, else every family on the worklist (up to
        ``limit``); writes nothing."""
        from kiosk.followup.drive import plan_drive
        from kiosk.followup.worklist import all_families, turning_ages

        chosen = (
            families
            if families is not None
            else all_families(
                query,
                today=self.today(),
                now=self.now(),
                limit=limit,
                ages=turning_ages(self.practice),
            )
        )
        return plan_drive(chosen, options, query.describe())

    def start_drive(self, plan: DrivePlan) -> int:
        """Record the drive and its families; its id (W2)."""
        from kiosk.followup.drive import erase_stale_letters, start_drive

        self._signed_in()
        erase_stale_letters(self.now())
        return start_drive(plan, username=self.username, now=self.now())

    def run_drive(
        self, drive_id: int, *, print_letters: bool = False, progress: Progress | None = None
    ) -> DriveReport:
        """Issue the drive's waiting families and make its letters (W2); again after a crash:
        the finished families are skipped."""
        from kiosk.followup.drive import run_drive
        from kiosk.followup.letters import print_or_save

        def make_letters(letters: list[dict], drive: int) -> tuple[Path | None, str]:
            return print_or_save(
                letters,
                drive,
                self.config,
                practice_name=self.practice.name,
                portal_url=self.practice.portal_url,
                print_them=print_letters,
                printer=self.printer,
                username=self.username,
            )

        return run_drive(
            drive_id,
            self._signed_in(),
            now=self.now(),
            today=self.today(),
            terminal=self.config.terminal,
            progress=progress,
            make_letters=make_letters,
        )

    def drives(self, *, unfinished_only: bool = False) -> list[DriveRow]:
        from kiosk.followup.drive import list_drives

        return list_drives(unfinished_only)

    # -- the outbox (O3) ------------------------------------------------------------------------
    def deliver_outbox(self, limit: int = 100) -> DeliveryReport:
        """Send the welcome messages that are due."""
        from kiosk.messages.outbox import deliver_due

        return deliver_due(self.config, now=self.now(), limit=limit, senders=self.senders)

    def messages(self, state: str | None = None, *, batch: str | None = None) -> list[MessageRow]:
        from kiosk.messages.outbox import list_messages

        return list_messages(state=state, batch=batch)

    def message_counts(self) -> dict[MessageState, int]:
        from kiosk.messages.outbox import count_messages

        return count_messages()

    def retry_message(self, message_id: int) -> MessageRow:
        """Queue a failed message again (raises kiosk.messages.outbox.OutboxError when it cannot be)."""
        from kiosk.messages.outbox import retry_message

        return retry_message(message_id, now=self.now())

    def send_batch_now(self, batch: str) -> tuple[MessageRow | None, DeliveryReport]:
        """Deliver what is due now, then the batch's welcome message as it stands afterwards."""
        report = self.deliver_outbox()
        return next(iter(self.messages(batch=batch)), None), report

    # -- the PIN's life after the visit (L1-L6) ------------------------------------------------
    def pin_history(self, patient_id: int) -> PinHistory:
        """L1: the child's active PIN's facts and its earlier PINs."""
        from kiosk.registration.pin_life import pin_history

        return pin_history(patient_id, self.now())

    def batch_pins(self, batch: str) -> list[PinFacts]:
        """R12, R13: the PINs one Register issued, as they stand now (redeemed, ended)."""
        from kiosk.registration.pin_life import batch_pins

        return batch_pins(batch, self.now())

    def registration_block(self, patient_id: int) -> RegistrationBlock:
        """L5: why a parent cannot register the child (recent failures by kind, locked until)."""
        from kiosk.registration.pin_life import registration_block

        return registration_block(patient_id, self.now())

    def active_pins(self, patient_ids: Sequence[int]) -> list[PinFacts]:
        """L3: the active PINs (from any visit) that registering these children would end."""
        from kiosk.registration.pin_life import active_pins

        return active_pins(patient_ids, self.now())

    def send_welcome_now(self, patient_id: int) -> tuple[MessageRow | None, DeliveryReport]:
        """L4: the child's undelivered welcome, due now, then a delivery run (raises
        kiosk.registration.pin_life.PinLifeError when it cannot be sent: delivered, Do not send PIN, ended)."""
        from kiosk.registration.pin_life import send_welcome_now

        row = send_welcome_now(self._signed_in(), patient_id, now=self.now())
        return self.send_batch_now(row.batch)

    def redirect_welcome(
        self, patient_id: int, caregiver_id: int
    ) -> tuple[MessageRow | None, DeliveryReport]:
        """L4: the undelivered welcome re-addressed to another caregiver with authority, then sent."""
        from kiosk.registration.pin_life import redirect_welcome

        row = redirect_welcome(
            self._signed_in(),
            patient_id,
            caregiver_id,
            now=self.now(),
            sms_provider=self.config.sms.configured,  # I2: any carrier, through the provider
        )
        return self.send_batch_now(row.batch)

    def clear_lockout(self, patient_id: int, reason: str) -> None:
        """L5: an administrator clears the child's lock-out, with a reason (PinLifeError otherwise)."""
        from kiosk.registration.pin_life import clear_lockout

        clear_lockout(self._signed_in(), patient_id, reason, now=self.now())

    def update_contact(self, caregiver_id: int, change: ContactChange) -> None:
        """L6: correct a caregiver's email, cell, carrier and language (PinLifeError names the field)."""
        from kiosk.registration.pin_life import update_contact

        update_contact(self._signed_in(), caregiver_id, change, now=self.now())

    def maintain(self) -> MaintenanceReport:
        """L2: expire the PINs past their date, erase the welcomes nobody can use; T2, T4: the
        age policy and association end dates on the desk's day (kiosk maintain)."""
        from kiosk.registration.pin_life import maintain

        return maintain(self.now(), self.today(), sms_provider=self.config.sms.configured)

    # -- teens and access over time (T1-T5) -----------------------------------------------------
    @property
    def id_check_default(self) -> IdCheck:
        """T5: the ID check the register screen starts with (the practice's setting)."""
        return self.practice.id_check_default

    def teen_contact(self, patient_id: int) -> TeenContact:
        """T1: the patient's own email and cell for Send to Minor, and a warning when it is a
        caregiver's (kiosk.registration.access.AccessError when the patient is gone)."""
        from kiosk.registration.access import teen_contact

        return teen_contact(patient_id)

    def may_send_to_minor(self, age_years: int) -> bool:
        """R8, T1: Send to is offered for a patient of the practice's teen age or older."""
        return age_years >= self.practice.teen_age

    def update_patient_contact(self, patient_id: int, change: ContactChange) -> None:
        """T1: correct the patient's own email, cell, carrier and language (PinLifeError names
        the field)."""
        from kiosk.registration.pin_life import update_patient_contact

        update_patient_contact(self._signed_in(), patient_id, change, now=self.now())

    def validate_family(self, patient_id: int, id_check: IdCheck, note: str = "") -> None:
        """T3, T5: confirm a Self Registered family after an ID check: Registered, no PIN
        (kiosk.registration.access.AccessError says why not)."""
        from kiosk.registration.access import validate_family

        validate_family(self._signed_in(), patient_id, id_check, note, now=self.now())

    def associations(self, patient_id: int) -> tuple[AssociationRow, ...]:
        """T4: every account tied to the patient, with its access, state and end date."""
        from kiosk.people.patients import association_rows

        return association_rows(patient_id, self.today())

    def suspend_association(self, association_id: int, reason: str) -> None:
        """T4: the account sees nothing until resumed (AccessError names the field)."""
        from kiosk.registration.access import suspend

        suspend(self._signed_in(), association_id, reason, now=self.now(), today=self.today())

    def resume_association(self, association_id: int, reason: str) -> None:
        from kiosk.registration.access import resume

        resume(self._signed_in(), association_id, reason, now=self.now(), today=self.today())

    def remove_association(self, association_id: int, reason: str) -> None:
        """T4: end the association now, with a reason; the row stays, ended."""
        from kiosk.registration.access import remove

        remove(self._signed_in(), association_id, reason, now=self.now(), today=self.today())

    def set_association_end(
        self, association_id: int, ends_on: dt.date | None, reason: str
    ) -> None:
        """T4: access ends at the start of ``ends_on`` (None: no end date)."""
        from kiosk.registration.access import set_end_date

        set_end_date(
            self._signed_in(), association_id, ends_on, reason, now=self.now(), today=self.today()
        )

    def parse_day(self, text: str) -> dt.date | None:
        """A date as typed (06/30/2027, 2027-06-30), or None."""
        from kiosk.validate import parse_date

        return parse_date(text, self.today())

    def enrollment_report(self, since: dt.date | None = None) -> EnrollmentReport:
        """W4: patients by status now; PINs issued since ``since`` (default: 12 weeks of Mondays)
        and how many were registered, how fast, by week and staff member."""
        from kiosk.followup.report import default_since, enrollment_report

        today = self.today()
        return enrollment_report(since or default_since(today), today)

    # -- parent mode: the portal at the counter (R11-R13, S4) -----------------------------------
    def create_account(self, email: str, display_name: str, password: str) -> PortalLogin:
        from kiosk.registration.portal import create_account

        return create_account(email, display_name, password)

    def portal_sign_in(self, email: str, password: str) -> PortalLogin:
        """On the wall clock, like the staff's: the pause after wrong passwords counts real minutes."""
        from kiosk.registration.portal import sign_in

        return sign_in(email, password)

    def redeem(
        self,
        account_id: int,
        dob: dt.date,
        *,
        pin: str = "",
        family_name: str = "",
        answer: str = "",
    ) -> Redeemed:
        from kiosk.registration.portal import redeem

        return redeem(
            account_id, dob, pin=pin, family_name=family_name, answer=answer, now=self.now()
        )

    def question_for(self, dob: dt.date, family_name: str) -> str | None:
        from kiosk.registration.portal import question_for

        return question_for(dob, family_name, now=self.now())

    def children_of(self, account_id: int) -> list[Child]:
        """The children the account sees on the desk's day (T4: live associations only)."""
        from kiosk.registration.portal import children_of

        return children_of(account_id, self.today())

    def address_for_new_account(self, result: IssueResult) -> str:
        """The address the desk sent the PINs to, for the first parent's new account; "" once an
        account with that address has one of the children (the next parent is someone else and
        must not see it)."""
        used = {
            row.email.lower()
            for issued in result.pins
            for row in self.patient_page(issued.patient_id, audited=False).associations
            if row.live  # T4: an ended or suspended account is not "a parent with the child"
        }
        return "" if result.recipient.lower() in used else result.recipient

    # -- import (O4) and the audit trail (S5) ---------------------------------------------------
    def import_files(
        self,
        paths: Sequence[str | Path],
        *,
        progress: Progress | None = None,
        roles_path: str | Path | None = None,
    ) -> ImportReport:
        """Import CSV and FHIR files (raises kiosk.importer.roles.RolesError on a bad roles table)."""
        from kiosk.importer import import_files

        return import_files(paths, progress=progress, roles_path=roles_path, username=self.username)

    def verify_audit(self, anchor_file: Path | None = None) -> list[ChainProblem]:
        """Check the audit trail's chain (and, given the file, its anchors)."""
        from kiosk.audit import verify_chain

        return verify_chain(anchor_file)

    def export_audit(self, out: IO[str], since: dt.date | None = None) -> int:
        from kiosk.audit import export_csv

        return export_csv(out, since)

    # -- the registration window's Send PIN (R11, L4) --------------------------------------------
    def send_issued_welcome(self, batch: str) -> tuple[MessageRow | None, DeliveryReport]:
        """The welcome one Register queued, sent now; PinLifeError, saying why, when it can no
        longer be (delivered, or every PIN in it used by a parent or ended: pin_life.welcome_refusal),
        so a key pressed in a stale window never sends a second welcome."""
        from kiosk.registration.pin_life import PinLifeError, batch_pins, welcome_refusal

        refusal = welcome_refusal(batch_pins(batch, self.now()))
        if refusal:
            raise PinLifeError(refusal)
        return self.send_batch_now(batch)
