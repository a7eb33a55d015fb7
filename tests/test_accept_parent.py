"""Acceptance of parent completion at the kiosk (R11-R13, S4), driven from the registration window.

The desk registers the Testkiddo family and presses c (Complete / Log In); a parent then has the
keyboard and the mouse. Nothing they press, click or paste may show a staff screen or staff data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from textual._xterm_parser import XTermParser
from textual.widgets import Button, DataTable, Input, Static

from kiosk.clock import Clock
from kiosk.people.patients import patient_page, search_patients
from kiosk.people.staff import authenticate
from kiosk.registration import portal
from kiosk_screens.lock import LockScreen
from kiosk_screens.parent import ChildScreen, MyAccountScreen, ParentModeScreen, ParentScreen
from kiosk_screens.patient import PatientScreen
from kiosk_screens.register import RegisterScreen
from kiosk_screens.signin import SignInScreen

from conftest import NOW, TODAY, desk_app, keys_handled, settle, widget_text
from test_ui_parent import PASSWORD, add_child, create_account, type_into, unlock

SIZE = (100, 30)


@pytest.fixture
def app(training, config, tmp_path):
    config = replace(config, printer=replace(config.printer, output_dir=str(tmp_path / "slips")))
    return desk_app(config)


def kids() -> dict[str, int]:
    return {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}


def us_date(patient_id: int) -> str:
    return f"{patient_page(patient_id, today=TODAY).patient.dob:%m/%d/%Y}"


async def registered_at_desk(app, pilot) -> RegisterScreen:
    """Maria opens Rosemary's registration window and registers the family (PINs to Cindy)."""
    app.signed_in(authenticate("maria", "training1"))
    await settle(app, pilot)
    app.open_patient(kids()["Rosemary"])
    await settle(app, pilot)
    app.open_registration(kids()["Rosemary"])
    await settle(app, pilot)
    await pilot.press("ctrl+r")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, RegisterScreen) and screen.result is not None
    return screen


async def complete(app, pilot) -> None:
    await pilot.press("c")  # Complete / Log In
    await settle(app, pilot)
    assert isinstance(app.screen, ParentModeScreen)


def staff_words(app) -> list[str]:
    """Staff data a parent must never see: the staff member, chart numbers, another family."""
    from kiosk.store.models import Patient

    chart = Patient.get_by_id(kids()["Rosemary"]).chart_number
    return [
        "Maria",
        "maria",
        "Lopez",
        chart,
        "Ava",
        "Patel",
        "Pending Registration",
        "Caregiver",
        "Authority",
        "Search",
    ]


PARENT_SIDE = (ParentScreen, LockScreen)  # parent mode, or the staff lock screen (a password away)
LOCKED_SIDE = (
    LockScreen,
    SignInScreen,
)  # the lock screen may sign out (ctrl+o): still a password away


# -- 1. no staff data, no way back without a staff password -----------------------------------

KEYS = (
    [
        "escape",
        "tab",
        "shift+tab",
        "up",
        "down",
        "left",
        "right",
        "home",
        "end",
        "pageup",
        "pagedown",
        "backspace",
        "delete",
        "insert",
    ]
    + [
        f"f{n}" for n in range(1, 13) if n not in (2, 10)
    ]  # F2 submits, F10 is I'm done (tested below)
    + [f"ctrl+{c}" for c in "abcdefghijklmnopqrstuvwxyz" if c not in "m"]  # ctrl+m is Enter
    + [
        "ctrl+backslash",
        "ctrl+right_square_bracket",
        "ctrl+underscore",
        "ctrl+f1",
        "ctrl+f5",
        "shift+f5",
        "alt+f4",
        "ctrl+shift+q",
        "ctrl+escape",
    ]
)

# Raw bytes as a terminal sends them: the driver's own parser turns them into events.
ESCAPE_SEQUENCES = [
    "\x1b",
    "\x1b\x1b",
    "\x1b[A",
    "\x1bOP",
    "\x1b[15~",
    "\x1b[1;5P",
    "\x1b[23~",
    "\x1b[Z",
    "\x03",
    "\x11",
    "\x0c",
    "\x1a",
    "\x1c",
    "\x1bx",
    "\x1b[1;3D",
    "\x1b[200~Maria\x1b[201~",
    "\x1b[I",
    "\x1b[O",
    "\x1b]52;c;?\x07",
    "\x1b[<64;10;10M",
    "\x1b[<65;10;10M",
]


async def press_everything(app, pilot, allowed=PARENT_SIDE) -> None:
    """Every key above, then the raw sequences, checking after each that nothing staff shows."""
    for key in KEYS:
        await pilot.press(key)
        await keys_handled(app, pilot)
        assert isinstance(app.screen, allowed), (
            f"{key} left parent mode for {type(app.screen).__name__}"
        )
    for sequence in ESCAPE_SEQUENCES:
        feed(app, sequence)
        await pilot.pause()
        assert isinstance(app.screen, allowed), (
            f"{sequence!r} left parent mode for {type(app.screen).__name__}"
        )


def feed(app, data: str) -> None:
    parser = XTermParser()
    for message in [*parser.feed(data), *parser.tick()]:
        app.post_message(message)


async def click_everything(app, pilot) -> None:
    """Each key in the footer, then everything under a grid of points over the whole screen (buttons
    included): each widget once per thing a click on it can do (its own action, or a link's), at the
    first grid point where it shows. A second click on the same plain text or box would do the same."""
    for key in list(app.screen.query("FooterKey")):
        # a parent-mode key runs in_language('<code>', '<action>') (I1): skip leaving and submitting
        if any(action in key.action for action in ("done", "submit")) or not key.is_attached:
            continue
        await pilot.click(key)
        await pilot.pause()
        assert isinstance(app.screen, PARENT_SIDE), f"clicking {key.description!r} left parent mode"
    clicked: set[tuple] = set()
    while targets := {
        target: at for target, at in grid_targets(app).items() if target not in clicked
    }:
        for target, (x, y) in targets.items():  # then again for whatever those clicks showed
            if not isinstance(app.screen, ParentScreen):
                return
            clicked.add(target)
            await pilot.click(offset=(x, y))
            assert isinstance(app.screen, PARENT_SIDE), f"clicking ({x}, {y}) left parent mode"


def grid_targets(app) -> dict[tuple, tuple[int, int]]:
    """(widget, link under the point) -> the first point of a 6x2 grid where it shows."""
    width, height = app.size
    targets: dict[tuple, tuple[int, int]] = {}
    for y in range(0, height, 2):
        for x in range(0, width, 6):
            widget, _ = app.screen.get_widget_at(x, y)
            if isinstance(widget, Button) and widget.id in ("done", "submit"):
                continue
            link = repr(sorted(app.screen.get_style_at(x, y).meta.items()))
            targets.setdefault((widget, link), (x, y))
    return targets


async def test_1_parent_mode_shows_no_staff_data_and_no_key_click_or_sequence_reaches_staff_screens(
    app,
):
    async with app.run_test(size=SIZE) as pilot:
        register = await registered_at_desk(app, pilot)
        staff_screens = list(app.screen_stack)
        await complete(app, pilot)
        steps = ["welcome", "create", "child", "account"]
        for step in steps:
            if step == "create":
                await pilot.press("n")
            elif step == "child":
                await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
            elif step == "account":
                await add_child(app, pilot, us_date(kids()["Rosemary"]))
            await settle(app, pilot)
            assert isinstance(app.screen, ParentScreen), step
            shown = widget_text(app)
            for word in staff_words(app):
                assert word not in shown, (step, word)
            # Tab and shift+tab only ever reach this screen's own visible widgets: once round the
            # focus chain each way, and one more step past the end.
            rounds = len(app.screen.focus_chain) + 1
            for key in ["tab"] * rounds + ["shift+tab"] * rounds:
                await pilot.press(key)
                await keys_handled(app, pilot)
                focused = app.focused
                assert focused is None or (focused.screen is app.screen and focused.display), step
            here = type(app.screen)
            await press_everything(app, pilot)
            await click_everything(app, pilot)
            await settle(app, pilot)
            assert app.screen not in staff_screens
            if not isinstance(
                app.screen, here
            ):  # a click on a parent button moved on: go back to the step
                assert isinstance(app.screen, ParentScreen)
        assert app.screen_stack[: len(staff_screens)] == staff_screens  # the desk's place is kept
        assert register.is_attached


# -- 2-4. account, more children, second parent, Associations on the staff side -------------------


async def test_2_to_4_two_parents_complete_at_the_counter_and_both_show_in_associations(app):
    rosemary, basil = kids()["Rosemary"], kids()["Basil"]
    async with app.run_test(size=SIZE) as pilot:
        register = await registered_at_desk(app, pilot)
        pins = dict(register.pins)
        await complete(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert (
            app.screen.query_one("#email", Input).value == "cindy.testkiddo@example.com"
        )  # the desk's choice
        await pilot.press("escape")
        await keys_handled(app, pilot)
        await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
        assert app.screen.query_one("#pin", Input).value == pins[rosemary]  # R11: filled in
        await add_child(app, pilot, us_date(rosemary))
        await pilot.press("a")  # Add another child: Basil's PIN is filled in
        await keys_handled(app, pilot)
        assert app.screen.query_one("#pin", Input).value == pins[basil]
        await add_child(app, pilot, us_date(basil))
        children = str(app.screen.query_one("#children", Static).render())
        assert "Rosemary" in children and "Basil" in children
        await pilot.press("f10")  # I'm done
        await settle(app, pilot)
        await unlock(app, pilot)
        assert app.screen is register  # Maria carries on where she was
        statuses = {
            str(row[1]): str(row[3])
            for row in (register.query_one("#patients", DataTable).get_row_at(i) for i in range(2))
        }
        assert set(statuses.values()) == {"Registered"}, statuses

        await complete(app, pilot)  # Jeff, with the same PIN and his own account (R13)
        await pilot.press("n")
        await settle(app, pilot)
        assert (
            app.screen.query_one("#email", Input).value == ""
        )  # not Cindy's address: it is hers, not his
        await pilot.press("escape")
        await keys_handled(app, pilot)
        await create_account(app, pilot, "Jeff Testkiddo", "jeff.testkiddo@example.com")
        await add_child(app, pilot, us_date(rosemary))
        assert isinstance(app.screen, MyAccountScreen)
        assert "Rosemary is now on your account (Full Access)." in widget_text(app)
        await pilot.press("f10")
        await settle(app, pilot)
        await unlock(app, pilot)

        await pilot.press("escape")  # back to Rosemary's account page
        await settle(app, pilot)
        assert isinstance(app.screen, PatientScreen)
        table = app.screen.query_one("#associations", DataTable)
        details = []  # each account's email is on the highlighted row's detail line
        for i in range(table.row_count):
            table.move_cursor(row=i)
            await settle(app, pilot)
            details.append(str(app.screen.query_one("#association-detail").render()))
        assert "<cindy.testkiddo@example.com>" in details[0] + details[1]
        assert "<jeff.testkiddo@example.com>" in details[0] + details[1]


async def test_3_add_child_later_from_my_account(app):
    """Later, at another visit, Cindy signs in and adds Basil from My Account > Add child/dependent."""
    rosemary, basil = kids()["Rosemary"], kids()["Basil"]
    async with app.run_test(size=SIZE) as pilot:
        register = await registered_at_desk(app, pilot)
        basil_pin = register.pins[basil]
        account = portal.create_account("cindy.testkiddo@example.com", "Cindy Testkiddo", PASSWORD)
        portal.redeem(
            account.id,
            patient_page(rosemary, today=TODAY).patient.dob,
            pin=register.pins[rosemary],
            now=NOW,
        )
        app.start_parent_mode(None)  # no result from the desk this time
        await settle(app, pilot)
        await pilot.press("s")
        await keys_handled(app, pilot)
        await type_into(app, pilot, "email", "cindy.testkiddo@example.com")
        await type_into(app, pilot, "password", PASSWORD)
        await pilot.press("f2")
        await settle(app, pilot)
        assert isinstance(app.screen, MyAccountScreen)
        assert "Add child/dependent" in widget_text(app)
        await pilot.press("a")
        await keys_handled(app, pilot)
        assert app.screen.query_one("#pin", Input).value == ""
        await type_into(app, pilot, "pin", basil_pin.lower().replace("-", " "))
        await add_child(app, pilot, us_date(basil))
        assert [c.given_name for c in portal.children_of(account.id)] == ["Rosemary", "Basil"]


# -- 5. wrong DOB or PIN, lock-out, expiry ------------------------------------------------------


async def test_5_wrong_pin_and_wrong_dob_get_one_message_then_the_lock_out(app):
    rosemary = kids()["Rosemary"]
    wrong_dob = f"{patient_page(rosemary, today=TODAY).patient.dob - dt.timedelta(days=2):%m/%d/%Y}"
    async with app.run_test(size=SIZE) as pilot:
        await registered_at_desk(app, pilot)
        await complete(app, pilot)
        await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
        right_pin = app.screen.query_one("#pin", Input).value
        await type_into(app, pilot, "pin", "ABCDE-FGHJK")  # a well-formed PIN that is not hers
        await add_child(app, pilot, us_date(rosemary))
        messages = {str(app.screen.query_one("#redeem-error").render())}
        await type_into(app, pilot, "pin", right_pin)
        for _ in range(portal.FAILURES_TO_LOCK):  # her PIN with a wrong date names her (S8)
            await add_child(app, pilot, wrong_dob)
            messages.add(str(app.screen.query_one("#redeem-error").render()))
        assert messages == {portal.GENERIC}  # never says which part was wrong
        await add_child(app, pilot, us_date(rosemary))
        assert (
            str(app.screen.query_one("#redeem-error").render()) == portal.GENERIC
        )  # locked: the same words
        assert "15 minutes" in portal.GENERIC and "front desk" in portal.GENERIC
    assert patient_page(rosemary, today=TODAY).associations == ()


async def test_5_an_expired_pin_sends_the_parent_to_the_front_desk(app):
    rosemary = kids()["Rosemary"]
    async with app.run_test(size=SIZE) as pilot:
        await registered_at_desk(app, pilot)
        await complete(app, pilot)
        app.desk.clock = Clock.fixed(NOW + dt.timedelta(days=31), TODAY + dt.timedelta(days=31))
        await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
        await add_child(app, pilot, us_date(rosemary))
        assert str(app.screen.query_one("#redeem-error").render()) == (
            "This PIN has expired. Ask the front desk for a new one."
        )
        assert isinstance(app.screen, ChildScreen)


# -- 6. the hand-back -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["f10", "done button", "idle"])
async def test_6_the_kiosk_returns_to_the_staff_lock_screen(app, how):
    async with app.run_test(size=SIZE) as pilot:
        register = await registered_at_desk(app, pilot)
        await complete(app, pilot)
        await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
        await type_into(app, pilot, "dob", "05/1")  # half-typed when the parent walks away
        if how == "f10":
            await pilot.press("f10")
        elif how == "done button":
            await pilot.click("#done")
        else:
            assert not app.check_idle_lock(now=app.last_activity + app.idle_timeout - 1)
            assert app.check_idle_lock(now=app.last_activity + app.idle_timeout + 1)
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        assert not any(isinstance(s, ParentScreen) for s in app.screen_stack)
        shown = widget_text(app)
        assert "Cindy" not in shown and "Rosemary" not in shown and "05/1" not in shown
        await press_everything(app, pilot, LOCKED_SIDE)  # the lock screen holds too
        if isinstance(app.screen, LockScreen):
            await unlock(app, pilot)
            assert app.screen is register
