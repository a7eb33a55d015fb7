"""The PIN's life on screen at 80x24 (L1-L6): expiry by moving the app's clock, re-issue from a new
visit, revoke, redirect, lock-out and clear, contact edit then issue."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import pytest
from rich.console import Console
from textual.widgets import Input, Static

from kiosk import audit
from kiosk.clock import Clock
from kiosk.people.patients import family_for
from kiosk.people.staff import authenticate
from kiosk.registration import portal
from kiosk.registration.engine import IssueRequest, issue_pins
from kiosk.store.models import AuditEvent, Caregiver, OutboxMessage, Patient
from kiosk.terms import MessageState, PortalStatus
from kiosk_screens.patient import PatientScreen
from kiosk_screens.pin_life import ContactDialog, ReasonDialog, RedirectDialog
from kiosk_screens.register import RegisterScreen, ReissueDialog

from conftest import (
    NOW,
    TODAY,
    find_patient,
    region_text,
    screen_cells,
    screen_text,
    settle,
    widget_text,
)

SIZE = (80, 24)


class MovingClock:
    """The app's clock, moved forward by the test (L2: expiry without waiting 30 days)."""

    def __init__(self) -> None:
        self.moment = NOW

    def clock(self) -> Clock:
        return Clock(now=lambda: self.moment, today=lambda: self.moment.date())


@pytest.fixture
def moving():
    return MovingClock()


@pytest.fixture
def app(training, config, moving):
    from conftest import desk_app

    return desk_app(
        replace(config, printer=replace(config.printer, output_dir=str(config.data_dir / "slips"))),
        clock=moving.clock(),
    )


def _issue(delivery="email", given="Rosemary"):
    desk = authenticate("maria", "training1")
    family = family_for(find_patient(given).id, today=TODAY)
    carer = family.caregivers[0]
    return issue_pins(
        desk,
        IssueRequest(
            [c.id for c in family.children],
            recipient_id=carer.id,
            delivery=delivery,
            email=carer.email,
        ),
        now=NOW,
        today=TODAY,
    )


async def _page(app, pilot, given="Rosemary", family="Testkiddo") -> PatientScreen:
    app.desk.staff = authenticate("maria", "training1")
    app.open_patient(find_patient(given, family).id)
    await settle(app, pilot)
    assert isinstance(app.screen, PatientScreen)
    return app.screen


def _facts(screen) -> str:
    """The PIN section's words, each fact on one line (as wide as it needs)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(screen.query_one("#pin-facts", Static).content)
    return console.export_text()


def _outcome(screen) -> str:
    return str(screen.query_one("#pin-outcome", Static).render())


async def _reason(app, pilot, text: str) -> None:
    assert isinstance(app.screen, ReasonDialog)
    app.screen.query_one("#reason", Input).value = text
    app.screen.query_one("#reason", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)


async def test_l1_l2_the_account_page_shows_the_facts_then_expired_after_the_clock_moves(
    app, moving
):
    _issue(delivery="none")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        facts = _facts(screen)
        assert "PIN, active until 12/22/2026" in facts and "Maria Lopez" in facts
        assert "Not sent (Do not send PIN)" in facts and "No parent has used it yet" in facts
        moving.moment = NOW + dt.timedelta(days=31)
        await pilot.press("escape")
        screen = await _page(app, pilot)
        assert "PIN expired on 12/22/2026" in widget_text(app)
        assert "Active PIN    none" in _facts(screen) and "Expired on 12/22/2026" in _facts(screen)
        assert screen.check_action("revoke", ()) is False


async def test_l4_revoke_with_a_reason_from_the_account_page(app):
    _issue()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        await pilot.press("v")
        await settle(app, pilot)
        await _reason(app, pilot, "   ")
        assert isinstance(app.screen, ReasonDialog)  # a reason is needed
        await _reason(app, pilot, "parent asked to stop")
        assert app.screen is screen and "The PIN is revoked" in _outcome(screen)
        assert "Revoked on 11/22/2026 by maria: parent asked to stop" in _facts(screen)
        rosemary = find_patient("Rosemary")
        assert rosemary.portal_status == PortalStatus.UNREGISTERED
        assert (
            AuditEvent.select()
            .where((AuditEvent.action == audit.REVOKE) & (AuditEvent.patient_id == rosemary.id))
            .count()
            == 1
        )


async def test_l4_redirect_the_undelivered_welcome_to_the_other_parent(app):
    result = _issue()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        assert "queued, not sent yet" in _facts(screen)
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, RedirectDialog)
        await pilot.press("down", "enter")  # Jeff, the second caregiver with authority
        await settle(app, pilot)
        assert app.screen is screen and "j***@example.com" in _outcome(screen)
        assert "Jeff Testkiddo (j***@example.com)" in _facts(screen)
        assert (
            OutboxMessage.get(OutboxMessage.message_id == result.message_id).recipient
            == "jeff.testkiddo@example.com"
        )


def _footer(app) -> str:
    return screen_text(app).splitlines()[-1]


def _offers_send(app, screen) -> bool:
    """Whether the page offers to send the welcome (w) or send it elsewhere (t), in its footer
    and to the keys alike."""
    shown = "w Send welcome" in _footer(app), "t Send to other" in _footer(app)
    allowed = screen.check_action("send_now", ()), screen.check_action("redirect", ())
    assert len({*shown, *allowed}) == 1, (shown, allowed, _footer(app))
    return shown[0]


def _redeem_both(result) -> None:
    """A parent registers both children with the PINs of ``result`` (the page not told)."""
    account = portal.create_account("cindy@example.org", "Cindy T", "a long enough passphrase 1")
    for issued in result.pins:
        dob = Patient.get_by_id(issued.patient_id).dob
        portal.redeem(account.id, dob, pin=issued.pin, terminal="t", now=NOW)


async def test_l4_after_do_not_send_the_page_offers_no_welcome_to_send(app):
    """L4: a PIN issued with Do not send PIN has no welcome: neither w nor t is offered."""
    _issue(delivery="none")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        assert "Not sent (Do not send PIN)" in _facts(screen)
        assert not _offers_send(app, screen) and "v Revoke PIN" in _footer(app)


async def test_l4_a_welcome_already_delivered_is_not_offered_again(app, config):
    """L4: after delivery a new message needs a new PIN: the page offers w and t while the
    welcome waits, and neither once it is sent. At 80x24."""
    from kiosk.messages import outbox

    _issue()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        assert _offers_send(app, screen)
        outbox.deliver_due(config, now=NOW, senders={"email": outbox.TrainingSender()})
        await pilot.press("escape")
        screen = await _page(app, pilot)
        assert "sent 11/22/2026" in _facts(screen)
        assert not _offers_send(app, screen) and "v Revoke PIN" in _footer(app)


async def test_r13_a_welcome_whose_pins_were_all_used_is_not_offered(app):
    """R13, L4: once a parent has used every PIN the welcome carries, sending it (or sending it
    to the other parent) gives nobody anything: neither is offered. At 80x24."""
    _redeem_both(_issue())
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        assert "queued, not sent yet" in _facts(screen) and "Cindy T" in _facts(screen)
        assert not _offers_send(app, screen)


async def test_r13_w_pressed_before_the_page_saw_the_redemption_says_why_and_sends_nothing(app):
    """R13, L4: w pressed on a page read before a parent used every PIN (a race with the
    portal): the desk says in plain words why, nothing is sent, and the page drops w and t."""
    result = _issue()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        assert _offers_send(app, screen)
        _redeem_both(result)
        await pilot.press("w")
        await settle(app, pilot)
        assert app.is_running and app.screen is screen
        assert _outcome(screen).startswith("Nothing is left to send")
        assert "Traceback" not in screen_text(app)
        message = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
        assert message.state == MessageState.QUEUED and message.attempts == 0
        assert not _offers_send(app, screen)


def _locked_out(pin: str) -> None:
    """Five wrong birth dates with ``pin`` in the last minute: the patient is locked out (S4)."""
    account = portal.create_account(
        "guess@example.com", "Someone Else", "a long enough passphrase 1"
    )
    for i in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(
                account.id,
                dt.date(2001, 1, 1),
                pin=pin,
                terminal="t",
                now=NOW - dt.timedelta(seconds=i),
            )


async def test_l5_lock_out_shown_then_cleared_by_an_administrator(app):
    _locked_out(_issue(delivery="none").pins[0].pin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        assert "Locked until 11/22/2026 15:15 UTC" in _facts(screen)
        assert "5 birth date did not match the PIN" in _facts(screen)
        await pilot.press("u")
        await settle(app, pilot)
        await _reason(app, pilot, "mother showed ID")
        assert "lock-out is cleared" in _outcome(screen) and "Locked until" not in _facts(screen)
        assert screen.check_action("clear_lockout", ()) is False


async def test_l5_only_an_administrator_is_offered_clear_lock_out(app):
    pin = _issue(delivery="none").pins[0].pin
    account = portal.create_account(
        "guess@example.com", "Someone Else", "a long enough passphrase 1"
    )
    for _ in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(account.id, dt.date(2001, 1, 1), pin=pin, terminal="t", now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _page(app, pilot)
        app.desk.staff = authenticate("tasha", "training1")  # linked, not an administrator
        assert screen.check_action("clear_lockout", ()) is False


async def test_l3_re_issue_from_a_new_visit_shows_the_earlier_pin_and_asks(app):
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_registration(find_patient("Layla", "Haddad").id)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RegisterScreen)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert isinstance(app.screen, ReissueDialog)
        assert "Layla Haddad: PIN, active until" in widget_text(app)
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is screen and "the earlier PINs still work" in str(
            screen.query_one("#outcome").render()
        )
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert "Issued for Layla, Yusuf" in str(screen.query_one("#outcome").render())


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (PortalStatus.REGISTERED, "already Registered: not ticked"),  # L3
        (PortalStatus.SELF_REGISTERED, "Self Registered: not ticked"),  # T3: would be refused
    ],
    ids=["l3_registered", "t3_self_registered"],
)
async def test_l3_t3_a_registered_sibling_is_listed_but_not_ticked_with_the_reason(
    app, status, reason
):
    Patient.update(portal_status=status).where(Patient.id == find_patient("Basil").id).execute()
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_registration(find_patient("Rosemary").id)
        await settle(app, pilot)
        screen = app.screen
        assert screen.checked == {
            find_patient("Rosemary").id: True,
            find_patient("Basil").id: False,
        }
        assert f"Basil Testkiddo: {reason}" in str(screen.query_one("#not-ticked").render())
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "Issued for Rosemary;" in str(screen.query_one("#outcome").render())
        assert find_patient("Basil").portal_status == status  # never downgraded (T3)


async def test_l1_a_pin_sent_to_no_address_says_so_in_words(app):
    """L1: a PIN whose welcome had no address (the parent had none on file) reads "Email to Omar
    Haddad: no message" on the account page, never with an empty "()" after the name."""
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_patient(find_patient("Layla", "Haddad").id)
        await settle(app, pilot)
        said = screen_text(app)
        assert "Delivery      Email to Omar Haddad: no message" in said and "()" not in said


async def test_l6_the_contact_dialog_names_each_language_in_words(app):
    """L6: the caregiver's language reads "English" (and Spanish is offered as "Spanish"), not a
    code such as "en"; choosing Spanish keeps the caregiver's language as "es"."""
    from textual.widgets import Select

    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_registration(find_patient("Rosemary").id)
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDialog)
        assert "English" in region_text(app, "#contact-language").split()
        app.screen.query_one("#contact-language", Select).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Spanish" in screen_text(app)
        app.screen.query_one("#contact-language", Select).value = "es"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ContactDialog)
    assert (
        Caregiver.get(Caregiver.email == "cindy.testkiddo@example.com").preferred_language == "es"
    )


async def test_l6_contact_edit_from_the_registration_window_then_issue(app):
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.open_registration(find_patient("Rosemary").id)
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDialog)
        email = app.screen.query_one("#contact-email", Input)
        email.value = "not an address"
        email.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDialog) and "valid email" in widget_text(app)
        email.value = "cindy.new@example.com"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        outcome = str(screen.query_one("#outcome").render())
        assert "cindy.new@example.com is queued" in outcome
        assert (
            OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().recipient
            == "cindy.new@example.com"
        )
        assert AuditEvent.select().where(AuditEvent.action == audit.CONTACT_EDIT).count() == 1


async def _hanging(app, pilot, screen) -> list[str]:
    """The PIN section's lines as the screen shows them, scrolled into sight; a value too long for
    its line goes on under its own column, never back under the labels (L1, L5)."""
    facts = screen.query_one("#pin-facts", Static)
    facts.scroll_visible(animate=False, top=True)
    await settle(app, pilot)
    shown = facts.region.intersection(screen.query_one("#patient-page").region)
    rows = screen_cells(app)[shown.y : shown.bottom]
    return ["".join(ch for ch, _, _ in row[shown.x : shown.right]) for row in rows]


@pytest.mark.parametrize("size", [SIZE, (60, 20)])
async def test_l1_l5_a_long_pin_fact_wraps_under_its_value_column(app, size):
    """L1, L5: the PIN section's values keep their column when they wrap (a hanging indent), at
    80x24 and 60x20: the labels' column stays clear, so each fact reads as one."""
    _locked_out(_issue().pins[0].pin)
    async with app.run_test(size=size) as pilot:
        screen = await _page(app, pilot)
        await settle(app, pilot)
        lines = [line.rstrip() for line in await _hanging(app, pilot, screen)]
        labels = ("Active PIN", "Issued", "Delivery", "Used by", "Registering")
        facts = [line for line in lines if line.strip()]  # no earlier PINs under them
        assert facts[0].startswith("Active PIN    PIN, active until"), lines
        assert len(facts) > len(labels), lines  # something wrapped
        for line in facts:
            assert line.startswith(labels) or (line[:14] == " " * 14 and line[14] != " "), lines
        said = " ".join(" ".join(line[14:].split()) for line in facts)
        assert "queued, not sent yet" in said and "Locked until 11/22/2026 15:15 UTC" in said
