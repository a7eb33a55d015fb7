"""Staff sign-in: username and password, checked in a worker; a wrong password keeps the username."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Input, Label, Static

from kiosk.people.staff import StaffUser

from .widgets import CredentialsScreen, DeskHeader, FieldError, TrainingBanner


class SignInScreen(CredentialsScreen):
    """The first screen: a staff member signs in before any patient data is shown."""

    AUTO_FOCUS = "#username"

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with Container(classes="form-page"):
            with Vertical(id="signin-form", classes="form-box"):
                yield Static("Staff sign-in", classes="form-title")
                yield Label("Username")
                yield Input(id="username", placeholder="your kiosk username")
                yield FieldError(id="username-error")
                yield Label("Password")
                yield Input(id="password", password=True, placeholder="your password")
                yield FieldError(id="password-error")
                yield Static("Enter: next field / sign in", id="keys-hint", classes="hint")
        # No Footer: the hint line says the few keys there are (Quit and Help from the App's own
        # bindings), and a Footer cost about a tenth of start-up (benchmarks/run.py --only startup).

    def on_mount(self) -> None:
        from .keys import screen_keys

        hint = self.query_one("#keys-hint", Static)
        everywhere = [key for key in screen_keys(self) if key.everywhere and key.enabled]
        hint.update(
            "   ".join([str(hint.content), *(f"{k.shown[0]} {k.description}" for k in everywhere)])
        )

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
