"""Acceptance of welcome messages through the outbox (R6, R7, O3, S2, S7), end to end.

Every test starts where the front desk does, at the Register action (kiosk.registration.engine.issue_pins),
and ends where the parent or the desk looks: the mail a real SMTP server on loopback received,
`kiosk outbox list`, or the bytes of the database files.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.messages import outbox
from kiosk.messages.carriers import carrier_warning, carriers
from kiosk.people.patients import family_for
from kiosk.registration.engine import IssueRequest, IssueResult, check_issue, issue_pins
from kiosk.store.models import OutboxMessage, Patient
from kiosk.store.practice import practice_settings
from kiosk.terms import long_date, utcnow

from conftest import TODAY
from conftest import kiosk_cli as run
from test_accept_slip import written_dobs
from test_outbox_smtp import PASSWORD, USER, Server, auth_server, free_port, server, smtp_config

FAMILIES = {"Testkiddo": "en", "Núñez-García": "es"}
SUBJECTS = {
    "en": "Sunny Hills Pediatrics (Training): your patient portal registration",
    "es": "Sunny Hills Pediatrics (Training): su registro en el portal de pacientes",
}


def children_of(surname: str) -> list[Patient]:
    return list(
        Patient.select().where(Patient.family_name == surname).order_by(Patient.chart_number)
    )


def register_family(staff, surname: str, **options) -> tuple[IssueResult, list[Patient], str]:
    """The Register action for a whole family, welcome by email to the first caregiver with authority."""
    first = children_of(surname)[0]
    family = family_for(first.id, today=TODAY)
    parent = next(c for c in family.caregivers if c.has_authority and c.email)
    request = IssueRequest(
        patient_ids=[c.id for c in family.children],
        recipient_id=parent.id,
        email=parent.email,
        **options,
    )
    # The real clock, as delivery (and `kiosk outbox send`) use it: PINs issued at a fixed past time
    # would have expired by the time the test runs, and their message would rightly never be sent.
    result = issue_pins(staff, request, today=TODAY)
    return result, [Patient.get_by_id(c.id) for c in family.children], parent.email


def pin_spellings(result: IssueResult) -> list[bytes]:
    """Each PIN as it could be stored: grouped or not, any case, UTF-8 or UTF-16."""
    out = []
    for issued in result.pins:
        for pin in (issued.pin, issued.pin.replace("-", "")):
            for text in (pin, pin.lower()):
                out += [text.encode(), text.encode("utf-16-le")]
    return out


def database_bytes(config) -> bytes:
    base = Path(config.database)
    return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*") if p.is_file())


# ---------------------------------------------------------------- what the family receives


@pytest.mark.parametrize(("surname", "language"), FAMILIES.items())
def test_r6_a_family_registered_together_gets_one_message_with_both_parts_every_pin_and_no_dob(
    front_desk, server, config, surname, language
):
    result, children, to = register_family(front_desk, surname)
    assert result.language == language and len(result.pins) == len(children) >= 2
    assert OutboxMessage.select().where(OutboxMessage.batch == result.batch).count() == 1

    report = outbox.deliver_due(smtp_config(config, server.port))

    assert report.sent == 1
    [(envelope_to, message)] = server.received
    assert envelope_to == [to] and message["To"] == to
    # A subject longer than one 78-column line is folded onto the next line; unfolded, the value keeps
    # that line's leading space, which mail programs do not show.
    assert message["Subject"].strip() == SUBJECTS[language]
    assert message["Message-ID"] == result.message_id
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    settings = practice_settings()
    expiry = long_date(result.expires_on, language)
    for part in (text, html):
        assert settings.portal_url in part and expiry in part
        for issued in result.pins:
            assert issued.given_name in part and issued.pin in part
    for issued in result.pins:
        assert f"{issued.given_name}: {issued.pin}" in text
    for child in children:
        for part in (text, html, message["Subject"]):
            assert child.chart_number not in part
            assert not any(dob in part for dob in written_dobs(child)), (
                f"{child.given_name}'s date of birth"
            )


# ---------------------------------------------------------------- O3: an outage loses nothing


def test_o3_families_registered_during_an_outage_are_all_delivered_when_the_server_returns(
    front_desk, config
):
    down = Server(free_port())  # nobody listens yet
    cfg = smtp_config(config, down.port)
    first, _, first_to = register_family(front_desk, "Testkiddo")
    second, _, second_to = register_family(front_desk, "Núñez-García")

    during = outbox.deliver_due(cfg)

    assert during.sent == 0 and "could not reach the mail server" in during.problem
    assert {m.state for m in outbox.list_messages()} == {"queued"}
    down.start()
    try:
        after = outbox.deliver_due(cfg, now=utcnow() + dt.timedelta(minutes=5))
    finally:
        down.stop()
    assert after.sent == 2
    assert sorted(m["Message-ID"] for _, m in down.received) == sorted(
        [first.message_id, second.message_id]
    )
    assert sorted(to for [to], _ in down.received) == sorted([first_to, second_to])
    assert {m.state for m in outbox.list_messages()} == {"sent"}


def test_o3_a_refused_login_fails_the_message_and_the_desk_reads_why(
    front_desk, auth_server, config, tmp_path
):
    result, _, _ = register_family(front_desk, "Testkiddo")
    wrong = tmp_path / "kiosk.toml"
    wrong.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {auth_server.port}\nsecurity = "none"\n'
        f'sender = "portal@sunnyhills.example"\nusername = "{USER}"\npassword = "not-{PASSWORD}"\n'
    )

    send = run("--config", str(wrong), "--db", config.database, "outbox", "send")
    listed = run(
        "--config", str(wrong), "--db", config.database, "outbox", "list", "--state", "failed"
    )

    assert send.returncode != 0 and "Traceback" not in send.stderr
    assert "refused kiosk's login (535" in send.stderr  # a failure: what cron mails
    [line] = listed.stdout.splitlines()
    assert "failed" in line and "535" in line and "check smtp.username and smtp.password" in line
    assert auth_server.received == []
    assert OutboxMessage.get(OutboxMessage.message_id == result.message_id).state == "failed"


# ---------------------------------------------------------------- O3: a real crash mid-send


def test_o3_kiosk_killed_after_the_server_took_the_message_does_not_send_it_again(
    front_desk, server, config, tmp_path
):
    """`kiosk outbox send` dies (SIGKILL) while the server holds the message: nobody resends it blindly."""
    result, _, _ = register_family(front_desk, "Testkiddo")
    settings = tmp_path / "kiosk.toml"
    settings.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        f'sender = "portal@sunnyhills.example"\ntimeout_seconds = 5\n'
    )
    command = [
        sys.executable,
        "-m",
        "kiosk_screens.launch",
        "--config",
        str(settings),
        "--db",
        config.database,
        "outbox",
        "send",
    ]
    sender = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    received = server.inbox.handle_DATA

    async def take_then_kill(srv, session, envelope):
        reply = await received(srv, session, envelope)  # the server now has the message
        os.kill(sender.pid, signal.SIGKILL)  # kiosk dies before it can hear 250 and record it
        return reply

    server.inbox.handle_DATA = take_then_kill
    sender.communicate(timeout=60)
    assert sender.returncode == -signal.SIGKILL
    assert len(server.received) == 1
    server.inbox.handle_DATA = received

    again = run(
        "--config", str(settings), "--db", config.database, "outbox", "send"
    )  # cron, a minute on
    later = outbox.deliver_due(
        smtp_config(config, server.port),
        now=utcnow() + outbox.SENDING_LEASE + dt.timedelta(seconds=5),
    )

    assert again.returncode == 0 and len(server.received) == 1
    assert later.interrupted == 1 and later.sent == 0 and len(server.received) == 1
    [shown] = outbox.list_messages(state="failed")
    assert shown.message_id == result.message_id and shown.attempts == 1
    assert shown.reason.startswith(
        "interrupted while sending: it may have been sent. Check with the family"
    )


# ---------------------------------------------------------------- S2: nothing left to steal


def test_s2_s11_before_and_after_delivery_no_plain_pin_is_in_the_database_or_its_wal(
    front_desk, server, config
):
    result, _, _ = register_family(front_desk, "Núñez-García")
    before = database_bytes(config)
    assert not any(
        spelling in before for spelling in pin_spellings(result)
    )  # sealed while queued (S11)
    sealed = OutboxMessage.get(OutboxMessage.message_id == result.message_id).body_text.encode()
    assert sealed in before  # the scan can see the body

    assert outbox.deliver_due(smtp_config(config, server.port)).sent == 1

    message = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    assert (message.state, message.body_text, message.body_html) == ("sent", "", "")
    after = database_bytes(config)
    found = [spelling for spelling in pin_spellings(result) if spelling in after]
    assert found == [] and sealed not in after


# ---------------------------------------------------------------- R7: retired carriers


def test_r7_the_carrier_table_knows_which_gateways_are_gone():
    by_key = {c.key: c for c in carriers()}
    assert {key for key, c in by_key.items() if c.retired} >= {"att", "sprint", "nextel", "tmobile"}
    assert "June 2025" in by_key["att"].note and "December 2024" in by_key["tmobile"].note
    assert not by_key["verizon"].retired and "unreliable" in carrier_warning("verizon")


@pytest.mark.parametrize("key", ["att", "tmobile", "sprint", "nextel"])
def test_r7_texting_through_a_retired_carrier_warns_and_suggests_email_or_print(front_desk, key):
    first = children_of("Testkiddo")[0]
    family = family_for(first.id, today=TODAY)
    parent = next(c for c in family.caregivers if c.has_authority)
    request = IssueRequest(
        patient_ids=[first.id],
        recipient_id=parent.id,
        delivery="text",
        cell="(317) 555-0101",
        carrier=key,
    )

    [problem] = check_issue(front_desk, request, today=TODAY)

    name = next(c.name for c in carriers() if c.key == key)
    assert problem.field == "carrier"
    assert name in problem.message and "email" in problem.message and "print" in problem.message
    assert problem.message == carrier_warning(key)
