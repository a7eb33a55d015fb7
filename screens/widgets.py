"""Small pieces every screen shares: the TRAINING banner, the field error label, the mixin that
reports a screen's failed workers, and the form screen where Enter moves from field to field."""

from __future__ import annotations

from textual.actions import SkipAction
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from screens.errors import ReportsErrors

TRAINING_TEXT = "TRAINING — practice data is not real; nothing is sent or printed"


class TrainingBanner(Static):
    """One line docked at the top, shown only when the app runs on training data."""

    DEFAULT_CLASSES = "training-banner"

    def __init__(self, **kwargs) -> None:
        super().__init__(TRAINING_TEXT, markup=False, **kwargs)

    def on_mount(self) -> None:
        self.display = bool(getattr(self.app, "training", False))


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


class ReportsWorkerErrors(ReportsErrors):
    """Mixed into every Screen (its workers are declared ``exit_on_error=False``): a worker that
    fails (database unreachable, disk full, printer spool gone) is said in plain words by the app's
    one handler (KioskApp.on_worker_state_changed) and the app carries on. Worker.StateChanged does
    not bubble, so the screen hands its own workers' changes to the app; a handler's error is
    contained too (ReportsErrors)."""

    def on_worker_state_changed(self, event) -> None:
        handler = getattr(self.app, "on_worker_state_changed", None)
        if handler is not None:
            handler(event)


class FormScreen(ReportsWorkerErrors, Screen):
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
            raise SkipAction()  # a button, a list or a table: Enter does what it does there
        following = self.field_after(field)
        if following is not None:
            self.set_focus(following)  # now: the keys read after this Enter go there
        else:
            field.call_later(field.action_submit)  # queued behind the keys already sent to it

