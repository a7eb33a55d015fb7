"""The registration window's own widgets: the Patient List, which posts a message when the desk
ticks a child, and the summary of what Register commits, one line per choice with the one key that
changes it (R7-R10, R14), so at 80x24 every choice is in sight before Ctrl+R:

    w Register with  PIN
    a Access         Full Access
    d Delivery       Email
    o Address        cindy.testkiddo@example.com (on file)
    m Send to        Parent/Guardian                        (only when a checked child is 12 or older)
    i ID checked     Photo ID                               (how the parent was identified, T5)
    p Print PIN      No: p prints the slip after Register
    l Language       Spanish (Cindy's, on file)

In a window under 24 lines (60x20) the choices share lines, each its key and its words (the
labels are on F1's list), so the tables keep room:

    w Register with PIN  a Full Access  d Email
    o cindy.testkiddo@example.com (on file)  i Photo ID
    p Print PIN: no  l English (Cindy Testkiddo's, on file)

With Send to Minor the Address line is the patient's own email or cell on record (T1), o edits
it, and a warning shows under it when it is a caregiver's.

A key either steps through its choices at once (Access, Delivery, Send to, Print PIN) or, where
text is needed, opens a small dialog (the question and answer; another address, a cell and carrier).
The lines are drawn from ``ITEMS``; the window binds each item's key and shows a refused Register's
messages under the line whose ``fields`` they name.

Adding a choice (one line, one key):
1. add its value to ``Choices`` (with the default Register uses) and pass it on in
   ``IssueSummary.request``;
2. write ``words_<name>`` (what the line says Register will do, in the desk's words) and
   ``change_<name>`` (what its key does: step the value, or push a dialog and store its answer,
   then call ``self.changed()``) on ``IssueSummary``;
3. append ``Item(name, key, label, fields)`` to ``ITEMS`` in the order the procedure has it; give
   ``shown`` when the line applies only sometimes (as Send to does). ``fields`` are the
   ``Problem.field`` values whose messages go under the line. Pick a key no other line or window
   binding uses (``test_every_summary_key_is_its_own`` checks); give ``brief`` when the words
   alone do not say what the choice is (the packed summary shows them without the label).
The window, its bindings, its error slots and the snapshot pick the new line up from ``ITEMS``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from kiosk.i18n import LANGUAGES, language_name, offered
from kiosk.messages.carriers import carrier_warning, carriers, get_carrier
from kiosk.people.contact import format_us_cell, normalize_us_cell
from kiosk.people.patients import CaregiverRow
from kiosk.registration.access import TeenContact
from kiosk.registration.engine import IssueRequest
from kiosk.terms import (  # the options (R7-R10, T5)
    Access,
    Delivery,
    IdCheck,
    RegistrationMethod,
    SendTo,
)

from .errors import ReportsErrors
from .keys import DeskDialog, DeskFooter
from .widgets import DeskTable, FieldError

OTHER = "other"


class PatientTable(DeskTable):
    """The Patient List; space ticks or unticks the Register checkbox of the cursor row."""

    BINDINGS = [Binding("space", "toggle_register", "Check")]

    class ToggleRegister(Message):
        """The desk pressed space on ``row`` of the Patient List."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def action_toggle_register(self) -> None:
        self.post_message(self.ToggleRegister(self.cursor_row))


@dataclass
class Choices:
    """What Register commits besides the children and the recipient, as the desk set it."""

    method: RegistrationMethod = RegistrationMethod.PIN
    question: str = ""
    answer: str = ""  # a secret (S9): never shown on the summary
    access: Access = Access.FULL
    delivery: Delivery = Delivery.EMAIL
    email: str = ""
    email_from: int | None = None  # the caregiver whose address on file it is; None: typed (Other)
    cell: str = ""
    carrier: str = ""
    send_to: SendTo = SendTo.PARENT
    print_slip: bool = False
    language: str = ""  # I1: the family's language as the desk chose it; empty: the recipient's
    id_check: IdCheck = IdCheck.PHOTO_ID  # T5: the window passes the practice's default
    id_check_note: str = ""


@dataclass(frozen=True)
class Item:
    """One line of the summary: ``key`` calls ``IssueSummary.change_<name>``; the line reads
    ``words_<name>``; messages for ``fields`` show under it, in ``#<name>-error``."""

    name: str
    key: str
    label: str
    fields: tuple[str, ...]
    shown: Callable[[IssueSummary], bool] = lambda summary: True
    brief: Callable[[IssueSummary], str] | None = None  # the packed words; None: the line's

    def words(self, summary: IssueSummary) -> str:
        return getattr(summary, f"words_{self.name.replace('-', '_')}")()

    def binding(self) -> Binding:
        return Binding(self.key, f"change('{self.name}')", self.label, show=False)


def _next(members: list, current):
    return members[(members.index(current) + 1) % len(members)]


def pack(pieces: list[Text], width: int, gap: int = 2) -> Text:
    """``pieces`` in order on as few lines of ``width`` cells as they fit, ``gap`` spaces apart;
    a piece too wide for what is left of a line starts the next (one wider than a line wraps)."""
    lines: list[Text] = []
    for piece in pieces:
        if lines and lines[-1].cell_len + gap + piece.cell_len <= width:
            lines[-1].append(" " * gap).append_text(piece)
        else:
            lines.append(piece.copy())
    return Text("\n").join(lines)


class IssueSummary(Vertical):
    """Every choice Register commits, one line each with its key (see the module docstring)."""

    class Changed(Message):
        """A choice changed: the window checks the request again (messages clear once fixed)."""

    def __init__(
        self,
        *,
        second_parent: bool = False,
        sms_provider: bool = False,
        id_check: IdCheck = IdCheck.PHOTO_ID,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.second_parent = second_parent
        self.sms_provider = sms_provider  # I2: texts go through the provider, no carrier asked
        self.choices = Choices(id_check=id_check)  # T5: the practice's default
        self.caregivers: tuple[CaregiverRow, ...] = ()
        self.recipient: CaregiverRow | None = None  # the caregiver under the window's cursor
        self.associated: Collection[str] = ()  # a second parent's: addresses already on accounts
        self.send_to_offered = False
        self.teen: TeenContact | None = None  # T1: the checked teen's own contact, for Minor
        self.edited = False  # the desk changed a choice (the window's unsaved_work)

    packed = False  # under 24 lines: the choices share lines (RegisterScreen.on_resize)

    def compose(self) -> ComposeResult:
        yield Static("", id="summary-packed", markup=False)
        for item in ITEMS:
            yield Static("", id=f"{item.name}-line", classes="summary-line", markup=False)
            yield FieldError(id=f"{item.name}-error")

    def on_mount(self) -> None:
        self.border_title = "Register (ctrl+r) commits"
        self.show()

    # -- drawing ----------------------------------------------------------------------------------
    def show(self) -> None:
        """Draw every line as the choices are now."""
        pieces = []
        for item in ITEMS:
            line = self.query_one(f"#{item.name}-line", Static)
            shown = item.shown(self)
            line.display = shown and not self.packed
            words = item.words(self)
            line.update(
                Text.assemble((f"{item.key} ", "bold reverse"), f" {item.label:<15}", words)
            )
            if shown:
                brief = item.brief(self) if item.brief else words
                pieces.append(Text.assemble((item.key, "bold reverse"), f" {brief}"))
            else:
                self.query_one(f"#{item.name}-error", FieldError).clear()
        packed = self.query_one("#summary-packed", Static)
        packed.display = self.packed
        packed.update(pack(pieces, self.app.size.width - 2) if self.packed else "")

    def pack_lines(self, packed: bool) -> None:
        """Share lines (a window under 24 lines) or give each choice its own."""
        if packed != self.packed:
            self.packed = packed
            self.set_class(packed, "-packed")
        self.show()  # the width may have changed too

    def changed(self) -> None:
        self.edited = True
        self.show()
        self.call_after_refresh(self.post_message, self.Changed())  # checked once it is drawn

    def change(self, name: str) -> None:
        getattr(self, f"change_{name.replace('-', '_')}")()

    def show_problems(self, messages: dict[str, list[str]]) -> None:
        """Each line's messages (by item name) under it; a line without any is cleared."""
        warning = self.teen.warning if self.to_minor and self.teen else ""
        for item in ITEMS:
            shown = item.shown(self)
            said = messages.get(item.name, []) + ([warning] if item.name == "address" else [])
            text = "\n".join(dict.fromkeys(m for m in said if m)) if shown else ""
            self.query_one(f"#{item.name}-error", FieldError).show(text)

    # -- Register with (R10) ------------------------------------------------------------------------
    def words_method(self) -> str:
        if self.choices.method == RegistrationMethod.QUESTION:
            question = self.choices.question.strip() or "(no question yet: press w twice)"
            answered = "answer given" if self.choices.answer.strip() else "no answer yet"
            return f"Verification Question: {question} ({answered})"
        return self.choices.method.label

    def change_method(self) -> None:
        if self.choices.method == RegistrationMethod.QUESTION:
            self.choices.method = RegistrationMethod.PIN
            self.changed()
            return

        def answered(pair: tuple[str, str] | None) -> None:
            if pair is not None:
                self.choices.method = RegistrationMethod.QUESTION
                self.choices.question, self.choices.answer = pair
                self.changed()

        self.app.push_screen(QuestionDialog(self.choices.question, self.choices.answer), answered)

    # -- Access (R9) --------------------------------------------------------------------------------
    def words_access(self) -> str:
        return self.choices.access.label

    def change_access(self) -> None:
        self.choices.access = _next(list(Access), self.choices.access)
        self.changed()

    # -- Delivery and its address (R7) ------------------------------------------------------------
    def words_delivery(self) -> str:
        if self.choices.delivery == Delivery.NONE:
            return "Do not send PIN: print the slip or give the PIN in person"
        return self.choices.delivery.label

    def change_delivery(self) -> None:
        self.choices.delivery = _next(list(Delivery), self.choices.delivery)
        self.changed()

    @property
    def to_minor(self) -> bool:
        return self.send_to_offered and self.choices.send_to == SendTo.MINOR

    def words_own_address(self) -> str:
        """T1: Send to Minor goes to the patient's own address on record, never one typed here."""
        teen = self.teen
        if teen is None:
            return "the patient's own address on record"
        if self.choices.delivery == Delivery.TEXT:
            if not teen.cell:
                return f"no cell on {teen.given_name}'s record: press o to enter it"
            carrier = get_carrier(teen.carrier)
            own = format_us_cell(teen.cell) + (f", {carrier.name}" if carrier else "")
        elif not teen.email:
            return f"no email on {teen.given_name}'s record: press o to enter it"
        else:
            own = teen.email
        return f"{own} ({teen.given_name}'s own, on record)"

    def words_address(self) -> str:
        choices = self.choices
        if self.to_minor:
            return self.words_own_address()
        if choices.delivery == Delivery.TEXT:
            if not choices.cell:
                return "no cell on file: press o to enter it"
            carrier = get_carrier(choices.carrier) if choices.carrier else None
            digits = normalize_us_cell(choices.cell)
            cell = format_us_cell(digits) if digits else choices.cell
            if self.sms_provider:
                return cell
            return f"{cell}, " + (carrier.name if carrier else "no carrier chosen: press o")
        if not choices.email:
            return "no email on file: press o to enter it"
        owner = next((c for c in self.caregivers if c.id == choices.email_from), None)
        if owner is None:
            return f"{choices.email} (typed)"
        if self.second_parent:
            return f"{choices.email} ({owner.name}, {owner.role})"
        return f"{choices.email} (on file)"

    def change_address(self) -> None:
        if self.choices.delivery == Delivery.NONE:
            return
        if self.to_minor:
            self.change_own_address()
            return

        def answered(choices: Choices | None) -> None:
            if choices is not None:
                self.choices = choices
                self.changed()

        self.app.push_screen(
            AddressDialog(self.choices, self.known_addresses(), carrier=not self.sms_provider),
            answered,
        )

    def change_own_address(self) -> None:
        """T1: correct the patient's own email or cell on the record (audited), then check again."""
        from .pin_life import PatientContactDialog

        teen = self.teen
        if teen is None:
            return

        def saved(done: bool | None) -> None:
            if done:
                self.changed()  # the window reads the record again

        contact = (teen.email, teen.cell, teen.carrier, teen.language)
        self.app.push_screen(PatientContactDialog(teen.patient_id, teen.name, contact), saved)

    def known_addresses(self) -> list[CaregiverRow]:
        """The addresses on file the desk can pick: the recipient's, or a second parent's choice
        among every caregiver with an email."""
        if self.second_parent:
            return [c for c in self.caregivers if c.email]
        return [self.recipient] if self.recipient and self.recipient.email else []

    def show_people(
        self,
        caregivers: tuple[CaregiverRow, ...],
        recipient: CaregiverRow | None,
        associated: Collection[str] = (),
    ) -> None:
        """The chosen caregiver's email, cell and carrier on file (a second parent: the first
        caregiver whose address is not yet on the patient's accounts, ``associated``). An address
        the desk typed is kept."""
        self.caregivers, self.recipient, self.associated = caregivers, recipient, associated
        choices = self.choices
        people = self.known_addresses()
        if self.second_parent:
            preferred = next((c for c in people if c.email.lower() not in associated), None)
        else:
            preferred = people[0] if people else None
        if preferred is not None and (choices.email_from is not None or not choices.email):
            choices.email, choices.email_from = preferred.email, preferred.id
        elif preferred is None and choices.email_from is not None:
            choices.email, choices.email_from = "", None
        if recipient and not self.second_parent:
            choices.cell = recipient.cell or ""
            choices.carrier = (
                recipient.carrier if any(c.key == recipient.carrier for c in carriers()) else ""
            )
        self.show()

    # -- Send to (R8) -------------------------------------------------------------------------------
    def words_send_to(self) -> str:
        return self.choices.send_to.label

    def change_send_to(self) -> None:
        if self.send_to_offered:
            self.choices.send_to = _next(list(SendTo), self.choices.send_to)
            self.changed()

    def offer_send_to(self, offered: bool) -> None:
        """R8: Send to is offered only when a checked child is 12 or older."""
        self.send_to_offered = offered
        self.show()

    def show_teen(self, teen: TeenContact | None) -> None:
        """T1: the checked teen's own contact as the record has it (None: not Minor)."""
        if teen != self.teen:
            self.teen = teen
            self.show()

    # -- ID checked (T5) ----------------------------------------------------------------------------
    def words_id_check(self) -> str:
        choices = self.choices
        if choices.id_check == IdCheck.OTHER:
            return f"Other: {choices.id_check_note}" if choices.id_check_note.strip() else "Other"
        return choices.id_check.label

    def change_id_check(self) -> None:
        """Step Photo ID, Known to staff, Other; Other asks for its note (Esc skips past it)."""
        following = _next(list(IdCheck), self.choices.id_check)
        if following != IdCheck.OTHER:
            self.choices.id_check, self.choices.id_check_note = following, ""
            self.changed()
            return

        def answered(note: str | None) -> None:
            if note is None:
                self.choices.id_check, self.choices.id_check_note = (
                    _next(list(IdCheck), IdCheck.OTHER),
                    "",
                )
            else:
                self.choices.id_check, self.choices.id_check_note = IdCheck.OTHER, note
            self.changed()

        self.app.push_screen(IdNoteDialog(self.choices.id_check_note), answered)

    # -- Print PIN (R14) ----------------------------------------------------------------------------
    def words_print(self) -> str:
        if self.choices.print_slip:
            return "Yes: the slip opens after Register"
        return "No: p prints the slip after Register"

    def change_print(self) -> None:
        self.choices.print_slip = not self.choices.print_slip
        self.changed()

    @property
    def print_slip(self) -> bool:
        return self.choices.print_slip

    # -- Language (I1) ------------------------------------------------------------------------------
    def record_language(self) -> str | None:
        """The recipient's preferred language on record, when kiosk has a catalog for it."""
        return offered(self.recipient.language) if self.recipient else None

    def language(self) -> str:
        """The language the slip, welcome and letters will be in: the desk's choice, else the
        record's, else the desk's own (the engine decides the last; shown here as English)."""
        return self.choices.language or self.record_language() or LANGUAGES[0]

    def words_language(self) -> str:
        name = language_name(self.language())
        if self.choices.language:
            return f"{name} (chosen for this family)"
        if self.recipient is None:
            return f"{name}: press l to choose"
        if self.record_language():
            return f"{name} ({self.recipient.name}'s, on file)"
        return f"{name} (none on file for {self.recipient.name})"

    def change_language(self) -> None:
        languages = list(LANGUAGES)
        self.choices.language = _next(languages, self.language())
        self.changed()

    # -- the request --------------------------------------------------------------------------------
    def delivery(self) -> Delivery:
        return self.choices.delivery

    def request(self, patient_ids: list[int]) -> IssueRequest:
        """The IssueRequest for ``patient_ids`` with the choices as the desk set them."""
        choices = self.choices
        if self.second_parent:
            recipient = next((c for c in self.caregivers if c.id == choices.email_from), None)
        else:
            recipient = self.recipient
        delivery = choices.delivery
        return IssueRequest(
            patient_ids=patient_ids,
            recipient_id=recipient.id if recipient else None,
            method=choices.method,
            question=choices.question,
            answer=choices.answer,
            access=choices.access,
            delivery=delivery,
            email=choices.email if delivery == Delivery.EMAIL else "",
            cell=choices.cell if delivery == Delivery.TEXT else "",
            carrier=choices.carrier if delivery == Delivery.TEXT and not self.sms_provider else "",
            print_slip=choices.print_slip,
            send_to=choices.send_to if self.send_to_offered else SendTo.PARENT,
            second_parent=self.second_parent,
            language=self.choices.language,
            id_check=choices.id_check,
            id_check_note=choices.id_check_note if choices.id_check == IdCheck.OTHER else "",
        )

    @property
    def secrets(self) -> list[str]:
        """Typed secrets held here rather than in an input (S9): the verification answer."""
        return [self.choices.answer] if self.choices.answer else []


# The summary's lines, in the procedure's order (see the module docstring to add one).
ITEMS: tuple[Item, ...] = (
    Item(
        "method",
        "w",
        "Register with",
        ("method", "question", "answer"),
        brief=lambda summary: f"Register with {summary.words_method()}",
    ),
    Item("access", "a", "Access", ("access",)),
    Item("delivery", "d", "Delivery", ("delivery",)),
    Item(
        "address",
        "o",
        "Address",
        ("email", "cell", "carrier"),
        shown=lambda summary: summary.choices.delivery != Delivery.NONE,
    ),
    Item("send-to", "m", "Send to", ("send_to",), shown=lambda summary: summary.send_to_offered),
    Item("id-check", "i", "ID checked", ("id_check", "id_check_note")),
    Item(
        "print",
        "p",
        "Print PIN",
        (),
        brief=lambda summary: f"Print PIN: {'yes' if summary.print_slip else 'no'}",
    ),
    Item("language", "l", "Language", ("language",)),  # I1: slip, welcome and letters
)
FIELD_ITEMS = {field: item.name for item in ITEMS for field in item.fields}


# -- the dialogs a line's key opens ------------------------------------------------------------------


class _ChoiceDialog(ReportsErrors, DeskDialog):
    """A small centred form over the registration window; Esc cancels (dismisses None;
    DeskDialog.action_cancel)."""

    CSS_PATH = "register.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]


class QuestionDialog(_ChoiceDialog):
    """R10: the verification question and its answer; Enter moves on, Enter in the answer saves."""

    AUTO_FOCUS = "#question"

    def __init__(self, question: str, answer: str) -> None:
        super().__init__()
        self.question, self.answer = question, answer

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Register with a Verification Question", classes="form-title")
            yield Label(
                "The parent answers this question instead of typing a PIN.", classes="explain"
            )
            yield Input(self.question, placeholder="Question", id="question")
            yield Input(self.answer, placeholder="Answer", id="answer")
            yield Static("Enter: next, then save    Esc: keep the PIN", classes="hint")
        yield DeskFooter()

    @on(Input.Submitted, "#question")
    def _to_answer(self) -> None:
        self.query_one("#answer", Input).focus()

    @on(Input.Submitted, "#answer")
    def _save(self) -> None:
        self.dismiss(
            (self.query_one("#question", Input).value, self.query_one("#answer", Input).value)
        )


class IdNoteDialog(_ChoiceDialog):
    """T5: how the parent was identified when it was neither photo ID nor known to staff."""

    AUTO_FOCUS = "#id-note"

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("ID checked: Other", classes="form-title")
            yield Label(
                "Giving the PIN vouches for the parent: say how you identified them.",
                classes="explain",
            )
            yield Input(self.note, placeholder="e.g. birth certificate and school ID", id="id-note")
            yield Static("Enter: save    Esc: skip Other", classes="hint")
        yield DeskFooter()

    @on(Input.Submitted, "#id-note")
    def _save(self) -> None:
        self.dismiss(self.query_one("#id-note", Input).value)


class AddressDialog(_ChoiceDialog):
    """R7: where the welcome goes: an address on file or another one typed; or the cell and its
    carrier for a text message. Enter in a field or ctrl+s saves."""

    BINDINGS = [*_ChoiceDialog.BINDINGS, Binding("ctrl+s", "save", "Save", priority=True)]

    def __init__(self, choices: Choices, known: list[CaregiverRow], *, carrier: bool = True):
        super().__init__()
        self.choices, self.known = choices, known
        self.carrier = carrier  # False with an SMS provider (I2): any carrier, none asked

    @property
    def texting(self) -> bool:
        return self.choices.delivery == Delivery.TEXT

    def compose(self) -> ComposeResult:
        choices = self.choices
        with Vertical(classes="dialog"):
            if self.texting:
                yield Static("Text message to", classes="form-title")
                digits = normalize_us_cell(choices.cell)
                yield Input(
                    format_us_cell(digits) if digits else choices.cell,
                    placeholder="(317) 555-0101",
                    id="cell",
                )
                if self.carrier:
                    yield Select(
                        [(c.name + (" (retired)" if c.retired else ""), c.key) for c in carriers()],
                        id="carrier",
                        prompt="Choose the carrier",
                        value=choices.carrier if get_carrier(choices.carrier) else Select.NULL,
                    )
                    yield Static("", id="carrier-warning", markup=False)
            else:
                yield Static("Email the welcome to", classes="form-title")
                options = [(Text(f"{c.name} ({c.role}): {c.email}"), str(c.id)) for c in self.known]
                yield Select(
                    [*options, ("Another address", OTHER)],
                    id="email-choice",
                    allow_blank=False,
                    value=str(choices.email_from) if choices.email_from else OTHER,
                )
                typed = choices.email if choices.email_from is None else ""
                yield Input(typed, placeholder="name@example.com", id="email")
            yield Static("Enter in a field or ctrl+s: save    Esc: cancel", classes="hint")
        yield DeskFooter()

    def on_mount(self) -> None:
        if self.texting:
            self.query_one("#cell", Input).focus()
            if self.carrier:
                self._warn()
        else:
            self._show_other()
            other = self.query_one("#email-choice", Select).value == OTHER
            self.query_one("#email" if other else "#email-choice").focus()

    def _show_other(self) -> None:
        self.query_one("#email", Input).display = (
            self.query_one("#email-choice", Select).value == OTHER
        )

    @on(Select.Changed, "#email-choice")
    def _email_choice_changed(self) -> None:
        self._show_other()

    @on(Select.Changed, "#carrier")
    def _warn(self) -> None:
        carrier = self.query_one("#carrier", Select).value
        warning = carrier_warning(carrier) if isinstance(carrier, str) else None
        self.query_one("#carrier-warning", Static).update(warning or "")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        if self.texting:
            carrier = self.query_one("#carrier", Select).value if self.carrier else ""
            self.dismiss(
                replace(
                    self.choices,
                    cell=self.query_one("#cell", Input).value,
                    carrier=carrier if isinstance(carrier, str) else "",
                )
            )
            return
        chosen = self.query_one("#email-choice", Select).value
        owner = next((c for c in self.known if str(c.id) == chosen), None)
        if owner is not None:
            self.dismiss(replace(self.choices, email=owner.email, email_from=owner.id))
        else:
            email = self.query_one("#email", Input).value
            self.dismiss(replace(self.choices, email=email, email_from=None))
