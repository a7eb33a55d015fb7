"""O4: an administrator imports patients and families from the practice's CSV or FHIR files.

Self-contained: the app passes ``run_import(paths, progress) -> ImportReport`` (for example
``lambda paths, progress: kiosk.importer.import_files(paths, progress=progress, username=user)``),
so this module loads neither peewee nor the importer; the import runs in a thread worker and the
ProgressBar follows it (hidden until an import starts: an idle bar does not animate). File names
and every rejected row are shown as plain text, never markup, wrapped at the screen's width.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, ProgressBar, Static

from .keys import DeskFooter
from .widgets import DeskHeader, DeskScreen, ReportsWorkerErrors, TrainingBanner
from .workers import desk_worker

if TYPE_CHECKING:
    from kiosk.importer.report import ImportReport

RunImport = Callable[[list[str], Callable[[str, int, int], None]], "ImportReport"]


class ImportScreen(ReportsWorkerErrors, DeskScreen[None]):
    """Type file paths (space separated; quote a path with spaces), Enter imports them."""

    CSS_PATH = "import_screen.tcss"
    AUTO_FOCUS = "#import-paths"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+t", "template", "Example CSV path"),
    ]

    def __init__(
        self, run_import: RunImport, template_hint: str = "kiosk import --template families.csv"
    ) -> None:
        super().__init__()
        self.run_import = run_import
        self.template_hint = template_hint
        self.running = False

    def compose(self) -> ComposeResult:
        yield TrainingBanner()
        yield DeskHeader()
        with Vertical(id="import-form"):
            yield Static(
                "Import patients and families (CSV, FHIR R4 JSON or NDJSON)", classes="form-title"
            )
            yield Label("Files to import (Enter to start):")
            yield Input(
                id="import-paths",
                placeholder="type the paths, e.g. patients.csv; quote a path with spaces",
            )
            yield Label("", id="import-stage", markup=False)
            yield ProgressBar(id="import-progress", total=None, show_eta=False)
            yield Label("", id="import-summary", markup=False)
        with VerticalScroll(id="import-problems"):
            yield Static("", id="problem-lines", markup=False)
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#import-progress", ProgressBar).display = False

    @on(Input.Submitted, "#import-paths")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            paths = shlex.split(event.value)
        except ValueError as error:
            self._show_summary(f"Cannot read the file list: {error}")
            return
        if not paths:
            self._show_summary("Type the path of at least one file.")
            return
        if self.running:
            return
        self.running = True
        self.query_one("#import-paths", Input).disabled = True
        self.query_one("#import-progress", ProgressBar).display = True
        self.query_one("#problem-lines", Static).update("")
        self._show_summary("")
        self._import(paths)

    @desk_worker("import", "Import files")
    def _import(self, paths: list[str]) -> None:
        try:
            report = self.run_import(paths, self._progress)
        except Exception as error:  # noqa: BLE001 - shown to the administrator, nothing was imported
            self.app.call_from_thread(
                self._finished, None, f"Import stopped: {self.app.explain(error, 'The import')}"
            )
            return
        self.app.call_from_thread(self._finished, report, "")

    def _progress(self, label: str, done: int, total: int) -> None:
        self.app.call_from_thread(self._show_progress, label, done, total)

    def _show_progress(self, label: str, done: int, total: int) -> None:
        self.query_one("#import-stage", Label).update(label)
        self.query_one("#import-progress", ProgressBar).update(total=max(total, 1), progress=done)

    def _finished(self, report: ImportReport | None, error: str) -> None:
        self.running = False
        paths = self.query_one("#import-paths", Input)
        paths.disabled = False
        paths.focus()
        if report is None:
            self._show_summary(error)
            return
        self.query_one("#import-stage", Label).update("Done")
        self._show_summary(f"{report.summary()} ({report.seconds:.1f} s)")
        self.query_one("#problem-lines", Static).update(
            "\n".join(str(problem) for problem in report.problems) or "Every row imported."
        )

    def _show_summary(self, text: str) -> None:
        self.query_one("#import-summary", Label).update(text)

    def action_template(self) -> None:
        self._show_summary(f"For an example CSV with every column, run: {self.template_hint}")

    def action_back(self) -> None:
        if self.running:
            self.notify(
                "The import is still running; it will finish on its own.", severity="warning"
            )
            return
        self.dismiss(None)
