"""Small pieces every screen shares: the TRAINING banner, the header that names who is signed in,
the field error label, the table that never shows its cells cut, the typed way to the app's Desk,
the mixin that reports a screen's failed workers, the form screen where Enter moves from field to
field, and the credentials form the sign-in and lock screens share."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual import events, getters, on
from textual.actions import SkipAction
from textual.binding import Binding
from textual.screen import Screen, ScreenResultType
from textual.widgets import DataTable, Input, Label, Static
from textual.widgets.data_table import RowKey

from kiosk.people.staff import SignInPaused, StaffUser
from kiosk.terms import MessageState

from .app import KioskApp
from .errors import ReportsErrors
from .keys import help_key
from .workers import desk_worker

TRAINING_TEXT = "TRAINING — practice data is not real; nothing is sent or printed"
TRAINING_SHORT = "TRAINING — data not real; nothing sent or printed"  # under 64 columns
WRONG_CREDENTIALS = "Wrong username or password. Check both and try again."


class TrainingBanner(Static):
    """One line docked at the top, shown only when the app runs on training data."""

    DEFAULT_CLASSES = "training-banner"

    def __init__(self, **kwargs) -> None:
        super().__init__(TRAINING_TEXT, markup=False, **kwargs)

    def on_mount(self) -> None:
        self.display = bool(getattr(self.app, "training", False))
        self.fit(self.app.size.width)  # the screen's width, before it is first drawn

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width)

    def fit(self, width: int) -> None:
        """Said whole at any width: the short words where the long ones would be cut, on a second
        line where even those do not fit (app.tcss: height auto)."""
        words = fitting(width, TRAINING_TEXT, TRAINING_SHORT)
        if str(self.content) != words:
            self.update(words)


def fitting(room: int, *words: str) -> str:
    """The first of ``words`` (the longest way of saying it first) that fits in ``room`` columns,
    else the last: a narrow desk reads a shorter sentence whole rather than a long one cut."""
    return next((said for said in words if cell_len(said) <= room), words[-1])


class DeskHeader(Static):
    """The top line of every staff screen: the practice (and the desk's printer) on the left; this
    desk (D1), the signed-in staff member and the help key on the right, which stay whole when the
    line is short: the practice's name gives way first."""

    DEFAULT_CLASSES = "desk-header"

    def render(self) -> Text:
        app = self.app
        desk = getattr(app, "desk", None)
        config, staff = getattr(desk, "config", None), getattr(desk, "staff", None)
        terminal = getattr(config, "terminal", "")
        printer = getattr(getattr(config, "printer", None), "name", "")
        name = f"{staff.display_name} ({staff.username})" if staff else "Not signed in"
        helping = help_key(self.screen)
        who = Text.assemble(
            f"{terminal} · " if terminal else "",
            (name, "bold"),
            f" · {helping} " if helping else " ",
        )
        practice = getattr(getattr(desk, "practice", None), "name", "")
        where = Text(f" {app.title} — {practice}")
        room = max(0, self.size.width - who.cell_len - 1)
        # the printer whole or not at all: "printer f… front-1" read as a printer named front-1
        if printer and where.cell_len + len(" · printer ") + Text(printer).cell_len <= room:
            where.append(f" · printer {printer}")
        where.truncate(room, overflow="ellipsis", pad=True)
        return Text.assemble(where, " ", who)


class FieldError(Label):
    """The message under an input. Plain text (never markup); hidden while empty."""

    DEFAULT_CLASSES = "field-error"

    def __init__(self, message: str = "", **kwargs) -> None:
        super().__init__(message, markup=False, **kwargs)
        self.display = bool(message)

    def update(self, content="", *, layout: bool = True) -> None:
        """Set the message; an empty message hides the label."""
        super().update(content or "", layout=layout)
        self.display = bool(content)

    def show(self, message: str | None) -> None:
        """Show ``message`` (or hide the label when it is empty/None)."""
        self.update(message or "")

    def clear(self) -> None:
        self.show(None)

    @property
    def text(self) -> str:
        return str(self.content)


class DeskTable(DataTable[object]):
    """Every table whose columns fit their cells: rows (re)filled are never shown cut to the
    columns' headers, a PIN as "ZDG" (R5).

    Textual (8.2.8) measures an auto-width column's new cells on the table's idle, after the rows
    are added, and keeps each line it draws until the table's data next changes. A frame drawn
    between the two (on a loaded desk, another widget's update reaching the screen first) kept
    the rows at the headers' widths until a key moved the cursor. So once the cells are measured,
    the lines drawn before are dropped and the table drawn again."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._update_count += 1  # part of every drawn line's cache key
        self.refresh()


class DeskScreen(Screen[ScreenResultType]):
    """Every kiosk screen: ``self.app`` is the KioskApp, so ``self.app.desk`` is typed. The Desk
    (kiosk.desk) is a screen's one door to the domain."""

    app = getters.app(KioskApp)

    @on(events.ScreenResume)
    def _show_who(self) -> None:
        # Uncovered after a sign-out or a sign-in as someone else: the header says who is here now.
        for header in self.query(DeskHeader):
            header.refresh()


class ReportsWorkerErrors(ReportsErrors):
    """Mixed into every Screen (its workers are declared ``exit_on_error=False``): a worker that
    fails (database unreachable, disk full, printer spool gone) is said in plain words by the app's
    one handler (KioskApp.on_worker_state_changed) and the app carries on. Worker.StateChanged does
    not bubble, so the screen hands its own workers' changes to the app; a handler's error is
    contained too (ReportsErrors)."""

    def on_worker_state_changed(self, event) -> None:
        handler = getattr(self.app, "on_worker_state_changed", None)  # type: ignore[attr-defined]  # a mixin
        if handler is not None:
            handler(event)


class FormScreen(ReportsWorkerErrors, DeskScreen[None]):
    """A screen of text fields where Enter moves on: to the next field, or from the last one it
    submits (the field posts ``Input.Submitted``, which the screen handles).

    Where Enter goes is decided when the App reads the key, before the fields have caught up with
    what was typed: a burst typed ahead ("maria", Enter, password, Enter, as a fast typist or a
    pasted line sends it) puts each part in its own field, never the password in the username
    box, and the submit waits until the keys sent to that field before it are in."""

    BINDINGS = [Binding("enter", "enter_field", "Next", show=False, priority=True)]

    def field_after(self, field: Input) -> Input | None:
        """The field Enter in ``field`` moves to, or None to submit: the next field shown."""
        fields = [each for each in self.query(Input).results(Input) if each.display]
        position = fields.index(field) if field in fields else len(fields)
        return fields[position + 1] if position + 1 < len(fields) else None

    def action_enter_field(self) -> None:
        field = self.focused
        if not isinstance(field, Input):
            raise SkipAction  # a button, a list or a table: Enter does what it does there
        following = self.field_after(field)
        if following is not None:
            self.set_focus(following)  # now: the keys read after this Enter go there
        else:
            field.call_later(field.action_submit)  # queued behind the keys already sent to it


class CredentialsScreen(FormScreen):
    """A username and password form (sign-in and the lock screen): Enter in the username moves to
    the password, Enter in the password checks both in a worker."""

    def credentials(self) -> tuple[str, str] | None:
        """The username and password to check, or None after showing what is missing."""
        raise NotImplementedError

    def accepted(self, user: StaffUser) -> None:
        raise NotImplementedError

    _checking = False  # the credentials are being checked: keys typed next wait for the outcome
    # The rows the form takes with its bordered fields, the header and the TRAINING banner: on a
    # shorter terminal its fields go borderless and it drops its blank lines, so the password and
    # the hint stay in sight (the page scrolls to whatever is still below, a message under a field).
    FULL_ROWS = 17

    def on_resize(self, event: events.Resize) -> None:
        short = event.size.height < self.FULL_ROWS
        self.set_class(short, "-short")
        for field in self.query(Input):
            field.compact = short

    @property
    def holds_keys(self) -> bool:
        return self._checking

    def field_after(self, field: Input) -> Input | None:
        return self.query_one("#password", Input) if field.id == "username" else None

    @on(Input.Submitted, "#password")
    def _password_entered(self) -> None:
        self.submit()

    def submit(self) -> None:
        credentials = self.credentials()
        if credentials:
            self._checking = True
            self._authenticate(*credentials)

    @desk_worker("sign-in", "Sign-in")
    def _authenticate(self, username: str, password: str) -> None:
        try:
            user, problem = self.app.desk.check_staff(username, password), None
        except SignInPaused as paused:
            user, problem = None, str(paused)
        except Exception as error:  # noqa: BLE001 - the database cannot be reached: say so, the app stays up
            user, problem = (
                None,
                f"Sign-in is not possible right now. {self.app.explain(error, 'Sign-in')}",
            )
        self.app.call_from_thread(self._finish, user, problem)

    def _finish(self, user: StaffUser | None, problem: str | None = None) -> None:
        self._checking = False
        if user is not None:
            self.accepted(user)
            return
        password = self.query_one("#password", Input)
        password.value = ""
        self.query_one("#password-error", FieldError).show(problem or WRONG_CREDENTIALS)
        password.focus()


def delivery_words(message, recipient: str, problem: str = "") -> str:
    """A welcome message's state (kiosk.messages.outbox.MessageRow) in plain words for the desk (the
    registration window's Send PIN and the outbox's Retry say the same)."""
    from kiosk.messages.outbox import (
        TRAINING_NOTE,  # not at start-up: the sign-in screen shares this module
    )

    if message is None:
        return f"The welcome message to {recipient} is not in the outbox."
    if message.state == MessageState.SENT:
        if message.reason == TRAINING_NOTE:
            return f"Training: the welcome message to {recipient} was handled as sent, but nothing left the kiosk."
        note = f" ({message.reason})" if message.reason else ""
        return f"The welcome message to {recipient} was sent{note}."
    if message.state == MessageState.FAILED:
        return (
            f"The welcome message to {recipient} failed: {message.reason or 'no reason given'}. "
            "Open the outbox to retry it, or print the slip."
        )
    why = problem or message.reason
    return f"The welcome message to {recipient} is queued and goes out by itself" + (
        f"; not yet because {why}." if why else " shortly."
    )
