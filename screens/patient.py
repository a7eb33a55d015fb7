"""The patient's account page (R4, R13; docs/glossary.md): Basic Info, portal status, PIN/VQ state,
Associations and caregivers; "Register Patient" (or, once Registered, "Generate PIN") from here,
both on r: one key opens the registration window. An unlinked staff member (R1) is told why on
arrival, next to the page's title, once.

The PIN section (L1-L6): the active PIN's facts and the earlier PINs, why a parent cannot register,
and the desk's actions on them: revoke (v), send the undelivered welcome now (w) or to another
caregiver (t), clear a lock-out (u, administrators), correct the highlighted caregiver's contact (e).

Teens and access over time (T1-T5): the patient's own email and cell for Send to Minor (o); Validate
a Self Registered family after an ID check (i); and for the highlighted association (each listed
with its kind, access level and state), suspend or resume (k), an end date (n) and remove (x),
each with a reason."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

from kiosk.people.contact import format_us_cell
from kiosk.people.names import placeholder_message
from kiosk.people.patients import AssociationRow, CaregiverRow, PatientPage, age_text
from kiosk.registration.pin_life import (
    PinFacts,
    PinHistory,
    PinLifeError,
    RegistrationBlock,
    welcome_refusal,
)
from kiosk.terms import Access, AssociationKind, AssociationState, IdCheck, PortalStatus

from .keys import DeskFooter
from .pin_life import (
    ContactDialog,
    EndDateDialog,
    PatientContactDialog,
    ReasonDialog,
    RedirectDialog,
    ValidateDialog,
    pin_section,
)
from .widgets import (
    DeskHeader,
    DeskScreen,
    DeskTable,
    FieldError,
    ReportsWorkerErrors,
    TrainingBanner,
    delivery_words,
)
from .workers import desk_worker


def basic_info(page: PatientPage, today) -> Text:
    """Basic Info as plain text (names are data, never markup)."""
    patient = page.patient
    lines = [
        ("Name", f"{patient.family_name}, {patient.given_name}"),
        ("Date of birth", f"{patient.dob:%m/%d/%Y}  ({age_text(patient.dob, today)})"),
        ("Sex", page.sex or "—"),
        ("Chart number", page.chart_number or "—"),
        ("Portal status", patient.status_label),
        ("PIN / VQ", patient.pin_state),
    ]
    return Text("\n").join(Text.assemble((f"{label:<14}", "bold"), value) for label, value in lines)


# The Associations table fits 80 columns (T4): a long name or reason is elided in its cell and
# read whole on the detail line under the table; the access level keeps its first word. Under 80
# columns (60x20) it leaves out Since (on the detail line too) and elides sooner: no sideways scroll.
ACCOUNT_WIDTH, STATE_WIDTH = 20, 30
NARROW_ACCOUNT_WIDTH, NARROW_STATE_WIDTH = 14, 24
# The Caregivers table (L6) under 80 columns: whose, role and authority; the highlighted one's email
# and cell on the detail line under it, so it does not scroll sideways either.
CAREGIVER_COLUMNS = ("Name", "Role", "Authority", "Email", "Cell")
NARROW_NAME_WIDTH = 22
# From 80 columns the cell reads as the rest of the desk writes it, (317) 555-0101; the email takes
# what the line has left and, when cut, is read whole on the detail line (L6).
PAGE_FRAME, CELL_PADDING, MIN_EMAIL_WIDTH = 4, 2, 12  # the page's padding and scrollbar
SHORT_ACCESS = {Access.FULL.label: "Full", Access.LIMITED.label: "Limited"}


def _cell_words(caregiver: CaregiverRow) -> str:
    """A caregiver's cell number as people read it, or nothing."""
    return format_us_cell(caregiver.cell) if caregiver.cell else ""


def _cell(text: str, width: int) -> Text:
    cell = Text(text)
    cell.truncate(width, overflow="ellipsis")
    return cell


class PatientScreen(ReportsWorkerErrors, DeskScreen[None]):
    CSS_PATH = "patient.tcss"
    BINDINGS = [
        ("r", "register", "Register Patient"),
        ("r", "generate_pin", "Generate PIN"),  # the same key: only one of the two applies
        ("v", "revoke", "Revoke PIN"),
        ("w", "send_now", "Send welcome"),
        ("t", "redirect", "Send to other"),
        ("u", "clear_lockout", "Clear lock-out"),
        ("e", "edit_contact", "Edit contact"),
        ("o", "own_contact", "Patient's own contact"),
        ("i", "validate", "Validate"),
        ("k", "suspend_or_resume", "Suspend / resume access"),
        ("n", "end_date", "Access end date"),
        ("x", "remove_access", "Remove access"),
        ("escape", "back", "Back"),
    ]

    def __init__(self, patient_id: int) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.page: PatientPage | None = None
        self.history: PinHistory | None = None
        self.block: RegistrationBlock | None = None
        self.welcome: list[PinFacts] = []  # the PINs the active PIN's welcome carries (L4, R13)

    _opening = False  # the registration window's family is being read
    narrow = False  # under 80 columns: the tables leave Since, Email and Cell to detail lines

    @property
    def holds_keys(self) -> bool:
        """Keys typed ahead wait for the page, and after r for the registration window
        (kiosk_screens.typeahead)."""
        return self.page is None or self._opening

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with VerticalScroll(id="patient-page"):
            yield Static("Loading…", id="patient-title", classes="form-title", markup=False)
            yield Static("", id="basic-info", markup=False)
            yield Label("", id="placeholder-note", markup=False, classes="explain")
            yield FieldError(id="action-error")
            yield Label("Registration PIN", classes="section-title")
            yield Static("", id="pin-facts", markup=False)
            yield Static("", id="pin-outcome", markup=False)
            yield Label("Associations (portal accounts)", classes="section-title")
            associations: DataTable[object] = DeskTable(
                id="associations", cursor_type="row"
            )  # k, n, x act on the highlighted one (T4)
            # what 80 columns must show first: whose, whether it gives access now (with its end
            # date), how much (T4); the email and the whole labels on the detail line below
            associations.add_columns("Account", "State", "Access", "Since")
            yield associations
            yield Static("", id="association-detail", classes="explain", markup=False)
            yield Label("Caregivers", classes="section-title")
            caregivers: DataTable[object] = DeskTable(
                id="caregivers", cursor_type="row"
            )  # e edits (L6)
            caregivers.add_columns(*CAREGIVER_COLUMNS)
            yield caregivers
            yield Static("", id="caregiver-detail", classes="explain", markup=False)
        yield DeskFooter()

    def on_mount(self) -> None:
        self._load()

    def on_resize(self, event: events.Resize) -> None:
        if (event.size.width < 80) != self.narrow:
            self.narrow = not self.narrow
            if self.page is not None:
                self._fill_associations(self.page)
                self._fill_caregivers(self.page)

    def on_screen_resume(self) -> None:
        if self.page is not None:  # back from registration: status and PIN state may have changed
            self.call_after_refresh(self._load)  # read once the page is drawn again

    @desk_worker("patient", "Patient page")
    def _load(self) -> None:
        desk = self.app.desk
        page = desk.patient_page(self.patient_id)  # the look is audited (S5)
        history, block = desk.pin_history(self.patient_id), desk.registration_block(self.patient_id)
        welcome = desk.batch_pins(history.active.batch) if history.active is not None else []
        self.app.call_from_thread(self._show, page, history, block, welcome)

    def _show(
        self,
        page: PatientPage,
        history: PinHistory | None = None,
        block: RegistrationBlock | None = None,
        welcome: list[PinFacts] | None = None,
    ) -> None:
        self.page, self.history, self.block = page, history, block
        self.welcome = welcome or []
        if history is not None:
            self.query_one("#pin-facts", Static).update(pin_section(history, block))
        patient = page.patient
        self.query_one("#patient-title", Static).update(
            f"{patient.given_name} {patient.family_name}"
        )
        self.query_one("#basic-info", Static).update(basic_info(page, self.app.desk.today()))
        note = self.query_one("#placeholder-note", Label)
        note.update(
            placeholder_message(patient.given_name) + " Press r to fix it and continue."
            if patient.placeholder
            else ""
        )
        note.display = patient.placeholder
        problem = self.app.desk.may_issue()  # R1: said on arrival, before r is pressed
        self.query_one("#action-error", FieldError).show(problem.message if problem else "")
        self._fill_associations(page)
        self._fill_caregivers(page)
        self.refresh_bindings()

    # -- actions --------------------------------------------------------------------------------
    @property
    def registered(self) -> bool:
        return self.page is not None and self.page.patient.portal_status == PortalStatus.REGISTERED

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "register":
            return self.page is not None and not self.registered
        if action == "generate_pin":
            return self.registered
        if action == "revoke":
            return self.history is not None and self.history.active is not None
        if action in ("send_now", "redirect"):  # L4: only a welcome not yet delivered, R13: and
            # only while a PIN in it is unused (pressed before the page saw a change: the desk
            # refuses and says why, kiosk.registration.pin_life)
            return (
                self.history is not None
                and self.history.active is not None
                and not welcome_refusal(self.welcome or [self.history.active])
            )
        if action == "clear_lockout":
            admin = self.app.desk.staff is not None and self.app.desk.staff.is_admin
            return (
                admin
                and self.block is not None
                and bool(self.block.locked or self.block.toward_revoking)
            )
        if action == "edit_contact":
            return self.page is not None and bool(self.page.caregivers)
        if action == "validate":  # T3: only a family that registered itself
            return (
                self.page is not None
                and self.page.patient.portal_status == PortalStatus.SELF_REGISTERED
            )
        if action in ("suspend_or_resume", "end_date", "remove_access"):
            row = self.association()
            return row is not None and row.state != AssociationState.ENDED
        return True

    def _may_issue(self) -> bool:
        """R1: an unlinked staff member gets the reason and what to do (already on the page since
        it opened, so said once: no toast), not the registration window."""
        problem = self.app.desk.may_issue()
        self.query_one("#action-error", FieldError).show(problem.message if problem else "")
        if problem is not None:
            self.query_one("#action-error").scroll_visible()
        return problem is None

    def action_register(self) -> None:
        if self.page is None or self.registered or not self._may_issue():
            return
        patient = self.page.patient
        if patient.placeholder:
            self.app.fix_name(patient.id, patient.given_name, patient.family_name, self._name_fixed)
            return
        self._open_registration()

    def _name_fixed(self, name: str | None) -> None:
        if name:
            self._load()
            self._open_registration()

    def action_generate_pin(self) -> None:
        if self.registered and self._may_issue():
            self._open_registration(second_parent=True)

    def _open_registration(self, second_parent: bool = False) -> None:
        """The registration window opens once its family is read, drawn whole in its first frame
        (this page stays until then: no empty window flashes by)."""
        if not self._opening:
            self._opening = True
            self._read_family(second_parent)

    @desk_worker("open-registration", "Opening the registration window")
    def _read_family(self, second_parent: bool) -> None:
        try:
            desk = self.app.desk
            family = desk.family(self.patient_id)
            page = desk.patient_page(self.patient_id, audited=False) if second_parent else None
        except BaseException:
            self.app.call_from_thread(setattr, self, "_opening", False)
            raise  # the app's one handler says it
        self.app.call_from_thread(self._opened, second_parent, family, page)

    def _opened(self, second_parent: bool, family, page) -> None:
        self._opening = False
        if self.app.screen is self:  # not over the lock screen (S6) nor a dialog
            self.app.open_registration(
                self.patient_id, second_parent=second_parent, family=family, page=page
            )

    # -- the PIN's life (L4-L6) ---------------------------------------------------------------
    def _said(self, words: str) -> None:
        """What the last PIN action did, in plain words; the page is read again."""
        self.query_one("#pin-outcome", Static).update(words)
        self._load()

    def action_revoke(self) -> None:
        if self.history is None or self.history.active is None:
            return
        name = self.page.patient.given_name if self.page else "the child"

        def reason(text: str | None) -> None:
            if text:
                self._revoke(text)

        self.app.push_screen(
            ReasonDialog(
                f"Revoke {name}'s PIN",
                "The PIN stops working at once and a welcome not yet sent is erased. Say why.",
                "revoke the PIN",
            ),
            reason,
        )

    @desk_worker("pin-action", "Revoking the PIN")
    def _revoke(self, reason: str) -> None:
        from kiosk.registration.engine import RegistrationError

        try:
            ended = self.app.desk.revoke(self.patient_id, reason)
        except RegistrationError as error:
            self.app.call_from_thread(self._said, " ".join(p.message for p in error.problems))
            return
        self.app.call_from_thread(
            self._said,
            "The PIN is revoked; it no longer works and its unsent welcome is erased."
            if ended
            else "There was no active PIN to revoke (it had expired).",
        )

    def action_send_now(self) -> None:
        if self.history is not None and self.history.active is not None:
            self._send(None)

    def action_redirect(self) -> None:
        if self.page is None or self.history is None or self.history.active is None:
            return

        def chosen(caregiver_id: int | None) -> None:
            if caregiver_id:
                self._send(caregiver_id)

        self.app.push_screen(RedirectDialog(list(self.page.caregivers)), chosen)

    @desk_worker("pin-action", "Sending the welcome")
    def _send(self, caregiver_id: int | None) -> None:
        desk = self.app.desk
        try:
            if caregiver_id is None:
                message, report = desk.send_welcome_now(self.patient_id)
            else:
                message, report = desk.redirect_welcome(self.patient_id, caregiver_id)
        except PinLifeError as error:
            self.app.call_from_thread(self._said, str(error))
            return
        recipient = message.recipient if message else "the family"
        self.app.call_from_thread(self._said, delivery_words(message, recipient, report.problem))

    def action_clear_lockout(self) -> None:
        def reason(text: str | None) -> None:
            if text:
                self._clear(text)

        self.app.push_screen(
            ReasonDialog(
                "Clear the lock-out",
                "Parents can try again at once; the failed tries "
                "so far no longer count. Say why (for example: identity checked).",
                "clear the lock-out",
            ),
            reason,
        )

    @desk_worker("pin-action", "Clearing the lock-out")
    def _clear(self, reason: str) -> None:
        try:
            self.app.desk.clear_lockout(self.patient_id, reason)
        except PinLifeError as error:
            self.app.call_from_thread(self._said, str(error))
            return
        self.app.call_from_thread(
            self._said, "The lock-out is cleared: the parent can register now."
        )

    def action_edit_contact(self) -> None:
        caregiver = self.caregiver()
        if caregiver is None:
            return

        def saved(done: bool | None) -> None:
            if done:
                self._said(f"{caregiver.name}'s contact details are saved.")

        self.app.push_screen(ContactDialog(caregiver), saved)

    # -- teens and access over time (T1-T5) ----------------------------------------------------
    def action_own_contact(self) -> None:
        """T1: the patient's own email and cell, where Send to Minor sends the PIN."""
        page = self.page
        if page is None:
            return
        patient = page.patient

        def saved(done: bool | None) -> None:
            if done:
                self._said(f"{patient.given_name}'s own contact details are saved.")

        contact = (page.email, page.cell, page.carrier, patient.language)
        self.app.push_screen(PatientContactDialog(patient.id, patient.name, contact), saved)

    def action_validate(self) -> None:
        """T3, T5: confirm the family's own account after checking the parent's ID."""
        if self.page is None or not self._may_issue():
            return

        def checked(answer: tuple[IdCheck, str] | None) -> None:
            if answer is not None:
                self._validate(*answer)

        name = self.page.patient.given_name
        self.app.push_screen(ValidateDialog(name, self.app.desk.id_check_default), checked)

    @desk_worker("access", "Validating")
    def _validate(self, id_check: IdCheck, note: str) -> None:
        try:
            self.app.desk.validate_family(self.patient_id, id_check, note)
        except PinLifeError as error:
            self.app.call_from_thread(self._said, str(error))
            return
        self.app.call_from_thread(
            self._said, f"Validated ({id_check.label}): the patient is Registered, no PIN needed."
        )

    def _fill_associations(self, page: PatientPage) -> None:
        """T4: whose, whether it gives access now (with its end date), how much, since when (from
        80 columns); the highlighted row stays highlighted."""
        associations = self.query_one("#associations", DataTable)
        highlighted = associations.cursor_row
        account, state = (
            (NARROW_ACCOUNT_WIDTH, NARROW_STATE_WIDTH)
            if self.narrow
            else (ACCOUNT_WIDTH, STATE_WIDTH)
        )
        since: tuple[str, ...] = () if self.narrow else ("Since",)
        associations.clear(columns=True)
        associations.add_columns("Account", "State", "Access", *since)
        for row in page.associations:
            own = " (own)" if row.kind == AssociationKind.OWN else ""  # T1
            associations.add_row(
                _cell(row.account_name + own, account),
                _cell(row.state_words, state),
                SHORT_ACCESS.get(row.access, row.access),
                *(f"{row.since:%m/%d/%Y}" for _ in since),
            )
        if not page.associations:
            associations.add_row("None yet", "", "", *("" for _ in since))
        associations.move_cursor(row=min(highlighted, associations.row_count - 1))
        self._show_association_detail()

    def _fill_caregivers(self, page: PatientPage) -> None:
        """L6: each caregiver's name, role, authority, email and cell; under 80 columns the email
        and cell of the highlighted one are on the detail line. The highlighted row stays."""
        caregivers = self.query_one("#caregivers", DataTable)
        highlighted = caregivers.cursor_row
        caregivers.clear(columns=True)
        caregivers.add_columns(*(CAREGIVER_COLUMNS[:3] if self.narrow else CAREGIVER_COLUMNS))
        email = self._email_width(page.caregivers)
        self._emails_cut = any(cell_len(caregiver.email) > email for caregiver in page.caregivers)
        for caregiver in page.caregivers:
            contact = (
                () if self.narrow else (_cell(caregiver.email, email), Text(_cell_words(caregiver)))
            )
            caregivers.add_row(
                _cell(caregiver.name, NARROW_NAME_WIDTH) if self.narrow else Text(caregiver.name),
                Text(caregiver.role),
                caregiver.authority,
                *contact,
            )
        if page.caregivers:
            caregivers.move_cursor(row=min(highlighted, caregivers.row_count - 1))
        self._show_caregiver_detail()

    def _email_width(self, caregivers: tuple[CaregiverRow, ...]) -> int:
        """The Email column's share of the line beside the others, measured on their cells."""
        widest = [
            max((cell_len(str(label)), *(cell_len(str(get(c))) for c in caregivers)))
            for label, get in (
                ("Name", lambda c: c.name),
                ("Role", lambda c: c.role),
                ("Authority", lambda c: c.authority),
                ("Cell", _cell_words),
            )
        ]
        taken = sum(widest) + len(CAREGIVER_COLUMNS) * CELL_PADDING
        return max(MIN_EMAIL_WIDTH, self.app.size.width - PAGE_FRAME - taken)

    _emails_cut = False  # an email cut to its column: read whole on the detail line

    @on(DataTable.RowHighlighted, "#caregivers")
    def _show_caregiver_detail(self) -> None:
        """Under 80 columns, or with an email cut, the highlighted caregiver's name whole, email
        and cell (L6)."""
        caregiver = self.caregiver()
        detail = self.query_one("#caregiver-detail", Static)
        detail.display = (self.narrow or self._emails_cut) and caregiver is not None
        if caregiver is not None:
            contact = [caregiver.email, f"cell {_cell_words(caregiver)}" if caregiver.cell else ""]
            detail.update(
                f"{caregiver.name} ({caregiver.role}): "
                + (", ".join(part for part in contact if part) or "no email or cell on file")
            )

    def caregiver(self) -> CaregiverRow | None:
        """The caregiver under the Caregivers table's cursor (L6), or None."""
        if self.page is None or not self.page.caregivers:
            return None
        row = self.query_one("#caregivers", DataTable).cursor_row
        return self.page.caregivers[min(max(row, 0), len(self.page.caregivers) - 1)]

    @on(DataTable.RowHighlighted, "#associations")
    def _show_association_detail(self) -> None:
        """The highlighted association in full (T4): its email and the labels the table shortens."""
        row = self.association()
        detail = self.query_one("#association-detail", Static)
        detail.display = row is not None
        if row is not None:
            detail.update(
                f"{row.account_name} ({AssociationKind(row.kind).label}) <{row.email}>: "
                f"{row.access}; {row.state_words}; since {row.since:%m/%d/%Y}"
            )

    def association(self) -> AssociationRow | None:
        """The association under the Associations table's cursor (T4), or None."""
        if self.page is None or not self.page.associations:
            return None
        row = self.query_one("#associations", DataTable).cursor_row
        return self.page.associations[min(max(row, 0), len(self.page.associations) - 1)]

    def action_suspend_or_resume(self) -> None:
        row = self.association()
        if row is None:
            return
        resume = row.state == AssociationState.SUSPENDED
        what = "Resume" if resume else "Suspend"

        def reason(text: str | None) -> None:
            if text:
                self._change_access("resume" if resume else "suspend", row, text)

        self.app.push_screen(
            ReasonDialog(
                f"{what} {row.account_name}'s access",
                "They see the patient again at once. Say why."
                if resume
                else "They see nothing of the patient until resumed. Say why (for example: a "
                "custody order).",
                f"{what.lower()} access",
            ),
            reason,
        )

    def action_remove_access(self) -> None:
        row = self.association()
        if row is None:
            return

        def reason(text: str | None) -> None:
            if text:
                self._change_access("remove", row, text)

        self.app.push_screen(
            ReasonDialog(
                f"Remove {row.account_name}'s access",
                "The association ends now and stays listed, ended; a new PIN gives access again. "
                "Say why (for example: foster placement ended).",
                "remove access",
            ),
            reason,
        )

    def action_end_date(self) -> None:
        row = self.association()
        if row is None:
            return

        def answered(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self._change_access("end date", row, answer[1], answer[0])

        self.app.push_screen(EndDateDialog(row.account_name), answered)

    @desk_worker("access", "Changing access")
    def _change_access(self, how: str, row: AssociationRow, reason: str, day: str = "") -> None:
        desk = self.app.desk
        try:
            if how == "suspend":
                desk.suspend_association(row.id, reason)
            elif how == "resume":
                desk.resume_association(row.id, reason)
            elif how == "remove":
                desk.remove_association(row.id, reason)
            else:
                ends_on = desk.parse_day(day) if day.strip() else None
                if day.strip() and ends_on is None:
                    raise PinLifeError(f"{day.strip()[:20]!r} is not a date, like 06/30/2027.")
                desk.set_association_end(row.id, ends_on, reason)
        except PinLifeError as error:
            self.app.call_from_thread(self._said, str(error))
            return
        done = {
            "suspend": "is suspended",
            "resume": "is resumed",
            "remove": "is removed",
            "end date": "end date is saved",
        }[how]
        self.app.call_from_thread(self._said, f"{row.account_name}'s access {done}.")

    def action_back(self) -> None:
        self.app.pop_screen()
