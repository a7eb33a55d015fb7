"""The registration window, the slip preview and the outbox screen (R3-R10, R13-R15, O3)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Select, Static

from kiosk.messages import outbox
from kiosk.people.patients import patient_page, search_patients
from kiosk.people.staff import authenticate
from kiosk.registration.engine import IssuedPin, IssueResult
from kiosk.terms import Delivery, RegistrationMethod
from kiosk_screens.outbox_screen import OutboxScreen
from kiosk_screens.register import REFUSED, ConfirmReplace, RegisterScreen
from kiosk_screens.slip_preview import SlipPreviewScreen
from kiosk_screens.widgets import FieldError

from conftest import NOW, TODAY, desk_app, keys_handled, region_text, screen_text, settle

SIZE = (100, 30)
GROUPED_PIN = re.compile(r"^[A-Z]{5}-[A-Z]{5}$")


@pytest.fixture
def desk_config(config, tmp_path):
    """The test config with slips saved under tmp_path (no printer is set up)."""
    return replace(config, printer=replace(config.printer, output_dir=str(tmp_path / "slips")))


@pytest.fixture
def app(training, desk_config):
    return desk_app(desk_config)


def patient_id(text: str) -> int:
    return search_patients(text, today=TODAY)[0].id


async def open_window(app, pilot, search: str, *, second_parent: bool = False) -> RegisterScreen:
    app.desk.staff = authenticate("maria", "training1")
    app.open_registration(patient_id(search), second_parent=second_parent)
    await settle(app, pilot)
    assert isinstance(app.screen, RegisterScreen)
    return app.screen


def rows(screen, table_id: str) -> list[list[str]]:
    table = screen.query_one(table_id, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def patient_list(screen) -> dict[str, dict[str, str]]:
    """The Patient List by patient name: Register, PIN, Status, Role."""
    return {
        row[1]: dict(zip(("Register", "PIN", "Status", "Role"), (row[0], *row[2:])))
        for row in rows(screen, "#patients")
    }


def error(screen, name: str) -> str:
    label = screen.query_one(f"#{name}-error", FieldError)
    return label.text if label.display else ""


async def register(app, pilot) -> None:
    await pilot.press("ctrl+r")
    await settle(app, pilot)


async def choose(app, pilot, key: str, times: int = 1) -> None:
    """Press a summary line's key ``times`` (each press steps to the next choice)."""
    await pilot.press(*[key] * times)
    await settle(app, pilot)


def line(screen, name: str) -> str:
    """A summary line as shown ("" when hidden)."""
    label = screen.query_one(f"#{name}-line", Static)
    return str(label.render()) if label.display else ""


# -- R5, R4, R6: the family at once ----------------------------------------------------------------


async def test_register_the_testkiddo_family_fills_the_pin_column(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        title = str(screen.query_one("#title", Static).render())
        assert "Registration for Patient Rosemary Testkiddo and selected Siblings" in title
        assert [row[:3] for row in rows(screen, "#caregivers")] == [
            ["> Cindy Testkiddo", "Mother", "Joint"],
            ["  Jeff Testkiddo", "Father", "Joint"],
        ]
        before = patient_list(screen)
        assert list(before) == ["Rosemary Testkiddo", "Basil Testkiddo"]
        assert {child["Register"] for child in before.values()} == {"[x]"}

        await register(app, pilot)

        after = patient_list(screen)
        assert all(GROUPED_PIN.match(after[name]["PIN"]) for name in after), after
        assert after["Rosemary Testkiddo"]["PIN"] != after["Basil Testkiddo"]["PIN"]
        assert {child["Status"] for child in after.values()} == {"Pending Registration"}
        messages = outbox.list_messages()
        assert len(messages) == 1 and messages[0].recipient == "c***@example.com"


async def test_an_unchecked_child_gets_no_pin(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        screen.query_one("#patients").focus()
        await pilot.press("down", "space")
        await keys_handled(app, pilot)
        assert patient_list(screen)["Basil Testkiddo"]["Register"] == "[ ]"

        await register(app, pilot)

        listed = patient_list(screen)
        assert GROUPED_PIN.match(listed["Rosemary Testkiddo"]["PIN"])
        assert listed["Basil Testkiddo"]["PIN"] == ""
        assert listed["Basil Testkiddo"]["Status"] == "Unregistered"


async def test_r12_r13_a_pin_a_parent_redeemed_is_no_longer_shown_as_waiting(app):
    """R12, R13: once a parent redeems a PIN the window issued (on the portal, here), the window
    shows the truth when it is shown again (back from the slip) and when it refreshes by itself:
    the child Registered and the PIN Redeemed, not the PIN as if it were still waiting; the
    sibling nobody redeemed keeps its PIN. At 80x24, read from the screen."""
    from kiosk.registration import portal

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        screen.query_one("#patients").focus()
        await register(app, pilot)
        pins = {name: row["PIN"] for name, row in patient_list(screen).items()}
        assert all(GROUPED_PIN.match(pin) for pin in pins.values())
        account = portal.create_account(
            "cindy@example.org", "Cindy T", "a long enough passphrase 1"
        )
        rosemary = search_patients("Testkiddo, Rosemary", today=TODAY)[0]
        portal.redeem(account.id, rosemary.dob, pin=pins["Rosemary Testkiddo"], now=NOW)

        await pilot.press("p")  # the slip, then back: the window is shown again
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen
        shown = screen_text(app)
        [row] = [
            line for line in shown.splitlines() if "Rosemary Testkiddo" in line and "[" in line
        ]
        assert "Redeemed" in row and "Registered" in row and pins["Rosemary Testkiddo"] not in shown
        assert pins["Basil Testkiddo"] in shown  # nobody used Basil's

        basil = search_patients("Testkiddo, Basil", today=TODAY)[0]
        portal.redeem(account.id, basil.dob, pin=pins["Basil Testkiddo"], now=NOW)
        screen.refresh_family()  # what the window's timer does while its PINs are out
        await settle(app, pilot)
        assert pins["Basil Testkiddo"] not in screen_text(app)
        assert [row["PIN"] for row in patient_list(screen).values()] == ["Redeemed", "Redeemed"]


async def test_r12_a_pin_redeemed_at_the_kiosk_shows_redeemed_back_at_the_window(app):
    """R11, R12: Complete / Log In hands the kiosk to Cindy, who registers Rosemary and is done;
    after the staff member unlocks, the window says Rosemary's PIN was redeemed (and Basil's is
    still there to print or send), at 80x24."""
    from test_ui_parent import add_child, create_account, unlock

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        screen.query_one("#patients").focus()
        await register(app, pilot)
        pins = {name: row["PIN"] for name, row in patient_list(screen).items()}
        await pilot.press("c")
        await settle(app, pilot)
        await create_account(app, pilot, "Cindy Testkiddo", "cindy.testkiddo@example.com")
        rosemary = search_patients("Testkiddo, Rosemary", today=TODAY)[0]
        await add_child(app, pilot, f"{rosemary.dob:%m/%d/%Y}")
        await pilot.press("f10")  # I'm done: the lock screen
        await settle(app, pilot)
        await unlock(app, pilot)
        await settle(app, pilot)
        assert app.screen is screen
        shown = screen_text(app)
        assert pins["Rosemary Testkiddo"] not in shown and pins["Basil Testkiddo"] in shown
        listed = patient_list(screen)
        assert listed["Rosemary Testkiddo"]["PIN"] == "Redeemed"
        assert listed["Rosemary Testkiddo"]["Status"] == "Registered"


async def test_register_again_asks_before_ending_the_pins_just_issued(app):
    """R3: a second Register ends the first PINs, so it is never silent."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        first = patient_list(screen)["Rosemary Testkiddo"]["PIN"]

        await register(app, pilot)
        assert isinstance(app.screen, ConfirmReplace)
        await pilot.press("n")
        await settle(app, pilot)
        assert patient_list(screen)["Rosemary Testkiddo"]["PIN"] == first

        await register(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        second = patient_list(screen)["Rosemary Testkiddo"]["PIN"]
        assert GROUPED_PIN.match(second) and second != first


# -- R14: print from the result ---------------------------------------------------------------------


async def test_print_shows_the_slip_then_saves_the_pdf_without_a_printer(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        pins = [child["PIN"] for child in patient_list(screen).values()]

        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, SlipPreviewScreen)
        slip = region_text(app, "#slip-text")
        assert all(pin in slip for pin in pins)
        assert app.desk.practice.portal_url in slip
        assert "Portal registration for Rosemary Testkiddo and selected siblings" in " ".join(
            slip.split()
        )

        assert not app.screen.query_one("#slip-warning", Static).display  # every letter prints

        await pilot.press("p")
        await settle(app, pilot)
        said = str(app.screen.query_one("#print-outcome", Static).render())
        assert "No printer is set up. The slip was saved as" in said
        saved = Path(said.rsplit(" saved as ", 1)[1].rstrip("."))
        assert saved.exists() and saved.read_bytes().startswith(b"%PDF")


async def test_print_pin_ticked_opens_the_slip_right_after_register(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await pilot.press("p")
        await keys_handled(app, pilot)
        assert "Yes: the slip opens after Register" in line(screen, "print")
        await register(app, pilot)
        assert isinstance(app.screen, SlipPreviewScreen)
        slip = region_text(app, "#slip-text")
        assert all(child["PIN"] in slip for child in patient_list(screen).values())


async def test_slip_preview_names_the_names_the_printed_slip_cannot_show(app):
    """No slip font has Ethiopic or Devanagari letters (I1): the desk is told which names to write
    by hand."""
    result = IssueResult(
        batch="0123456789abcdef",
        patient_name="ሰላም",
        language="en",
        pins=(
            IssuedPin(1, "ሰላም", "ሰላም", "JFKAY-TTJYV"),
            IssuedPin(2, "Ánh", "Nguyễn Thị Ánh", "NVTHF-PCJQW"),
            IssuedPin(3, "प्रिया", "प्रिया [शर्मा]", "BCDFG-HJKLM"),
        ),
        expires_on=dt.date(2026, 12, 22),
        method=RegistrationMethod.PIN,
        message_id=None,
        delivery=Delivery.NONE,
    )
    async with app.run_test(size=SIZE) as pilot:
        app.desk.staff = authenticate("maria", "training1")
        app.show_slip(result)
        await settle(app, pilot)
        warning = app.screen.query_one("#slip-warning", Static)
        assert warning.display
        assert str(warning.render()) == (
            "The printed slip cannot show some letters of ሰላም; प्रिया [शर्मा] (they print "
            "as empty boxes): write those names on the slip by hand."
        )


# -- R7: validation keeps what was typed and writes nothing ----------------------------------------


async def type_other_email(app, pilot, text: str) -> None:
    """o (Address), Another address, then ``text`` and Enter."""
    await pilot.press("o")
    await settle(app, pilot)
    app.screen.query_one("#email-choice", Select).value = "other"
    await pilot.pause()
    box = app.screen.query_one("#email", Input)
    assert box.display
    box.focus()
    await pilot.press(*text, "enter")
    await settle(app, pilot)


async def test_a_bad_email_shows_next_to_the_field_keeps_the_text_and_writes_nothing(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await type_other_email(app, pilot, "not-an-email")
        assert "not-an-email (typed)" in line(screen, "address")

        await register(app, pilot)

        assert "valid email address" in error(screen, "address")
        assert str(screen.query_one("#outcome", Static).render()) == REFUSED
        assert "not-an-email (typed)" in line(screen, "address")  # what was typed stays
        assert patient_list(screen)["Rosemary Testkiddo"]["PIN"] == ""
        account = patient_page(patient_id("Testkiddo, Rosemary"), today=TODAY)
        assert account.patient.pin_state == "No PIN"
        assert outbox.list_messages() == []


async def test_r11_a_text_welcome_is_read_back_as_the_cell_number(training, desk_config):
    """R11: after Register with a text message, the outcome names the cell as the desk knows it,
    "(317) 555-0101", never the carrier's email gateway ("3175550101@vtext.com"); Send PIN says
    the same (80x24)."""
    app = desk_app(desk_config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await choose(app, pilot, "d")
        assert "(317) 555-0101, Verizon" in line(screen, "address")
        await register(app, pilot)
        said = " ".join(str(screen.query_one("#outcome", Static).render()).split())
        assert "welcome text to (317) 555-0101 is queued" in said and "@" not in said
        await pilot.press("s")
        await settle(app, pilot)
        said = " ".join(str(screen.query_one("#outcome", Static).render()).split())
        assert "(317) 555-0101" in said and "@" not in said, said


async def test_a_text_message_without_a_carrier_is_refused_next_to_the_carrier(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        screen.query_one("#caregivers").focus()
        await pilot.press("down")  # Jeff: no cell, no carrier on file
        await choose(app, pilot, "d")
        assert "Text message" in line(screen, "delivery")
        assert "no cell on file" in line(screen, "address")
        await pilot.press("o")
        await settle(app, pilot)
        await pilot.press(*"317 555 0102", "enter")
        await settle(app, pilot)
        assert "(317) 555-0102, no carrier chosen" in line(screen, "address")

        await register(app, pilot)

        assert error(screen, "address") == "Choose the cell carrier: a text message needs it."
        assert outbox.list_messages() == []

        await pilot.press("o")  # the message goes once the carrier is chosen
        await settle(app, pilot)
        app.screen.query_one("#carrier", Select).value = "verizon"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "(317) 555-0102, Verizon" in line(screen, "address")
        assert error(screen, "address") == ""
        assert str(screen.query_one("#outcome", Static).render()) == ""


async def test_a_retired_carrier_is_warned_about_once_next_to_the_address(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await choose(app, pilot, "d")
        await pilot.press("o")
        await settle(app, pilot)
        app.screen.query_one("#carrier", Select).value = "att"
        await pilot.pause()
        assert "AT&T no longer passes email to text messages" in str(
            app.screen.query_one("#carrier-warning", Static).render()
        )
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "AT&T no longer passes email to text messages" in error(screen, "address")

        await register(app, pilot)
        assert screen_text(app).count("no longer passes email to text messages") == 1


async def test_i2_with_an_sms_provider_the_desk_texts_without_choosing_a_carrier(
    training, desk_config
):
    from kiosk.config import SmsConfig

    sms = SmsConfig(account_sid="AC1", auth_token="secret-token", from_number="+13175550100")
    app = desk_app(replace(desk_config, sms=sms))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        screen.query_one("#caregivers").focus()
        await pilot.press("down")  # Jeff: no cell, no carrier on file
        await choose(app, pilot, "d")
        await pilot.press("o")
        await settle(app, pilot)
        assert not app.screen.query("#carrier")
        await pilot.press(*"317 555 0102", "enter")
        await settle(app, pilot)
        assert line(screen, "address").endswith("Address        (317) 555-0102")

        await register(app, pilot)

        assert error(screen, "address") == ""
        [message] = outbox.list_messages()
        assert (message.channel, message.recipient, message.carrier) == ("text", "***-***-0102", "")


# -- R8: Send to ------------------------------------------------------------------------------------


async def test_send_to_is_offered_for_a_patient_of_twelve_or_more(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Kim, Jordan")  # 14
        assert "Parent/Guardian" in line(screen, "send-to")
        app.pop_screen()
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")  # 6 and 4
        assert line(screen, "send-to") == ""


async def test_send_to_minor_is_refused_while_an_under_twelve_sibling_is_checked(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Wilson, Olivia")  # Olivia 13, Noah 9
        assert list(patient_list(screen)) == ["Olivia Wilson", "Noah Wilson"]
        assert "Parent/Guardian" in line(screen, "send-to")
        await choose(app, pilot, "m")
        assert "Minor" in line(screen, "send-to")
        # said at once, before Register
        assert "Send to Minor is only for patients 12 or older; Noah is 9" in error(
            screen, "send-to"
        )

        await register(app, pilot)

        assert "Send to Minor is only for patients 12 or older; Noah is 9" in error(
            screen, "send-to"
        )
        assert patient_list(screen)["Olivia Wilson"]["PIN"] == ""

        screen.query_one("#patients").focus()
        await pilot.press("space")  # uncheck Olivia: nobody 12 or older is left
        await settle(app, pilot)
        assert line(screen, "send-to") == "" and error(screen, "send-to") == ""


# -- R15: only a caregiver with authority receives the PIN -------------------------------------------


async def test_choosing_a_caregiver_without_authority_says_so_next_to_the_table(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Johnson, Emma")
        assert [row[2] for row in rows(screen, "#caregivers")] == ["Joint", "None"]
        assert error(screen, "recipient") == ""
        screen.query_one("#caregivers").focus()
        await pilot.press("down")  # Linda Johnson, Grandparent, authority None
        await settle(app, pilot)
        assert rows(screen, "#caregivers")[1][0] == "> Linda Johnson"
        assert "Linda Johnson has no contact authority for Emma" in error(screen, "recipient")

        await register(app, pilot)
        assert "Linda Johnson has no contact authority" in error(screen, "recipient")
        assert outbox.list_messages() == []

        await pilot.press("up")
        await settle(app, pilot)
        assert error(screen, "recipient") == ""


# -- R13: a second parent's own PIN ----------------------------------------------------------------


async def test_a_second_parent_gets_their_own_pin_and_the_status_stays_registered(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Patel, Ava", second_parent=True)
        assert list(patient_list(screen)) == ["Ava Patel"]
        assert not screen.query_one("#caregiver-section").display
        # Priya already has an account: Raj's address is offered
        assert "raj.patel@example.com (Raj Patel, Father)" in line(screen, "address")

        await register(app, pilot)

        listed = patient_list(screen)["Ava Patel"]
        assert GROUPED_PIN.match(listed["PIN"])
        assert listed["Status"] == "Registered"
        assert [m.recipient for m in outbox.list_messages()] == ["r***@example.com"]


# -- patient text is data ---------------------------------------------------------------------------


async def test_markup_in_names_displays_exactly(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Tester")
        assert list(patient_list(screen)) == ["a[/]b Tester"]
        assert rows(screen, "#caregivers")[0][0] == "> [red]Robin[/red] Tester"
        assert (
            str(screen.query_one("#title", Static).render())
            == "Registration for Patient a[/]b Tester"
        )


# -- R11: Send PIN ----------------------------------------------------------------------------------


async def test_send_pin_says_in_plain_words_what_happened(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        said = str(screen.query_one("#outcome", Static).render())
        assert "cindy.testkiddo@example.com is queued" in said
        assert "no mail server is set up" in said
        assert [m.state for m in outbox.list_messages()] == ["queued"]


async def test_send_pin_with_do_not_send_says_nothing_will_be_sent(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await choose(app, pilot, "d", 2)
        assert "Do not send PIN" in line(screen, "delivery") and line(screen, "address") == ""
        await register(app, pilot)
        assert all(GROUPED_PIN.match(child["PIN"]) for child in patient_list(screen).values())
        outcome = str(screen.query_one("#outcome", Static).render())
        assert (
            "Nothing will be sent (Do not send PIN)" in outcome
        )  # L4: the words match what happens
        assert "queued" not in outcome and "s to send" not in outcome
        assert screen.check_action("send_pin", ()) is False  # no Send PIN to press
        await pilot.press("s")
        await settle(app, pilot)
        assert outbox.list_messages() == []


def footer(app) -> str:
    """The footer's keys as the desk reads them (the screen's last line)."""
    return screen_text(app).splitlines()[-1]


def redeem_all(screen) -> None:
    """A parent redeems every PIN the window issued, on the portal (the window not told)."""
    from kiosk.registration import portal

    account = portal.create_account("cindy@example.org", "Cindy T", "a long enough passphrase 1")
    for issued in screen.result.pins:
        dob = patient_page(issued.patient_id, today=TODAY).patient.dob
        portal.redeem(account.id, dob, pin=issued.pin, now=NOW)


async def test_l4_send_pin_leaves_the_footer_once_the_welcome_is_sent(training, desk_config):
    """L4: after delivery a new message needs a new PIN, so once s has sent the welcome, neither
    the footer nor the key offers a second one (a press does nothing). At 80x24."""
    from conftest import FakeSender

    sender = FakeSender()
    app = desk_app(desk_config, senders={"email": sender, "text": FakeSender()})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        assert "s Send PIN" in footer(app)
        await pilot.press("s")
        await settle(app, pilot)
        assert "cindy.testkiddo@example.com was sent" in str(screen.query_one("#outcome").render())
        assert "Send PIN" not in footer(app) and "p Print" in footer(app)
        assert screen.check_action("send_pin", ()) is False
        await pilot.press("s")
        await settle(app, pilot)
        assert len(sender.sent) == 1 and [m.state for m in outbox.list_messages()] == ["sent"]


async def test_r13_send_pin_leaves_once_every_pin_in_the_welcome_is_used(app):
    """R13, L4: once a parent has used every PIN Register issued (here on the portal), the
    window's own refresh shows them Redeemed, drops s Send PIN from the footer and says why in
    place of "Press s to send it now". At 80x24."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        said = str(screen.query_one("#outcome", Static).render())
        assert "Press s to send it now" in said and "s Send PIN" in footer(app)
        redeem_all(screen)
        screen.refresh_family()  # what the window's timer does while its PINs are out
        await settle(app, pilot)
        assert [row["PIN"] for row in patient_list(screen).values()] == ["Redeemed", "Redeemed"]
        assert "Send PIN" not in footer(app) and "c Complete" in footer(app)
        said = str(screen.query_one("#outcome", Static).render())
        assert "Nothing is left to send" in said and "Press s" not in said
        await pilot.press("s")
        await settle(app, pilot)
        assert [m.state for m in outbox.list_messages()] == ["queued"]


async def test_r13_send_pin_pressed_before_the_window_saw_the_redemption_sends_nothing(
    training, desk_config
):
    """R13, L4: s pressed in a window that has not yet read that a parent used every PIN (a
    race with the portal): the desk says in plain words why nothing is sent, no traceback, no
    welcome leaves, and the footer drops s. At 80x24."""
    from conftest import FakeSender

    sender = FakeSender()
    app = desk_app(desk_config, senders={"email": sender, "text": FakeSender()})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        redeem_all(screen)
        assert "s Send PIN" in footer(app)  # the window has not read it yet
        await pilot.press("s")
        await settle(app, pilot)
        assert app.is_running and app.screen is screen
        said = str(screen.query_one("#outcome", Static).render())
        assert said.startswith("Nothing is left to send") and "Traceback" not in screen_text(app)
        assert sender.sent == [] and [m.state for m in outbox.list_messages()] == ["queued"]
        assert "Send PIN" not in footer(app)


# -- O3: the outbox as the desk sees it -------------------------------------------------------------


class RefusingSender:
    def send(self, message) -> str:
        raise outbox.SendFailure("550 mailbox unavailable", permanent=True)

    def close(self) -> None:
        pass


async def open_outbox_with_a_refused_message(app, pilot, desk_config) -> None:
    """Rosemary registered, her welcome refused by the mail server, the outbox open."""
    await open_window(app, pilot, "Testkiddo, Rosemary")
    await register(app, pilot)
    outbox.deliver_due(
        desk_config, now=NOW, senders={"email": RefusingSender(), "text": RefusingSender()}
    )
    app.push_screen(OutboxScreen())
    await settle(app, pilot)


async def test_the_outbox_shows_a_failed_message_with_its_reason_and_retries_it(app, desk_config):
    async with app.run_test(size=SIZE) as pilot:
        await open_outbox_with_a_refused_message(app, pilot, desk_config)
        listed = rows(app.screen, "#messages")
        assert [row[1:] for row in listed] == [
            ["Email", "c***@example.com", "FAILED", "1", "550 mailbox unavailable"]
        ]

        await pilot.press("r")
        await settle(app, pilot)
        assert rows(app.screen, "#messages")[0][3] == "Queued"
        said = str(app.screen.query_one("#outbox-status", Static).render())
        assert "is queued" in said and "no mail server is set up" in said


async def test_o3_d1_at_60x20_the_outbox_reads_a_failed_messages_reason_whole(app, desk_config):
    """O3, D1: at 60x20 the table keeps when, to whom and the state, and never scrolls sideways;
    the line under it reads the highlighted message's address, channel, state, tries and reason
    whole. At 80x24 every column is back, the Reason taking what the line has left."""
    async with app.run_test(size=(60, 20)) as pilot:
        await open_outbox_with_a_refused_message(app, pilot, desk_config)
        table = app.screen.query_one("#messages", DataTable)
        assert table.virtual_size.width <= table.size.width  # nothing off to the right
        header, row = region_text(app, "#messages").splitlines()[:2]
        assert header.split() == ["Created", "To", "State"]
        assert row.split()[-2:] == ["c***@example.com", "FAILED"]
        said = " ".join(region_text(app, "#outbox-detail").split())
        assert said == "c***@example.com by Email — FAILED, 1 try: 550 mailbox unavailable"
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        header = region_text(app, "#messages").splitlines()[0]
        assert header.split() == ["Created", "Channel", "To", "State", "Tries", "Reason"]
        assert table.virtual_size.width <= table.size.width
        said = " ".join(region_text(app, "#outbox-detail").split())
        assert said == "c***@example.com — FAILED: 550 mailbox unavailable"


# -- snapshots --------------------------------------------------------------------------------------


def test_registration_window_snapshot(snap_compare, training, desk_config):
    """At 80x24: the tables, then the summary of every choice Register commits (issue point 1)."""
    app = desk_app(desk_config)

    async def open_testkiddo(pilot):
        await open_window(app, pilot, "Testkiddo, Rosemary")

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_testkiddo)


def test_slip_preview_snapshot(snap_compare, training, desk_config):
    app = desk_app(desk_config)
    result = IssueResult(
        batch="0123456789abcdef",
        patient_name="Rosemary Testkiddo",
        language="en",
        pins=(
            IssuedPin(1, "Rosemary", "Rosemary Testkiddo", "JFKAY-TTJYV"),
            IssuedPin(2, "Basil", "Basil Testkiddo", "NVTHF-PCJQW"),
        ),
        expires_on=dt.date(2026, 12, 22),
        method=RegistrationMethod.PIN,
        message_id=None,
        delivery=Delivery.NONE,
    )

    async def open_slip(pilot):
        app.desk.staff = authenticate("maria", "training1")
        app.show_slip(result)
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_slip)


# -- R10, R2 ----------------------------------------------------------------------------------------


async def test_verification_question_fields_show_only_for_that_method(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        assert line(screen, "method").endswith("Register with  PIN")
        await choose(app, pilot, "w")
        await pilot.press("enter", "enter")  # an empty question and answer
        await settle(app, pilot)
        assert "Verification Question" in line(screen, "method")
        await register(app, pilot)
        assert "Write the question" in error(screen, "method")
        await choose(app, pilot, "w", 2)  # back to PIN, and to the question again
        assert app.screen.query_one("#answer", Input).display
        await pilot.press(*"Name of the family dog?", "enter", *"Biscuit", "enter")
        await settle(app, pilot)
        shown = line(screen, "method")
        assert "Name of the family dog? (answer given)" in shown and "Biscuit" not in shown
        assert error(screen, "method") == ""  # fixed: the message goes

        await register(app, pilot)

        assert {child["PIN"] for child in patient_list(screen).values()} == {"(question)"}
        assert {child["Status"] for child in patient_list(screen).values()} == {
            "Pending Registration"
        }


async def test_a_placeholder_name_is_refused_next_to_the_list_and_fixed_in_place(app):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Okafor")
        await register(app, pilot)
        assert error(screen, "patients")  # Baby Girl: not an official name yet
        assert patient_list(screen)["Baby Girl Okafor"]["PIN"] == ""

        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press(*"Chioma", "enter")
        await settle(app, pilot)
        assert app.screen is screen and error(screen, "patients") == ""
        assert list(patient_list(screen)) == ["Chioma Okafor"]

        await register(app, pilot)
        assert GROUPED_PIN.match(patient_list(screen)["Chioma Okafor"]["PIN"])


# -- found by using the screens as the desk does ----------------------------------------------------


async def test_after_register_from_an_input_p_prints_instead_of_typing_into_it(app):
    """Register pressed while typing an address: p, s and c must reach the screen, not the input."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await type_other_email(app, pilot, "cindy@example.com")
        await register(app, pilot)
        assert app.focused is screen.query_one("#patients", DataTable)
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, SlipPreviewScreen)


async def test_back_from_parent_mode_the_patient_list_shows_registered(app):
    from kiosk.registration import portal

    async with app.run_test(size=SIZE) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        rosemary = patient_id("Testkiddo, Rosemary")
        pin = next(p.pin for p in screen.result.pins if p.patient_id == rosemary)
        account = portal.create_account(
            "cindy.testkiddo@example.com", "Cindy Testkiddo", "maple-kite-harbor-42"
        )
        dob = patient_page(rosemary, today=TODAY).patient.dob
        portal.redeem(account.id, dob, pin=pin, now=NOW)  # what the parent did at the kiosk

        await pilot.press("p")  # any screen on top and back again
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen
        assert patient_list(screen)["Rosemary Testkiddo"]["Status"] == "Registered"
        assert GROUPED_PIN.match(patient_list(screen)["Basil Testkiddo"]["PIN"])


async def test_r15_message_wraps_at_80_columns_instead_of_being_cut(app):
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Johnson, Emma")
        screen.query_one("#caregivers").focus()
        await pilot.press("down")
        await settle(app, pilot)
        label = screen.query_one("#recipient-error", FieldError)
        assert label.region.right <= 80
        assert label.region.height >= 2  # the whole sentence, on two lines


def test_training_send_says_nothing_left_the_kiosk():
    from kiosk.messages.outbox import TRAINING_NOTE
    from kiosk_screens.widgets import delivery_words

    message = outbox.MessageRow(
        1,
        "m",
        "b",
        "email",
        "c***@example.com",
        "",
        "en",
        "Welcome",
        "sent",
        1,
        TRAINING_NOTE,
        NOW,
        None,
        NOW,
    )
    said = delivery_words(message, "cindy@example.com")
    assert said.startswith("Training:") and "nothing left the kiosk" in said
    assert "was sent (" not in said


async def test_at_80x24_every_choice_register_commits_is_in_sight(app):
    """Issue point 1: the summary (register_options.ITEMS) shows each choice with its key above
    the Footer, without scrolling, whatever has focus."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_window(app, pilot, "Kim, Jordan")  # 14: Send to is offered too
        shown = screen_text(app)
        for words in (
            "w  Register with  PIN",
            "a  Access         Full Access",
            "d  Delivery       Email",
            "o  Address        ",
            "m  Send to        Parent/Guardian",
            "p  Print PIN      No",
        ):
            assert words in shown, words
        for name in ("method", "access", "delivery", "address", "send-to", "print"):
            region = screen.query_one(f"#{name}-line").region
            assert region.height and region.bottom <= 23, name


def test_every_summary_key_is_its_own():
    """One key per meaning: no summary line shares a key with another line or a window key
    (Print PIN's p before Register is the same meaning as Print after it)."""
    from kiosk_screens.register_options import ITEMS

    keys = [item.key for item in ITEMS]
    assert len(set(keys)) == len(keys)
    window = {
        key
        for binding in RegisterScreen.BINDINGS
        if not str(binding.action).startswith("change")
        for key in binding.key.split(",")
    }
    assert set(keys) & window == {"p"}


async def test_page_down_and_end_scroll_the_window_while_the_table_has_focus(app):
    async with app.run_test(size=(80, 16)) as pilot:
        screen = await open_window(app, pilot, "Testkiddo, Rosemary")
        body = screen.query_one("#register-body")
        assert app.focused is screen.query_one("#caregivers") and body.max_scroll_y > 0
        await pilot.press("end")
        await settle(app, pilot)
        assert body.scroll_y == body.max_scroll_y
        await pilot.press("home", "pagedown")
        await settle(app, pilot)
        assert body.scroll_y > 0


async def test_r3_the_replace_question_fits_a_60_column_desk(app):
    """At 60x20 the question before a second Register is whole on screen: its box, its words
    and both answers, not cut at the right edge."""
    async with app.run_test(size=(60, 20)) as pilot:
        await open_window(app, pilot, "Testkiddo, Rosemary")
        await register(app, pilot)
        await register(app, pilot)
        assert isinstance(app.screen, ConfirmReplace)
        box = app.screen.query_one("#confirm-box").region
        assert box.x >= 0 and box.right <= 60, box
        for button in app.screen.query(Button):
            assert button.region.right <= box.right, button.region
