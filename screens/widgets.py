"""Small widgets every screen shares: the TRAINING banner, the field error label, and the mixin that
reports a screen's failed workers."""

from __future__ import annotations

from textual.widgets import Label, Static

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


class ReportsWorkerErrors:
    """Mixed into a Screen whose workers are declared ``exit_on_error=False``: a worker that fails
    (database unreachable, disk full, printer spool gone) is said in plain words by the app's one
    handler (KioskApp.on_worker_state_changed) and the app carries on. Worker.StateChanged does not
    bubble, so the screen hands its own workers' changes to the app."""

    def on_worker_state_changed(self, event) -> None:
        handler = getattr(self.app, "on_worker_state_changed", None)
        if handler is not None:
            handler(event)
