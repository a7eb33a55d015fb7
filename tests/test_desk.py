"""The Desk service (kiosk.desk): one front desk's config, clock, senders, printer and staff member,
built with fakes through its constructor (R1, R4, R14, O3, S5)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from kiosk import audit
from kiosk.clock import Clock
from kiosk.people.patients import family_for
from kiosk.registration.engine import IssueRequest, RegistrationError
from kiosk.terms import Channel, Delivery, MessageState, PortalStatus

from conftest import NOW, TODAY, FakePrinter, FakeSender, desk


def rosemary_request(family, **options) -> IssueRequest:
    """Every Testkiddo child, to the first caregiver with authority, by email unless told."""
    recipient = next(c for c in family.caregivers if c.has_authority)
    values = dict(
        patient_ids=[c.id for c in family.children],
        recipient_id=recipient.id,
        email=recipient.email,
    )
    return IssueRequest(**(values | options))


def rosemarys_family(at_desk):
    return at_desk.family(at_desk.search("Testkiddo, Rosemary")[0].id)


def test_r4_the_desk_passes_its_clock_down(config, front_desk):
    later = NOW + dt.timedelta(days=3)
    at_desk = desk(config, staff=front_desk, clock=Clock.fixed(later))
    result = at_desk.issue(rosemary_request(rosemarys_family(at_desk), delivery=Delivery.NONE))
    assert (
        result.expires_on == (later + dt.timedelta(days=at_desk.practice.pin_lifetime_days)).date()
    )
    account = at_desk.patient_page(result.pins[0].patient_id)
    assert account.patient.portal_status == PortalStatus.PENDING
    issued = audit.AuditEvent.select().where(
        audit.AuditEvent.action == audit.ISSUE, audit.AuditEvent.detail.contains(result.batch)
    )
    assert {(e.at, e.staff) for e in issued} == {(later, "maria")}


def test_o3_the_desk_sends_through_the_senders_it_was_built_with(config, front_desk):
    email = FakeSender()
    at_desk = desk(
        config, staff=front_desk, senders={Channel.EMAIL: email, Channel.TEXT: FakeSender()}
    )
    result = at_desk.issue(rosemary_request(rosemarys_family(at_desk)))
    message, report = at_desk.send_batch_now(result.batch)
    assert report.sent == 1 and [m.recipient for m in email.sent] == [result.recipient]
    assert message is not None and message.state == MessageState.SENT
    assert at_desk.message_counts()[MessageState.SENT] == 1


def test_o3_a_failing_sender_leaves_the_message_for_retry(config, front_desk):
    from kiosk.messages.outbox import SendFailure

    broken = FakeSender(
        SendFailure("the mail server refused the address (550 no such user)", permanent=True)
    )
    at_desk = desk(config, staff=front_desk, senders={Channel.EMAIL: broken, Channel.TEXT: broken})
    result = at_desk.issue(rosemary_request(rosemarys_family(at_desk)))
    message, report = at_desk.send_batch_now(result.batch)
    assert report.failed == 1 and message.state == MessageState.FAILED and "550" in message.reason
    assert at_desk.retry_message(message.id).state == MessageState.QUEUED


def test_r14_the_desk_prints_on_the_printer_it_was_built_with(config, front_desk, tmp_path):
    printer = FakePrinter()
    config = dataclasses.replace(
        config,
        printer=dataclasses.replace(
            config.printer, name="desk", output_dir=str(tmp_path / "slips")
        ),
    )
    at_desk = desk(config, staff=front_desk, printer=printer)
    slip = at_desk.slip_for(
        at_desk.issue(rosemary_request(rosemarys_family(at_desk), delivery=Delivery.NONE))
    )
    outcome = at_desk.print_slip(slip)
    assert outcome.printed and outcome.job_id == "desk-1" and outcome.pdf_path is None
    [(queue, title, pdf)] = printer.jobs
    assert queue == "desk" and title == f"kiosk slip {slip.batch}" and pdf.startswith(b"%PDF")
    printed = audit.AuditEvent.select().where(audit.AuditEvent.action == audit.PRINT)
    assert {e.staff for e in printed} == {"maria"}
    assert not list(tmp_path.glob("slips/*"))  # printed: no PDF with PINs left on disk (S2)


def test_r1_a_desk_nobody_is_signed_in_at_issues_nothing(config, training):
    at_desk = desk(config)
    request = rosemary_request(family_for(at_desk.search("Testkiddo, Rosemary")[0].id, today=TODAY))
    assert [p.field for p in at_desk.check_issue(request)] == ["staff"]
    assert at_desk.may_issue() is not None
    try:
        at_desk.issue(request)
    except RegistrationError as error:
        assert [p.field for p in error.problems] == ["staff"]
    else:
        raise AssertionError("a desk nobody is signed in at issued PINs")


def test_s5_the_account_page_records_who_looked_unless_told_not_to(config, front_desk):
    at_desk = desk(config, staff=front_desk)
    patient_id = at_desk.search("Testkiddo, Rosemary")[0].id
    at_desk.patient_page(patient_id)
    at_desk.patient_page(patient_id, audited=False)
    views = audit.AuditEvent.select().where(audit.AuditEvent.action == audit.VIEW)
    assert [(e.staff, e.patient_id) for e in views] == [("maria", patient_id)]


def test_the_desk_reads_a_date_of_birth_and_refuses_one_in_the_future(config, training):
    at_desk = desk(config)
    assert at_desk.parse_dob("05/17/2022") == dt.date(2022, 5, 17)
    assert at_desk.parse_dob((TODAY + dt.timedelta(days=1)).strftime("%m/%d/%Y")) is None
    assert at_desk.parse_dob("not a date") is None


@pytest.mark.skipif(
    not Path("/usr/share/zoneinfo/America/Chicago").exists(), reason="no time zone database"
)
def test_o1_the_desks_clock_says_the_local_date_and_turns_it_at_local_midnight(monkeypatch):
    """The real clock's date is the machine's local one, kept between reads only until the next
    local midnight, or a minute, so that a changed time zone shows."""
    import time
    import types

    from kiosk import clock

    assert Clock().today() == dt.date.today()
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    try:
        midnight = time.mktime((2026, 3, 8, 0, 0, 0, 0, 0, -1))  # the night clocks go forward
        now = [midnight - 1.0]
        fake = types.SimpleNamespace(time=lambda: now[0], mktime=time.mktime)
        monkeypatch.setattr(clock, "time", fake)
        monkeypatch.setattr(clock, "_today", (0.0, 0.0, dt.date.min))
        assert clock.local_today() == dt.date(2026, 3, 7)
        now[0] = midnight
        assert clock.local_today() == dt.date(2026, 3, 8)
        now[0] += 23 * 3600 - 1  # a day of 23 hours
        assert clock.local_today() == dt.date(2026, 3, 8)
        now[0] += 1
        assert clock.local_today() == dt.date(2026, 3, 9)
        now[0] += 12 * 3600  # noon in Chicago, 2 a.m. of the next day in Tokyo
        assert clock.local_today() == dt.date(2026, 3, 9)
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        assert clock.local_today() == dt.date(2026, 3, 9)  # within the minute the date was read
        now[0] += clock.DAY_KEPT
        assert clock.local_today() == dt.date(2026, 3, 10)
    finally:
        monkeypatch.undo()
        time.tzset()
