"""The patient's account page (R4, R13; docs/glossary.md): Basic Info, portal status, PIN/VQ state,
Associations and caregivers; "Register Patient" (or, once Registered, "Generate PIN") from here."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Label, Static

from kiosk.names import placeholder_message
from kiosk.patients import PatientPage, age_text
from kiosk.terms import PortalStatus
from screens.widgets import DeskScreen, FieldError, ReportsWorkerErrors, TrainingBanner


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


class PatientScreen(ReportsWorkerErrors, DeskScreen[None]):
    CSS_PATH = "patient.tcss"
    BINDINGS = [
        ("r", "register", "Register Patient"),
        ("g", "generate_pin", "Generate PIN"),
        ("escape", "back", "Back"),
    ]

    def __init__(self, patient_id: int) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.page: PatientPage | None = None

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield Header()
        with VerticalScroll(id="patient-page"):
            yield Static("Loading…", id="patient-title", classes="form-title", markup=False)
            yield Static("", id="basic-info", markup=False)
            yield Label("", id="placeholder-note", markup=False, classes="explain")
            yield FieldError(id="action-error")
            yield Label("Associations (portal accounts)", classes="section-title")
            associations: DataTable[object] = DataTable(id="associations", cursor_type="row", show_cursor=False)
            associations.add_columns("Account", "Email", "Access", "Since")
            yield associations
            yield Label("Caregivers", classes="section-title")
            caregivers: DataTable[object] = DataTable(id="caregivers", cursor_type="row", show_cursor=False)
            caregivers.add_columns("Name", "Role", "Authority", "Email", "Cell")
            yield caregivers
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    def on_screen_resume(self) -> None:
        if self.page is not None:
            self._load()  # back from registration: status and PIN state may have changed

    @work(thread=True, exclusive=True, group="patient", name="Patient page", exit_on_error=False)
    def _load(self) -> None:
        page = self.app.desk.patient_page(self.patient_id)  # the look is audited (S5)
        self.app.call_from_thread(self._show, page)

    def _show(self, page: PatientPage) -> None:
        self.page = page
        patient = page.patient
        self.query_one("#patient-title", Static).update(f"{patient.given_name} {patient.family_name}")
        self.query_one("#basic-info", Static).update(basic_info(page, self.app.desk.today()))
        note = self.query_one("#placeholder-note", Label)
        note.update(placeholder_message(patient.given_name) + " Press r to fix it and continue."
                    if patient.placeholder else "")
        note.display = patient.placeholder
        associations = self.query_one("#associations", DataTable)
        associations.clear()
        for row in page.associations:
            associations.add_row(Text(row.account_name), Text(row.email), row.access, f"{row.since:%m/%d/%Y}")
        if not page.associations:
            associations.add_row("None yet", "", "", "")
        caregivers = self.query_one("#caregivers", DataTable)
        caregivers.clear()
        for caregiver in page.caregivers:
            caregivers.add_row(Text(caregiver.name), Text(caregiver.role), caregiver.authority, Text(caregiver.email),
                               Text(caregiver.cell))
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
        return True

    def _may_issue(self) -> bool:
        """R1: an unlinked staff member gets the reason and what to do, not the registration window."""
        problem = self.app.desk.may_issue()
        if problem is None:
            self.query_one("#action-error", FieldError).clear()
            return True
        self.query_one("#action-error", FieldError).show(problem.message)
        self.notify(problem.message, title="Cannot issue PINs", severity="error", timeout=15, markup=False)
        return False

    def action_register(self) -> None:
        if self.page is None or self.registered or not self._may_issue():
            return
        patient = self.page.patient
        if patient.placeholder:
            self.app.fix_name(patient.id, patient.given_name, patient.family_name, self._name_fixed)
            return
        self.app.open_registration(self.patient_id)

    def _name_fixed(self, name: str | None) -> None:
        if name:
            self._load()
            self.app.open_registration(self.patient_id)

    def action_generate_pin(self) -> None:
        if self.registered and self._may_issue():
            self.app.open_registration(self.patient_id, second_parent=True)

    def action_back(self) -> None:
        self.app.pop_screen()
