"""Lock (S6) and F1 (D1) in every dialog, at 80x24: the dialog's footer offers Lock and F1 lists
the App's keys; locking hides the dialog unanswered, and the same staff member finds it, and the
screen under it, as they left them, and someone else starts at the search with the dialog closed
unanswered; an answer that comes while the lock covers the dialog waits for the lock to go
(kiosk_screens.keys.DeskDialog)."""

from __future__ import annotations

import importlib
import pkgutil
import threading

import pytest
from textual.screen import ModalScreen
from textual.widgets import Input

import kiosk_screens
from kiosk.people.staff import authenticate
from kiosk.registration.engine import IssueResult
from kiosk.store.models import RegistrationPin
from kiosk_screens.keys import DeskDialog, HelpScreen
from kiosk_screens.lock import LockScreen
from kiosk_screens.patient import PatientScreen
from kiosk_screens.pin_life import ContactDialog
from kiosk_screens.register import ConfirmReplace, RegisterScreen
from kiosk_screens.register_options import QuestionDialog
from kiosk_screens.search import SearchScreen

from conftest import desk_app, find_patient, lock_while_held, region_text, screen_text, settle

SIZE = (80, 24)


@pytest.fixture
def gate():
    opened = threading.Event()
    yield opened
    opened.set()  # never leave a worker thread waiting


@pytest.fixture
def app(training, config, gate):
    return desk_app(config, held=("update_contact",), gate=gate)


async def _press(app, pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(app, pilot)


async def _unlock(app, pilot) -> None:
    assert isinstance(app.screen, LockScreen)
    await _press(app, pilot, *"training1", "enter")


async def _window(app, pilot) -> RegisterScreen:
    app.desk.staff = authenticate("maria", "training1")
    app.open_registration(find_patient("Rosemary").id)
    await settle(app, pilot)
    assert isinstance(app.screen, RegisterScreen)
    return app.screen


async def _help_lists_lock_and_closes_on_f1(app, pilot, dialog) -> None:
    """D1: F1 over ``dialog`` lists its keys and, under Everywhere, Lock and Help; F1 closes it."""
    await _press(app, pilot, "f1")
    assert isinstance(app.screen, HelpScreen) and app.screen.below is dialog
    everywhere = region_text(app, "#help-app")
    assert "^l" in everywhere and "Lock" in everywhere and "Help" in everywhere
    await _press(app, pilot, "f1")
    assert app.screen is dialog  # one list, closed by the key that opened it


def _shown_pin(window: RegisterScreen) -> str:
    result = window.result
    assert isinstance(result, IssueResult)
    return result.pins[0].pin


async def test_s6_d1_lock_and_help_from_the_replace_question(app):
    """S6, D1 (a confirmation): the replace question's footer offers Lock; F1 lists it; Ctrl+L
    hides the question and the PINs behind the lock; the same staff member's password brings the
    question back unanswered, and No keeps the PINs just issued."""
    async with app.run_test(size=SIZE) as pilot:
        window = await _window(app, pilot)
        await _press(app, pilot, "ctrl+r")
        pin = _shown_pin(window)
        await _press(app, pilot, "ctrl+r")
        question = app.screen
        assert isinstance(question, ConfirmReplace)
        footer = screen_text(app).splitlines()[-1]
        assert "^l Lock" in footer and "y Yes, new PINs" in footer
        await _help_lists_lock_and_closes_on_f1(app, pilot, question)
        await _press(app, pilot, "ctrl+l")
        assert isinstance(app.screen, LockScreen)
        shown = screen_text(app)
        assert "Testkiddo" not in shown and pin not in shown and "Issue new PINs" not in shown
        await _unlock(app, pilot)
        assert app.screen is question  # where the desk left it, unanswered
        await _press(app, pilot, "n")
        assert app.screen is window and _shown_pin(window) == pin  # nothing replaced
        # the window, resumed from under the lock, reads its family again in a worker and is
        # drawn on a later frame
        for _ in range(100):
            await settle(app, pilot)
            if pin in screen_text(app):
                break
            await pilot.pause(0.1)
        assert pin in screen_text(app)


async def test_s6_r5_the_pins_show_whole_when_a_frame_comes_before_the_table_is_measured(app):
    """S6, R5: back from the lock, the window fills its Patient List again. On a loaded desk a
    frame can be drawn before the table has measured the rows (another widget's update reaching
    the screen first): the PINs then showed cut to the PIN header's width ("ZDG") until a key
    moved the cursor. Here that frame is drawn on purpose, right after the list is filled."""
    async with app.run_test(size=SIZE) as pilot:
        window = await _window(app, pilot)
        await _press(app, pilot, "ctrl+r")
        pin = _shown_pin(window)
        assert pin in screen_text(app)
        show_family = window.show_family

        def show_then_draw(*args) -> None:
            show_family(*args)
            app.export_screenshot()  # a frame, before the table's idle measures the new rows

        window.show_family = show_then_draw  # type: ignore[method-assign]
        await _press(app, pilot, "ctrl+l")
        await _unlock(app, pilot)
        assert app.screen is window
        await settle(app, pilot)
        await pilot.pause()
        assert pin in screen_text(app)


async def test_s6_someone_else_at_the_lock_closes_the_question_unanswered(app):
    """S6: someone else signing in at the lock starts at the search: the replace question left
    open is closed unanswered, so the PINs just issued stay the active ones."""
    async with app.run_test(size=SIZE) as pilot:
        await _window(app, pilot)
        await _press(app, pilot, "ctrl+r")
        rosemary = find_patient("Rosemary").id
        issued = RegistrationPin.select().where(RegistrationPin.patient == rosemary)
        assert issued.count() == 1
        await _press(app, pilot, "ctrl+r")
        assert isinstance(app.screen, ConfirmReplace)
        await _press(app, pilot, "ctrl+l")
        await _press(app, pilot, "ctrl+n", *"tasha", "enter", *"training1", "enter")
        assert isinstance(app.screen, SearchScreen) and app.desk.staff.username == "tasha"
        assert not any(isinstance(s, (ConfirmReplace, RegisterScreen)) for s in app.screen_stack)
        assert issued.count() == 1  # nothing replaced


async def test_s6_d1_lock_and_help_from_the_question_dialog_keep_what_was_typed(app):
    """S6, D1 (a dialog with inputs): with half a verification question typed, F1 lists Lock and
    closes; Ctrl+L hides the dialog; after the password the dialog is back with the half-typed
    question, the window under it with the choice made before (Access), and it saves as usual."""
    async with app.run_test(size=SIZE) as pilot:
        window = await _window(app, pilot)
        access = window.summary.choices.access
        await _press(app, pilot, "a")  # a choice made on the window before the dialog
        changed = window.summary.choices.access
        assert changed != access
        await _press(app, pilot, "w")
        dialog = app.screen
        assert isinstance(dialog, QuestionDialog)
        assert "^l Lock" in screen_text(app).splitlines()[-1]
        await _press(app, pilot, *"Name of your first pe")
        await _help_lists_lock_and_closes_on_f1(app, pilot, dialog)
        await _press(app, pilot, "ctrl+l")
        assert isinstance(app.screen, LockScreen)
        assert "first pe" not in screen_text(app)
        await _unlock(app, pilot)
        assert app.screen is dialog
        assert dialog.query_one("#question", Input).value == "Name of your first pe"
        assert window.summary.choices.access == changed
        await _press(app, pilot, *"t?", "enter", *"Rex", "enter")
        assert app.screen is window
        assert "Verification Question: Name of your first pet?" in screen_text(app)


async def test_s6_a_contact_saved_behind_the_lock_does_not_lift_it(app, gate):
    """S6: the desk saves a caregiver's contact details and locks before the save is done: the
    dialog's close waits behind the lock screen (a dialog's close pops the top screen), and the
    page shows once the password is typed."""
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_patient(find_patient("Rosemary").id)
        await settle(app, pilot)
        page = app.screen
        await _press(app, pilot, "e")
        assert isinstance(app.screen, ContactDialog)
        await lock_while_held(app, pilot, gate, "ctrl+s")  # the save waits on the gate
        assert "Testkiddo" not in screen_text(app)
        await _unlock(app, pilot)
        assert app.screen is page and isinstance(page, PatientScreen)


def test_s6_d1_every_dialog_is_a_desk_dialog():
    """S6, D1: every modal screen of the UI derives from DeskDialog, so Lock and F1 work in it."""
    for module in pkgutil.iter_modules(kiosk_screens.__path__):
        importlib.import_module(f"kiosk_screens.{module.name}")
    found, todo = [], list(ModalScreen.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("kiosk_screens."):
            found.append(cls)
    assert len(found) >= 10
    assert [cls.__name__ for cls in found if not issubclass(cls, DeskDialog)] == []
