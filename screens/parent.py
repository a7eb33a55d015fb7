"""Parent mode (R11-R13, S4): the kiosk handed to a parent to finish registration at the counter.

"Complete / Log In" (R11): the desk turns the screen round and the parent creates a portal
account (or signs in), then links each child with the child's date of birth and the PIN (or the
verification question). One thing per screen, large plain text, nothing of the staff's: no staff
name, no chart numbers, no other patients. Every screen here has ``parent_mode = True``; Escape
only steps back inside parent mode, and the only way out is "I'm done" (or the idle lock), which
hands the kiosk back to the staff lock screen.

Screens move with ``switch_screen``, so parent mode is always exactly one screen on the stack.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Static

from kiosk.registration import pins, portal
from kiosk.registration.engine import IssueResult
from kiosk.registration.portal import PortalError, PortalLogin
from kiosk.terms import Delivery, RegistrationMethod

from .widgets import FieldError, FormScreen, TrainingBanner

T = TypeVar("T")
DOB_HELP = "Enter the date of birth like 05/17/2022."
PIN_HELP = "A PIN is 10 letters, like JFKAY-TTJYV."


@dataclass
class Visit:
    """One parent's turn at the kiosk: the PINs the desk just issued and the account in use."""

    result: IssueResult | None
    account: PortalLogin | None = None
    linked: set[int] = field(default_factory=set)  # patients linked during this visit

    @property
    def by_question(self) -> bool:
        return self.result is not None and self.result.method == RegistrationMethod.QUESTION

    def next_pin(self) -> str:
        """The first PIN from the desk's result not yet used in this visit ("" if none)."""
        issued = self.next_issued()
        return issued.pin if issued is not None else ""

    def next_issued(self):
        """The desk's next unused IssuedPin (PIN method only), or None."""
        if self.result is None or self.by_question:
            return None
        return next(
            (p for p in self.result.pins if p.patient_id not in self.linked and p.pin), None
        )

    def more_from_desk(self) -> bool:
        return self.result is not None and any(
            p.patient_id not in self.linked for p in self.result.pins
        )

    @property
    def login(self) -> PortalLogin:
        """The account in use: set (created or signed in) before any screen that needs it opens."""
        if self.account is None:
            raise RuntimeError("no parent account in this visit yet")
        return self.account


class ParentScreen(FormScreen):
    """Base of every parent-mode screen: big plain layout, Back inside parent mode, I'm done."""

    parent_mode = True
    heading = ""
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f10", "done", "I'm done"),
    ]
    CSS_PATH = "parent.tcss"

    def __init__(self, visit: Visit):
        super().__init__()
        self.visit = visit

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        with VerticalScroll(classes="parent-body"):
            yield Static(self.heading, classes="parent-title", markup=False)
            yield from self.body()
            yield FieldError(id="problem")
        yield Footer()

    def body(self) -> ComposeResult:
        yield from ()

    can_go_back = True  # False: Escape does nothing here (it never leaves parent mode)

    def back_screen(self) -> ParentScreen:
        """The parent-mode screen Escape goes back to."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_go_back if action == "back" else True

    def action_back(self) -> None:
        if self.can_go_back:
            self.app.switch_screen(self.back_screen())

    def action_done(self) -> None:
        self.app.lock(end_parent_mode=True)

    @on(Button.Pressed, "#done")
    def _done_pressed(self) -> None:
        self.action_done()

    def show_error(self, widget_id: str, message: str) -> None:
        self.query_one(f"#{widget_id}", FieldError).show(message)

    def clear_errors(self) -> None:
        for label in self.query(FieldError).results(FieldError):
            label.clear()

    def field(
        self,
        widget_id: str,
        label: str,
        *,
        value: str = "",
        placeholder: str = "",
        password: bool = False,
    ) -> ComposeResult:
        """A labelled input with its error line under it."""
        yield Label(label, id=f"{widget_id}-label", classes="parent-label")
        yield Input(value, placeholder=placeholder, password=password, id=widget_id)
        yield FieldError(id=f"{widget_id}-error")

    def buttons(self, label: str, widget_id: str = "submit") -> ComposeResult:
        """The screen's one main action and I'm done."""
        with Horizontal(classes="parent-buttons"):
            yield Button(label, id=widget_id, variant="primary")
            yield Button("I'm done (F10)", id="done")

    def value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value

    def ask_portal(self, name: str, call: Callable[[], T], done: Callable[[T], None]) -> None:
        """Run a kiosk.registration.portal call in a thread worker; ``done`` (or ``failed`` for a PortalError)
        runs back on the UI thread, if this screen is still the one showing."""

        def job() -> None:
            try:
                answer = call()
            except PortalError as error:
                self.app.call_from_thread(self._answered, self.failed, error)
            else:
                self.app.call_from_thread(self._answered, done, answer)

        # An error other than PortalError goes to the app's one handler (report_error): the parent
        # reads show_problem's words here, with what they typed left in place (S9).
        self.run_worker(job, name=name, thread=True, exclusive=True, exit_on_error=False)

    def _answered(self, handler: Callable, value) -> None:
        if self.app.screen is self:
            handler(value)

    def show_problem(self, message: str) -> None:
        """An unexpected failure, in the parent's words, under the form (KioskApp.report_error)."""
        self.query_one("#problem", FieldError).show(message)

    def failed(self, error: PortalError) -> None:
        """Show what the parent is told next to the field it belongs to."""
        widget_id = error.field or "password"
        self.show_error(f"{widget_id}-error", str(error))
        self.query_one(f"#{widget_id}", Input).focus()

    @on(Input.Submitted)
    def _last_field_entered(self) -> None:
        """Enter moves from field to field (FormScreen); on the last one it continues."""
        self.action_submit()

    def action_submit(self) -> None:
        pass


class ParentModeScreen(ParentScreen):
    """The first screen the parent sees: create an account or sign in."""

    heading = "Welcome! Let's set up your patient portal."
    can_go_back = False
    BINDINGS = [Binding("n", "create", "New account"), Binding("s", "sign_in", "Sign in")]

    def __init__(self, result: IssueResult | None = None):
        super().__init__(Visit(result))

    def body(self) -> ComposeResult:
        yield Static("Do you already have a portal account?", classes="parent-text")
        with Horizontal(classes="parent-buttons"):
            yield Button("Create a new account (N)", id="create", variant="primary")
            yield Button("Sign in to my account (S)", id="sign-in")
        with Horizontal(classes="parent-buttons"):
            yield Button("I'm done (F10)", id="done")

    @on(Button.Pressed, "#create")
    def action_create(self) -> None:
        self.app.switch_screen(CreateAccountScreen(self.visit))

    @on(Button.Pressed, "#sign-in")
    def action_sign_in(self) -> None:
        self.app.switch_screen(ParentSignInScreen(self.visit))


def _after_account(visit: Visit, *, new: bool) -> ParentScreen:
    """A new account goes straight to linking a child; a signed-in one sees My Account first,
    unless the desk has just issued PINs for it to use."""
    if new or visit.more_from_desk():
        return ChildScreen(visit)
    return MyAccountScreen(visit)


class CreateAccountScreen(ParentScreen):
    heading = "Create your portal account"
    AUTO_FOCUS = "#name"
    BINDINGS = [Binding("f2", "submit", "Create account")]

    def body(self) -> ComposeResult:
        yield from self.field("name", "Your name")
        yield from self.field("email", "Your email", placeholder="name@example.com")
        yield from self.field(
            "password",
            f"Choose a password ({portal.MIN_PASSWORD} or more characters)",
            password=True,
        )
        yield from self.buttons("Create account (F2)")

    def back_screen(self) -> ParentScreen:
        return ParentModeScreen(self.visit.result)

    def on_mount(self) -> None:
        result = self.visit.result
        if result is not None and result.delivery == Delivery.EMAIL and result.recipient:
            desk = self.app.desk
            self.ask_portal(
                "Checking the address", lambda: desk.address_for_new_account(result), self._prefill
            )

    def _prefill(self, email: str) -> None:
        field = self.query_one("#email", Input)
        if email and not field.value:
            field.value = email

    def _password_problem(self) -> str | None:
        password = self.value("password")
        return (
            portal.password_problem(password, self.value("email"), self.value("name"))
            if password
            else None
        )

    @on(Input.Changed, "#password")
    def _check_password(self) -> None:
        problem = self._password_problem()
        self.show_error("password-error", problem or "")

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        self.clear_errors()
        password = self.value("password")
        problem = "Choose a password." if not password else self._password_problem()
        if problem:
            self.show_error("password-error", problem)
            self.query_one("#password", Input).focus()
            return
        email, name, desk = self.value("email"), self.value("name"), self.app.desk
        self.ask_portal(
            "Creating your account",
            lambda: desk.create_account(email, name, password),
            self._created,
        )

    def _created(self, account: PortalLogin) -> None:
        self.visit.account = account
        self.app.switch_screen(_after_account(self.visit, new=True))


class ParentSignInScreen(ParentScreen):
    heading = "Sign in to your portal account"
    AUTO_FOCUS = "#email"
    BINDINGS = [Binding("f2", "submit", "Sign in")]

    def body(self) -> ComposeResult:
        yield from self.field("email", "Your email", placeholder="name@example.com")
        yield from self.field("password", "Your password", password=True)
        yield from self.buttons("Sign in (F2)")

    def back_screen(self) -> ParentScreen:
        return ParentModeScreen(self.visit.result)

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        self.clear_errors()
        email, password, desk = self.value("email"), self.value("password"), self.app.desk
        self.ask_portal("Signing in", lambda: desk.portal_sign_in(email, password), self._signed_in)

    def failed(self, error: PortalError) -> None:
        self.query_one("#password", Input).value = ""
        super().failed(error)

    def _signed_in(self, account: PortalLogin) -> None:
        self.visit.account = account
        self.app.switch_screen(_after_account(self.visit, new=False))


class ChildScreen(ParentScreen):
    """Link one child: date of birth and PIN, or last name, date of birth and the question's answer."""

    heading = "Add your child"
    BINDINGS = [Binding("f2", "submit", "Add child"), Binding("f3", "other_way", "PIN or question")]

    def __init__(self, visit: Visit, *, by_question: bool | None = None):
        super().__init__(visit)
        self.by_question = visit.by_question if by_question is None else by_question
        self.question = ""  # the verification question once found

    def action_other_way(self) -> None:
        """F3: a parent given a verification question instead of a PIN (or the other way round)."""
        self.app.switch_screen(ChildScreen(self.visit, by_question=not self.by_question))

    def body(self) -> ComposeResult:
        if self.by_question:
            yield Static(
                "Enter your child's last name and date of birth, then answer the question the front "
                "desk set up.",
                classes="parent-text",
            )
            yield from self.field("family", "Child's last name")
            yield from self.field("dob", "Child's date of birth", placeholder="MM/DD/YYYY")
            yield Static("", id="question", classes="parent-label", markup=False)
            yield from self.field("answer", "Your answer")
        else:
            issued = self.visit.next_issued()
            # Say whose PIN is filled in, so the parent types that child's date of birth.
            text = (
                f"The PIN for {issued.given_name} is filled in. Enter {issued.given_name}'s date of birth."
                if issued is not None
                else "Enter the PIN from the front desk and your child's date of birth."
            )
            yield Static(text, id="child-help", classes="parent-text", markup=False)
            yield from self.field(
                "pin", "PIN", value=self.visit.next_pin(), placeholder="JFKAY-TTJYV"
            )
            yield from self.field("dob", "Child's date of birth", placeholder="MM/DD/YYYY")
        yield FieldError(id="redeem-error")
        yield from self.buttons("Add child (F2)")

    def on_mount(self) -> None:
        if self.by_question:
            self._show_answer(False)
            self.query_one("#family", Input).focus()
        else:
            self.query_one("#dob" if self.value("pin") else "#pin", Input).focus()

    def _show_answer(self, shown: bool) -> None:
        for widget_id in ("question", "answer-label", "answer"):
            self.query_one(f"#{widget_id}").display = shown

    def back_screen(self) -> ParentScreen:
        return MyAccountScreen(self.visit)

    @on(Input.Changed, "#family")
    @on(Input.Changed, "#dob")
    def _forget_question(self) -> None:
        """A different child means a different question: ask again."""
        if self.by_question and self.question:
            self.question = ""
            self._show_answer(False)

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        self.clear_errors()
        desk = self.app.desk
        dob = desk.parse_dob(
            self.value("dob")
        )  # a real date between 1900 and today, as search reads it
        if dob is None:
            self.show_error("dob-error", DOB_HELP)
            self.query_one("#dob", Input).focus()
            return
        account = self.visit.login
        if self.by_question:
            family = self.value("family").strip()
            if not family:
                self.show_error("family-error", "Enter your child's last name.")
                return
            if not self.question:
                self.ask_portal(
                    "Finding the question",
                    lambda: desk.question_for(dob, family),
                    self._question_found,
                )
                return
            answer = self.value("answer")
            if not answer.strip():
                self.show_error("answer-error", "Type your answer.")
                return
            self._redeem(account.id, dob, family_name=family, answer=answer)
            return
        if pins.normalize_pin(self.value("pin")) is None:
            self.show_error("pin-error", PIN_HELP)
            self.query_one("#pin", Input).focus()
            return
        self._redeem(account.id, dob, pin=self.value("pin"))

    def _question_found(self, question: str | None) -> None:
        if question is None:
            self.show_error("redeem-error", portal.GENERIC)
            return
        self.question = question
        self.query_one("#question", Static).update(f"Question: {question}")
        self._show_answer(True)
        self.query_one("#answer", Input).focus()

    def _redeem(self, account_id: int, dob: dt.date, **proof: str) -> None:
        desk = self.app.desk
        self.ask_portal(
            "Adding your child", lambda: desk.redeem(account_id, dob, **proof), self._redeemed
        )

    def failed(self, error: PortalError) -> None:
        """One message for any mismatch (S4): under the form, not under a field."""
        self.show_error("redeem-error", str(error))

    def _redeemed(self, redeemed: portal.Redeemed) -> None:
        self.visit.linked.add(redeemed.patient_id)
        message = f"{redeemed.given_name} is now on your account ({redeemed.access})."
        self.app.switch_screen(MyAccountScreen(self.visit, message))


class MyAccountScreen(ParentScreen):
    """My Account: the children on this account, Add child/dependent, I'm done."""

    can_go_back = False
    BINDINGS = [Binding("a", "add_child", "Add child/dependent")]

    def __init__(self, visit: Visit, message: str = ""):
        super().__init__(visit)
        self.message = message
        self.heading = f"My Account: {visit.login.display_name}"

    def body(self) -> ComposeResult:
        if self.message:
            yield Static(self.message, id="message", classes="parent-ok", markup=False)
        yield Static("Children on your account:", classes="parent-label")
        yield Static("Loading…", id="children", classes="parent-text", markup=False)
        label = (
            "Add another child (A)" if self.visit.more_from_desk() else "Add child/dependent (A)"
        )
        yield from self.buttons(label, "add-child")

    def on_mount(self) -> None:
        # Enter does the likely next step: the next child from the desk, or I'm done once all are linked.
        self.query_one("#add-child" if self.visit.more_from_desk() else "#done", Button).focus()
        account_id, desk = self.visit.login.id, self.app.desk
        self.ask_portal(
            "Loading your children", lambda: desk.children_of(account_id), self._show_children
        )

    def _show_children(self, children: list[portal.Child]) -> None:
        lines = [f"  {c.given_name}  ({c.access})" for c in children]
        self.query_one("#children", Static).update("\n".join(lines) or "  None yet.")

    @on(Button.Pressed, "#add-child")
    def action_add_child(self) -> None:
        self.app.switch_screen(ChildScreen(self.visit))
