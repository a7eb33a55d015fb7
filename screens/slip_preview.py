"""The slip preview (R14): the slip as the parent will get it, with a QR code to scan from the screen.

p prints it (or saves it as PDF with no printer or in training, O2) and says where it went.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from kiosk.slip.content import SlipData, qr_lines, qr_target, slip_text_lines

from .keys import DeskFooter
from .widgets import DeskHeader, DeskScreen, FieldError, ReportsWorkerErrors, TrainingBanner
from .workers import desk_worker

# A QR code in whole blocks needs two columns and a line per module (66x33 cells): more than a
# console of 80x24 shows, so the console says where the parent finds it.
CONSOLE_QR = "The QR code is on the printed slip."


class SlipPreviewScreen(ReportsWorkerErrors, DeskScreen[None]):
    """Portal registration for PATIENT and selected siblings, before printing."""

    CSS_PATH = "slip_preview.tcss"
    BINDINGS = [Binding("p", "print_slip", "Print"), Binding("escape", "back", "Back")]

    def __init__(self, result):
        super().__init__()
        self.result = result
        self.slip: SlipData | None = None  # made when the screen is composed, from the app's Desk

    def compose(self) -> ComposeResult:
        self.slip = self.app.desk.slip_for(self.result)
        yield TrainingBanner()
        yield DeskHeader()
        with VerticalScroll(id="slip-body"):
            with Horizontal(id="slip"):
                yield Static("\n".join(slip_text_lines(self.slip)), id="slip-text", markup=False)
                if self.app.console_glyphs:  # no half blocks in the console's fonts
                    yield Static(CONSOLE_QR, id="slip-qr-note", markup=False)
                else:
                    qr = "\n".join(qr_lines(qr_target(self.slip)))
                    yield Static(qr, id="slip-qr", markup=False)
            yield FieldError(id="slip-warning")
            yield Static(
                "Press p to print the slip, escape to go back.", id="print-outcome", markup=False
            )
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#slip-body").focus()
        self.check_letters()

    @desk_worker("letters", "Checking the slip's letters")
    def check_letters(self) -> None:
        assert self.slip is not None  # composed before mounted
        names = self.app.desk.unprintable_names(
            self.slip
        )  # loads the PDF library, which printing needs next
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
        self.query_one("#print-outcome", Static).update("Printing the slip…")
        self.print_worker()

    @desk_worker("print", "Printing the slip")
    def print_worker(self) -> None:
        try:  # the PDF and QR libraries load when a slip is printed, not at start-up
            assert self.slip is not None  # composed before p can be pressed
            message = self.app.desk.print_slip(self.slip).message
        except Exception as error:  # noqa: BLE001 - a full disk or an unwritable slip folder: say so, keep the app
            message = (
                f"The slip was not printed or saved. {self.app.explain(error, 'Printing the slip')}"
            )
        self.app.call_from_thread(self.show_outcome, message)

    def show_outcome(self, message: str) -> None:
        label = self.query_one("#print-outcome", Static)
        label.update(message)
        label.scroll_visible()

    def action_back(self) -> None:
        self.app.pop_screen()
