"""The App: wires the screens together and holds who is signed in. Nothing else lives here.

The App holds the front desk's :class:`kiosk.desk.Desk` (config, clock, senders, printer, who is
signed in): screens reach the domain only through ``self.app.desk``.

Navigation (every screen goes through these, so the lock screen and parent mode can rely on them):
- ``show_search()``: the staff home (search + today's appointments).
- ``open_patient(patient_id)``: the patient's account page.
- ``open_registration(patient_id, second_parent=False)``: the registration window (R5-R15).
- ``show_slip(result)``: the slip preview for an IssueResult (R14).
- ``start_parent_mode(result)``: hand the kiosk to the parent (R11).
- ``lock(end_parent_mode=False)``: the idle lock (S6), also on ctrl+l; ``unlock(user)``; ``sign_out()``.
  Locking over a dialog hides it with the rest, unanswered (nothing it would do is done): the same
  staff member finds it as they left it, the screen under it with what they typed; someone else
  starts at the search, the dialog closed unanswered (kiosk_screens.keys.DeskDialog).
- ``open_import()``: the import screen (O4), for administrators; ``open_outbox()``: messages (O3).

Where the desk is: every staff screen's header names the signed-in staff member and the desk
(D1); F1 lists every key of the screen (kiosk_screens.keys), and the command palette (^p) offers
the same actions by name, while a staff member is signed in and the screen is not locked. Lock and
F1 work in every dialog too (kiosk_screens.keys.DeskDialog).

Quitting (ctrl+q) never loses work unasked: with a form half-filled (``unsaved_work``) it asks
first, naming it; nobody quits from parent mode or the lock screen. Esc on the registration window
and Esc (Cancel) on a dialog ask the same question when they would lose work (``leave_asking``).

Keys typed ahead reach their screen in order, once it is ready (``typeahead.HoldsTypeAhead``).

Idle tracking: every key or mouse event the terminal sends (keys typed into an Input included)
resets ``last_activity``; a timer calls ``check_idle_lock()``, which locks after ``idle_seconds``
(default: the practice's ``idle_lock_minutes``).
"""

from __future__ import annotations

import gc
import os
import time
import weakref
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerFailed, WorkerState

from kiosk.clock import Clock
from kiosk.config import Config
from kiosk.desk import Desk
from kiosk.i18n import N_
from kiosk.people.staff import StaffUser

from .errors import ReportsErrors
from .typeahead import HoldsTypeAhead
from .workers import desk_worker

# Fields whose text is a secret (S9): scrubbed from the error log even when it has no PIN or date shape.
SECRET_FIELDS = ("password", "pin", "dob", "answer")
PARENT_PROBLEM = N_(  # said in the parent's language by ParentScreen.show_problem (I1)
    "Sorry, something went wrong on our side. What you typed is still here: please try again, "
    "or ask the front desk for help."
)


def _cache_inner_outer_by_colour() -> None:
    """Textual's StylesCache.get_inner_outer is an lru_cache(1024) on a method: it keys on the
    instance, so the rendered lines of up to 1,024 widgets long closed (every account page and
    registration window of the morning) stay in memory, some 10 MiB on a desk after a dozen families
    (benchmarks/lowspec.py; github.com/Textualize/textual/issues/6665). The two styles depend on
    the two colours only: cache them by colour. Left alone once Textual no longer caches the method."""
    from textual._styles_cache import StylesCache

    cached = StylesCache.__dict__.get("get_inner_outer")
    plain = getattr(cached, "__wrapped__", None)
    if plain is None or not hasattr(cached, "cache_clear"):
        return

    @lru_cache(1024)
    def inner_outer(base_background, background):
        return plain(StylesCache, base_background, background)

    StylesCache.get_inner_outer = staticmethod(inner_outer)  # type: ignore[method-assign, assignment]


_cache_inner_outer_by_colour()


class KioskApp(ReportsErrors, HoldsTypeAhead, App[None]):
    TITLE = "kiosk"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+l", "lock", "Lock", priority=True),
        # Not in the footer, which keeps its width for the screen's keys: the header says F1.
        Binding("f1", "help", "Help", show=False, priority=True),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True),
    ]
    IDLE_CHECK_SECONDS = 5.0
    # Back at its home, the screens the desk closed are collected once nobody has typed for this
    # long: in the pause before the next family, never on a key (tune_interpreter).
    COLLECT_IDLE_SECONDS = 1.0
    OUTBOX_SECONDS = (
        30.0  # how often queued welcome messages are tried (kiosk outbox send does the same)
    )

    def get_driver_class(self) -> type[Driver]:
        """The desk's Linux driver, which answers a lone Esc sooner (screens/driver.py), unless
        TEXTUAL_DRIVER names another or the platform is not POSIX; in a browser, the web driver
        that also quits when its server goes (screens/browser.py)."""
        from textual import constants

        if constants.DRIVER is None and os.name == "posix":
            from .driver import DeskDriver

            return DeskDriver
        from .browser import TEXTUAL_SERVE_DRIVER, BrowserDriver

        if constants.DRIVER == TEXTUAL_SERVE_DRIVER:  # a browser desk (kiosk serve-desk)
            return BrowserDriver
        return super().get_driver_class()

    def watch_app_focus(self, focus: bool) -> None:
        """A browser desk (kiosk serve-desk) starts with the page unfocused, and Textual focuses
        a new screen's first field only while the app has focus: the sign-in would take no typing.
        When the page gets focus (or a key) back, the screen's AUTO_FOCUS field gets it."""
        screen = self.screen
        if not focus or screen.focused is not None:
            return
        auto_focus = self.AUTO_FOCUS if screen.AUTO_FOCUS is None else screen.AUTO_FOCUS
        for widget in screen.query(auto_focus) if auto_focus else ():
            if widget.focusable:
                screen.set_focus(widget)
                return

    def __init__(self, desk: Desk):
        from .console import draw_for_console, uses_console_glyphs

        # The Linux console (TERM=linux, or glyphs = "console"): its fonts' characters and its
        # 16 colours, through the ANSI theme (console.tcss).
        self.console_glyphs = uses_console_glyphs(desk.config.glyphs, os.environ.get("TERM", ""))
        draw_for_console(self.console_glyphs)
        super().__init__(
            css_path=[self.CSS_PATH, "console.tcss"] if self.console_glyphs else None,
            ansi_color=self.console_glyphs or None,
        )
        if self.console_glyphs:
            self.theme = "ansi-dark"
        self.desk = desk
        config = desk.config
        where = f"  —  {config.terminal}" + (
            f" · {config.printer.name}" if config.printer.name else ""
        )
        self.sub_title = (
            desk.practice.name
            + (where if config.terminal else "")  # D1: which desk, which printer
            + ("  —  TRAINING" if config.training else "")
        )
        self.idle_seconds: float | None = None  # None: the practice's idle_lock_minutes
        self.last_activity = time.monotonic()
        self._outbox_problem = ""
        self._held_notices: list[tuple[str, str, SeverityLevel]] = []
        self.error_log = desk.config.error_log
        self._collect_timer: Timer | None = None
        # Each field of a dialog, with what it held as the dialog opened (unsaved_on, note_fields)
        self._opened_with: weakref.WeakKeyDictionary[Any, object] = weakref.WeakKeyDictionary()

    @property
    def training(self) -> bool:
        return self.desk.training

    def get_default_screen(self) -> Screen:
        # The sign-in screen is the bottom screen itself rather than pushed over an empty default
        # one: that extra screen cost about a tenth of start-up (benchmarks/run.py --only startup).
        from .signin import SignInScreen

        return SignInScreen()

    def on_mount(self) -> None:
        self.set_interval(self.IDLE_CHECK_SECONDS, self.check_idle_lock)
        self.set_interval(self.OUTBOX_SECONDS, self.deliver_outbox)
        # O1: the screen's thread has read what it needs (the practice's settings): the workers
        # do the rest, so its PostgreSQL connection is theirs to use rather than a third kept
        self.desk.hand_on_connection()

    # -- idle lock (S6) -----------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        # Every key and mouse event reaches the App first, before it goes to the focused widget.
        if isinstance(event, events.InputEvent) and not event.is_forwarded:
            self.last_activity = time.monotonic()
        if (
            isinstance(event, events.MouseEvent)
            and not event.is_forwarded
            and self.mouse_captured is None
            and not self.screen.region.contains(int(event.screen_x), int(event.screen_y))
        ):
            # D1: a click beyond the screen the app knows of (a terminal resized a moment before
            # the app hears of it, a garbled or hostile report over SSH) finds no widget, and
            # Textual then takes the focus away: what the desk types next would go nowhere.
            return
        await super().on_event(event)

    @property
    def idle_timeout(self) -> float:
        if self.idle_seconds is not None:
            return self.idle_seconds
        return float(self.desk.practice.idle_lock_minutes) * 60

    @property
    def locked(self) -> bool:
        from .lock import LockScreen

        return any(isinstance(screen, LockScreen) for screen in self.screen_stack)

    def check_idle_lock(self, now: float | None = None) -> bool:
        """Lock if nobody has touched the keyboard or mouse for ``idle_timeout``; True if it locked."""
        now = time.monotonic() if now is None else now
        if self.desk.staff is None or self.locked or now - self.last_activity < self.idle_timeout:
            return False
        self.lock(end_parent_mode=True)  # a parent who walked away leaves nothing open
        return True

    @property
    def in_parent_mode(self) -> bool:
        return any(getattr(screen, "parent_mode", False) for screen in self.screen_stack)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "lock":  # in parent mode "I'm done" (F10) does this, in the parent's words
            return self.desk.staff is not None and not self.locked and not self.in_parent_mode
        if action == "quit":  # a parent, or whoever finds the lock screen, cannot leave the app
            return not (self.locked or self.in_parent_mode)
        if action in ("command_palette", "help"):  # the desk's actions: staff only, unlocked
            return not (self.desk.staff is None or self.locked or self.in_parent_mode)
        return True

    # -- quitting and Esc: never with work unsaved (bad input never loses work) -------------------
    def note_fields(self, dialog: Screen) -> None:
        """What each field (text or choice) of ``dialog`` holds as it opens (DeskDialog's mount):
        a field that differs from it when the dialog would close unsaved is work (``unsaved_on``)."""
        for field in form_fields(dialog):
            self._opened_with[field] = field.value

    def unsaved_on(self, screen: Screen) -> list[str]:
        """What closing ``screen`` now would lose: what it says it holds unsaved (``unsaved_work``:
        the registration window's choices before Register) and, on a dialog (a form: a caregiver's
        contact, a carrier, a name, a reason), every field the desk changed from what it held as
        the dialog opened; a dialog closes once it saves. A search or a filter is not work, nor
        is the sign-in: nothing while nobody is signed in."""
        from textual.widgets import Input

        if self.desk.staff is None:
            return []
        lost = list(getattr(screen, "unsaved_work", ()))
        for field in form_fields(screen):
            before = self._opened_with.get(field, field.value)
            if field.value != before:
                typed = isinstance(field, Input)
                lost.append(
                    f"{'what was typed in' if typed else 'the choice of'} {field_words(field)}"
                )
        return lost

    def unsaved_work(self) -> list[str]:
        """What quitting now would lose (``unsaved_on``), top screen first."""
        return list(
            dict.fromkeys(
                what for screen in reversed(self.screen_stack) for what in self.unsaved_on(screen)
            )
        )

    async def action_quit(self) -> None:
        """ctrl+q: quits at once when nothing is unsaved; otherwise asks first, naming what would
        be lost (y quits, n, Esc or Enter stays). Never in parent mode or on the lock screen
        (check_action)."""
        from .keys import QuitDialog

        lost = self.unsaved_work()
        if not lost:
            self.exit()
        elif not isinstance(self.screen, QuitDialog):
            self.push_screen(QuitDialog(lost), lambda leave: self.exit() if leave else None)

    def leave_asking(
        self, screen: Screen, leave: Callable[[], object], words: tuple[str, str, str]
    ) -> None:
        """Esc on a screen that holds unsaved work (``unsaved_on``) asks first, as ctrl+q does,
        naming it: y leaves (``leave``), n, Esc or Enter keeps the work; with nothing unsaved it
        leaves at once. ``words``: the question, what leaving is called in it and its key's
        words ("Go back without registering?", "Going back", "go back")."""
        from .keys import LeaveDialog

        def answered(yes: bool | None) -> None:
            if yes:
                leave()

        lost = self.unsaved_on(screen)
        if not lost:
            leave()
        else:
            self.push_screen(LeaveDialog(lost, *words), answered)

    def action_help_quit(self) -> None:
        # ctrl+c: Textual says which key quits; not where that key does nothing (a parent, the lock)
        if self.check_action("quit", ()):
            super().action_help_quit()

    # -- where the desk is: keys, help, the command palette -------------------------------------
    def get_key_display(self, binding: Binding) -> str:
        # Textual writes Enter as a symbol the Linux console's fonts lack; the desk reads a word.
        return (
            "enter"
            if binding.key == "enter" and not binding.key_display
            else (super().get_key_display(binding))
        )

    def action_help(self) -> None:
        from .keys import HelpScreen

        if isinstance(self.screen, HelpScreen):  # F1 again closes the list, as its hint says
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers what the keys of ``screen`` do now (Textual's own commands
        would change the theme or save a screenshot of patient data: none of them)."""
        from .keys import TEXTUAL_SCREEN_ACTIONS, screen_keys

        for key in screen_keys(screen):
            if key.enabled and key.action not in {"command_palette", *TEXTUAL_SCREEN_ACTIONS}:
                yield SystemCommand(
                    key.description,
                    f"Key: {' / '.join(key.shown)}",
                    partial(self.run_action, key.action, key.namespace),
                )

    def action_lock(self) -> None:
        self.lock(
            end_parent_mode=True
        )  # the next person at the counter never finds a parent signed in

    # -- outbox (O3) --------------------------------------------------------------------------
    def deliver_outbox(self) -> None:
        """Deliver due welcome messages in the background while a staff member is signed in."""
        if self.desk.staff is not None:
            self._deliver_outbox()

    @desk_worker("outbox", "Sending welcome messages")
    def _deliver_outbox(self) -> None:
        """A failure here (mail server, a busy database) is said once and tried again next time;
        it never closes the app."""
        try:
            self.desk.deliver_outbox()
        except Exception as error:  # noqa: BLE001 - the desk goes on working; the outbox retries
            words = self.explain(error, "Sending welcome messages")
            message = f"Welcome messages could not be sent just now; kiosk will try again. {words}"
            if message != self._outbox_problem:
                self._outbox_problem = message
                self.call_from_thread(self.staff_notice, message)
        else:
            self._outbox_problem = ""

    # -- navigation ---------------------------------------------------------------------------
    def signed_in(self, user: StaffUser) -> None:
        self.desk.sign_in(user)
        self.last_activity = time.monotonic()
        self.show_search()

    def show_search(self) -> None:
        from .search import SearchScreen

        self._reset_to(SearchScreen())

    def open_patient(self, patient_id: int) -> None:
        from .patient import PatientScreen

        self.push_screen(PatientScreen(patient_id))

    def open_registration(
        self, patient_id: int, *, second_parent: bool = False, family=None, page=None
    ) -> None:
        """``family`` (and a second parent's ``page``), already read: the window opens with them
        drawn, never empty first (kiosk_screens.register)."""
        from .register import RegisterScreen

        self.push_screen(
            RegisterScreen(patient_id, second_parent=second_parent, family=family, page=page)
        )

    def show_slip(self, result) -> None:
        from .slip_preview import SlipPreviewScreen

        self.push_screen(SlipPreviewScreen(result))

    def start_parent_mode(self, result=None) -> None:
        from .parent import ParentModeScreen

        # I1: the family's language with their PINs; else the desk's own
        self.push_screen(ParentModeScreen(result, language=self.desk.config.language))

    def fix_name(
        self, patient_id: int, given_name: str, family_name: str, then: Callable[[str | None], None]
    ) -> None:
        """R2: the small form for a child's given name; ``then`` gets the name saved, or None."""
        from .name_fix import NameFixScreen

        self.push_screen(NameFixScreen(patient_id, given_name, family_name), then)

    def open_import(self) -> None:
        from .import_screen import ImportScreen

        desk = self.desk

        def run_import(paths, progress):
            return desk.import_files(
                paths, progress=progress
            )  # the importer loads now, not at start-up

        self.push_screen(ImportScreen(run_import))

    def open_worklist(self) -> None:
        from .worklist import WorklistScreen

        self.push_screen(WorklistScreen())

    def open_outbox(self) -> None:
        from .outbox_screen import OutboxScreen

        self.push_screen(OutboxScreen())

    def lock(self, *, end_parent_mode: bool = False) -> None:
        """Hide everything behind the lock screen; with ``end_parent_mode``, first close parent mode."""
        from .lock import LockScreen

        if end_parent_mode:
            stack = self.screen_stack
            first = next(
                (i for i, screen in enumerate(stack) if getattr(screen, "parent_mode", False)), None
            )
            if first is not None:
                for _ in range(len(stack) - first):
                    self.pop_screen()
        if self.desk.staff is None or self.locked:
            return
        self.push_screen(LockScreen())
        self.refresh_bindings()

    def unlock(self, user: StaffUser) -> None:
        """The same staff member carries on where they were; someone else starts fresh."""
        from .lock import LockScreen

        if self.desk.is_signed_in(user):
            self.last_activity = time.monotonic()
            if isinstance(self.screen, LockScreen):
                self.pop_screen()
            self.refresh_bindings()
            self.call_later(self._show_held_notices)
        else:
            self._held_notices.clear()  # someone else starts fresh
            self.signed_in(user)

    def sign_out(self) -> None:
        self.desk.sign_out()
        self.clear_notifications()  # nothing said to one staff member stays for the next
        self._reset_to(None)

    def pop_screen(self) -> AwaitComplete:
        popped = super().pop_screen()
        if len(self.screen_stack) <= 2 and self._collect_timer is None:  # the search or sign-in
            self._collect_timer = self.set_interval(0.25, self._collect_closed_screens)
        return popped

    def _collect_closed_screens(self) -> None:
        """A family's screens (account page, registration window, slip) are cycles of widgets that
        only the garbage collector's full pass frees, and tune_interpreter makes those passes rare:
        one pass between families, once the desk has stopped typing, keeps a desk's memory from
        growing by a few families' worth of closed screens (benchmarks/lowspec.py). A desk that
        opens the next family first leaves them to the next pause, or to the collector's own pass.
        What the pass freed is then handed back to the system (:func:`release_free_memory`)."""
        if (
            len(self.screen_stack) <= 2
            and time.monotonic() - self.last_activity < self.COLLECT_IDLE_SECONDS
        ):
            return
        if self._collect_timer is not None:
            self._collect_timer.stop()
            self._collect_timer = None
        if len(self.screen_stack) <= 2:
            gc.collect()
            release_free_memory()

    def _reset_to(self, screen: Screen | None) -> None:
        """Make ``screen`` the only screen above the sign-in screen, which is always at the bottom
        of the stack and empties its fields whenever it is covered; None uncovers it."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if screen is not None:
            self.push_screen(screen)

    # -- errors (S9): nothing ends the app but the staff's own quit ----------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place that turns a worker's failure into plain words (Harlequin's pattern)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            where = event.worker.name or "A task"
            self.report_error(
                event.worker.error, f"{where} ({type(event.worker.node).__name__})", what=where
            )

    def _handle_exception(self, error: Exception) -> None:
        # Textual 8.2.8 has no public hook for an error raised in a timer, a call_later callback or
        # a worker declared without exit_on_error=False: all come here, and Textual's own handler
        # ends the app and prints a traceback with every local variable (a PIN, a birth date).
        # Handlers' errors are contained earlier (ReportsErrors), before they stop a screen.
        failure = error.error if isinstance(error, WorkerFailed) else error
        self.report_error(failure, f"{type(self.screen).__name__} (timer or callback)")

    def explain(self, error: BaseException, what: str) -> str:
        """Log ``error`` and return what the desk reads: plain words, never the exception's text.
        Safe from a worker thread (screens call it where they catch a failure themselves)."""
        from kiosk.errors import log_error, plain_words

        log_error(self.error_log, error, what, secrets=self._typed_secrets())
        return plain_words(error, what)

    def report_error(self, error: BaseException, where: str, *, what: str = "") -> None:
        """Log an unexpected error and say it in plain words; the screen stays as it was. In parent
        mode the parent reads a short apology on their screen and the desk's notice waits."""
        from kiosk.errors import log_error, plain_words

        log_error(self.error_log, error, where, secrets=self._typed_secrets())
        if self.in_parent_mode and hasattr(self.screen, "show_problem"):
            self.screen.show_problem(PARENT_PROBLEM)
        self.staff_notice(plain_words(error, what), title="Something went wrong", severity="error")

    def _typed_secrets(self) -> list[str]:
        """What is typed into the fields that hold secrets, on every screen open (S9)."""
        from textual.widgets import Input

        try:
            boxes = [
                box for screen in self.screen_stack for box in screen.query(Input).results(Input)
            ]
        except Exception:  # noqa: BLE001 - called while screens come and go: the shape-based scrub remains
            return []
        held = [s for screen in self.screen_stack for s in getattr(screen, "typed_secrets", ())]
        return [box.value for box in boxes if box.password or box.id in SECRET_FIELDS] + held

    def staff_notice(
        self, message: str, *, title: str = "", severity: SeverityLevel = "warning"
    ) -> None:
        """A notice for the front desk. While a parent has the kiosk or the screen is locked it
        waits, and shows once the staff member is back."""
        if self.in_parent_mode or self.locked:
            self._held_notices.append((message, title, severity))
            return
        self.notify(message, title=title, severity=severity, timeout=10, markup=False)

    def _show_held_notices(self) -> None:
        held, self._held_notices = self._held_notices, []
        for message, title, severity in held:
            self.staff_notice(message, title=title, severity=severity)


def form_fields(screen: Screen) -> list[Any]:
    """A screen's text fields and choice lists (Input, Select), in order."""
    from textual.widgets import Input, Select

    return [field for field in screen.query("Input, Select") if isinstance(field, (Input, Select))]


def field_words(box: Any) -> str:
    """A field as the desk knows it: its id in words ("end-date": "end date"), else its hint."""
    words = (box.id or "").replace("-", " ").replace("_", " ")
    return words or getattr(box, "placeholder", "") or "a field"


def create_app(config: Config, *, clock: Clock | None = None, desk: Desk | None = None) -> KioskApp:
    """The factory tests and the CLI use; the store must already be open. Tests pass a ``desk``
    built with fakes (senders, printer), or just a fixed ``clock``."""
    return KioskApp(desk or Desk(config, clock=clock))


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


def release_free_memory() -> None:
    """Give the memory the C allocator holds free back to the system (glibc's ``malloc_trim``).
    glibc returns freed memory only from the top of its heap; what a family's screens, queries and
    slip freed in the middle stays in the process, 2-3 MiB of a low-spec kiosk between families
    (benchmarks/lowspec.py, D1). A few milliseconds, in the pause between families."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def tune_interpreter() -> None:
    """Python settings for a desk's keys to answer within 100 ms (benchmarks/desk_keys.py).

    - A worker busy with Python (the PDF, a search) hands the interpreter back every 5 ms by
      default, and the screen waits that long at each step of drawing a key's answer: 1 ms.
    - The cyclic garbage collector's full passes over the ~90,000 objects of a signed-in desk
      took 50-100 ms, landing on a random key: Esc, Delivery and opening a patient measured
      110-180 ms at p95 on a quiet machine. What start-up made lives as long as the process, so
      it is frozen out of every pass (``gc.freeze``), and passes run about 3 times less often
      (2,000 allocations, not 700): p95 of every key 9-66 ms. The cost was memory: a family's
      closed screens waited longer for a full pass, and benchmarks/lowspec.py's peak went from 94
      to 103 MiB. So the App runs one full pass each time the desk is back at its home and has
      not typed for a second (``KioskApp._collect_closed_screens``): 30-70 ms of CPU, most of it
      freeing the family's screens, which a pass would have done on some key anyway; run 0.2 s
      after the screen was drawn instead, it saved 10 MiB over 100 families but landed on the
      next name's first letters (desk_keys.py's ``type`` p95 35-71 -> 121-124 ms at load 13-18).
    """
    import gc
    import sys

    sys.setswitchinterval(0.001)
    gc.freeze()
    gc.set_threshold(2000, 10, 10)


def run_app(config: Config, **run: Any) -> None:
    app = create_app(config)
    tune_interpreter()
    app.run(**run)
