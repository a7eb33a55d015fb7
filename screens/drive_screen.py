"""W2: a registration drive for the worklist's marked families (or the whole list, up to a limit).

The dry run shows first and follows the choices (letters, messages, print): how many families,
children, letters and messages, and which families would be skipped and why. Ctrl+R runs it: the
PINs are issued family by family with a progress bar, then the letters are printed or saved. A
drive that stopped (the app or the machine went down) is offered again with Ctrl+U: its finished
families are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Label, Log, ProgressBar, Static

from .keys import DeskDialog, DeskFooter
from .widgets import DeskScreen, ReportsWorkerErrors
from .workers import desk_worker

if TYPE_CHECKING:
    from kiosk.followup.drive import DriveOptions, DrivePlan, DriveReport, DriveRow
    from kiosk.followup.worklist import WorklistFamily, WorklistQuery

WHOLE_LIST_LIMIT = 500  # families a drive from the screen takes when none is marked


class DriveScreen(ReportsWorkerErrors, DeskDialog[None], DeskScreen[None]):
    CSS_PATH = "drive_screen.tcss"
    BINDINGS = [
        Binding("ctrl+r", "run", "Run drive"),
        Binding("ctrl+u", "resume", "Resume stopped drive"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, query: WorklistQuery, families: list[WorklistFamily] | None) -> None:
        super().__init__()
        self.worklist = query
        self.families = families
        self.plan: DrivePlan | None = None
        self.stopped: DriveRow | None = None
        self.running = False
        self.finished = False

    def compose(self) -> ComposeResult:
        which = (
            f"the {len(self.families)} marked famil{'y' if len(self.families) == 1 else 'ies'}"
            if self.families
            else f"every family on the list (at most {WHOLE_LIST_LIMIT})"
        )
        with Vertical(id="drive-box"):
            yield Static(
                f"Registration drive: {self.worklist.describe()}, {which}", classes="form-title"
            )
            with Horizontal(id="drive-options"):
                yield Checkbox("Letters (one PDF)", True, id="letters")
                yield Checkbox("Messages", False, id="messages")
                yield Checkbox("Print letters", False, id="print")
            yield Label("Counting…", id="drive-plan", markup=False)
            yield Label("", id="drive-stage", markup=False)
            yield ProgressBar(id="drive-progress", total=None, show_eta=False)
            yield Label("", id="drive-result", markup=False)
            yield Log(id="drive-log", highlight=False)
        yield DeskFooter()

    def on_mount(self) -> None:
        self.query_one("#letters", Checkbox).focus()
        self._plan(self.options())
        self._look_for_stopped()

    def options(self) -> DriveOptions:
        from kiosk.followup.drive import DriveOptions

        return DriveOptions(
            letters=self.query_one("#letters", Checkbox).value,
            messages=self.query_one("#messages", Checkbox).value,
            print_letters=self.query_one("#print", Checkbox).value,
        )

    # -- the dry run -----------------------------------------------------------------------------
    @on(Checkbox.Changed)
    def _options_changed(self) -> None:
        if not self.running:
            self.plan = None
            self.query_one("#drive-plan", Label).update("Counting…")
            self._plan(self.options())

    @desk_worker("drive-plan", "Drive dry run")
    def _plan(self, options: DriveOptions) -> None:
        plan = self.app.desk.plan_drive(
            self.worklist, options, families=self.families, limit=WHOLE_LIST_LIMIT
        )
        self.app.call_from_thread(self._show_plan, plan)

    def _show_plan(self, plan: DrivePlan) -> None:
        if plan.options != self.options():
            return  # the choices changed again: a newer count is on its way
        self.plan = plan
        ready = "Ctrl+R runs it." if plan.issued else "Nothing to issue."
        self.query_one("#drive-plan", Label).update(f"Dry run: {plan.summary()}. {ready}")
        log = self.query_one("#drive-log", Log)
        log.clear()
        for family in plan.families:
            if family.problem:
                log.write_line(f"Skipped: {family.family.caregiver_name}: {family.problem}")
        self.refresh_bindings()

    @desk_worker("drive-stopped", "Stopped drives")
    def _look_for_stopped(self) -> None:
        rows = [r for r in self.app.desk.drives(unfinished_only=True) if r.waiting]
        self.app.call_from_thread(self._show_stopped, rows[-1] if rows else None)

    def _show_stopped(self, row: DriveRow | None) -> None:
        self.stopped = row
        if row is not None:
            self.query_one("#drive-stage", Label).update(
                f"Drive {row.id} ({row.worklist}) stopped with {row.waiting} families waiting: "
                "Ctrl+U finishes it."
            )
        self.refresh_bindings()

    # -- running ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return (
                not (self.running or self.finished)
                and self.plan is not None
                and bool(self.plan.issued)
            )
        if action == "resume":
            return not self.running and self.stopped is not None
        return True

    def action_run(self) -> None:
        if self.check_action("run", ()) and self.plan is not None:
            self._start()
            self._drive(self.plan, None, self.plan.options.print_letters)

    def action_resume(self) -> None:
        if self.check_action("resume", ()) and self.stopped is not None:
            self._start()
            self._drive(None, self.stopped.id, self.options().print_letters)

    def _start(self) -> None:
        self.running = True
        for box in self.query(Checkbox):
            box.disabled = True
        self.refresh_bindings()

    @desk_worker("drive", "Registration drive")
    def _drive(self, plan: DrivePlan | None, drive_id: int | None, print_letters: bool) -> None:
        try:
            if plan is not None:
                drive_id = self.app.desk.start_drive(plan)
            assert drive_id is not None
            report = self.app.desk.run_drive(
                drive_id, print_letters=print_letters, progress=self._progress
            )
        except BaseException:  # the app's one handler says what went wrong (S9)
            self.app.call_from_thread(self._stopped_running)
            raise
        self.app.call_from_thread(self._finished, report)

    def _progress(self, label: str, done: int, total: int) -> None:
        self.app.call_from_thread(self._show_progress, label, done, total)

    def _show_progress(self, label: str, done: int, total: int) -> None:
        self.query_one("#drive-stage", Label).update(f"{label}: {done} of {total}")
        self.query_one("#drive-progress", ProgressBar).update(total=max(total, 1), progress=done)

    def _stopped_running(self) -> None:
        """The drive stopped half-way: its finished families stay finished; offer the rest."""
        self.running = False
        self._look_for_stopped()
        self.refresh_bindings()

    def _finished(self, report: DriveReport) -> None:
        self.running, self.finished, self.stopped = False, True, None
        self.query_one("#drive-result", Label).update(report.summary())
        log = self.query_one("#drive-log", Log)
        log.clear()
        for line in report.skipped:
            log.write_line(f"Skipped: {line}")
        self.refresh_bindings()

    def action_close(self) -> None:
        if self.running:
            self.notify("The drive is still running; it finishes on its own.", severity="warning")
            return
        self.dismiss(None)
