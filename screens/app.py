"""The App: wires the screens together and holds who is signed in. Nothing else lives here.

Navigation (every screen goes through these, so the lock screen and parent mode can rely on them):
- ``show_search()``: the staff home (search + today's appointments).
- ``open_patient(patient_id)``: the patient's account page.
- ``open_registration(patient_id, second_parent=False)``: the registration window (seed 002/003/004).
- ``show_slip(result)``: the slip preview for an IssueResult (R14).
- ``start_parent_mode(result)``: hand the kiosk to the parent (R11, issue 7).
- ``lock()``: the idle lock (S6); ``sign_out()``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from kiosk.config import Config
from kiosk.models import utcnow
from kiosk.staff import StaffUser
from kiosk.store import PracticeSettings, practice_settings


@dataclass
class Clock:
    """The app's idea of now; tests pass a fixed one."""

    now: Callable[[], dt.datetime] = utcnow
    today: Callable[[], dt.date] = dt.date.today


class KioskApp(App[None]):
    TITLE = "kiosk"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def __init__(self, config: Config, *, clock: Clock | None = None):
        super().__init__()
        self.config = config
        self.clock = clock or Clock()
        self.session: StaffUser | None = None
        self.practice: PracticeSettings = practice_settings()
        self.sub_title = self.practice.name + ("  —  TRAINING" if config.training else "")

    @property
    def training(self) -> bool:
        return self.config.training

    def on_mount(self) -> None:
        from screens.signin import SignInScreen

        self.push_screen(SignInScreen())

    # -- navigation ---------------------------------------------------------------------------
    def signed_in(self, user: StaffUser) -> None:
        self.session = user
        self.show_search()

    def show_search(self) -> None:
        from screens.search import SearchScreen

        self._reset_to(SearchScreen())

    def open_patient(self, patient_id: int) -> None:
        from screens.patient import PatientScreen

        self.push_screen(PatientScreen(patient_id))

    def open_registration(self, patient_id: int, *, second_parent: bool = False) -> None:
        from screens.register import RegisterScreen

        self.push_screen(RegisterScreen(patient_id, second_parent=second_parent))

    def show_slip(self, result) -> None:
        from screens.slip_preview import SlipPreviewScreen

        self.push_screen(SlipPreviewScreen(result))

    def start_parent_mode(self, result=None) -> None:
        from screens.parent import ParentModeScreen

        self.push_screen(ParentModeScreen(result))

    def sign_out(self) -> None:
        from screens.signin import SignInScreen

        self.session = None
        self._reset_to(SignInScreen())

    def _reset_to(self, screen) -> None:
        """Make ``screen`` the only screen above the default one."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen)

    # -- workers ------------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place that turns a worker's failure into plain words (Harlequin's pattern)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{event.worker.name or 'Task'} failed: {error}", title="Something went wrong",
                        severity="error", timeout=10, markup=False)


def create_app(config: Config, *, clock: Clock | None = None) -> KioskApp:
    """The factory tests and the CLI use; the store must already be open."""
    return KioskApp(config, clock=clock)


def run_app(config: Config) -> None:
    create_app(config).run()
