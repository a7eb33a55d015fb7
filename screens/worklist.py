"""W1: the worklist of families to enrol, one row per family, a page at a time.

F2 picks the list (appointments, Unregistered, PIN expired, Pending over N days, expiring within N
days, Self Registered to validate, turning 12 or 18 within N days); its days, dates and provider
are typed beside it and Enter there reads it again. Enter on a family opens its registration
straight away; coming back puts the same page back with the same row highlighted. n and p turn the
pages, Space marks families, d starts a registration drive (W2) for the marked families or the
whole list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Label, Select

from kiosk.terms import WorklistKind
from kiosk.validate import parse_date

from .keys import DeskFooter
from .search import name_width, refit, show_whole
from .widgets import DeskHeader, DeskScreen, ReportsWorkerErrors, TrainingBanner
from .workers import desk_worker

if TYPE_CHECKING:
    from kiosk.followup.worklist import Key, WorklistFamily, WorklistPage, WorklistQuery

KIND_OPTIONS = [(kind.label, kind) for kind in WorklistKind]
MARK = "●"
COLUMNS = ((" ", 1), ("Caregiver", 20), ("Children: status", 33), ("Why", 17))  # 79 at 80x24
NO_WHY_BELOW = 80  # D1: under 80 columns Why gives its room to the children, read under the table
TWO_ROWS_BELOW = 100  # the bar in two rows, where one row would cut a typed date (worklist.tcss)


def worklist_columns(width: int) -> tuple[tuple[str, int], ...]:
    """The families' columns for a window ``width`` columns wide (D1): Caregiver and Why fixed, the
    children take the rest, so the table never scrolls sideways (Why only from 80 columns up)."""
    mark, caregiver, (children, _), why = COLUMNS
    fixed = (mark, caregiver) + ((why,) if width >= NO_WHY_BELOW else ())
    return mark, caregiver, (children, name_width(width, [size for _, size in fixed])), *fixed[2:]


def family_whole(family: WorklistFamily) -> Text:
    """The line under the table: the highlighted family's caregiver, children and why, whole."""
    return Text(f"{family.caregiver_name} — {family.children_short} — {family.why}")


def _cut(text: str, width: int) -> Text:
    """A cell as plain text (names are data, never markup), cut to its column with an ellipsis."""
    cell = Text(text, no_wrap=True, overflow="ellipsis")
    cell.truncate(width, overflow="ellipsis")
    return cell


class WorklistScreen(ReportsWorkerErrors, DeskScreen[None]):
    CSS_PATH = "worklist.tcss"
    AUTO_FOCUS = "#families"
    BINDINGS = [
        Binding("f2", "focus_kind", "List"),
        Binding("n", "next_page", "Next page"),
        Binding("p", "previous_page", "Prev page"),
        Binding("space", "mark", "Mark"),
        Binding("d", "drive", "Drive"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, kind: WorklistKind = WorklistKind.UNREGISTERED) -> None:
        super().__init__()
        self.kind = kind
        self.page: WorklistPage | None = None
        self.cursors: list[Key | None] = [None]  # where each page read so far starts
        self.marked: dict[str, WorklistFamily] = {}
        self.return_row = 0  # the row highlighted when a family was opened

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with Horizontal(id="worklist-bar"):
            yield Select(KIND_OPTIONS, id="kind", value=self.kind, allow_blank=False)
            yield Input("14", id="days", placeholder="days", type="integer", max_length=4)
            yield Input("", id="start", placeholder="from date")
            yield Input("", id="end", placeholder="to date")
            yield Input("", id="provider", placeholder="provider")
        yield Label("", id="worklist-title", markup=False)
        yield DataTable(id="families", cursor_type="row", zebra_stripes=True)
        # the highlighted family whole, while the table cuts a name or has no Why column (D1)
        yield Label("", id="families-detail", markup=False)
        yield DeskFooter()

    _columns: tuple[tuple[str, int], ...] = ()  # the families' columns at this width (on_resize)

    def on_mount(self) -> None:
        self._fit(self.app.size.width)
        self._read(None)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < TWO_ROWS_BELOW, "-narrow")
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        columns = worklist_columns(width)
        if columns == self._columns:
            return
        self._columns = columns
        refit(self.query_one("#families", DataTable), columns, self._add_rows)
        self._show_detail()

    def _add_rows(self) -> None:
        table = self.query_one("#families", DataTable)
        for family in self.page.families if self.page else ():
            table.add_row(*self._cells(family), key=family.key)

    @on(DataTable.RowHighlighted, "#families")
    def _show_detail(self) -> None:
        families = self.page.families if self.page else ()
        widths = dict(self._columns)
        cut = "Why" not in widths or any(
            cell_len(family.caregiver_name) > widths["Caregiver"]
            or cell_len(family.children_short) > widths["Children: status"]
            or cell_len(family.why) > widths["Why"]
            for family in families
        )
        table = self.query_one("#families", DataTable)
        show_whole(
            self.query_one("#families-detail", Label),
            table,
            [family_whole(family) for family in families],
            cut,
        )

    def on_screen_resume(self) -> None:
        # Back from the family's registration: the same page again (statuses have changed), the
        # same row highlighted.
        if self.is_mounted and self.page is not None:
            self._read(self.cursors[-1], keep_row=True)

    # -- what is asked ---------------------------------------------------------------------------
    def query_asked(self) -> WorklistQuery | str:
        """The worklist the bar asks for, or what is wrong with it in words."""
        from kiosk.followup.worklist import WorklistQuery

        value = self.query_one("#kind", Select).value
        kind = WorklistKind(str(value)) if value is not Select.NULL else WorklistKind.UNREGISTERED
        days_text = self.query_one("#days", Input).value.strip() or "14"
        if not days_text.isdigit():
            return "Days must be a whole number."
        dates = []
        for field in ("start", "end"):
            text = self.query_one(f"#{field}", Input).value.strip()
            day = parse_date(text, self.app.desk.today()) if text else None
            if text and day is None:
                return f"{text!r} is not a date (for example 11/24/2026)."
            dates.append(day)
        provider = self.query_one("#provider", Input).value.strip()
        return WorklistQuery(kind, int(days_text), dates[0], dates[1], provider)

    @on(Select.Changed, "#kind")
    @on(Input.Submitted)
    def _asked_again(self) -> None:
        self.cursors = [None]
        self.marked.clear()
        self._read(None)

    # -- reading a page --------------------------------------------------------------------------
    def _read(self, cursor: Key | None, keep_row: bool = False) -> None:
        query = self.query_asked()
        if isinstance(query, str):
            self.query_one("#worklist-title", Label).update(query)
            return
        self._load(query, cursor, keep_row)

    @desk_worker("worklist", "Worklist")
    def _load(self, query: WorklistQuery, cursor: Key | None, keep_row: bool) -> None:
        from kiosk.followup.worklist import WorklistError

        try:
            page = self.app.desk.worklist(query, cursor)
        except WorklistError as error:
            self.app.call_from_thread(self._say, str(error))
            return
        self.app.call_from_thread(self._show, page, keep_row)

    def _say(self, text: str) -> None:
        self.query_one("#worklist-title", Label).update(text)

    def _show(self, page: WorklistPage, keep_row: bool) -> None:
        self.page = page
        table = self.query_one("#families", DataTable)
        table.clear()
        self._add_rows()
        if keep_row and page.families:
            table.move_cursor(row=min(self.return_row, len(page.families) - 1))
        self._title(page)
        self._show_detail()

    def _title(self, page: WorklistPage) -> None:
        number = len(self.cursors)
        more = "; n: next page" if page.next_cursor is not None else ""
        back = "; p: previous" if number > 1 else ""
        marked = f"; {len(self.marked)} marked" if self.marked else ""
        count = len(page.families)
        self._say(
            f"{page.query.describe()}: page {number}, {count} famil{'y' if count == 1 else 'ies'}"
            f"{marked}{more}{back}"
            if count
            else f"{page.query.describe()}: no families{back}"
        )

    def _cells(self, family: WorklistFamily) -> tuple[str | Text, ...]:
        widths = dict(self._columns)
        cells = (
            MARK if family.key in self.marked else " ",
            _cut(family.caregiver_name, widths["Caregiver"]),
            _cut(family.children_short, widths["Children: status"]),
        )
        return cells + ((_cut(family.why, widths["Why"]),) if "Why" in widths else ())

    def highlighted(self) -> WorklistFamily | None:
        table = self.query_one("#families", DataTable)
        if self.page is None or not table.row_count:
            return None
        return self.page.families[table.cursor_row]

    # -- actions ---------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#families")
    def _open(self) -> None:
        """Enter: the family's registration, straight away (W1)."""
        family = self.highlighted()
        if family is not None:
            self.return_row = self.query_one("#families", DataTable).cursor_row
            self.app.open_registration(family.patient_id)

    def action_next_page(self) -> None:
        if self.page is not None and self.page.next_cursor is not None:
            self.cursors.append(self.page.next_cursor)
            self._read(self.page.next_cursor)

    def action_previous_page(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            self._read(self.cursors[-1])

    def action_mark(self) -> None:
        family = self.highlighted()
        if family is None or self.page is None:
            return
        if self.marked.pop(family.key, None) is None:
            self.marked[family.key] = family
        table = self.query_one("#families", DataTable)
        row = table.cursor_row
        table.update_cell_at(Coordinate(row, 0), MARK if family.key in self.marked else " ")
        table.move_cursor(row=min(row + 1, table.row_count - 1))
        self.return_row = table.cursor_row
        self._title(self.page)

    def action_drive(self) -> None:
        from .drive_screen import DriveScreen

        query = self.query_asked()
        if isinstance(query, str):
            self._say(query)
            return
        chosen = list(self.marked.values()) or None
        self.app.push_screen(DriveScreen(query, chosen), lambda _: self._read(self.cursors[-1]))

    def action_focus_kind(self) -> None:
        self.query_one("#kind", Select).focus()

    def action_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Letters typed in the bar's boxes are text, not page keys.
        typing = isinstance(self.focused, Input)
        return not (typing and action in ("next_page", "previous_page", "mark", "drive"))
