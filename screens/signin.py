"""Staff sign-in: username and password, checked in a worker; a wrong password keeps the username."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Header, Input, Label, Static

from kiosk.staff import SignInPaused, StaffUser, authenticate
from screens.widgets import FieldError, FormScreen, TrainingBanner

WRONG_CREDENTIALS = "Wrong username or password. Check both and try again."


class CredentialsScreen(FormScreen):
    """A username and password form (sign-in and the lock screen): Enter in the username moves to
    the password, Enter in the password checks both in a worker."""

    def credentials(self) -> tuple[str, str] | None:
        """The username and password to check, or None after showing what is missing."""
        raise NotImplementedError

    def accepted(self, user: StaffUser) -> None:
        raise NotImplementedError

    def field_after(self, field: Input) -> Input | None:
        return self.query_one("#password", Input) if field.id == "username" else None

    @on(Input.Submitted, "#password")
    def _password_entered(self) -> None:
        self.submit()

    def submit(self) -> None:
        credentials = self.credentials()
        if credentials:
            self._authenticate(*credentials)

    @work(thread=True, exclusive=True, group="sign-in", name="Sign-in", exit_on_error=False)
    def _authenticate(self, username: str, password: str) -> None:
        try:
            user, problem = authenticate(username, password), None
        except SignInPaused as paused:
            user, problem = None, str(paused)
        except Exception as error:  # the database cannot be reached: say so, the app stays up
            user, problem = None, f"Sign-in is not possible right now. {self.app.explain(error, 'Sign-in')}"
        self.app.call_from_thread(self._finish, user, problem)

    def _finish(self, user: StaffUser | None, problem: str | None = None) -> None:
        if user is not None:
            self.accepted(user)
            return
        password = self.query_one("#password", Input)
        password.value = ""
        self.query_one("#password-error", FieldError).show(problem or WRONG_CREDENTIALS)
        password.focus()


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
        self.query_one("#username-error", FieldError).show("" if username else "Enter your username.")
        self.query_one("#password-error", FieldError).show("" if password else "Enter your password.")
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
