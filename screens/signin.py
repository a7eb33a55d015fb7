"""Staff sign-in: username and password, checked in a worker; a wrong password keeps the username."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Header, Input, Label, Static

from kiosk.people.staff import StaffUser

from .widgets import CredentialsScreen, FieldError, TrainingBanner


class SignInScreen(CredentialsScreen):
    """The first screen: a staff member signs in before any patient data is shown."""

    AUTO_FOCUS = "#username"

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield Header()
        with Container(classes="form-page"):
            with Vertical(id="signin-form", classes="form-box"):
                yield Static("Staff sign-in", classes="form-title")
                yield Label("Username")
                yield Input(id="username", placeholder="your kiosk username")
                yield FieldError(id="username-error")
                yield Label("Password")
                yield Input(id="password", password=True, placeholder="your password")
                yield FieldError(id="password-error")
                yield Static("Enter: next field / sign in", classes="hint")
        # No Footer: nothing here has a key to offer (the hint says Enter), and an empty Footer
        # cost about a tenth of start-up (benchmarks/run.py --only startup).

    def credentials(self) -> tuple[str, str] | None:
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        self.query_one("#username-error", FieldError).show(
            "" if username else "Enter your username."
        )
        self.query_one("#password-error", FieldError).show(
            "" if password else "Enter your password."
        )
        if not username:
            self.query_one("#username", Input).focus()
            return None
        return (username, password) if password else None

    def accepted(self, user: StaffUser) -> None:
        self.app.signed_in(user)

    def on_screen_suspend(self) -> None:
        # This screen stays at the bottom of the stack under the desk's screens: nothing typed here
        # (a password least of all) is kept while it is covered, and the next person finds it empty.
        for field in self.query(Input):
            field.value = ""
        for error in self.query(FieldError):
            error.clear()
        self.query_one("#username", Input).focus()
