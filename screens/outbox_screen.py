"""The outbox (O3) as the front desk sees it: every welcome message, its state and why.

Recipients are masked (kiosk.messages.outbox.mask_recipient). r retries a failed message and sends it now.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label, Static

from kiosk.terms import Channel, MessageState

from .keys import DeskFooter
from .search import name_width, refit
from .widgets import (
    DeskHeader,
    DeskScreen,
    DeskTable,
    ReportsWorkerErrors,
    TrainingBanner,
    delivery_words,
)
from .workers import desk_worker

STATE_WORDS = {
    MessageState.QUEUED: "Queued",
    MessageState.SENDING: "Sending",
    MessageState.SENT: "Sent",
    MessageState.FAILED: "FAILED",
}


# The messages fit the window (D1): from 80 columns every column, Reason taking what is left (cut,
# and read whole on the line under the table); under 80 the table keeps when, to whom and the
# state, and that line reads the channel, the tries and the reason. It never scrolls sideways.
CREATED_WIDTH, CHANNEL_WIDTH, TO_WIDTH, TRIES_WIDTH = 11, 14, 18, 5
STATE_WIDTH = max(len("State"), *(len(words) for words in STATE_WORDS.values()))
TABLE_MARGIN = 2  # outbox_screen.tcss: the table's margin either side


def outbox_columns(width: int) -> tuple[tuple[str, int], ...]:
    """The messages' columns and widths for a window ``width`` columns wide."""
    room = width - TABLE_MARGIN
    if width < 80:
        to = name_width(room, [CREATED_WIDTH, STATE_WIDTH])
        return (("Created", CREATED_WIDTH), ("To", to), ("State", STATE_WIDTH))
    fixed = (
        ("Created", CREATED_WIDTH),
        ("Channel", CHANNEL_WIDTH),
        ("To", TO_WIDTH),
        ("State", STATE_WIDTH),
        ("Tries", TRIES_WIDTH),
    )
    return (*fixed, ("Reason", name_width(room, [size for _, size in fixed])))


def channel_words(message) -> str:
    """Email, or Text with its carrier."""
    if message.channel != Channel.TEXT:
        return "Email"
    return "Text" + (f" ({message.carrier})" if message.carrier else "")


def local_time(moment: dt.datetime | None) -> str:
    """A stored naive-UTC time as the desk's local time."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=dt.UTC).astimezone().strftime("%m/%d %H:%M")


class OutboxScreen(ReportsWorkerErrors, DeskScreen[None]):
    """Welcome messages: queued, sent, failed with the reason."""

    CSS_PATH = "outbox_screen.tcss"
    BINDINGS = [
        Binding("r", "retry", "Retry failed"),
        Binding("f5", "refresh", "Refresh"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self):
        super().__init__()
        self.rows = []

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        yield Label("Outbox: welcome messages", classes="section")
        yield Static("", id="outbox-counts", markup=False)
        yield DeskTable(id="messages", cursor_type="row")
        # the highlighted message's reason whole: a narrow desk's table cuts the Reason column (D1)
        yield Label("", id="outbox-detail", markup=False)
        yield Static("", id="outbox-status", markup=False)
        yield DeskFooter()

    _columns: tuple[tuple[str, int], ...] = ()  # the messages' columns at this width (on_resize)

    def on_mount(self) -> None:
        self._fit(self.app.size.width)
        self.query_one("#messages", DataTable).focus()
        self.load()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        columns = outbox_columns(width)
        if columns != self._columns:
            self._columns = columns
            refit(self.query_one("#messages", DataTable), columns, self._add_rows)
            self._show_reason()

    def action_refresh(self) -> None:
        self.load()

    @desk_worker("outbox", "Reading the outbox")
    def load(self, status: str = "") -> None:
        rows, counts = self.app.desk.messages(), self.app.desk.message_counts()
        self.app.call_from_thread(self.show_rows, rows, counts, status)

    def show_rows(self, rows, counts: dict[MessageState, int], status: str = "") -> None:
        self.rows = rows
        table = self.query_one("#messages", DataTable)
        row = table.cursor_row
        table.clear()
        self._add_rows()
        if rows:
            table.move_cursor(row=min(max(row, 0), len(rows) - 1))
        self._show_reason()
        self.query_one("#outbox-counts", Static).update(
            ", ".join(f"{count} {state}" for state, count in counts.items())
        )
        self.query_one("#outbox-status", Static).update(
            status
            or (
                "No messages yet."
                if not rows
                else "Choose a failed message and press r to retry it."
            )
        )

    def _add_rows(self) -> None:
        table = self.query_one("#messages", DataTable)
        for message in self.rows:
            cells = {
                "Created": local_time(message.created_at),
                "Channel": channel_words(message),
                "To": message.recipient,
                "State": STATE_WORDS.get(message.state, message.state),
                "Tries": str(message.attempts),
                "Reason": message.reason,
            }
            table.add_row(
                *(
                    Text(cells[label], no_wrap=True, overflow="ellipsis")
                    for label, _ in self._columns
                ),
                key=str(message.id),
            )

    @on(DataTable.RowHighlighted, "#messages")
    def _show_reason(self) -> None:
        """The line under the table, whole: to whom, its state and why for a message with a
        reason; under 80 columns, for every message, with its channel and tries too (D1)."""
        table = self.query_one("#messages", DataTable)
        detail = self.query_one("#outbox-detail", Label)
        at = table.cursor_row
        message = self.rows[at] if self.rows and 0 <= at < len(self.rows) else None
        narrow = "Reason" not in dict(self._columns)
        detail.display = bool(message and (message.reason or narrow))
        if message is None or not detail.display:
            return
        state = STATE_WORDS.get(message.state, message.state)
        why = f": {message.reason}" if message.reason else ""
        if narrow:
            tries = f"{message.attempts} {'try' if message.attempts == 1 else 'tries'}"
            detail.update(
                f"{message.recipient} by {channel_words(message)} — {state}, {tries}{why}"
            )
        else:
            detail.update(f"{message.recipient} — {state}{why}")

    def action_retry(self) -> None:
        table = self.query_one("#messages", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return
        message = self.rows[table.cursor_row]
        if message.state != MessageState.FAILED:
            self.query_one("#outbox-status", Static).update(
                f"That message is {message.state}; only a failed message can be retried."
            )
            return
        self.query_one("#outbox-status", Static).update(f"Sending again to {message.recipient}…")
        self.retry_worker(message.id, message.recipient)

    @desk_worker("outbox-send", "Retrying the message")
    def retry_worker(self, message_id: int, recipient: str) -> None:
        from kiosk.messages.outbox import OutboxError

        try:
            retried = self.app.desk.retry_message(message_id)
        except OutboxError as error:
            self.app.call_from_thread(self.load, f"Cannot retry: {error}.")
            return
        report = self.app.desk.deliver_outbox()
        now = next(
            (m for m in self.app.desk.messages(batch=retried.batch) if m.id == message_id), retried
        )
        self.app.call_from_thread(self.load, delivery_words(now, recipient, report.problem))

    def action_back(self) -> None:
        self.app.pop_screen()
