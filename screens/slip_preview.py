"""The slip preview (R14): the slip as the parent will get it, with a QR code to scan from the screen.

p prints it (or saves it as PDF with no printer or in training, O2) and says where it went. The
words under the slip stay in sight at 80x24 (above the Footer), the saved file's whole path
among them. Printing runs behind: the screen says at once that the slip is on its way.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from kiosk.slip.content import SlipData, qr_lines, qr_target, slip_text

from .keys import DeskFooter
from .widgets import DeskHeader, DeskScreen, FieldError, ReportsWorkerErrors, TrainingBanner
from .workers import desk_worker

# A QR code in whole blocks needs two columns and a line per module (66x33 cells): more than a
# console of 80x24 shows, so the console says where the parent finds it.
CONSOLE_QR = "The QR code is on the printed slip."


def slip_words(slip: SlipData) -> Group:
    """The slip's words as the preview shows them (kiosk.slip.content.slip_text), all plain text:
    the children in a two-column grid, so a long name wraps between its words in its own column
    and each PIN stays beside its child's name however narrow the screen."""
    text = slip_text(slip)
    children = Table.grid(padding=(0, 2))
    children.add_column(ratio=1)
    children.add_column(no_wrap=True)
    children.add_row(Text(text.child_header, style="bold"), Text(text.pin_header, style="bold"))
    for name, pin in text.children:
        children.add_row(Text(name), Text(pin))
    lines: list[RenderableType] = [
        Text(text.practice),
        Text(text.title, style="bold"),
        Text(),
        Text(f"{text.url_label}: {text.url}"),
        Text(),
        children,
        Text(),
        Text(text.expires),
        Text(),
        Text(text.steps_header, style="bold"),
        *(Text(f"{n}. {step}") for n, step in enumerate(text.steps, 1)),
    ]
    return Group(*lines)


# The slip made ahead, by the worker that issued its PINs (kiosk_screens.register), so p opens the
# preview at once: making the QR code (and loading its library the first time) is slow enough to
# feel. One slip only; keyed by the desk and the result it was made for.
_made: dict[tuple[int, object], tuple[SlipData, str]] = {}


def make_slip(desk, result) -> tuple[SlipData, str]:
    """The slip for ``result`` and its QR code as text lines (safe from a worker thread)."""
    key = (id(desk), result)
    made = _made.get(key)
    if made is None:
        slip = desk.slip_for(result)
        made = (slip, "\n".join(qr_lines(qr_target(slip))))
        _made.clear()
        _made[key] = made
    return made


SENT = "Sent to the printer: the slip is on its way…"
SAVING = "Saving the slip as a PDF…"


class SlipPreviewScreen(ReportsWorkerErrors, DeskScreen[None]):
    """Portal registration for PATIENT and selected siblings, before printing."""

    CSS_PATH = "slip_preview.tcss"
    BINDINGS = [Binding("p", "print_slip", "Print"), Binding("escape", "back", "Back")]
    # Under 80 columns (60x20) the QR code goes under the words, which keep the whole width.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]

    def __init__(self, result):
        super().__init__()
        self.result = result
        self.slip: SlipData | None = None  # made when the screen is composed, from the app's Desk

    def compose(self) -> ComposeResult:
        self.slip, qr = make_slip(self.app.desk, self.result)
        yield TrainingBanner()
        yield DeskHeader()
        with VerticalScroll(id="slip-body"):
            with Horizontal(id="slip"):
                yield Static(slip_words(self.slip), id="slip-text")
                if self.app.console_glyphs:  # no half blocks in the console's fonts
                    yield Static(CONSOLE_QR, id="slip-qr-note", markup=False)
                else:
                    yield Static(qr, id="slip-qr", markup=False)
        with Vertical(id="slip-foot"):
            yield FieldError(id="slip-warning")
            yield Static(
                "Press p to print the slip, escape to go back.", id="print-outcome", markup=False
            )
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#slip-body").focus()
        self.call_after_refresh(self.check_letters)  # a child process: after the slip shows

    @desk_worker("letters", "Checking the slip's letters")
    def check_letters(self) -> None:
        from kiosk.slip.pdf_child import SlipChildError

        assert self.slip is not None  # composed before mounted
        try:  # asked of the child process that makes slips (D1)
            names = self.app.desk.unprintable_names(self.slip)
        except SlipChildError as error:  # plain words; printing says its own if it fails too
            self.app.call_from_thread(
                self.query_one("#slip-warning", FieldError).show,
                f"The slip's letters could not be checked: {error}.",
            )
            return
        if names:
            self.app.call_from_thread(self.show_warning, names)

    def show_warning(self, names: list[str]) -> None:
        self.query_one("#slip-warning", FieldError).show(
            "The printed slip cannot show some letters of "
            + "; ".join(names)
            + " (they print as empty boxes): write "
            + ("that name" if len(names) == 1 else "those names")
            + " on the slip by hand."
        )

    def action_print_slip(self) -> None:
        config = self.app.desk.config
        self.query_one("#print-outcome", Static).update(
            SENT if config.printer.name and not config.training else SAVING
        )
        # The words are drawn before the PDF is made: making it keeps the CPU busy for a moment.
        self.call_after_refresh(self.print_worker)

    @desk_worker("print", "Printing the slip")
    def print_worker(self) -> None:
        try:  # the PDF is made in a child process (D1); a failure there is a plain outcome
            assert self.slip is not None  # composed before p can be pressed
            message = self.app.desk.print_slip(self.slip).message
        except Exception as error:  # noqa: BLE001 - a full disk or an unwritable slip folder: say so, keep the app
            message = (
                f"The slip was not printed or saved. {self.app.explain(error, 'Printing the slip')}"
            )
        self.app.call_from_thread(self.show_outcome, message)

    def show_outcome(self, message: str) -> None:
        self.query_one("#print-outcome", Static).update(message)

    def on_unmount(self) -> None:
        if self.slip is not None:  # the child kept to make this slip's PDF ends unused (D1)
            self.app.desk.end_slip(self.slip)

    def action_back(self) -> None:
        self.app.pop_screen()
