"""Parent mode at the kiosk (R11-R13, S4): account, children, second parent, and the hand-back."""

from __future__ import annotations

import datetime as dt

import pytest
from textual import events
from textual.widgets import Button, Header, Input, Static

from kiosk.people.patients import family_for, patient_page, search_patients
from kiosk.registration import portal
from kiosk.registration.engine import IssuedPin, IssueRequest, IssueResult, issue_pins
from kiosk.store.models import PortalAccount
from kiosk.terms import Delivery, PortalStatus, RegistrationMethod
from kiosk_screens.lock import LockScreen
from kiosk_screens.parent import (
    ChildScreen,
    CreateAccountScreen,
    MyAccountScreen,
    ParentModeScreen,
    ParentSignInScreen,
)

from conftest import NOW, TODAY, desk_app, keys_handled, settle, widget_text

PASSWORD = "maple-kite-harbor-42"


def kiddo_ids() -> tuple[int, int]:
    rows = {r.given_name: r.id for r in search_patients("Testkiddo", today=TODAY)}
    return rows["Rosemary"], rows["Basil"]


def issue_testkiddo(staff, *, now: dt.datetime = NOW, method: str = "pin") -> IssueResult:
    """Rosemary and Basil Testkiddo, PINs for Cindy, nothing sent (the parent completes now)."""
    rosemary, basil = kiddo_ids()
    cindy = next(
        c for c in family_for(rosemary, today=TODAY).caregivers if c.name.startswith("Cindy")
    )
    extra = (
        {"question": "Name of our first dog?", "answer": "Biscuit"}
        if method == RegistrationMethod.QUESTION
        else {}
    )
    request = IssueRequest(
        [rosemary, basil], recipient_id=cindy.id, method=method, delivery=Delivery.NONE, **extra
    )
    return issue_pins(staff, request, now=now, today=now.date())


def dob_of(patient_id: int) -> dt.date:
    return patient_page(patient_id, today=TODAY).patient.dob


def value(app, widget_id: str) -> str:
    return app.screen.query_one(f"#{widget_id}", Input).value


def error(app, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}-error").render())


async def type_into(app, pilot, widget_id: str, text: str) -> None:
    """Empty the field, then type ``text`` into it key by key."""
    field = app.screen.query_one(f"#{widget_id}", Input)
    field.value = ""
    field.focus()
    await pilot.pause()
    await pilot.press(*text)
    await keys_handled(app, pilot)


async def at_desk(app, pilot, staff, result: IssueResult | None) -> None:
    """Maria is signed in at the search; she presses Complete / Log In."""
    app.signed_in(staff)
    await pilot.pause()
    app.start_parent_mode(result)
    await settle(app, pilot)
    assert isinstance(app.screen, ParentModeScreen)


async def create_account(app, pilot, name: str, email: str, password: str = PASSWORD) -> None:
    await pilot.press("n")
    await keys_handled(app, pilot)
    assert isinstance(app.screen, CreateAccountScreen)
    await type_into(app, pilot, "name", name)
    await type_into(app, pilot, "email", email)
    await type_into(app, pilot, "password", password)
    await pilot.press("f2")
    await settle(app, pilot)


async def as_cindy(app, pilot, staff, result: IssueResult | None) -> None:
    """The desk hands the kiosk to Cindy, who creates her account."""
    await at_desk(app, pilot, staff, result)
    await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")


def us_date(patient_id: int) -> str:
    return f"{dob_of(patient_id):%m/%d/%Y}"


async def add_child(app, pilot, dob_text: str, pin: str | None = None) -> None:
    """On the child screen: optionally retype the PIN, type the DOB, press F2."""
    assert isinstance(app.screen, ChildScreen)
    if pin is not None:
        await type_into(app, pilot, "pin", pin)
    await type_into(app, pilot, "dob", dob_text)
    await pilot.press("f2")
    await settle(app, pilot)


async def test_r12_create_account_redeem_first_child_then_add_second(config, front_desk):
    result = issue_testkiddo(front_desk)
    rosemary, basil = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await as_cindy(app, pilot, front_desk, result)

        assert isinstance(app.screen, ChildScreen)
        assert value(app, "pin") == result.pins[0].pin  # R11: filled in, grouped
        assert "-" in value(app, "pin")
        await add_child(app, pilot, us_date(rosemary))

        assert isinstance(app.screen, MyAccountScreen)
        assert "Rosemary is now on your account (Full Access)." in widget_text(app)
        assert "Rosemary" in str(app.screen.query_one("#children", Static).render())

        await pilot.press("a")  # Add another child: the next PIN from the desk is filled in
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ChildScreen)
        assert value(app, "pin") == result.pins[1].pin
        await add_child(app, pilot, dob_of(basil).isoformat())

        children = str(app.screen.query_one("#children", Static).render())
        assert "Rosemary" in children and "Basil" in children
    account = portal.sign_in("cindy.testkiddo@example.com", PASSWORD)
    assert [c.given_name for c in portal.children_of(account.id)] == ["Rosemary", "Basil"]
    assert patient_page(basil, today=TODAY).patient.portal_status == PortalStatus.REGISTERED


async def test_child_screen_names_whose_pin_is_filled_in_and_enter_finishes_at_the_end(
    config, front_desk
):
    """A parent with two PINs from the desk is told which child's date of birth to type; once both
    are linked, Enter on My Account is I'm done (back to the staff lock screen)."""
    result = issue_testkiddo(front_desk)
    rosemary, basil = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        help_text = str(app.screen.query_one("#child-help", Static).render())
        assert "The PIN for Rosemary is filled in. Enter Rosemary's date of birth." in help_text
        await add_child(app, pilot, us_date(rosemary))
        assert app.focused is app.screen.query_one("#add-child", Button)  # Enter: the next child
        await pilot.press("enter")
        await keys_handled(app, pilot)
        assert "The PIN for Basil is filled in." in str(
            app.screen.query_one("#child-help", Static).render()
        )
        await add_child(app, pilot, us_date(basil))
        assert isinstance(app.screen, MyAccountScreen)
        assert app.focused is app.screen.query_one("#done", Button)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)


async def test_r12_sign_in_to_existing_account_and_add_child_later(config, front_desk):
    result = issue_testkiddo(front_desk)
    _, basil = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, None)  # a parent wants to add a child at the counter
        await pilot.press("s")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ParentSignInScreen)
        await type_into(app, pilot, "email", "priya.patel@example.com")
        await type_into(app, pilot, "password", "portal-training1")
        await pilot.press("enter")  # Enter on the last field signs in
        await settle(app, pilot)

        assert isinstance(app.screen, MyAccountScreen)  # My Account > Add child/dependent
        assert "Priya Patel" in widget_text(app)
        assert "Ava" in str(app.screen.query_one("#children", Static).render())
        await pilot.press("a")
        await keys_handled(app, pilot)
        assert value(app, "pin") == ""
        await add_child(
            app, pilot, f"{dob_of(basil):%m%d%y}", pin=result.pins[1].pin.replace("-", "").lower()
        )

        assert isinstance(app.screen, MyAccountScreen)
        children = str(app.screen.query_one("#children", Static).render())
        assert "Ava" in children and "Basil" in children


async def test_a_parent_typing_ahead_fills_each_field_in_turn(config, front_desk):
    """Name, Enter, email, Enter, password, Enter in one burst (read before the app handles any
    key): each part lands in its own field and the last Enter creates the account."""
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, None)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, CreateAccountScreen)
        for char in f"Cindy Testkiddo\ncindy.testkiddo@example.com\n{PASSWORD}\n":
            app.post_message(events.Key("enter", "\r") if char == "\n" else events.Key(char, char))
        await settle(app, pilot)
        await settle(app, pilot)
        assert not isinstance(app.screen, CreateAccountScreen)
    account = portal.sign_in("cindy.testkiddo@example.com", PASSWORD)
    assert account.display_name == "Cindy Testkiddo"


async def test_sign_in_failure_keeps_email_and_clears_password(config, front_desk):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, None)
        await pilot.press("s")
        await type_into(app, pilot, "email", "priya.patel@example.com")
        await type_into(app, pilot, "password", "not-her-password")
        await pilot.press("f2")
        await settle(app, pilot)
        assert isinstance(app.screen, ParentSignInScreen)
        assert error(app, "password") == "Email or password is not right."
        assert value(app, "email") == "priya.patel@example.com"
        assert value(app, "password") == ""


async def test_weak_password_is_explained_next_to_the_field(config, front_desk):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, issue_testkiddo(front_desk))
        await pilot.press("n")
        await type_into(app, pilot, "name", "Cindy Testkiddo")
        await type_into(app, pilot, "email", "cindy.testkiddo@example.com")
        await type_into(app, pilot, "password", "short")
        assert error(app, "password") == "Use at least 15 characters."  # as they type
        await pilot.press(*"-cindy-pw1")
        await keys_handled(app, pilot)
        assert error(app, "password") == "Do not use your name or email in the password."
        await pilot.press("f2")
        await settle(app, pilot)
        assert isinstance(app.screen, CreateAccountScreen)
        assert error(app, "password") == "Do not use your name or email in the password."
        assert value(app, "name") == "Cindy Testkiddo"
    with pytest.raises(portal.PortalError):
        portal.sign_in("cindy.testkiddo@example.com", "short-cindy-pw1")


async def test_existing_email_says_sign_in_instead(config, front_desk):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, None)
        await create_account(app, pilot, "Priya Patel", "priya.patel@example.com")
        assert isinstance(app.screen, CreateAccountScreen)
        assert error(app, "email") == "An account with this email already exists: sign in instead."


async def test_o5_a_name_over_the_limit_is_said_next_to_the_name_and_no_account_is_made(
    config, front_desk
):
    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await at_desk(app, pilot, front_desk, None)
        await create_account(app, pilot, "Priya " + "x" * 124, "priya.new@example.com")
        assert isinstance(app.screen, CreateAccountScreen)
        assert error(app, "name") == "Your name is at most 120 characters (this one has 130)."
    assert not PortalAccount.select().where(PortalAccount.email == "priya.new@example.com").exists()


async def test_s4_wrong_dob_gets_the_generic_message_and_typing_stays(config, front_desk):
    result = issue_testkiddo(front_desk)
    rosemary, _ = kiddo_ids()
    wrong = dob_of(rosemary) + dt.timedelta(days=1)
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        await add_child(app, pilot, f"{wrong.month}/{wrong.day}/{wrong.year}")
        assert isinstance(app.screen, ChildScreen)
        assert error(app, "redeem") == portal.GENERIC
        assert value(app, "dob") == f"{wrong.month}/{wrong.day}/{wrong.year}"
        assert value(app, "pin") == result.pins[0].pin

        await add_child(
            app, pilot, "13/45/2022"
        )  # not a date: said next to the field, nothing tried
        assert error(app, "dob") == "Enter the date of birth like 05/17/2022."
        await add_child(app, pilot, "12/31/1899")  # before 1900: not a child's date of birth
        assert error(app, "dob") == "Enter the date of birth like 05/17/2022."
        await add_child(app, pilot, us_date(rosemary), pin="ABC")
        assert error(app, "pin") == "A PIN is 10 letters, like JFKAY-TTJYV."
    assert patient_page(rosemary, today=TODAY).patient.portal_status != PortalStatus.REGISTERED


async def test_s4_five_wrong_tries_lock_the_child(config, front_desk):
    result = issue_testkiddo(front_desk)
    rosemary, _ = kiddo_ids()
    wrong = f"{dob_of(rosemary) - dt.timedelta(days=3):%m/%d/%Y}"
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        for _ in range(portal.FAILURES_TO_LOCK):
            await add_child(app, pilot, wrong)
            assert error(app, "redeem") == portal.GENERIC
        await add_child(app, pilot, us_date(rosemary))  # even the right date now waits
        assert isinstance(app.screen, ChildScreen)
        assert error(app, "redeem") == portal.GENERIC  # S8: locked reads like any mismatch
    assert patient_page(rosemary, today=TODAY).associations == ()


async def test_s3_expired_pin_sends_the_parent_to_the_front_desk(config, front_desk):
    result = issue_testkiddo(front_desk, now=NOW - dt.timedelta(days=40))
    rosemary, _ = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        await add_child(app, pilot, us_date(rosemary))
        assert error(app, "redeem") == portal.EXPIRED
        assert value(app, "pin") == result.pins[0].pin


async def test_r10_verification_question_registration(config, front_desk):
    result = issue_testkiddo(front_desk, method=RegistrationMethod.QUESTION)
    rosemary, _ = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        assert isinstance(app.screen, ChildScreen)
        assert not app.screen.query("#pin")
        assert not app.screen.query_one("#answer", Input).display
        await type_into(app, pilot, "family", "testkiddo")
        await type_into(app, pilot, "dob", us_date(rosemary))
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Question: Name of our first dog?" in widget_text(app)
        await type_into(app, pilot, "answer", "biscuit")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MyAccountScreen)
        assert "Rosemary is now on your account" in widget_text(app)


async def test_r10_parent_without_a_desk_result_chooses_the_question_and_names_stay_plain(
    config, front_desk
):
    issue_testkiddo(front_desk, method=RegistrationMethod.QUESTION)
    _, basil = kiddo_ids()
    name = "[red]Robin[/red] O'Brien [Jr]"
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, None)
        await create_account(app, pilot, name, "robin@example.com")
        assert app.screen.query("#pin")
        await pilot.press("f3")  # "I was given a question, not a PIN"
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ChildScreen) and not app.screen.query("#pin")
        await type_into(app, pilot, "family", "Testkiddo")
        await type_into(app, pilot, "dob", f"{dob_of(basil):%-m/%-d/%Y}")
        await pilot.press("f2")
        await settle(app, pilot)
        await type_into(app, pilot, "answer", "wrong dog")
        await pilot.press("f2")
        await settle(app, pilot)
        assert error(app, "redeem") == portal.GENERIC
        assert value(app, "answer") == "wrong dog"
        await type_into(app, pilot, "answer", "Biscuit")
        await pilot.press("f2")
        await settle(app, pilot)
        assert isinstance(app.screen, MyAccountScreen)
        assert f"My Account: {name}" in widget_text(app)
        assert "Basil is now on your account (Full Access)." in widget_text(app)


async def unlock(app, pilot) -> None:
    assert isinstance(app.screen, LockScreen)
    await type_into(app, pilot, "password", "training1")
    await pilot.press("enter")
    await settle(app, pilot)


async def test_r13_second_parent_uses_the_same_pin_with_their_own_account(config, front_desk):
    result = issue_testkiddo(front_desk)
    rosemary, _ = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await as_cindy(app, pilot, front_desk, result)
        await add_child(app, pilot, us_date(rosemary))
        await pilot.press("f10")
        await settle(app, pilot)
        await unlock(app, pilot)

        app.start_parent_mode(result)  # the desk presses Complete / Log In again for Jeff
        await settle(app, pilot)
        await create_account(app, pilot, "Jeff Testkiddo", "jeff.testkiddo@example.com")
        assert value(app, "pin") == result.pins[0].pin
        await add_child(app, pilot, us_date(rosemary))
        assert isinstance(app.screen, MyAccountScreen)
    emails = {a.email for a in patient_page(rosemary, today=TODAY).associations}
    assert emails == {"cindy.testkiddo@example.com", "jeff.testkiddo@example.com"}


async def test_s6_im_done_hands_back_to_the_lock_screen(config, front_desk):
    result = issue_testkiddo(front_desk)
    rosemary, _ = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, result)
        staff_screens = list(app.screen_stack[:-1])
        await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
        await add_child(app, pilot, us_date(rosemary))
        await pilot.press("f10")  # I'm done
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        assert not any(getattr(s, "parent_mode", False) for s in app.screen_stack)
        text = widget_text(app)
        for patient_text in ("Testkiddo", "Rosemary", "Cindy", "100101", result.pins[0].pin):
            assert patient_text not in text
        await unlock(app, pilot)
        assert app.screen is staff_screens[-1]  # the staff member carries on where they were


async def test_idle_lock_ends_parent_mode(config, front_desk):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, issue_testkiddo(front_desk))
        await pilot.press("n")
        await type_into(app, pilot, "name", "Cindy Testkiddo")
        assert app.check_idle_lock(
            now=app.last_activity + app.idle_timeout + 1
        )  # the parent walked away
        await settle(app, pilot)
        assert isinstance(app.screen, LockScreen)
        await unlock(app, pilot)
        assert not getattr(app.screen, "parent_mode", False)
        assert not any(getattr(s, "parent_mode", False) for s in app.screen_stack)


STAFF_KEYS = [
    "escape",
    "ctrl+o",
    "ctrl+n",
    "ctrl+s",
    "ctrl+r",
    "ctrl+p",
    "ctrl+e",
    "ctrl+b",
    "ctrl+g",
    "f1",
    "f3",
    "f5",
    "f9",
    "tab",
    "shift+tab",
    "escape",
    "escape",
]


async def test_s7_parent_mode_shows_no_staff_data_and_no_way_back_without_password(
    config, front_desk
):
    result = issue_testkiddo(front_desk)
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await at_desk(app, pilot, front_desk, result)
        staff_screens = list(app.screen_stack[:-1])
        for step in ("welcome", "create", "child", "account"):
            if step == "create":
                await pilot.press("n")
            elif step == "child":
                await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
            elif step == "account":
                await pilot.press("escape")  # back inside parent mode: My Account
            await settle(app, pilot)
            assert app.screen.parent_mode
            assert not app.screen.query(Header)
            text = widget_text(app)
            for staff_text in (front_desk.display_name, front_desk.username, "100101", "100102"):
                assert staff_text not in text
            for key in STAFF_KEYS:
                await pilot.press(key)
                await keys_handled(app, pilot)
                assert getattr(app.screen, "parent_mode", False) or isinstance(
                    app.screen, LockScreen
                )
                assert app.screen not in staff_screens
            assert getattr(app.screen, "parent_mode", False)
        assert isinstance(app.screen, MyAccountScreen)


def snapshot_result(language: str = "en") -> IssueResult:
    """A fixed result for the snapshots: nothing in it changes from run to run."""
    return IssueResult(
        batch="snap",
        patient_name="Rosemary Testkiddo",
        language=language,
        pins=(IssuedPin(1, "Rosemary", "Rosemary Testkiddo", "JFKAY-TTJYV"),),
        expires_on=dt.date(2026, 12, 22),
        method=RegistrationMethod.PIN,
        message_id=None,
        delivery=Delivery.EMAIL,
        recipient="cindy.testkiddo@example.com",
    )


def test_parent_account_screen_snapshot(snap_compare, config, training):
    result = snapshot_result()
    app = desk_app(config)

    async def open_account_screen(pilot):
        app.start_parent_mode(result)
        await pilot.pause()
        await pilot.press("n")
        await keys_handled(app, pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=open_account_screen)
