"""The PIN's life on screen (L1-L6): the account page's PIN section, and the small dialogs that revoke
a PIN, clear a lock-out, redirect an undelivered welcome and correct a caregiver's contact details
(the registration window asks before re-issuing, kiosk_screens.register.ReissueDialog). Every text here is plain (names are data)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from kiosk.i18n import language_name
from kiosk.messages.carriers import carriers
from kiosk.people.contact import format_us_cell
from kiosk.people.patients import CaregiverRow
from kiosk.registration.pin_life import ContactChange, PinHistory, PinLifeError, RegistrationBlock
from kiosk.terms import LANGUAGES, Authority, CaregiverRole, IdCheck

from .keys import DeskDialog, DeskFooter
from .widgets import DeskScreen, FieldError, ReportsWorkerErrors
from .workers import desk_worker

LABEL_WIDTH = 14  # the facts' labels, as Basic Info's (kiosk_screens.patient.basic_info)


def pin_section(history: PinHistory, block: RegistrationBlock | None) -> Group:
    """L1 and L5 as the account page shows them: the active PIN's facts, why a parent cannot
    register, then the earlier PINs, newest first. Never a plain PIN (S2). A value too long for
    its line goes on under its own column (a grid: a hanging indent), never back under the
    labels; an earlier PIN's words go on under its words, its date left clear."""
    facts = Table.grid()
    facts.add_column(width=LABEL_WIDTH, no_wrap=True, style="bold")
    facts.add_column(ratio=1)

    def fact(label: str, value: str) -> None:
        facts.add_row(Text(label), Text(value))

    active = history.active
    if active is not None:
        fact("Active PIN", f"{active.kind}, {active.state_words.lower()}")
        fact("Issued", active.issued_words.removeprefix("Issued "))
        fact("Delivery", active.delivery_words)
        fact("Used by", active.parents_words)
    else:
        fact("Active PIN", "none")
    if block is not None:
        for number, line in enumerate(block.lines):
            fact("Registering" if number == 0 else "", line)
    parts: list[RenderableType] = [facts]
    if history.earlier:
        parts.append(Text("Earlier PINs", style="bold underline"))
        earlier = Table.grid(padding=(0, 1, 0, 0))
        earlier.add_column(no_wrap=True)
        earlier.add_column(ratio=1)
        for pin in history.earlier[:8]:
            earlier.add_row(
                Text(f"{pin.issued_at:%m/%d/%Y}"),
                Text(f"{pin.kind}: {pin.state_words}; {pin.delivery_words}"),
            )
        parts.append(earlier)
    return Group(*parts)


class _Dialog(ReportsWorkerErrors, DeskDialog, DeskScreen):
    """A small centred form; Esc cancels (dismisses None; DeskDialog.action_cancel)."""

    CSS_PATH = "pin_life.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]


class ReasonDialog(_Dialog):
    """Asks for a reason (revoking a PIN, L4; clearing a lock-out, L5); returns it, or None."""

    AUTO_FOCUS = "#reason"

    def __init__(self, title: str, explain: str, action: str) -> None:
        super().__init__()
        self.title_text, self.explain, self.action = title, explain, action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="form-title", markup=False)
            yield Label(self.explain, markup=False, classes="explain")
            yield Input(id="reason", placeholder="the reason, kept in the audit trail")
            yield FieldError(id="reason-error")
            yield Static(f"Enter: {self.action}    Esc: cancel", classes="hint", markup=False)
        yield DeskFooter()

    @on(Input.Submitted, "#reason")
    def submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#reason-error", FieldError).show(
                "Say why (it is kept in the audit trail)."
            )
            return
        self.dismiss(event.value)


class RedirectDialog(_Dialog):
    """L4: choose the caregiver with contact authority who gets the undelivered welcome instead."""

    def __init__(self, caregivers: list[CaregiverRow]) -> None:
        super().__init__()
        self.caregivers = caregivers

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Send the welcome to another caregiver", classes="form-title")
            yield Label(
                "The same message goes to the caregiver you choose, now. Only a caregiver with "
                "contact authority can receive it.",  # R15
                classes="explain",
            )
            options = [
                Option(
                    Text(
                        f"{c.name} ({c.role}): {c.email or 'no email'}"
                        + (f", {format_us_cell(c.cell)}" if c.cell else "")
                    ),
                    id=str(c.id),
                )
                for c in self.caregivers
                if c.has_authority
            ]
            yield OptionList(*options, id="redirect-to")
            yield Static("Enter: send to this caregiver    Esc: cancel", classes="hint")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#redirect-to", OptionList).focus()

    @on(OptionList.OptionSelected, "#redirect-to")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))


class ContactDialog(_Dialog):
    """L6: correct a caregiver's email, cell, carrier and language in place; returns True once saved."""

    AUTO_FOCUS = "#contact-email"

    def __init__(self, caregiver: CaregiverRow) -> None:
        super().__init__()
        self.caregiver = caregiver

    def compose(self) -> ComposeResult:
        c = self.caregiver
        with Vertical(classes="dialog"):
            yield Static(f"Contact details of {c.name}", classes="form-title", markup=False)
            yield Input(c.email, id="contact-email", placeholder="email: name@example.com")
            yield FieldError(id="email-error")
            yield Input(
                format_us_cell(c.cell) if c.cell else "",
                id="contact-cell",
                placeholder="cell: (317) 555-0101",
            )
            yield FieldError(id="cell-error")
            with Horizontal(id="dialog-buttons"):
                yield Select(
                    [(k.name + (" (retired)" if k.retired else ""), k.key) for k in carriers()],
                    id="contact-carrier",
                    prompt="Cell carrier",
                    value=c.carrier if any(k.key == c.carrier for k in carriers()) else Select.NULL,
                )
                yield Select(
                    [(language_name(code), code) for code in LANGUAGES],
                    id="contact-language",
                    allow_blank=False,
                    value=c.language if c.language in LANGUAGES else LANGUAGES[0],
                )
            yield FieldError(id="carrier-error")
            yield FieldError(id="language-error")
            yield FieldError(id="caregiver-error")
            yield Static("Enter in a field or ctrl+s: save    Esc: cancel", classes="hint")
        yield DeskFooter()

    BINDINGS = [*_Dialog.BINDINGS, Binding("ctrl+s", "save", "Save", priority=True)]

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        carrier = self.query_one("#contact-carrier", Select).value
        language = self.query_one("#contact-language", Select).value
        self.save(
            ContactChange(
                email=self.query_one("#contact-email", Input).value,
                cell=self.query_one("#contact-cell", Input).value,
                carrier=carrier if isinstance(carrier, str) else "",
                language=language if isinstance(language, str) else None,
            )
        )

    def update(self, change: ContactChange) -> None:
        """In the save worker: write the change (PinLifeError names the field)."""
        self.app.desk.update_contact(self.caregiver.id, change)

    @desk_worker("contact", "Saving contact details")
    def save(self, change: ContactChange) -> None:
        for error in self.query(FieldError):
            self.app.call_from_thread(error.clear)
        try:
            self.update(change)
        except PinLifeError as problem:
            slot = f"#{problem.field or 'caregiver'}-error"
            self.app.call_from_thread(self.query_one(slot, FieldError).show, str(problem))
            return
        self.app.call_from_thread(self.dismiss, True)


class PatientContactDialog(ContactDialog):
    """T1: the patient's own email, cell, carrier and language, where Send to Minor sends the PIN;
    checked and audited as a caregiver's are (L6). Returns True once saved."""

    def __init__(self, patient_id: int, name: str, contact: tuple[str, str, str, str]) -> None:
        """``contact``: the patient's email, cell, carrier and language as they stand."""
        own = f"{name} (the patient's own)"
        super().__init__(CaregiverRow(0, own, CaregiverRole.OTHER, Authority.NONE, *contact))
        self.patient_id = patient_id

    def update(self, change: ContactChange) -> None:
        self.app.desk.update_patient_contact(self.patient_id, change)


class ValidateDialog(_Dialog):
    """T3, T5: how the desk identified the parent before validating; returns (IdCheck, note)."""

    AUTO_FOCUS = "#id-check"

    def __init__(self, name: str, default: IdCheck) -> None:
        super().__init__()
        self.name_text, self.default = name, default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                f"Validate {self.name_text}'s registration", classes="form-title", markup=False
            )
            yield Label(
                "The family made its account without a PIN. Check the parent's ID: validating "
                "vouches for them and makes the patient Registered.",
                markup=False,
                classes="explain",
            )
            yield Select(
                [(check.label, str(check)) for check in IdCheck],
                id="id-check",
                allow_blank=False,
                value=str(self.default),
            )
            yield Input(id="id-note", placeholder="how, when Other (e.g. birth certificate)")
            yield FieldError(id="id-error")
            yield Static("ctrl+s: validate    Esc: cancel", classes="hint")
        yield DeskFooter()

    BINDINGS = [*_Dialog.BINDINGS, Binding("ctrl+s", "save", "Validate", priority=True)]

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        check = IdCheck(str(self.query_one("#id-check", Select).value))
        note = self.query_one("#id-note", Input).value
        if check == IdCheck.OTHER and not note.strip():
            self.query_one("#id-error", FieldError).show("Say how you identified the parent.")
            return
        self.dismiss((check, note))


class EndDateDialog(_Dialog):
    """T4: the day access ends (empty: no end date) and why; returns (date as typed, reason)."""

    AUTO_FOCUS = "#end-date"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name_text = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"When {self.name_text}'s access ends", classes="form-title", markup=False)
            yield Label(
                "Access ends at the start of that day (a foster placement's end); leave it "
                "empty for no end date.",
                classes="explain",
            )
            yield Input(id="end-date", placeholder="MM/DD/YYYY")
            yield Input(id="end-reason", placeholder="the reason, kept in the audit trail")
            yield FieldError(id="end-error")
            yield Static("Enter: next, then save    Esc: cancel", classes="hint")
        yield DeskFooter()

    @on(Input.Submitted, "#end-date")
    def _to_reason(self) -> None:
        self.query_one("#end-reason", Input).focus()

    @on(Input.Submitted, "#end-reason")
    def _save(self) -> None:
        reason = self.query_one("#end-reason", Input).value
        if not reason.strip():
            self.query_one("#end-error", FieldError).show(
                "Say why (it is kept in the audit trail)."
            )
            return
        self.dismiss((self.query_one("#end-date", Input).value, reason))
