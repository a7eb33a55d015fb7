"""Parent mode (R11-R13, S4): the kiosk handed to a parent to finish registration at the counter.

"Complete / Log In" (R11): the desk turns the screen round and the parent creates a portal
account (or signs in), then links each child with the child's date of birth and the PIN (or the
verification question). One thing per screen, large plain text, nothing of the staff's: no staff
name, no chart numbers, no other patients. Every screen here has ``parent_mode = True``; Escape
only steps back inside parent mode, and the only way out is "I'm done" (or the idle lock), which
hands the kiosk back to the staff lock screen.

Everything the parent reads is in the family's language (I1): the words come from
``kiosk.i18n.catalog(visit.language)``, which starts as the language the desk issued the PINs in
(else the desk's own) and which the parent can change on the first screen (L, or its button).

Screens move with ``switch_screen``, so parent mode is always exactly one screen on the stack.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Static

from kiosk.i18n import LANGUAGES, N_, Catalog, catalog, language_of
from kiosk.registration import pins, portal
from kiosk.registration.engine import IssueResult
from kiosk.registration.portal import PortalError, PortalLogin
from kiosk.terms import Delivery, RegistrationMethod

from .widgets import FieldError, FormScreen, TrainingBanner

T = TypeVar("T")
DOB_HELP = N_("Enter the date of birth like 05/17/2022.")
PIN_HELP = N_("A PIN is 10 letters, like JFKAY-TTJYV.")
DOB_PLACEHOLDER = N_("MM/DD/YYYY")


def say_bindings(*bindings: tuple[str, str, str]) -> list[BindingType]:
    """(key, action, msgid) bound once per language with the description in that language; only
    the one in the visit's language is shown and runs (Textual's dynamic actions: check_action)."""
    return [
        Binding(key, f"in_language({code!r}, {action!r})", catalog(code).gettext(msgid))
        for key, action, msgid in bindings
        for code in LANGUAGES
    ]


@dataclass
class Visit:
    """One parent's turn at the kiosk: the PINs the desk just issued and the account in use."""

    result: IssueResult | None
    account: PortalLogin | None = None
    linked: set[int] = field(default_factory=set)  # patients linked during this visit
    # The parent's language (I1): the one the desk issued these PINs in; given here, the desk's
    # own for a visit without PINs; English when kiosk has no catalog for it.
    language: str = ""

    def __post_init__(self) -> None:
        issued = self.result.language if self.result is not None else ""
        self.language = language_of(issued or self.language)

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
    heading = ""  # a msgid: said in the visit's language
    BINDINGS = say_bindings(("escape", "back", N_("Back")), ("f10", "done", N_("I'm done")))
    CSS_PATH = "parent.tcss"

    def __init__(self, visit: Visit):
        super().__init__()
        self.visit = visit
        self.t: Catalog = catalog(visit.language)

    def _(self, msgid: str) -> str:
        """``msgid`` in the parent's language."""
        return self.t.gettext(msgid)

    def title_text(self) -> str:
        return self._(self.heading)

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        with VerticalScroll(classes="parent-body"):
            yield Static(self.title_text(), classes="parent-title", markup=False)
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
        if action == "in_language":
            code, inner = parameters
            return code == self.visit.language and self.check_action(str(inner), ())
        return self.can_go_back if action == "back" else True

    async def action_in_language(self, code: str, action: str) -> None:
        await self.run_action(action)

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
            yield self.done_button()

    def done_button(self) -> Button:
        return Button(self._("I'm done (F10)"), id="done")

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
        self.query_one("#problem", FieldError).show(self.t.say(message))

    def failed(self, error: PortalError) -> None:
        """Show what the parent is told next to the field it belongs to."""
        widget_id = error.field or "password"
        self.show_error(f"{widget_id}-error", self.t.say(error.message))
        self.query_one(f"#{widget_id}", Input).focus()

    @on(Input.Submitted)
    def _last_field_entered(self) -> None:
        """Enter moves from field to field (FormScreen); on the last one it continues."""
        self.action_submit()

    def action_submit(self) -> None:
        pass


class ParentModeScreen(ParentScreen):
    """The first screen the parent sees: create an account or sign in, in their language (I1)."""

    heading = N_("Welcome! Let's set up your patient portal.")
    can_go_back = False
    BINDINGS = say_bindings(
        ("n", "create", N_("New account")),
        ("s", "sign_in", N_("Sign in")),
        ("l", "language", N_("Language")),
    )

    def __init__(
        self, result: IssueResult | None = None, *, language: str = "", visit: Visit | None = None
    ):
        super().__init__(visit or Visit(result, language=language))

    def body(self) -> ComposeResult:
        yield Static(self._("Do you already have a portal account?"), classes="parent-text")
        with Horizontal(classes="parent-buttons"):
            yield Button(self._("Create a new account (N)"), id="create", variant="primary")
            yield Button(self._("Sign in to my account (S)"), id="sign-in")
        with Horizontal(classes="parent-buttons"):
            yield self.done_button()
            if len(LANGUAGES) > 1:
                # The switch names the next language in that language, so a parent who cannot
                # read this one still finds their own.
                yield Button(f"{catalog(self.next_language()).name} (L)", id="language")

    def next_language(self) -> str:
        return LANGUAGES[(LANGUAGES.index(self.visit.language) + 1) % len(LANGUAGES)]

    @on(Button.Pressed, "#language")
    def action_language(self) -> None:
        self.visit.language = self.next_language()
        self.app.switch_screen(ParentModeScreen(visit=self.visit))

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
    heading = N_("Create your portal account")
    AUTO_FOCUS = "#name"
    BINDINGS = say_bindings(("f2", "submit", N_("Create account")))

    def body(self) -> ComposeResult:
        yield from self.field("name", self._("Your name"))
        yield from self.field("email", self._("Your email"), placeholder="name@example.com")
        yield from self.field(
            "password",
            self._("Choose a password ({minimum} or more characters)").format(
                minimum=portal.MIN_PASSWORD
            ),
            password=True,
        )
        yield from self.buttons(self._("Create account (F2)"))

    def back_screen(self) -> ParentScreen:
        return ParentModeScreen(visit=self.visit)

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
        self.show_error("password-error", self.t.say(problem) if problem else "")

    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        self.clear_errors()
        password = self.value("password")
        problem = N_("Choose a password.") if not password else self._password_problem()
        if problem:
            self.show_error("password-error", self.t.say(problem))
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
    heading = N_("Sign in to your portal account")
    AUTO_FOCUS = "#email"
    BINDINGS = say_bindings(("f2", "submit", N_("Sign in")))

    def body(self) -> ComposeResult:
        yield from self.field("email", self._("Your email"), placeholder="name@example.com")
        yield from self.field("password", self._("Your password"), password=True)
        yield from self.buttons(self._("Sign in (F2)"))

    def back_screen(self) -> ParentScreen:
        return ParentModeScreen(visit=self.visit)

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

    heading = N_("Add your child")
    BINDINGS = say_bindings(
        ("f2", "submit", N_("Add child")), ("f3", "other_way", N_("PIN or question"))
    )

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
                self._(
                    "Enter your child's last name and date of birth, then answer the question the "
                    "front desk set up."
                ),
                classes="parent-text",
            )
            yield from self.field("family", self._("Child's last name"))
            yield from self.field(
                "dob", self._("Child's date of birth"), placeholder=self._(DOB_PLACEHOLDER)
            )
            yield Static("", id="question", classes="parent-label", markup=False)
            yield from self.field("answer", self._("Your answer"))
        else:
            issued = self.visit.next_issued()
            # Say whose PIN is filled in, so the parent types that child's date of birth.
            text = (
                self._("The PIN for {name} is filled in. Enter {name}'s date of birth.").format(
                    name=issued.given_name
                )
                if issued is not None
                else self._("Enter the PIN from the front desk and your child's date of birth.")
            )
            yield Static(text, id="child-help", classes="parent-text", markup=False)
            yield from self.field(
                "pin", self._("PIN"), value=self.visit.next_pin(), placeholder="JFKAY-TTJYV"
            )
            yield from self.field(
                "dob", self._("Child's date of birth"), placeholder=self._(DOB_PLACEHOLDER)
            )
        yield FieldError(id="redeem-error")
        yield from self.buttons(self._("Add child (F2)"))

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
            self.show_error("dob-error", self._(DOB_HELP))
            self.query_one("#dob", Input).focus()
            return
        account = self.visit.login
        if self.by_question:
            family = self.value("family").strip()
            if not family:
                self.show_error("family-error", self._("Enter your child's last name."))
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
                self.show_error("answer-error", self._("Type your answer."))
                return
            self._redeem(account.id, dob, family_name=family, answer=answer)
            return
        if pins.normalize_pin(self.value("pin")) is None:
            self.show_error("pin-error", self._(PIN_HELP))
            self.query_one("#pin", Input).focus()
            return
        self._redeem(account.id, dob, pin=self.value("pin"))

    def _question_found(self, question: str | None) -> None:
        if question is None:
            self.show_error("redeem-error", self._(portal.GENERIC))
            return
        self.question = question
        self.query_one("#question", Static).update(
            self._("Question: {question}").format(question=question)
        )
        self._show_answer(True)
        self.query_one("#answer", Input).focus()

    def _redeem(self, account_id: int, dob: dt.date, **proof: str) -> None:
        desk = self.app.desk
        self.ask_portal(
            "Adding your child", lambda: desk.redeem(account_id, dob, **proof), self._redeemed
        )

    def failed(self, error: PortalError) -> None:
        """One message for any mismatch (S4): under the form, not under a field."""
        self.show_error("redeem-error", self.t.say(error.message))

    def _redeemed(self, redeemed: portal.Redeemed) -> None:
        self.visit.linked.add(redeemed.patient_id)
        said = (  # T1: a teen redeeming their own Minor PIN made their own account
            N_("{name}, this is now your own portal account ({access}).")
            if redeemed.own
            else N_("{name} is now on your account ({access}).")
        )
        message = self._(said).format(name=redeemed.given_name, access=self._(redeemed.access))
        self.app.switch_screen(MyAccountScreen(self.visit, message))


class MyAccountScreen(ParentScreen):
    """My Account: the children on this account, Add child/dependent, I'm done."""

    can_go_back = False
    BINDINGS = say_bindings(("a", "add_child", N_("Add child/dependent")))

    def __init__(self, visit: Visit, message: str = ""):
        super().__init__(visit)
        self.message = message

    def title_text(self) -> str:
        # "My Account", the name the welcome message gives this screen (I1): the same msgid.
        return ": ".join((self._("My Account"), self.visit.login.display_name))

    def body(self) -> ComposeResult:
        if self.message:
            yield Static(self.message, id="message", classes="parent-ok", markup=False)
        yield Static(self._("Children on your account:"), classes="parent-label")
        yield Static(self._("Loading…"), id="children", classes="parent-text", markup=False)
        # The buttons the slip and the welcome name: their labels are the same msgids (I1).
        more = self.visit.more_from_desk()
        button = N_("Add another child") if more else N_("Add child/dependent")
        yield from self.buttons(f"{self._(button)} (A)", "add-child")

    def on_mount(self) -> None:
        # Enter does the likely next step: the next child from the desk, or I'm done once all are linked.
        self.query_one("#add-child" if self.visit.more_from_desk() else "#done", Button).focus()
        account_id, desk = self.visit.login.id, self.app.desk
        self.ask_portal(
            "Loading your children", lambda: desk.children_of(account_id), self._show_children
        )

    def _show_children(self, children: list[portal.Child]) -> None:
        own = self._("your own account")  # T1: the teen's own, not a child of this account
        lines = [
            f"  {c.given_name}  ({own + ', ' if c.own else ''}{self._(c.access)})" for c in children
        ]
        none_yet = "  " + self._("None yet.")
        self.query_one("#children", Static).update("\n".join(lines) or none_yet)

    @on(Button.Pressed, "#add-child")
    def action_add_child(self) -> None:
        self.app.switch_screen(ChildScreen(self.visit))
