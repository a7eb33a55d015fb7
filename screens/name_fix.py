"""R2: put the child's given name in Basic Info before a PIN is issued (a small form)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from kiosk.people.names import placeholder_message
from kiosk.registration.engine import RegistrationError

from .keys import DeskDialog, DeskFooter
from .widgets import DeskScreen, FieldError, ReportsWorkerErrors
from .workers import desk_worker


class NameFixScreen(ReportsWorkerErrors, DeskDialog[str | None], DeskScreen[str | None]):
    """Returns the given name as stored, or None when the desk cancels. (DeskDialog first: a
    screen's default CSS comes down its first base only, and the dialog is see-through.)"""

    CSS_PATH = "name_fix.tcss"
    AUTO_FOCUS = "#given-name"
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, patient_id: int, given_name: str, family_name: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.given_name = given_name
        self.family_name = family_name

    def compose(self) -> ComposeResult:
        with Vertical(id="name-fix", classes="dialog"):
            yield Static("Fix the child's given name", classes="form-title")
            yield Label(placeholder_message(self.given_name), markup=False, classes="explain")
            yield Label(f"Given name (family name: {self.family_name})", markup=False)
            yield Input(id="given-name", placeholder="the name the parents chose")
            yield FieldError(id="given-name-error")
            yield Static("Enter: save and continue to registration    Esc: cancel", classes="hint")
        yield DeskFooter()

    @on(Input.Submitted, "#given-name")
    def _submitted(self, event: Input.Submitted) -> None:
        self._save(event.value)

    @desk_worker("name-fix", "Fix given name")
    def _save(self, text: str) -> None:
        try:
            name = self.app.desk.fix_name(self.patient_id, text)
        except RegistrationError as error:
            message = " ".join(p.message for p in error.problems)
            self.app.call_from_thread(self.query_one("#given-name-error", FieldError).show, message)
            return
        except Exception as error:  # noqa: BLE001 - one transaction: the name was not changed
            self.app.call_from_thread(
                self.query_one("#given-name-error", FieldError).show,
                f"The name was not saved. {self.app.explain(error, 'Fixing the name')}",
            )
            return
        # Saved under the lock screen: registration opens once it is gone (DeskDialog.dismiss).
        self.app.call_from_thread(self.dismiss, name)
