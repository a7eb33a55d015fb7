"""Every key a screen offers, read from its bindings (never typed by hand): the footer, the F1
help screen and the command palette's commands all come from ``screen_keys``.

The footer keeps Sign out, Lock, the screen's main action (the first key a screen binds) and its
way back (Esc) at any width; the screen's other keys go from the right when the terminal is too narrow for them
(80x24, 60x20), and F1 (which the header names) lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from rich.text import Text
from textual import events, getters, on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen, ScreenResultType
from textual.widgets import Static

from .app import KioskApp

# Kept in the footer at any width, with the screen's main action.
ALWAYS_SHOWN = ("sign_out", "lock")
# And the screen's way back, whatever it calls it (Back, Close, Cancel): a desk at 80 columns with
# a screen full of keys must still read how to leave it (D1).
WAY_BACK = "escape"
# The App's keys every dialog offers as its own (DeskDialog): Lock (S6) and Help (D1).
DIALOG_APP_KEYS = ("lock", "help")
# What Esc on a form with a field changed asks (KioskApp.leave_asking).
CANCELLING = ("Close this form without saving?", "Closing it", "close it")


@dataclass(frozen=True)
class ScreenKey:
    """What one or more keys do on a screen. ``shown``: as the footer writes them ("^r", "f5");
    ``pressed``: the key names a click presses."""

    action: str
    description: str
    shown: tuple[str, ...]
    pressed: tuple[str, ...]
    enabled: bool
    namespace: DOMNode
    everywhere: bool  # the App's key (Lock, Help, Quit), not only this screen's
    in_footer: bool  # the binding's show flag


# Textual's own keys on every screen (Tab, Shift+Tab, copy): F1 lists them, the palette does not.
TEXTUAL_SCREEN_ACTIONS = {binding.action for binding in Binding.make_bindings(Screen.BINDINGS)}


def screen_keys(screen: Screen) -> list[ScreenKey]:
    """What each key does on ``screen`` now, in the footer's order: the focused widget's keys, the
    screen's, then the App's. Keys a widget handles itself without showing them (an Input's cursor
    keys, a table's arrows) are left out; the screen's and the App's hidden keys (Quit) are in."""
    app = screen.app
    grouped: dict[tuple[int, str], list[tuple[Binding, bool, DOMNode]]] = {}
    for namespace, binding, enabled, _tooltip in screen.active_bindings.values():
        if binding.action in DIALOG_BINDS:  # a dialog's copy of the App's key: listed as the App's
            namespace, binding = app, replace(binding, action=binding.action.removeprefix("app."))
        own = namespace is screen or namespace is app
        if binding.system or not binding.description or not (binding.show or own):
            continue
        grouped.setdefault((id(namespace), binding.action), []).append(
            (binding, enabled, namespace)
        )
    keys = []
    for (_, action), bindings in grouped.items():
        first, enabled, namespace = bindings[0]
        keys.append(
            ScreenKey(
                action=action,
                description=first.description,
                shown=tuple(dict.fromkeys(app.get_key_display(b) for b, _, _ in bindings)),
                pressed=tuple(b.key for b, _, _ in bindings),
                enabled=enabled,
                namespace=namespace,
                everywhere=namespace is app,
                in_footer=first.show,
            )
        )
    return sorted(keys, key=lambda key: key.everywhere)  # the App's last, a dialog's copies too


def footer_keys(screen: Screen, width: int, *, compact: bool) -> list[ScreenKey]:
    """The footer's keys that fit in ``width`` columns, in order: Sign out, Lock, the screen's
    main action and its way back (Esc) always; the others are dropped from the right until the
    rest fit."""
    shown = [key for key in screen_keys(screen) if key.in_footer]
    main = next((key for key in shown if key.namespace is screen), None)
    optional = [
        key
        for key in shown
        if key.action not in ALWAYS_SHOWN and key is not main and WAY_BACK not in key.pressed
    ]
    while optional and sum(key_width(key, compact) for key in shown) > width:
        shown.remove(optional.pop())
    return shown


def help_key(screen: Screen) -> str:
    """ "f1 Help" while F1 works on ``screen`` (a staff member is at it), else ""."""
    found = [key for key in screen_keys(screen) if key.action == "help" and key.enabled]
    return f"{found[0].shown[0]} {found[0].description}" if found else ""


def key_width(key: ScreenKey, compact: bool) -> int:
    """Columns one footer key takes: " ^r Register " wide, "^r Register " compact."""
    return len(key.shown[0]) + len(key.description) + (2 if compact else 3)


class DeskKey(Static):
    """One key in the footer; a click presses it."""

    COMPONENT_CLASSES = {"desk-key--key"}

    def __init__(self, key: ScreenKey, compact: bool) -> None:
        super().__init__(classes="" if key.enabled else "-disabled")
        self.key, self.compact = key, compact

    def render(self) -> Text:
        key_style = self.get_component_rich_style("desk-key--key")
        if self.compact:  # "^r Register", a space after it (its margin)
            return Text.assemble((self.key.shown[0], key_style), f" {self.key.description}")
        return Text.assemble((f" {self.key.shown[0]} ", key_style), f"{self.key.description} ")

    def on_click(self) -> None:
        if self.key.enabled:
            self.app.simulate_key(self.key.pressed[0])


class DeskFooter(Horizontal):
    """The screen's keys on the bottom line, in priority order (``footer_keys``), always in step
    with what the keys do now (focus, a disabled action); compact under 100 columns."""

    def compose(self) -> ComposeResult:
        width = self.app.size.width
        compact = width < 100
        self.set_class(compact, "-compact")
        for key in footer_keys(self.screen, width, compact=compact):
            yield DeskKey(key, compact)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.recompose)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.recompose)


class DeskDialog(ModalScreen[ScreenResultType]):
    """Every dialog (a modal screen over the desk's screen) derives from this.

    Lock and Help work on it, and show: Textual leaves the App's bindings out of a modal screen's
    own, so while its priority keys still fired, a dialog's footer, F1's list and the command
    palette (read from the screen's bindings, ``screen_keys``) offered neither. The dialog binds
    the App's own keys to the App's actions.

    Locking hides the dialog under the lock screen with the rest (KioskApp.lock): unanswered,
    as it was. An answer that comes while something covers the dialog (a worker's save finishing
    under the lock or the F1 list) waits until it is uncovered: ``dismiss`` pops the top screen,
    which would otherwise be the lock screen, showing the desk without a password (S6)."""

    BINDINGS = [
        replace(binding, action=f"app.{binding.action}")
        for binding in Binding.make_bindings(KioskApp.BINDINGS)
        if binding.action in DIALOG_APP_KEYS
    ]
    app = getters.app(KioskApp)
    _held: tuple[ScreenResultType | None] | None = None  # the answer given while covered

    def dismiss(self, result: ScreenResultType | None = None) -> AwaitComplete:
        if self.app.screen is self:
            return super().dismiss(result)
        self._held = (result,)
        return AwaitComplete.nothing()

    def on_screen_resume(self) -> None:
        if self._held is not None:
            (result,) = self._held
            self._held = None
            self.dismiss(result)

    @on(events.Mount)
    def _note_fields(self) -> None:
        self.app.note_fields(self)  # what its fields hold as it opens (unsaved_on)

    def action_cancel(self) -> None:
        """Esc on a form: closes it unanswered (None); with a field changed, asks first."""
        self.app.leave_asking(self, partial(self.dismiss, None), CANCELLING)


class QuitDialog(DeskDialog[bool]):
    """ctrl+q with work unsaved: says what quitting would lose; y quits, n, Esc or Enter stays
    (the safe answer: a second Esc or a hasty Enter never loses the work)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes, quit"),
        Binding("n,escape,enter", "answer(False)", "No, stay"),
    ]
    STAY = "stay"

    def __init__(
        self, lost: list[str], title: str = "Quit kiosk?", going: str = "Quitting", go: str = "quit"
    ) -> None:
        super().__init__()
        self.lost, self.words = lost, (title, going, go)

    def compose(self) -> ComposeResult:
        title, going, go = self.words
        with Vertical(id="quit-box", classes="dialog"):
            yield Static(title, classes="form-title", markup=False)
            yield Static(
                f"{going} now loses what is not saved:\n"
                + "\n".join(f"- {what}" for what in self.lost),
                id="quit-lost",
                markup=False,
            )
            yield Static(
                f"y: {go} and lose it.  n, Esc or Enter: {self.STAY}.", classes="hint", markup=False
            )
        yield DeskFooter()

    def action_answer(self, leave: bool) -> None:
        self.dismiss(leave)


class LeaveDialog(QuitDialog):
    """Esc with work unsaved (KioskApp.leave_asking): the same question for leaving a window or
    cancelling a dialog; a second Esc keeps the work."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes, lose it"),
        Binding("n,escape,enter", "answer(False)", "No, keep it"),
    ]
    STAY = "keep it"


DIALOG_BINDS = {binding.action for binding in Binding.make_bindings(DeskDialog.BINDINGS)}


class HelpScreen(DeskDialog[None]):
    """F1: every key of the screen below, from its bindings; the footer may show only some."""

    BINDINGS = [
        Binding("escape,f1", "close", "Close"),
    ]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        keys = screen_keys(self.below)
        with Vertical(id="help-box", classes="dialog"):
            yield Static("Keys on this screen", classes="form-title")
            with VerticalScroll(id="help-keys"):
                yield Static(key_table([k for k in keys if not k.everywhere]), id="help-screen")
                yield Static("Everywhere", classes="section-title")
                yield Static(key_table([k for k in keys if k.everywhere]), id="help-app")
            yield Static(closing_hint(self.below.app, keys), classes="hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def closing_hint(app, keys: list[ScreenKey]) -> str:
    """How to close the list, and the command palette's key where it works, from their bindings."""
    close = " or ".join(app.get_key_display(b) for b in Binding.make_bindings(HelpScreen.BINDINGS))
    palette = [k for k in keys if k.action == "command_palette" and k.enabled]
    return f"{close}: close this list." + (
        f" {palette[0].shown[0]}: find a command by name." if palette else ""
    )


def key_table(keys: list[ScreenKey]) -> Text:
    """One line per action: its keys, what it does, and "(not now)" when it is unavailable."""
    if not keys:
        return Text("No keys of its own.", style="italic")
    width = max(len(" / ".join(key.shown)) for key in keys) + 2
    lines = []
    for key in keys:
        line = Text.assemble((f"{' / '.join(key.shown):<{width}}", "bold"), key.description)
        if not key.enabled:
            line.append(" (not now)", style="italic")
        lines.append(line)
    return Text("\n").join(lines)
