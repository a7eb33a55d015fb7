"""Small widgets every screen shares: the TRAINING banner and the field error label."""

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
