"""The registration window's own widgets: the Patient List, which posts a message when the desk
ticks a child, and the options panel in the order the desk fills it: Register with (R10), Access (R9),
Delivery (R7) with the address or the cell and carrier, Send to (R8), Print PIN. The panel shows
and hides its own fields as the desk chooses and hands the window the options it issues with."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Input, Label, RadioButton, RadioSet, Select, Static

from kiosk.messages.carriers import carrier_warning, carriers
from kiosk.people.patients import CaregiverRow
from kiosk.registration.engine import IssueRequest
from kiosk.terms import (  # the options (R7-R10)
    Access,
    Delivery,
    Labelled,
    RegistrationMethod,
    SendTo,
)

from .widgets import FieldError

OTHER = "other"


class PatientTable(DataTable):
    """The Patient List; space ticks or unticks the Register checkbox of the cursor row."""

    BINDINGS = [Binding("space", "toggle_register", "Check")]

    class ToggleRegister(Message):
        """The desk pressed space on ``row`` of the Patient List."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def action_toggle_register(self) -> None:
        self.post_message(self.ToggleRegister(self.cursor_row))


class Choice(RadioButton):
    """A radio button whose dot is drawn only when chosen: readable without colour (16-colour console)."""

    BUTTON_INNER = property(lambda self: "●" if self.value else " ")

    def __init__(self, choice: Labelled, *, on: bool = False):
        super().__init__(choice.label, value=on)
        self.choice = choice  # the value this button stands for


class Tick(Checkbox):
    """A checkbox whose X is drawn only when ticked."""

    BUTTON_INNER = property(lambda self: "X" if self.value else " ")


class IssueOptions(Vertical):
    """Register with, Access, Delivery and its details, Send to, Print PIN."""

    def __init__(
        self, *, second_parent: bool = False, sms_provider: bool = False, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.second_parent = second_parent
        self.sms_provider = sms_provider  # I2: texts go through the provider, no carrier asked
        self.caregivers: tuple[CaregiverRow, ...] = ()
        self.recipient: CaregiverRow | None = None  # the caregiver under the window's cursor

    def compose(self) -> ComposeResult:
        with Horizontal(id="options"):
            with Vertical(classes="option", id="method-col"):
                yield Label("Register with")
                with RadioSet(id="method"):
                    yield Choice(RegistrationMethod.PIN, on=True)
                    yield Choice(RegistrationMethod.QUESTION)
                yield FieldError(id="method-error")
                with Vertical(id="question-box"):
                    yield Input(placeholder="Question", id="question")
                    yield FieldError(id="question-error")
                    yield Input(placeholder="Answer", id="answer")
                    yield FieldError(id="answer-error")
            with Vertical(classes="option", id="access-col"):
                yield Label("Access")
                with RadioSet(id="access"):
                    yield Choice(Access.FULL, on=True)
                    yield Choice(Access.LIMITED)
                yield FieldError(id="access-error")
            with Vertical(classes="option"):
                yield Label("Delivery")
                with RadioSet(id="delivery"):
                    yield Choice(Delivery.EMAIL, on=True)
                    yield Choice(Delivery.TEXT)
                    yield Choice(Delivery.NONE)
                yield FieldError(id="delivery-error")
        with Horizontal(id="email-row", classes="detail"):
            with Vertical(classes="field"):
                yield Label("Email Address")
                yield Select(
                    [("Other", OTHER)], id="email-choice", allow_blank=False, prompt="Email address"
                )
            with Vertical(classes="field", id="other-email-box"):
                yield Label("Other email")
                yield Input(placeholder="name@example.com", id="email")
                yield FieldError(id="email-error")
        with Horizontal(id="text-row", classes="detail"):
            with Vertical(classes="field"):
                yield Label("Cell phone")
                yield Input(placeholder="(317) 555-0101", id="cell")
                yield FieldError(id="cell-error")
            with Vertical(classes="field", id="carrier-box"):
                yield Label("Cell Carrier")
                yield Select(
                    [(c.name + (" (retired)" if c.retired else ""), c.key) for c in carriers()],
                    id="carrier",
                    prompt="Choose the carrier",
                )
                yield FieldError(id="carrier-error")
                yield Static("", id="carrier-warning", markup=False)
        with Horizontal(id="finish-row", classes="detail"):  # Send to, then Print PIN (R8, R14)
            with Vertical(id="send-to-box"):
                yield Label("Send to")
                with RadioSet(id="send-to"):
                    yield Choice(SendTo.PARENT, on=True)
                    yield Choice(SendTo.MINOR)
                yield FieldError(id="send-to-error")
            yield Tick("Print PIN", id="print-pin")

    def on_mount(self) -> None:
        for hidden in ("#question-box", "#text-row", "#other-email-box", "#send-to-box"):
            self.query_one(hidden).display = False
        self.query_one("#carrier-box").display = not self.sms_provider

    # -- who the PIN goes to --------------------------------------------------------------------
    def show_people(
        self,
        caregivers: tuple[CaregiverRow, ...],
        recipient: CaregiverRow | None,
        associated: Collection[str] = (),
    ) -> None:
        """The chosen caregiver's email (or, for a second parent, every caregiver's whose address
        is not yet on the patient's accounts, ``associated``), or Other; their cell and carrier."""
        self.caregivers, self.recipient = caregivers, recipient
        select = self.query_one("#email-choice", Select)
        if self.second_parent:
            people = [c for c in caregivers if c.email]
            options = [(Text(f"{c.name} ({c.role}): {c.email}"), str(c.id)) for c in people]
            preferred = next((c for c in people if c.email.lower() not in associated), None)
        else:
            people = [recipient] if recipient and recipient.email else []
            options = [(Text(c.email), str(c.id)) for c in people]
            preferred = people[0] if people else None
        select.set_options([*options, ("Other", OTHER)])
        select.value = str(preferred.id) if preferred else OTHER
        self._show_other_email()
        if recipient and not self.second_parent:
            self.query_one("#cell", Input).value = recipient.cell or ""
            carrier = self.query_one("#carrier", Select)
            carrier.value = (
                recipient.carrier
                if any(c.key == recipient.carrier for c in carriers())
                else Select.NULL
            )

    def offer_send_to(self, offered: bool) -> None:
        """R8: Send to is offered only when a checked child is 12 or older."""
        self.query_one("#send-to-box").display = offered

    @property
    def print_slip(self) -> bool:
        return self.query_one("#print-pin", Checkbox).value

    # -- the desk's choices ---------------------------------------------------------------------
    def chosen(self, radio_id: str) -> str:
        pressed = self.query_one(f"#{radio_id}", RadioSet).pressed_button
        return pressed.choice if isinstance(pressed, Choice) else ""

    def delivery(self) -> Delivery:
        return Delivery(self.chosen("delivery"))

    def _show_other_email(self) -> None:
        self.query_one("#other-email-box").display = (
            self.delivery() == Delivery.EMAIL
            and self.query_one("#email-choice", Select).value == OTHER
        )

    @on(Select.Changed, "#email-choice")
    def _email_choice_changed(self) -> None:
        self._show_other_email()

    @on(Select.Changed, "#carrier")
    def _carrier_changed(self, event: Select.Changed) -> None:
        warning = carrier_warning(event.value) if isinstance(event.value, str) else None
        self.query_one("#carrier-warning", Static).update(warning or "")

    @on(RadioSet.Changed)
    def _radio_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id == "method":
            self.query_one("#question-box").display = (
                self.chosen("method") == RegistrationMethod.QUESTION
            )
        elif event.radio_set.id == "delivery":
            delivery = self.delivery()
            self.query_one("#email-row").display = delivery == Delivery.EMAIL
            self.query_one("#text-row").display = delivery == Delivery.TEXT
            self._show_other_email()

    def request(self, patient_ids: list[int]) -> IssueRequest:
        """The IssueRequest for ``patient_ids`` with the options as the desk set them."""
        delivery = self.delivery()
        choice = self.query_one("#email-choice", Select).value
        if self.second_parent:
            recipient = next((c for c in self.caregivers if str(c.id) == choice), None)
        else:
            recipient = self.recipient
        if choice == OTHER or choice == Select.NULL:
            email = self.query_one("#email", Input).value
        else:
            email = next((c.email for c in self.caregivers if str(c.id) == choice), "")
        carrier = self.query_one("#carrier", Select).value
        send_to = (
            SendTo(self.chosen("send-to"))
            if self.query_one("#send-to-box").display
            else SendTo.PARENT
        )
        return IssueRequest(
            patient_ids=patient_ids,
            recipient_id=recipient.id if recipient else None,
            method=RegistrationMethod(self.chosen("method")),
            question=self.query_one("#question", Input).value,
            answer=self.query_one("#answer", Input).value,
            access=Access(self.chosen("access")),
            delivery=delivery,
            email=email if delivery == Delivery.EMAIL else "",
            cell=self.query_one("#cell", Input).value if delivery == Delivery.TEXT else "",
            carrier=carrier
            if delivery == Delivery.TEXT and isinstance(carrier, str) and not self.sms_provider
            else "",
            print_slip=self.print_slip,
            send_to=send_to,
            second_parent=self.second_parent,
        )
