"""The idle lock (S6): an opaque screen that hides every patient detail until a staff member signs in.

The same staff member's password returns them exactly where they were; someone else's sign-in
("Not you?") starts fresh at the search.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widgets import Input, Label, Static

from kiosk.people.staff import StaffUser

from .keys import DeskFooter
from .widgets import CredentialsScreen, DeskHeader, FieldError, TrainingBanner


class LockScreen(CredentialsScreen):
    """A full screen (not a modal): nothing of the screens below shows through."""

    AUTO_FOCUS = "#password"
    BINDINGS = [
        ("ctrl+n", "someone_else", "Not you?"),
    ]
    # No "Sign out" here: the lock screen faces the counter, and signing out would drop the desk's
    # open work for anyone who presses a key. Signing in as someone else still needs their password.

    def compose(self) -> ComposeResult:
        user = self.app.desk.staff
        who = f"{user.display_name} ({user.username})" if user else ""
        yield TrainingBanner()
        yield DeskHeader()
        with Container(classes="form-page"):
            with Vertical(id="lock-form", classes="form-box"):
                yield Static("Screen locked", classes="form-title")
                yield Label(f"Signed in: {who}", id="lock-user", markup=False)
                yield Label("Password")
                yield Input(id="password", password=True, placeholder="your password to carry on")
                yield FieldError(id="password-error")
                yield Label("Not you? (ctrl+n) Sign in as someone else (username):")
                yield Input(id="username", placeholder="leave empty to carry on as yourself")
        yield DeskFooter()

    def action_someone_else(self) -> None:
        self.query_one("#username", Input).focus()

    def field_after(self, field: Input) -> Input | None:
        """Enter in the username signs in when the password is already typed (it comes first)."""
        password = self.query_one("#password", Input)
        return password if field.id == "username" and not password.value else None

    @on(Input.Submitted, "#username")
    def _username_entered(self) -> None:
        self.submit()

    def credentials(self) -> tuple[str, str] | None:
        current = self.app.desk.staff
        username = self.query_one("#username", Input).value.strip() or (
            current.username if current else ""
        )
        password = self.query_one("#password", Input).value
        self.query_one("#password-error", FieldError).show(
            "" if password else "Enter your password."
        )
        return (username, password) if password and username else None

    def accepted(self, user: StaffUser) -> None:
        self.app.unlock(user)
