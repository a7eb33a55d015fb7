"""The enrollment report (W4) on screen: patients by portal status now, and the PINs issued since
a date, how many were registered and how fast, by week (with a bar chart) and by staff member.

The chart is drawn with characters that mean the same without colour and on a console font: a
full block for each registered share, a light shade for issued and not (yet) registered. The
numbers come from kiosk.followup.report through the Desk, in a worker."""

from __future__ import annotations

import datetime as dt

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from kiosk.followup.report import (
    EnrollmentReport,
    Funnel,
    median_words,
    rate_words,
    week_words,
)

from .keys import DeskFooter
from .widgets import (
    DeskHeader,
    DeskScreen,
    DeskTable,
    FieldError,
    ReportsWorkerErrors,
    TrainingBanner,
    fitting,
)
from .workers import desk_worker

FULL, SHADE = "█", "░"  # full block and light shade: both in console fonts (no half blocks)
CHART_WIDTH = 16  # the weeks' bars
STATUS_WIDTH = 24  # the statuses' bars
LEGEND = f"Issued to registered, by week   {FULL} registered  {SHADE} not registered"
SHORT_LEGEND = f"By week   {FULL} registered  {SHADE} not registered"  # D1: under 68 columns
STATUS_TEXT = 42  # a status line's words and figures before its bar
BODY_FRAME = 4  # the body's padding and its scrollbar
BAD_SINCE = "Enter a date like 09/07/2026, not after today."
# The tables' columns, long words then short (D1): a desk too narrow for the long ones with a full
# chart (60x20) reads the short ones, and the weeks' bars take what the line has left.
FIGURES = (
    ("Issued", "Issued"),
    ("Registered", "Reg'd"),
    ("Rate", "Rate"),
    ("Median days", "Median"),
)
WEEK, STAFF, CHART = ("Week of", "Week"), ("Staff member", "Staff"), ("Chart", "Chart")
CELL_PADDING, MIN_CHART = 2, 6  # DataTable's padding either side of a cell; the narrowest bars


def bar(registered: int, issued: int, most: int, width: int = CHART_WIDTH) -> Text:
    """``issued`` as a bar scaled to ``most``: the registered part solid, the rest shaded. Any
    issue at all shows at least one character."""
    if not most or not issued:
        return Text("")
    whole = max(1, round(issued / most * width))
    solid = min(whole, round(registered / most * width))
    if registered and not solid:
        solid = 1
    return Text.assemble((FULL * solid, "green"), (SHADE * (whole - solid), ""))


def _numbers(row: Funnel) -> tuple[str, ...]:
    return (f"{row.issued:,}", f"{row.registered:,}", rate_words(row), median_words(row))


def _cells(row: Funnel) -> list[Text]:
    """Issued, registered, rate and median days, right-aligned."""
    return [Text(cell, justify="right") for cell in _numbers(row)]


def weeks_layout(report: EnrollmentReport, room: int) -> tuple[tuple[str, ...], int]:
    """The weeks' column words and the chart's width for a body ``room`` columns wide: the long
    words and a full chart where they fit, else the short words and the bars the line has left."""
    cells = [(week_words(row), *_numbers(row)) for row in report.weeks]
    cells.append(("All", *_numbers(report.total)))
    for words in ((WEEK[0], *(f[0] for f in FIGURES)), (WEEK[1], *(f[1] for f in FIGURES))):
        chart = min(CHART_WIDTH, room - _taken(words, cells) - CELL_PADDING)
        if chart == CHART_WIDTH:
            break
    return (*words, CHART[0]), max(MIN_CHART, chart)


def staff_words(report: EnrollmentReport, room: int) -> tuple[str, ...]:
    """The staff table's column words: the long ones where they fit in ``room``, else the short."""
    long = (STAFF[0], *(f[0] for f in FIGURES))
    cells = [(row.label, *_numbers(row)) for row in report.staff]
    return long if _taken(long, cells) <= room else (STAFF[1], *(f[1] for f in FIGURES))


def _taken(words: tuple[str, ...], cells: list[tuple[str, ...]]) -> int:
    """Columns a table of ``cells`` under the headers ``words`` takes, padding included."""
    return sum(
        max(cell_len(label), *(cell_len(row[at]) for row in cells)) + CELL_PADDING
        for at, label in enumerate(words)
    )


class ReportScreen(ReportsWorkerErrors, DeskScreen[None]):
    """W4: status counts, then issued to registered by week (chart) and by staff member."""

    CSS_PATH = "report.tcss"
    AUTO_FOCUS = "#report-body"
    BINDINGS = [
        Binding("f2", "focus_since", "Since"),
        Binding("f5", "refresh", "Refresh"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: EnrollmentReport | None = None

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with Horizontal(id="report-bar"):
            yield Label("Enrollment report since ", id="since-label")
            yield Input(id="since", placeholder="MM/DD/YYYY", compact=True, max_length=10)
            yield Label("", id="report-range", markup=False)
        yield FieldError(id="since-error")
        with VerticalScroll(id="report-body"):
            yield Static("Counting…", id="statuses", markup=False)
            yield Label(self._legend(), id="legend", classes="section", markup=False)
            yield DeskTable(id="weeks", cursor_type="row", show_cursor=False)
            yield Label("By staff member", classes="section", markup=False)
            yield DeskTable(id="staff", cursor_type="row", show_cursor=False)
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#report-body").focus()
        self.load(None)

    @desk_worker("report", "Counting the enrollment report")
    def load(self, since: dt.date | None) -> None:
        report = self.app.desk.enrollment_report(since)
        self.app.call_from_thread(self.show_report, report)

    def show_report(self, report: EnrollmentReport) -> None:
        self.report = report
        since = self.query_one("#since", Input)
        if not since.has_focus:
            since.value = f"{report.since:%m/%d/%Y}"
        self.query_one("#report-range", Label).update(f" to {report.today:%m/%d/%Y}")
        self.query_one("#statuses", Static).update(self._statuses(report))
        self._fill_tables(report)

    def _fill_tables(self, report: EnrollmentReport) -> None:
        """The weeks and the staff rows in the words and the chart width this window holds (D1)."""
        room = self.app.size.width - BODY_FRAME
        words, chart = weeks_layout(report, room)
        most = max((row.issued for row in report.weeks), default=0)
        weeks = self.query_one("#weeks", DataTable)
        weeks.clear(columns=True)
        weeks.add_columns(*words)
        for row in report.weeks:
            weeks.add_row(
                Text(week_words(row)), *_cells(row), bar(row.registered, row.issued, most, chart)
            )
        weeks.add_row(Text("All"), *_cells(report.total), Text(""))
        staff = self.query_one("#staff", DataTable)
        staff.clear(columns=True)
        staff.add_columns(*staff_words(report, room))
        for row in report.staff:
            staff.add_row(Text(row.label), *_cells(row))
        if not report.staff:
            staff.add_row(Text("No PINs issued since then."), *[Text("")] * 4)

    def on_resize(self, event: events.Resize) -> None:
        """D1: a narrow desk reads the legend and each status's bar on its own line, not wrapped,
        and the tables in shorter words."""
        self.query_one("#legend", Label).update(self._legend())
        if self.report is not None:
            self.query_one("#statuses", Static).update(self._statuses(self.report))
            self._fill_tables(self.report)

    def _legend(self) -> str:
        return fitting(self.app.size.width - BODY_FRAME, LEGEND, SHORT_LEGEND)

    def _statuses(self, report: EnrollmentReport) -> Text:
        # the bars take what the line has left, up to STATUS_WIDTH (60x20: 14)
        room = max(1, min(STATUS_WIDTH, self.app.size.width - BODY_FRAME - STATUS_TEXT))
        most = max((count for _, count in report.statuses), default=0)
        text = Text(f"{'Status now':<22}{'Patients':>10}{'Share':>8}\n", style="bold")
        for status, count in report.statuses:
            share = f"{count / report.patients * 100:.1f}%" if report.patients else "-"
            solid = round(count / most * room) if most else 0
            text.append(f"{status.label:<22}{count:>10,}{share:>8}  ")
            text.append(FULL * max(solid, 1 if count else 0), style="green")
            text.append("\n")
        text.append(f"{'All patients':<22}{report.patients:>10,}")
        return text

    @on(Input.Submitted, "#since")
    def since_typed(self, event: Input.Submitted) -> None:
        """A new start date: the report again from it; a date that is not one stays, with why."""
        since = self.app.desk.parse_dob(event.value)
        error = self.query_one("#since-error", FieldError)
        if since is None:
            error.show(BAD_SINCE)
            return
        error.clear()
        self.query_one("#report-body").focus()
        self.load(since)

    def action_focus_since(self) -> None:
        box = self.query_one("#since", Input)
        box.focus()
        box.select_all()

    def action_refresh(self) -> None:
        self.load(self.report.since if self.report else None)

    def action_back(self) -> None:
        self.app.pop_screen()
