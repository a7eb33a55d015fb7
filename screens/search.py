"""The staff home (N1, N2, R4): search patients by any name, a parent's name, phone or email,
a chart number or a date of birth, tolerantly; filter by portal status, or pick from
today's appointments; Enter opens the patient's account page.

The exact matches show as soon as they are found; near matches (sounds like, nickname, typo) are
looked for next and join the list below them, so the desk never waits on the slower search."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from importlib.util import find_spec

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Select
from textual.worker import get_current_worker

from kiosk.people.patients import AppointmentRow, PatientRow
from kiosk.terms import PortalStatus, SearchFilter, is_one_of

from .keys import DeskFooter
from .widgets import DeskHeader, DeskScreen, ReportsWorkerErrors, TrainingBanner, fitting
from .workers import desk_worker

DEBOUNCE_SECONDS = 0.15
ALL = "all"
APPOINTMENT_KEY = "@"  # an appointment row's key: patient id @ its place in the day
STATUS_OPTIONS = (
    [("All statuses", ALL)]
    + [(s.label, s) for s in PortalStatus]
    + [(f.label, f) for f in SearchFilter]  # L2: "PIN expired"
)
# both read whole at 80x24 (the hint's line holds 78 columns, the box's text 44); on a narrower
# desk the line says a shorter sentence whole (fitting), as the TRAINING banner does under 64
HINT = "Type a name, a parent's name, phone, email, chart or birth date; F2: status"
HINTS = (
    HINT,
    "Name, parent, phone, email, chart or DOB; F2: status",
    "Name, phone, email, chart or DOB; F2: status",
    "Name, phone, chart or DOB; F2: status",
)
APPOINTMENTS = (
    "Today's appointments ({:%a %m/%d/%Y}); F7: worklists",
    "Today ({:%a %m/%d/%Y}); F7: worklists",
)
TITLE_PADDING = 2  # the title lines' padding (search.tcss)
# the box's own words, longest first: what fits inside it whole (D1), never "Name, parent, phone,"
PLACEHOLDERS = (
    "Name, parent, phone, email, chart or DOB",
    "Name, parent, phone, chart or DOB",
    "Name, phone, chart, DOB",
    "Name, phone or DOB",
)
NARROW_BELOW, STATUS_BOX = 56, 30  # search.tcss: the filter's width beside the box, and where it
BOX_FRAME = 6  # goes under it; the box's border and padding


# The results fit the window (N2): DOB, Age and the status keep fixed columns, the Name column takes
# what is left, and a long name or reason is elided there (the cell keeps the whole text; the line
# under the table reads it whole for the highlighted row). No sideways scroll at 80x24 or 60x20.
# Narrower (D1) a column gives way rather than the status being cut: under 60 Age (the DOB says
# it), under 50 DOB too, read with the age on the line under the table for the highlighted row.
DOB_WIDTH, AGE_WIDTH = 10, 5
STATUS_WIDTH = max(len("Portal status"), *(len(s.label) for s in PortalStatus))
NARROW_STATUS_WIDTH = max(len("Portal status"), *(len(s.value) for s in PortalStatus))
CELL_PADDING, SCROLLBAR = 2, 2  # DataTable's padding either side of a cell; the vertical scrollbar
MIN_NAME_WIDTH = 10
NO_AGE_BELOW, NO_DOB_BELOW = 60, 50
# Today's appointments fit the same way: Time, Age, status and Provider fixed, Name takes the rest;
# under 80 columns Provider gives its room to the name and is read on the line under the table.
TIME_WIDTH, PROVIDER_WIDTH = 5, 14


def name_width(width: int, fixed: Sequence[int]) -> int:
    """The Name column's share of a window ``width`` columns wide, beside columns ``fixed`` wide:
    every column's padding and the vertical scrollbar come off first."""
    taken = sum(fixed) + (len(fixed) + 1) * CELL_PADDING + SCROLLBAR
    return max(MIN_NAME_WIDTH, width - taken)


def status_width(width: int) -> int:
    """Under 80 columns the status says its short word (Pending)."""
    return STATUS_WIDTH if width >= 80 else NARROW_STATUS_WIDTH


def column_widths(width: int) -> tuple[tuple[str, int], ...]:
    """The results' columns and widths: Name, DOB (from 50 up), Age (from 60 up), status."""
    fixed = (("DOB", DOB_WIDTH),) * (width >= NO_DOB_BELOW)
    fixed += (("Age", AGE_WIDTH),) * (width >= NO_AGE_BELOW)
    fixed += (("Portal status", status_width(width)),)
    return (("Name", name_width(width, [size for _, size in fixed])), *fixed)


def appointment_columns(width: int) -> tuple[tuple[str, int], ...]:
    """Today's appointments' columns and widths; Provider only from 80 columns up, Age from 60."""
    age = width >= NO_AGE_BELOW
    status = status_width(width)
    fixed = (TIME_WIDTH, status) + (AGE_WIDTH,) * age + ((PROVIDER_WIDTH,) if width >= 80 else ())
    columns = (
        ("Time", TIME_WIDTH),
        ("Name", name_width(width, fixed)),
        *((("Age", AGE_WIDTH),) * age),
        ("Portal status", status),
    )
    return columns + ((("Provider", PROVIDER_WIDTH),) if width >= 80 else ())


def name_text(row: PatientRow) -> Text:
    """A name like ``O'Brien [Jr]`` is data, never markup. A near match says why it matched after
    the name (N2): "Johnson, William (sounds like)"."""
    name = Text(row.name, no_wrap=True, overflow="ellipsis")
    if row.reason:
        name.append(f" ({row.reason})", style="italic")
    return name


def _cells(
    row: PatientRow, columns: Sequence[tuple[str, int]], booked: AppointmentRow | None = None
) -> tuple[str | Text, ...]:
    """The cells of ``columns`` (a result's, or with ``booked`` an appointment's) as plain text,
    each cut to its column when drawn (``no_wrap``)."""
    narrow = dict(columns).get("Portal status") != STATUS_WIDTH
    cells: dict[str, str | Text] = {
        "Name": name_text(row),
        "DOB": f"{row.dob:%m/%d/%Y}",
        "Age": row.age,
        "Portal status": Text(
            row.portal_status.value if narrow else row.status_label, no_wrap=True
        ),
    }
    if booked:
        cells["Time"] = f"{booked.starts_at:%H:%M}"
        cells["Provider"] = Text(booked.provider, no_wrap=True, overflow="ellipsis")
    return tuple(cells[label] for label, _ in columns)


def result_whole(row: PatientRow, dob: bool) -> Text:
    """The line under the results: the name and reason whole, and the birth date and age when the
    table has no DOB column (under 50)."""
    whole = name_text(row)
    return whole if dob else whole.append(f" — {row.dob:%m/%d/%Y}, {row.age}")


def appointment_whole(row: AppointmentRow) -> Text:
    """The line under today's appointments: the name and the provider whole."""
    return name_text(row.patient).append(f" — {row.provider}")


def refit(
    table: DataTable[object], columns: Sequence[tuple[str, int]], add: Callable[[], None]
) -> None:
    """Set ``table``'s columns to these widths and add its rows again (``add``), the same row
    highlighted: a DataTable keeps a column's width, so a resize builds the columns anew."""
    highlighted = table.cursor_row
    table.clear(columns=True)
    for label, size in columns:
        table.add_column(label, width=size)
    add()
    if table.row_count:
        table.move_cursor(row=min(highlighted, table.row_count - 1))


def show_whole(detail: Label, table: DataTable[object], wholes: Sequence[Text], cut: bool) -> None:
    """The line under ``table`` reads its highlighted row whole (``wholes``, in the table's order)
    while any row is cut; otherwise it takes no room."""
    detail.display = cut and bool(wholes)
    if detail.display and table.row_count:
        whole = wholes[min(table.cursor_row, len(wholes) - 1)].copy()
        whole.no_wrap = False  # longer than the window: it goes on to a second line
        detail.update(whole)


def not_found(typed: str, status: PortalStatus | SearchFilter | None, final: bool) -> list[str]:
    """The results' title when nothing matches, longest first: a narrow desk (D1) reads a shorter
    sentence whole (the typed words stay in the box above), never one cut off mid-word."""
    quoted = repr(typed)
    if not final:
        return [
            f"No exact match for {quoted}; looking for near matches…",
            f"No exact match for {quoted}; looking further…",
            f"No exact match for {quoted}",
            "No exact match; looking for near matches…",
            "No exact match; looking further…",
        ]
    if isinstance(status, SearchFilter):
        where = f" with {status.label}"
    else:
        where = f" with status {status.label}" if status else ""
    if not typed:
        return [
            f"No patients with {status.label}"
            if isinstance(status, SearchFilter)
            else "No patients with that status"
        ]
    if not where:
        return [f"No patients match {quoted}", f"No match for {quoted}", "No patients match"]
    return [
        f"No patients{where} match {quoted} (F2: All statuses)",
        f"No patients{where} match {quoted}",
        f"No patients{where} match; F2: All statuses",
        f"None{where} match; F2: All statuses",
        "No match; F2 shows all statuses",
    ]


def placeholder(width: int) -> str:
    """The search box's words that fit inside it whole on a screen ``width`` columns wide."""
    box = width if width < NARROW_BELOW else width - STATUS_BOX
    return fitting(box - BOX_FRAME, *PLACEHOLDERS)


def import_available() -> bool:
    return find_spec("kiosk_screens.import_screen") is not None


class SearchScreen(ReportsWorkerErrors, DeskScreen[None]):
    CSS_PATH = "search.tcss"
    AUTO_FOCUS = "#search"
    BINDINGS = [
        ("ctrl+f", "focus_search", "Search"),
        ("slash", "focus_search", "Search"),
        ("f2", "focus_status", "Status"),
        ("f3", "focus_appointments", "Today"),
        ("f4", "open_import", "Import"),
        ("f6", "open_outbox", "Outbox"),
        # W1: not in the footer, which 80 columns fill; the appointments' title names the key
        Binding("f7", "open_worklist", "Worklist", show=False),
        ("ctrl+o", "sign_out", "Sign out"),
        # W4; not in the footer, which is full at 80 columns (docs/rules.md, W4, names the key)
        Binding("f8", "open_report", "Report", show=False),
        Binding("down", "to_results", "Results", show=False),
    ]
    _open_when_found = False  # Enter came before the results: open the first one when they come
    _shown: tuple[str, PortalStatus | SearchFilter | None] | None = (
        None  # the search whose rows the table holds
    )
    _seeking = False  # its near matches are still being looked for
    _columns: tuple[tuple[str, int], ...] = ()  # the results' columns and widths (on_resize)
    _rows: tuple[PatientRow, ...] = ()  # the rows the results table holds, in its order
    _appointment_columns: tuple[tuple[str, int], ...] = ()  # today's appointments' (on_resize)
    _appointments: tuple[AppointmentRow, ...] = ()  # the rows that table holds, in its order

    @property
    def holds_keys(self) -> bool:
        """After an Enter that waits for the results, the keys typed next are for the patient
        it opens (kiosk_screens.typeahead)."""
        return self._open_when_found

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with Horizontal(id="search-bar"):
            yield Input(id="search", placeholder=placeholder(self.app.size.width))
            yield Select(STATUS_OPTIONS, id="status", value=ALL, allow_blank=False)
        yield Label(self._fitting(*HINTS), id="results-title", markup=False)
        results: DataTable[object] = DataTable(id="results", cursor_type="row", zebra_stripes=True)
        yield results
        # N2: the highlighted row's name and reason in full, when the table elides one
        yield Label("", id="results-detail", markup=False)
        yield Label(self._heading(), id="appointments-title", markup=False)
        appointments: DataTable[object] = DataTable(
            id="appointments", cursor_type="row", zebra_stripes=True
        )
        yield appointments
        # the highlighted appointment's name and provider whole, when the table cuts or drops one
        yield Label("", id="appointments-detail", markup=False)
        yield DeskFooter()

    def on_mount(self) -> None:
        self._fit_results(self.app.size.width)
        self._fit_appointments(self.app.size.width)
        self._load_appointments()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW_BELOW, "-narrow")  # the filter under the box
        self.query_one("#search", Input).placeholder = placeholder(event.size.width)
        self._fit_results(event.size.width)
        self._fit_appointments(event.size.width)
        self.query_one("#appointments-title", Label).update(self._heading())
        title = self.query_one("#results-title", Label)
        if str(title.content) in HINTS:  # nothing searched yet: the hint, in the words that fit
            title.update(self._fitting(*HINTS))

    def _fitting(self, *words: str) -> str:
        """The title lines' words that read whole at the screen's width (widgets.fitting)."""
        return fitting(self.app.size.width - TITLE_PADDING, *words)

    def _heading(self) -> str:
        today = self.app.desk.today()
        return self._fitting(*(heading.format(today) for heading in APPOINTMENTS))

    def _fit_results(self, width: int) -> None:
        """Columns that add up to the window's width (N2): the table never scrolls sideways."""
        columns = column_widths(width)
        if columns == self._columns:
            return
        self._columns = columns
        refit(self.query_one("#results", DataTable), columns, lambda: self._add_results(self._rows))
        self._show_detail()

    def _fit_appointments(self, width: int) -> None:
        """Today's appointments fit the window too: no sideways scroll at 80x24 or 60x20."""
        columns = appointment_columns(width)
        if columns == self._appointment_columns:
            return
        self._appointment_columns = columns
        refit(self.query_one("#appointments", DataTable), columns, self._add_appointments)
        self._show_appointment_detail()

    def _add_results(self, rows: Sequence[PatientRow]) -> None:
        table = self.query_one("#results", DataTable)
        for row in rows:
            table.add_row(*_cells(row, self._columns), key=str(row.id))

    @on(DataTable.RowHighlighted, "#results")
    def _show_detail(self) -> None:
        """N2: the line under the table reads the highlighted row's name and reason whole while
        any row's is too long for the Name column."""
        detail = self.query_one("#results-detail", Label)
        table = self.query_one("#results", DataTable)
        columns = dict(self._columns)
        names = [name_text(row) for row in self._rows]
        cut = "DOB" not in columns or any(name.cell_len > columns["Name"] for name in names)
        wholes = [result_whole(row, "DOB" in columns) for row in self._rows]
        show_whole(detail, table, wholes, cut)

    @on(DataTable.RowHighlighted, "#appointments")
    def _show_appointment_detail(self) -> None:
        """The line under today's appointments reads the highlighted one's name and provider whole
        while the table cuts a name or a provider, or has no Provider column (under 80)."""
        columns = dict(self._appointment_columns)
        cut = "Provider" not in columns or any(
            name_text(row.patient).cell_len > columns["Name"]
            or cell_len(row.provider) > columns["Provider"]
            for row in self._appointments
        )
        show_whole(
            self.query_one("#appointments-detail", Label),
            self.query_one("#appointments", DataTable),
            [appointment_whole(row) for row in self._appointments],
            cut,
        )

    _resumed = False  # shown again after the first time (on_screen_resume)

    def on_screen_resume(self) -> None:
        # Back from a patient: statuses and names may have changed, and the next thing the desk
        # does is type another name, so the box takes the keys (its text selected, so typing replaces it).
        first, self._resumed = not self._resumed, True
        if self.is_mounted:
            self.action_focus_search()
            if first:  # just signed in: on_mount reads the day, and nothing was searched yet (D1)
                return
            # read again once the screen is drawn: the desk sees it at once (benchmarks/desk_keys.py)
            self.call_after_refresh(self._refresh)
            self.call_after_refresh(self._load_appointments)

    # -- searching ------------------------------------------------------------------------------
    @property
    def search_text(self) -> str:
        return self.query_one("#search", Input).value

    @property
    def status(self) -> PortalStatus | SearchFilter | None:
        value = self.query_one("#status", Select).value
        if value in (ALL, Select.NULL):
            return None
        word = str(value)
        return SearchFilter(word) if is_one_of(SearchFilter, word) else PortalStatus(word)

    @on(Input.Changed, "#search")
    @on(Select.Changed, "#status")
    def _refresh(self) -> None:
        text, status = self.search_text, self.status
        if not text.strip() and status is None:
            # nothing typed and no filter finds nobody: no worker and no database (a low-spec
            # kiosk's sign-in drew the screen, then searched for nothing twice, D1); a search
            # still on its way is called off, its rows never shown
            self.workers.cancel_group(self, "search")
            self._show_results(text, status, [])
            return
        self._search(text, status)

    @on(Input.Submitted, "#search")
    def _open_from_box(self) -> None:
        """Enter in the box opens the highlighted (first) match; before the results are in, it
        opens the first one when they come."""
        if (
            self._shown == (self.search_text, self.status)
            and self.query_one("#results", DataTable).row_count
        ):
            self._open_highlighted()
        elif self._shown != (self.search_text, self.status) or self._seeking:
            self._open_when_found = True

    def _open_highlighted(self) -> None:
        results = self.query_one("#results", DataTable)
        if results.row_count:
            key = results.coordinate_to_cell_key(results.cursor_coordinate).row_key.value
            if key is not None:
                self.app.open_patient(int(key))

    def action_to_results(self) -> None:
        results = self.query_one("#results", DataTable)
        if self.focused is self.query_one("#search", Input) and results.row_count:
            results.focus()

    @desk_worker("search", "Search")
    def _search(self, text: str, status: PortalStatus | SearchFilter | None) -> None:
        time.sleep(
            DEBOUNCE_SECONDS
        )  # typing on cancels this worker: only the last keystroke searches
        worker = get_current_worker()
        for tolerant in (
            False,
            True,
        ):  # the exact matches first, on screen while the near ones are sought
            if worker.is_cancelled:
                return
            rows = self.app.desk.search(text, status, tolerant=tolerant)
            if not worker.is_cancelled:
                self.app.call_from_thread(self._show_results, text, status, rows, tolerant)

    def _show_results(
        self,
        text: str,
        status: PortalStatus | SearchFilter | None,
        rows: list[PatientRow],
        final: bool = True,
    ) -> None:
        if (text, status) != (self.search_text, self.status):
            return  # a newer search is on its way
        table = self.query_one("#results", DataTable)
        keys = [str(row.id) for row in rows]
        shown = [key.value for key in table.rows]
        if self._shown == (text, status) and keys[: len(shown)] == shown:
            rows = rows[len(shown) :]  # the near matches join below; the cursor stays where it is
        else:
            table.clear()
            self._rows = ()
        self._add_results(rows)
        self._rows += tuple(rows)
        self._show_detail()
        self._shown, self._seeking = (text, status), not final
        if self._open_when_found and table.row_count:
            self._open_when_found = False
            self._open_highlighted()
            return
        if final:
            self._open_when_found = False
        title = self.query_one("#results-title", Label)
        count = table.row_count
        if not text.strip() and status is None:
            title.update(self._fitting(*HINTS))
        elif not count:
            title.update(self._fitting(*not_found(text.strip(), status, final)))
        else:
            found = f"{count} patient{'s' if count != 1 else ''}"
            title.update(
                self._fitting(
                    f"{found} — Enter opens the highlighted one",
                    f"{found} — Enter: open highlighted",
                )
            )

    @desk_worker("appointments", "Today's appointments")
    def _load_appointments(self) -> None:
        rows = self.app.desk.todays_appointments()
        self.app.call_from_thread(self._show_appointments, rows)

    def _show_appointments(self, rows: list[AppointmentRow]) -> None:
        self.query_one("#appointments", DataTable).clear()
        self._appointments = tuple(rows)
        self._add_appointments()
        self._show_appointment_detail()

    def _add_appointments(self) -> None:
        table = self.query_one("#appointments", DataTable)
        for n, row in enumerate(self._appointments):
            # a patient seen twice today is two rows: the key is the patient's id and the row's place
            key = f"{row.patient.id}{APPOINTMENT_KEY}{n}"
            table.add_row(*_cells(row.patient, self._appointment_columns, row), key=key)

    # -- actions --------------------------------------------------------------------------------
    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.open_patient(int(event.row_key.value.partition(APPOINTMENT_KEY)[0]))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_import":
            staff = self.app.desk.staff
            return bool(staff and staff.is_admin and import_available())
        return True

    def action_focus_search(self) -> None:
        """Ctrl+F or /: the box takes the keys with its text selected, so typing replaces it."""
        box = self.query_one("#search", Input)
        box.focus()
        box.select_all()

    def action_focus_status(self) -> None:
        self.query_one("#status", Select).focus()

    def action_focus_appointments(self) -> None:
        self.query_one("#appointments", DataTable).focus()

    def action_open_import(self) -> None:
        self.app.open_import()

    def action_open_report(self) -> None:
        """W4: the enrollment report."""
        from .report import ReportScreen

        self.app.push_screen(ReportScreen())

    def action_open_outbox(self) -> None:
        self.app.open_outbox()

    def action_open_worklist(self) -> None:
        """W1: the families to enrol."""
        self.app.open_worklist()

    def action_sign_out(self) -> None:
        self.app.sign_out()
