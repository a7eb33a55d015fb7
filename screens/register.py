"""The registration window (R5-R15; for a second parent's PIN, R13). Its words: docs/glossary.md.

Top to bottom, as the procedure has it: the caregivers with their contact authority (the cursor row
receives the PIN, R15), the patient with every sibling and a Register checkbox (R5); under
them, always in sight at 80x24, the summary of every other choice Register commits, one line and
one key each: Register with (R10), Access (R9), Delivery (R7) and its address, Send to (R8), Print
PIN (register_options.ITEMS; its docstring says how to add a line). Register issues every checked
child's PIN in one go; the PINs fill the PIN column, and the desk prints the slip, sends the
welcome now, or hands the kiosk to the parent (R11).

Every change checks the request again (nothing is written): a problem shows under its line as soon
as it arises and goes as soon as it is fixed.
"""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.visual import VisualType
from textual.widgets import Button, DataTable, Label, Static

from kiosk.people.patients import CaregiverRow, ChildRow, Family, PatientPage
from kiosk.registration.access import TeenContact
from kiosk.registration.engine import (
    IssueRequest,
    IssueResult,
    Problem,
    RegistrationError,
)
from kiosk.registration.pin_life import (
    PinFacts,
    PinLifeError,
    not_ticked_reason,
    welcome_refusal,
)
from kiosk.terms import Delivery, MessageState, PinState, SendTo

from .keys import DeskDialog, DeskFooter
from .pin_life import ContactDialog
from .register_options import FIELD_ITEMS, ITEMS, IssueSummary, PatientTable
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

CHECKED, UNCHECKED = "[x]", "[ ]"
# What Esc asks with choices not yet registered (KioskApp.leave_asking).
GOING_BACK = ("Go back without registering?", "Going back", "go back")

# Where each Problem.field is shown: the summary's lines (FIELD_ITEMS), the caregiver table, the
# patient list (name:<id> and status:<id> too) or the top of the window.
ERROR_SLOTS = {"staff": "staff", "patients": "patients", "recipient": "recipient", **FIELD_ITEMS}
REFUSED = "Nothing was issued: see the messages next to the fields."


def error_slot(field: str) -> str:
    return ERROR_SLOTS.get(field, "patients" if field.startswith(("name:", "status:")) else "staff")


# After Register, how often the window reads its family and PINs again (R12: a parent redeems).
REFRESH_SECONDS = 20
# The Patient List's columns (R5); Role (always Patient) is left out under 80 columns.
PATIENT_COLUMNS = ("Register", "Patient", "PIN", "Status", "Role")


class ConfirmReplace(ReportsWorkerErrors, DeskDialog[bool]):
    """Asked before a second Register: new PINs end the ones just issued (R3)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes, new PINs"),
        Binding("n,escape", "answer(False)", "No, keep"),
    ]

    def words(self) -> list[str]:
        return [
            (
                "PINs were just issued for these children. Issuing again ends those PINs (the parent's slip or "
                "message stops working) and makes new ones. Issue new PINs?"
            )
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            for line in self.words():
                yield Static(line, markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes, new PINs (y)", id="yes", variant="warning")
                yield Button("No, keep them (n)", id="no", variant="primary")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ReissueDialog(ConfirmReplace):
    """L3: children with an active PIN from an earlier visit, with its facts; Register ends those PINs."""

    def __init__(self, active: list[PinFacts]) -> None:
        super().__init__()
        self.active = active

    def words(self) -> list[str]:
        return [
            "These children already have an active PIN:",
            *(
                f"{pin.patient_name}: {pin.kind}, {pin.state_words.lower()}; {pin.issued_words.lower()}; "
                f"{pin.delivery_words}"
                for pin in self.active
            ),
            (
                "Registering ends these PINs: the slip or message the family holds stops working, and new PINs "
                "are made. Replace them?"
            ),
        ]


class Outcome(Static):
    """What Register did (or why not): on a short terminal, where the summary above it scrolls,
    each new message is scrolled into sight rather than left below the screen."""

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(content, layout=layout)
        if self.screen.has_class("-short"):
            self.call_after_refresh(self.scroll_visible, animate=False)


class RegisterScreen(ReportsWorkerErrors, DeskScreen[None]):
    """Registration for Patient NAME and selected Siblings."""

    CSS_PATH = "register.tcss"
    BINDINGS = [
        Binding("ctrl+r,f5", "register", "Register", priority=True),
        Binding("p", "print_slip", "Print"),
        Binding("s", "send_pin", "Send PIN"),
        Binding("c", "complete", "Complete / Log In"),
        Binding("n", "fix_name", "Fix name"),
        Binding("e", "edit_contact", "Edit contact"),
        Binding("escape", "back", "Back"),
        *(item.binding() for item in ITEMS),  # the summary's keys: each line shows its own
        # The body scrolls whatever has focus: the tables would take these keys for their cursor.
        Binding("pagedown", "scroll_body('page_down')", "Page down", show=False, priority=True),
        Binding("pageup", "scroll_body('page_up')", "Page up", show=False, priority=True),
        Binding("end", "scroll_body('scroll_end')", "End", show=False, priority=True),
        Binding("home", "scroll_body('scroll_home')", "Home", show=False, priority=True),
    ]

    def __init__(
        self,
        patient_id: int,
        second_parent: bool = False,
        family: Family | None = None,
        page: PatientPage | None = None,
    ):
        super().__init__()
        self.patient_id = patient_id
        self.second_parent = second_parent
        self.loaded = (family, page)  # read before the window opened: drawn in its first frame
        self.family: Family | None = None
        self.page: PatientPage | None = None  # a second parent's: the addresses already linked
        self.checked: dict[int, bool] = {}
        self.first_checked: dict[int, bool] = {}  # as the window opened (unsaved_work)
        self.first_recipient: int | None = None  # the caregiver chosen as it opened (unsaved_work)
        self.pins: dict[int, str] = {}
        self.issued: dict[int, PinFacts] = {}  # those PINs as they stand now (load_family)
        self.result: IssueResult | None = None
        self.recipient: CaregiverRow | None = None  # the caregiver under the cursor
        self.issuing = False
        self.narrow = False  # under 80 columns (on_resize)
        self.contact_changed = False  # L6: the recipient's details were corrected; show them again
        self.slip_waiting = (
            False  # Print PIN ticked, PINs issued while the screen was covered (locked)
        )

    _refreshing: Timer | None = None  # reads the family again while its PINs are out
    # What the outcome said at Register (update_next_steps rewrites its last part, and only that)
    issued_words = next_steps_said = warnings = ""

    @property
    def holds_keys(self) -> bool:
        """Keys typed ahead wait while the family loads or the PINs are being issued."""
        return self.family is None or self.issuing

    @property
    def typed_secrets(self) -> list[str]:
        """The verification answer, kept in the summary rather than an input: scrubbed from the
        error log like a typed one (S9; KioskApp._typed_secrets)."""
        return self.summary.secrets if self.is_mounted else []

    @property
    def unsaved_work(self) -> list[str]:
        """What ctrl+q or Esc would lose (KioskApp.unsaved_on): the ticks, the caregiver or the
        choices changed, not issued."""
        if self.result is not None or self.family is None or not self.is_mounted:
            return []
        recipient = self.recipient.id if self.recipient is not None else None
        if (
            self.summary.edited
            or self.checked != self.first_checked
            or recipient != self.first_recipient
        ):
            return [f"the registration choices for {self.family.patient.name} (not registered)"]
        return []

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with VerticalScroll(id="register-body"):
            yield Static("", id="title", markup=False)
            yield FieldError(id="staff-error")
            with Vertical(id="caregiver-section"):
                yield Label("Caregiver Contact Authority", classes="section")
                yield DeskTable(id="caregivers", cursor_type="row", zebra_stripes=False)
                yield FieldError(id="recipient-error")
            yield Label("Patient List", classes="section")
            yield PatientTable(id="patients", cursor_type="row")
            yield FieldError(id="patients-error")
            yield Static("", id="not-ticked", markup=False, classes="explain")
        with Vertical(id="register-foot"):  # every choice in sight before Register
            yield IssueSummary(
                second_parent=self.second_parent,
                sms_provider=self.app.desk.config.sms.configured,
                id_check=self.app.desk.id_check_default,  # T5: the practice's setting
                id="summary",
            )
            yield Outcome("", id="outcome", markup=False)
        yield DeskFooter()

    def on_resize(self, event: events.Resize) -> None:
        # Under 24 lines (60x20) the summary's choices share lines: the tables keep room.
        self.summary.pack_lines(event.size.height < 24)
        # Under 16 lines the summary and the outcome scroll, the outcome kept in sight (Outcome)
        self.set_class(event.size.height < 16, "-short")
        # Under 80 columns the Patient List leaves out Role (always Patient) and says the status
        # in its short word (Pending): it does not scroll sideways.
        if (event.size.width < 80) != self.narrow:
            self.narrow = not self.narrow
            self.fill_patients()

    def on_screen_resume(self) -> None:
        # Back from parent mode or the slip: the children may be Registered now.
        if self.family is not None:
            self.call_after_refresh(self.load_family)  # read once the window is drawn again
        if (
            self.result is not None and self.result.message_id
        ):  # back from Complete / Log In: say what is so now
            self.send_worker(self.result.batch, self.result.recipient, deliver=False)
        if self.slip_waiting:  # PINs issued while the screen was locked, with Print PIN ticked
            self.slip_waiting = False
            self.action_print_slip()

    def on_mount(self) -> None:
        self.query_one("#caregivers", DataTable).add_columns("Authority", "Role", "Status")
        self.query_one("#patients", DataTable).add_columns(*PATIENT_COLUMNS)
        self.query_one("#caregiver-section").display = not self.second_parent
        family, page = self.loaded
        if family is not None:
            self.show_family(family, page)
        else:
            self.load_family()

    # -- loading ------------------------------------------------------------------------------
    @desk_worker("load", "Loading the family")
    def load_family(self) -> None:
        desk = self.app.desk
        family = desk.family(self.patient_id)
        page = desk.patient_page(self.patient_id, audited=False) if self.second_parent else None
        issued = desk.batch_pins(self.result.batch) if self.result is not None else None
        self.app.call_from_thread(self.show_family, family, page, issued)

    def refresh_family(self) -> None:
        """While this window's PINs are out (after Register), the family and those PINs are read
        again now and then: a parent who redeems one at the kiosk or on the portal is seen here
        without leaving the window (R12, R13). Not under the lock or a dialog (S6)."""
        if self.family is not None and not self.issuing and self.app.screen is self:
            self.load_family()

    def show_family(
        self,
        family: Family,
        page: PatientPage | None = None,
        issued: list[PinFacts] | None = None,
    ) -> None:
        first_load = self.family is None
        self.family, self.page = family, page
        if issued is not None:
            self.issued = {pin.patient_id: pin for pin in issued}
            self.update_next_steps()
        children = family.children[:1] if self.second_parent else family.children
        if first_load:
            # L3, T3: a Registered or Self Registered child is listed but not ticked (its parents
            # already have a portal account; issuing would be refused)
            self.checked = {
                child.id: self.second_parent or not not_ticked_reason(child.portal_status)
                for child in children
            }
            self.first_checked = dict(self.checked)
            self.query_one("#not-ticked", Static).update(
                "\n".join(
                    f"{child.name}: {not_ticked_reason(child.portal_status)}"
                    for child in children
                    if not self.checked[child.id]
                )
            )
            patient = family.patient
            title = (
                f"Patient Registration for {patient.name}: a PIN for an additional parent"
                if self.second_parent
                else f"Registration for Patient {patient.name}"
                + (" and selected Siblings" if len(children) > 1 else "")
            )
            self.query_one("#title", Static).update(title)
            self.fill_caregivers()
            self.first_recipient = self.recipient.id if self.recipient is not None else None
            self.fill_email_choices()
        self.fill_patients()
        if self.contact_changed and self.recipient is not None:
            self.contact_changed = False
            self.recipient = next(
                (c for c in family.caregivers if c.id == self.recipient.id), self.recipient
            )
            self.fill_email_choices()
        self.update_send_to()
        if first_load:
            focus = self.query_one("#patients" if self.second_parent else "#caregivers", DataTable)
            focus.focus()
        if self.result is None:
            self.recheck()  # R1, R2, R15 and the rest: said on arrival, not after Register
        self.refresh_bindings()

    def listed_children(self) -> tuple[ChildRow, ...]:
        if self.family is None:
            return ()
        return self.family.children[:1] if self.second_parent else self.family.children

    @property
    def caregivers(self) -> tuple[CaregiverRow, ...]:
        return self.family.caregivers if self.family is not None else ()

    def fill_caregivers(self) -> None:
        table = self.query_one("#caregivers", DataTable)
        table.clear()
        for caregiver in self.caregivers:
            table.add_row(
                Text(caregiver.name),
                Text(caregiver.role),
                Text(caregiver.authority),
                key=str(caregiver.id),
            )
        first = next((i for i, c in enumerate(self.caregivers) if c.has_authority), 0)
        if self.caregivers:
            table.move_cursor(row=first)
            self.recipient = self.caregivers[first]
            self.mark_recipient()

    def mark_recipient(self) -> None:
        """Write "> " before the recipient's name, so the choice does not rest on colour alone."""
        table = self.query_one("#caregivers", DataTable)
        for caregiver in self.caregivers:
            mark = "> " if self.recipient and caregiver.id == self.recipient.id else "  "
            table.update_cell(
                str(caregiver.id), table.ordered_columns[0].key, Text(mark + caregiver.name)
            )

    def fill_patients(self) -> None:
        table = self.query_one("#patients", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*(PATIENT_COLUMNS[:-1] if self.narrow else PATIENT_COLUMNS))
        for child in self.listed_children():
            table.add_row(
                Text(CHECKED if self.checked.get(child.id) else UNCHECKED),
                Text(child.name),
                Text(self.pin_words(child)),
                Text(child.portal_status if self.narrow else child.status_label),
                *(() if self.narrow else (Text("Patient"),)),
                key=str(child.id),
            )
        if self.listed_children():
            table.move_cursor(row=min(max(row, 0), len(self.listed_children()) - 1))

    def pin_words(self, child: ChildRow) -> str:
        """The PIN column (R12, R13): the PIN this window issued while it waits for a parent;
        once a parent has redeemed it, or it has ended, what became of it instead."""
        pin, facts = self.pins.get(child.id, ""), self.issued.get(child.id)
        if not pin or facts is None or self.result is None or facts.batch != self.result.batch:
            return pin  # read before these PINs were issued (a Register since): not theirs
        if facts.parents or facts.state == PinState.REDEEMED:
            return "Redeemed"
        return pin if facts.state == PinState.ACTIVE else facts.state.capitalize()

    @property
    def summary(self) -> IssueSummary:
        return self.query_one(IssueSummary)

    @on(PatientTable.ToggleRegister)
    def toggle_register(self, event: PatientTable.ToggleRegister) -> None:
        row = event.row
        children = self.listed_children()
        if self.second_parent or not 0 <= row < len(children):
            return
        child = children[row]
        self.checked[child.id] = not self.checked.get(child.id)
        table = self.query_one("#patients", DataTable)
        table.update_cell(
            str(child.id),
            table.ordered_columns[0].key,
            Text(CHECKED if self.checked[child.id] else UNCHECKED),
        )
        self.update_send_to()
        self.recheck()

    # -- caregiver and email ------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#caregivers")
    def caregiver_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.family is None or event.row_key is None:
            return
        self.recipient = next(c for c in self.caregivers if str(c.id) == event.row_key.value)
        self.mark_recipient()
        self.fill_email_choices()
        self.recheck()

    @on(IssueSummary.Changed)
    def recheck(self) -> None:
        """Check the request as it now stands (writes nothing): each problem shows next to its
        field at once (R15 next to the table, R1 at the top, a retired carrier under the
        address), and goes once fixed, with the "Nothing was issued" line that pointed at it."""
        if self.family is not None and not self.issuing:
            self.check_worker(self.build_request())

    @desk_worker("check", "Checking the choices")
    def check_worker(self, request: IssueRequest) -> None:
        problems = self.app.desk.check_issue(request)
        teen = None
        if request.send_to == SendTo.MINOR and len(request.patient_ids) == 1:
            teen = self.app.desk.teen_contact(request.patient_ids[0])  # T1: the record's address
        self.app.call_from_thread(self.show_checked, request, problems, teen)

    def show_checked(
        self, request: IssueRequest, problems: list[Problem], teen: TeenContact | None = None
    ) -> None:
        if self.issuing or self.result is not None or request != self.build_request():
            return  # issued meanwhile, or a newer check is on its way
        self.summary.show_teen(teen)
        self.show_problems(problems, refused=False)

    def fill_email_choices(self) -> None:
        associated = {
            a.email.lower() for a in (self.page.associations if self.page else ()) if a.live
        }  # T4: an ended or suspended account does not count
        self.summary.show_people(self.caregivers, self.recipient, associated)

    def update_send_to(self) -> None:
        """R8, T1: Send to is offered only when a checked child is of the practice's teen age."""
        self.summary.offer_send_to(
            any(
                self.checked.get(child.id) and self.app.desk.may_send_to_minor(child.age_years)
                for child in self.listed_children()
            )
        )

    def build_request(self) -> IssueRequest:
        return self.summary.request(
            [child.id for child in self.listed_children() if self.checked.get(child.id)]
        )

    def action_change(self, name: str) -> None:
        """A summary line's key: change that choice (register_options.ITEMS)."""
        self.summary.change(name)

    def action_scroll_body(self, how: str) -> None:
        getattr(self.query_one("#register-body", VerticalScroll), f"action_{how}")()

    # -- Register -----------------------------------------------------------------------------
    def action_register(self) -> None:
        if self.family is None or self.issuing:
            return
        if self.result is None:
            self.issuing = True  # keys typed after Register wait for its outcome
            self.query_one("#outcome", Static).update("Issuing PINs…")
            self.check_earlier_pins(self.build_request())
            return

        def answered(replace: bool | None) -> None:
            if replace:
                self.issue(self.build_request())

        self.app.push_screen(ConfirmReplace(), answered)

    @desk_worker("issue", "Checking earlier PINs")
    def check_earlier_pins(self, request: IssueRequest) -> None:
        try:
            active = self.app.desk.active_pins(request.patient_ids)
        except BaseException:
            self.app.call_from_thread(setattr, self, "issuing", False)
            raise
        self.app.call_from_thread(self.confirm_earlier_pins, request, active)

    def confirm_earlier_pins(self, request: IssueRequest, active: list[PinFacts]) -> None:
        """L3: an active PIN from an earlier visit is replaced only once the desk has seen it."""
        if not active or self.second_parent:
            self.issue(request)
            return
        self.issuing = False
        self.query_one("#outcome", Static).update("")  # nothing is being issued: the desk is asked

        def answered(replace: bool | None) -> None:
            if replace:
                self.issue(request)
            else:
                self.query_one("#outcome", Static).update(
                    "Nothing was issued: the earlier PINs still work."
                )

        self.app.push_screen(ReissueDialog(active), answered)

    def issue(self, request: IssueRequest) -> None:
        self.query_one("#outcome", Static).update("Issuing PINs…")
        self.issuing = True
        self.issue_worker(request)

    @desk_worker("issue", "Issuing PINs")
    def issue_worker(self, request: IssueRequest) -> None:
        desk = self.app.desk
        try:
            result = desk.issue(request)
        except RegistrationError as error:
            self.app.call_from_thread(self.refused, list(error.problems))
            return
        except Exception as error:  # noqa: BLE001 - one transaction (kiosk.store.db.write_transaction): none of it was written
            self.app.call_from_thread(self.issue_failed, self.app.explain(error, "Issuing PINs"))
            return
        family: Family | None
        try:
            family = desk.family(self.patient_id)
        except Exception:  # noqa: BLE001 - the PINs are issued: show them with the family as it was loaded
            family = None
        self.app.call_from_thread(self.show_result, result, family)
        try:  # the slip made now, in this thread, so p shows it at once
            from .slip_preview import make_slip

            make_slip(desk, result)
        except Exception:  # noqa: BLE001 - the preview makes it itself (and says what fails)
            pass

    def issue_failed(self, words: str) -> None:
        self.issuing = False
        self.query_one("#outcome", Static).update(
            f"Nothing was issued. {words} Press Register again; if it keeps failing, tell the administrator."
        )

    def refused(self, problems: list[Problem]) -> None:
        self.issuing = False
        self.show_problems(problems, refused=True)

    def show_problems(self, problems: list[Problem], *, refused: bool) -> None:
        """Each problem next to its field, once; a field without one is cleared. ``refused``:
        Register was refused for them; otherwise the refusal's line goes once none is left."""
        slots: dict[str, list[str]] = {}
        for problem in problems:
            slots.setdefault(error_slot(problem.field), []).append(problem.message)
        for slot in ("staff", "recipient", "patients"):
            messages = dict.fromkeys(slots.get(slot, []))  # each said once
            self.query_one(f"#{slot}-error", FieldError).show("\n".join(messages))
        self.summary.show_problems(slots)
        outcome = self.query_one("#outcome", Static)
        if refused:
            outcome.update(REFUSED)
            first = next(iter(slots), None)
            if first:
                self.query_one(f"#{first}-error").scroll_visible()
        elif not problems and str(outcome.content) == REFUSED:
            outcome.update("")

    def show_result(self, result: IssueResult, family: Family | None) -> None:
        """The PINs issued, with the family as it is now (None: as it was loaded)."""
        self.issuing = False
        self.result = result
        self.show_problems([], refused=False)
        self.pins = {issued.patient_id: issued.pin or "(question)" for issued in result.pins}
        family = family or self.family
        if family is not None:
            self.show_family(family, self.page)
        names = ", ".join(issued.given_name for issued in result.pins)
        warnings = "".join(f" {warning}" for warning in result.warnings)  # T1
        self.issued_words = f"Issued for {names}; expires {result.expires_on:%m/%d/%Y}. "
        self.warnings = warnings
        self.next_steps_said = next_steps(result)
        self.query_one("#outcome", Static).update(
            self.issued_words + self.next_steps_said + warnings
        )
        self.query_one("#patients", DataTable).focus()
        self.refresh_bindings()
        if self._refreshing is None:
            self._refreshing = self.set_interval(REFRESH_SECONDS, self.refresh_family)
        if self.summary.print_slip:  # Print PIN ticked: straight to the slip (R7, R14)
            if self.app.screen is self:
                self.app.show_slip(result)
            else:  # locked meanwhile: never open PINs over the lock screen; the slip opens on return
                self.slip_waiting = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if (
            action == "edit_contact"
        ):  # L6: before Register (after it, redirect from the account page)
            return self.result is None and not self.second_parent
        if action == "send_pin":  # L4: nothing to send after Do not send PIN, nor once sent
            return (
                self.result is not None
                and self.result.delivery != Delivery.NONE
                and not self.welcome_refusal()
            )
        if action in ("print_slip", "complete"):  # while a PIN of theirs still works (L2, L4, R13)
            facts = self.batch_facts()
            return self.result is not None and (
                not facts or any(pin.state == PinState.ACTIVE for pin in facts)
            )
        if (
            action == "change"
        ):  # after Register, p prints (print_slip) rather than ticking Print PIN
            return self.result is None or parameters != ("print",)
        if action == "fix_name":
            return any(child.placeholder for child in self.listed_children())
        return True

    def batch_facts(self) -> list[PinFacts]:
        """The PINs Register issued, as the window last read them (R12, R13); [] until then."""
        if self.result is None:
            return []
        return [pin for pin in self.issued.values() if pin.batch == self.result.batch]

    def welcome_refusal(self) -> str:
        """Why the welcome Register queued cannot be sent now, as last read, or "" (L4, R13)."""
        return welcome_refusal(self.batch_facts())

    def update_next_steps(self) -> None:
        """Once the welcome is sent, or every PIN in it used or ended, the outcome stops asking
        for s (gone from the footer too) and says so; a newer message there is left alone."""
        if self.result is None or not self.is_mounted:
            return
        outcome = self.query_one("#outcome", Static)
        said = self.issued_words + self.next_steps_said + self.warnings
        if str(outcome.content) != said:
            return
        self.next_steps_said = next_steps(self.result, self.batch_facts())
        outcome.update(self.issued_words + self.next_steps_said + self.warnings)

    def action_edit_contact(self) -> None:
        """L6: correct the chosen caregiver's email, cell, carrier or language in place, then carry on."""
        if self.recipient is None or self.second_parent:
            return

        def saved(done: bool | None) -> None:
            if done:
                self.contact_changed = True
                self.load_family()

        self.app.push_screen(ContactDialog(self.recipient), saved)

    def action_fix_name(self) -> None:
        """R2: put the given name in Basic Info in place, then carry on registering."""
        children = [child for child in self.listed_children() if child.placeholder]
        if not children:
            return
        row = self.query_one("#patients", DataTable).cursor_row
        listed = self.listed_children()
        child = listed[row] if 0 <= row < len(listed) and listed[row].placeholder else children[0]

        def fixed(name: str | None) -> None:
            if name:
                self.query_one("#patients-error", FieldError).clear()
                self.load_family()

        self.app.fix_name(child.id, child.given_name, child.family_name, fixed)

    # -- after Register -----------------------------------------------------------------------
    def action_print_slip(self) -> None:
        if self.result is not None:
            self.app.show_slip(self.result)

    def action_complete(self) -> None:
        if self.result is not None:
            self.app.start_parent_mode(self.result)

    def action_send_pin(self) -> None:
        """R11, L4: the welcome sent now. Pressed in a window that has not yet read a redemption
        or a delivery (the key came before the footer changed), the send is refused and says why."""
        if self.result is None:
            return
        if self.result.delivery == Delivery.NONE or not self.result.message_id:
            self.query_one("#outcome", Static).update(
                "Do not send PIN was chosen: nothing will be sent. Print the slip (p) or give the PIN in person."
            )
            return
        self.query_one("#outcome", Static).update(
            f"Sending the welcome message to {self.result.recipient}…"
        )
        self.send_worker(self.result.batch, self.result.recipient)

    @desk_worker("send", "Sending the PIN")
    def send_worker(self, batch: str, recipient: str, deliver: bool = True) -> None:
        desk = self.app.desk
        try:
            if deliver:
                message, report = desk.send_issued_welcome(batch)
                words = delivery_words(message, recipient, report.problem)
            else:  # only read what became of it (L4: the screen says what is so)
                words = delivery_words(next(iter(desk.messages(batch=batch)), None), recipient)
        except PinLifeError as error:  # delivered, or its PINs used, since the window last read
            words = str(error)
        except Exception as error:  # noqa: BLE001 - the message stays in the outbox; the background sender retries it
            words = (
                f"The welcome message to {recipient} could not be sent now. It stays in the outbox and is "
                f"tried again; print the slip (p) if the family is waiting. {self.app.explain(error, 'Sending')}"
            )
        try:  # the footer follows: no Send PIN once the welcome is sent (L4)
            issued: list[PinFacts] | None = desk.batch_pins(batch)
        except Exception:  # noqa: BLE001 - the window reads them again by itself (refresh_family)
            issued = None
        self.app.call_from_thread(self.said_sent, words, batch, issued)

    def said_sent(self, words: str, batch: str, issued: list[PinFacts] | None) -> None:
        self.query_one("#outcome", Static).update(words)
        if issued is not None and self.result is not None and self.result.batch == batch:
            self.issued = {pin.patient_id: pin for pin in issued}
            self.fill_patients()
        self.refresh_bindings()

    def action_back(self) -> None:
        """Esc: back to the patient page; with choices not yet registered, asks first."""
        self.app.leave_asking(self, self.app.pop_screen, GOING_BACK)


def next_steps(result: IssueResult, issued: list[PinFacts] | None = None) -> str:
    """What becomes of the new PINs and what the desk can do next, as it really is (L4): no "queued"
    and no "send now" when nothing is sent, nor once ``issued`` (the PINs as read since) says the
    welcome went or every PIN in it was used or ended (R13)."""
    if result.delivery == Delivery.NONE or not result.message_id:
        return "Nothing will be sent (Do not send PIN). Press p to print the slip, c to complete at the kiosk."
    what = "welcome message" if result.delivery == Delivery.EMAIL else "welcome text"
    refusal = welcome_refusal(issued or [])
    if refusal:
        live = not issued or any(pin.state == PinState.ACTIVE for pin in issued)
        if any(pin.message == MessageState.SENT for pin in issued or []):
            refusal = f"The {what} to {result.recipient} was sent."
        return refusal + (" Press p to print the slip, c to complete at the kiosk." if live else "")
    return (
        f"The {what} to {result.recipient} is queued and goes out by itself. Press s to send it now, p to "
        "print the slip, c to complete at the kiosk."
    )
