"""W3: one reminder per family a set number of days before its PINs expire, through the outbox,
with no PIN in it, never twice and never after the children registered; off unless the practice
turns it on."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from kiosk.cli import main
from kiosk.clock import Clock
from kiosk.messages import outbox
from kiosk.people.patients import family_for
from kiosk.registration import pin_life, portal
from kiosk.registration.engine import IssueRequest, issue_pins
from kiosk.store.db import write_transaction
from kiosk.store.models import Caregiver, OutboxMessage, Practice
from kiosk.store.practice import update_practice
from kiosk.terms import Channel, MessageKind, MessageState, PortalStatus

from conftest import NOW, TODAY, FakeSender, desk, find_patient
from test_postgres import pg_store
from test_sms import provider, sms_config

DUE = NOW + dt.timedelta(days=24)  # the 30-day PINs expire in 6 days: inside a 7-day reminder


def _issue(desk, given="Rosemary", family="Testkiddo", *, delivery="email", **options):
    kids = family_for(find_patient(given, family).id, today=TODAY)
    carer = next(c for c in kids.caregivers if c.has_authority)
    request = IssueRequest(
        patient_ids=[c.id for c in kids.children if c.portal_status != PortalStatus.REGISTERED],
        recipient_id=carer.id,
        delivery=delivery,
        email=carer.email,
        **options,
    )
    return issue_pins(desk, request, now=NOW, today=TODAY)


def _deliver(config, now):
    sender = FakeSender()
    outbox.deliver_due(config, now=now, senders={Channel.EMAIL: sender, Channel.TEXT: sender})
    return sender.sent


def _reminders(batch=None):
    query = OutboxMessage.select().where(OutboxMessage.kind == MessageKind.REMINDER)
    if batch is not None:
        query = query.where(OutboxMessage.batch == batch)
    return list(query)


@pytest.fixture
def reminding(front_desk):
    update_practice(reminder_days=7)
    return front_desk


def test_w3_off_by_default_no_reminder(config, front_desk):
    assert Practice.get().reminder_days == 0
    result = _issue(front_desk)
    _deliver(config, NOW)
    assert pin_life.maintain(DUE).reminded == 0 and _reminders(result.batch) == []


def test_w3_one_reminder_n_days_before_expiry_without_the_pin(config, reminding):
    result = _issue(reminding)
    _deliver(config, NOW)  # the welcome is delivered on the day of the visit
    assert pin_life.maintain(NOW + dt.timedelta(days=22)).reminded == 0  # 8 days left: not yet
    report = pin_life.maintain(DUE)
    assert report.reminded >= 1 and "reminder" in report.summary()
    assert len(_reminders(result.batch)) == 1
    sent = [m for m in _deliver(config, DUE) if "reminder" in m.subject]
    assert len(sent) == 1
    body = sent[0].text
    assert sent[0].recipient == "cindy.testkiddo@example.com"
    for pin in result.pins:
        assert pin.pin and pin.pin not in body and pin.pin.replace("-", "") not in body
        assert pin.given_name in body
    assert "c***@example.com on November 22, 2026" in body  # where the PIN is, and since when
    assert "until December 22, 2026" in body and "does not repeat the PIN" in body


def test_w3_never_twice_however_often_maintain_runs(config, reminding):
    result = _issue(reminding)
    _deliver(config, NOW)
    pin_life.maintain(DUE)
    _deliver(config, DUE)
    for days in (0, 1, 2):
        assert pin_life.maintain(DUE + dt.timedelta(days=days, hours=1)).reminded == 0
    assert len(_reminders(result.batch)) == 1
    assert _reminders(result.batch)[0].state == MessageState.SENT


def test_w3_none_once_the_children_registered(config, reminding):
    result = _issue(reminding)
    _deliver(config, NOW)
    account = portal.create_account("cindy@example.net", "Cindy", "a long enough passphrase 1")
    for pin in result.pins:
        child = find_patient(pin.given_name)
        portal.redeem(
            account.id, child.dob, pin=pin.pin, terminal="p", now=NOW + dt.timedelta(days=1)
        )
    assert pin_life.maintain(DUE).reminded == 0 and _reminders(result.batch) == []


def test_w3_a_queued_reminder_is_not_sent_after_the_children_registered(config, reminding):
    result = _issue(reminding)
    _deliver(config, NOW)
    pin_life.maintain(DUE)  # queued, not yet delivered
    account = portal.create_account("cindy@example.net", "Cindy", "a long enough passphrase 1")
    for pin in result.pins:
        portal.redeem(
            account.id, find_patient(pin.given_name).dob, pin=pin.pin, terminal="p", now=DUE
        )
    assert [m for m in _deliver(config, DUE) if "reminder" in m.subject] == []
    assert _reminders(result.batch)[0].state == MessageState.FAILED


def test_w3_names_only_the_children_still_to_register(config, reminding):
    result = _issue(reminding)
    _deliver(config, NOW)
    account = portal.create_account("cindy@example.net", "Cindy", "a long enough passphrase 1")
    first, *others = result.pins
    portal.redeem(
        account.id, find_patient(first.given_name).dob, pin=first.pin, terminal="p", now=NOW
    )
    pin_life.maintain(DUE)
    text = next(m.text for m in _deliver(config, DUE) if "reminder" in m.subject)
    assert first.given_name not in text and all(p.given_name in text for p in others)


def test_w3_no_reminder_for_a_welcome_that_never_arrived(config, reminding):
    result = _issue(reminding)  # queued, never delivered
    pin_life.maintain(DUE)
    assert _reminders(result.batch) == []


def test_w3_a_slip_family_is_told_where_the_slip_is_in_their_language(config, reminding):
    result = _issue(reminding, "Sofía", "Núñez-García", delivery="none", print_slip=True)
    pin_life.maintain(DUE)
    (row,) = _reminders(result.batch)
    assert row.channel == Channel.EMAIL and row.language == "es"
    text, html = outbox.message_body(row)
    assert "hoja impresa que le dio la recepción el 22 de noviembre de 2026" in text
    names = sorted(pin.given_name for pin in result.pins)
    assert ", ".join(names[:-1]) + f" y {names[-1]}" in text and "<p>" in html
    assert all(pin.pin not in text + html for pin in result.pins)


def _only_a_cell(carrier: str) -> None:
    """Cindy, the Testkiddos' first caregiver, has no email: only her cell, on ``carrier``."""
    with write_transaction():
        Caregiver.update(email="", carrier=carrier).where(Caregiver.given_name == "Cindy").execute()


@pytest.mark.parametrize("carrier", ["", "att"])  # none on record, or a closed gateway (R7)
def test_w3_i2_a_cell_only_family_is_texted_through_the_provider(
    config, reminding, provider, carrier
):
    _only_a_cell(carrier)
    result = _issue(reminding, delivery="none", print_slip=True)
    front = desk(
        replace(config, sms=sms_config(provider).sms),
        staff=reminding,
        clock=Clock.fixed(DUE, DUE.date()),
    )
    assert front.maintain().reminded == 1  # the desk's maintenance knows the provider is set up
    (row,) = _reminders(result.batch)
    assert (row.channel, row.recipient, row.carrier) == (Channel.TEXT, "+13175550101", "")
    assert outbox.deliver_due(sms_config(provider), now=DUE).sent == 1
    (sent,) = provider.sends()
    assert sent["To"] == "+13175550101" and "printed slip" in sent["Body"]
    assert all(pin.pin not in sent["Body"] for pin in result.pins)


@pytest.mark.parametrize("carrier", ["", "att"])
def test_w3_without_a_provider_a_cell_without_a_working_gateway_gets_no_reminder(
    config, reminding, carrier
):
    _only_a_cell(carrier)
    result = _issue(reminding, delivery="none", print_slip=True)
    assert pin_life.maintain(DUE).reminded == 0 and _reminders(result.batch) == []


def test_w3_without_a_provider_a_working_gateway_still_carries_the_reminder(config, reminding):
    _only_a_cell("verizon")
    result = _issue(reminding, delivery="none", print_slip=True)
    assert pin_life.maintain(DUE).reminded == 1
    (row,) = _reminders(result.batch)
    assert (row.channel, row.recipient) == (Channel.TEXT, "3175550101@vtext.com")


@pytest.mark.parametrize(
    ("given", "family", "chosen", "words"),
    [
        ("Rosemary", "Testkiddo", "es", "hoja impresa que le dio la recepción"),  # record: en
        ("Sofía", "Núñez-García", "en", "printed slip the front desk gave you"),  # record: es
    ],
)
def test_w3_i1_a_do_not_send_family_is_reminded_in_the_language_the_desk_chose(
    config, reminding, given, family, chosen, words
):
    result = _issue(reminding, given, family, delivery="none", print_slip=True, language=chosen)
    assert result.language == chosen
    pin_life.maintain(DUE)
    (row,) = _reminders(result.batch)
    assert row.language == chosen
    text, _ = outbox.message_body(row)
    assert words in text


def test_w3_cli_turns_reminders_on_and_maintain_reports_them(config, front_desk, capsys):
    args = ["--db", config.database]
    assert main([*args, "maintain", "--reminder-days", "5"]) == 0
    out = capsys.readouterr().out
    assert "Reminders 5 days before PINs expire." in out and "0 reminders queued." in out
    assert Practice.get().reminder_days == 5
    assert main([*args, "maintain", "--reminder-days", "99"]) != 0
    assert "between 0 (off) and 60" in capsys.readouterr().err


def test_w3_postgres_one_reminder_per_family(pg_store):
    from kiosk.config import Config

    update_practice(reminder_days=7)
    request = IssueRequest(
        patient_ids=pg_store["kids"], recipient_id=pg_store["mother"], email="ana@example.org"
    )
    result = issue_pins(pg_store["desk"], request, now=NOW, today=TODAY)
    _deliver(Config(), NOW)
    assert pin_life.maintain(DUE).reminded == 1
    assert pin_life.maintain(DUE).reminded == 0
    (row,) = _reminders(result.batch)
    text, _ = outbox.message_body(row)
    assert "José, Renée, and Zoë" in text
    assert all(pin.pin not in text for pin in result.pins)


def test_w3_i1_postgres_the_desks_language_reaches_the_reminder(pg_store):
    update_practice(reminder_days=7)
    request = IssueRequest(
        patient_ids=pg_store["kids"],
        recipient_id=pg_store["mother"],
        delivery="none",
        print_slip=True,
        language="es",
    )
    result = issue_pins(pg_store["desk"], request, now=NOW, today=TODAY)
    assert pin_life.maintain(DUE).reminded == 1
    (row,) = _reminders(result.batch)
    text, _ = outbox.message_body(row)
    assert row.language == "es" and "hoja impresa" in text


def test_w3_i2_postgres_a_cell_only_family_is_texted_through_the_provider(pg_store):
    update_practice(reminder_days=7)
    with write_transaction():
        Caregiver.update(email="", cell="3175550101", carrier="").execute()
    request = IssueRequest(
        patient_ids=pg_store["kids"], recipient_id=pg_store["mother"], delivery="none",
        print_slip=True,
    )  # fmt: skip
    result = issue_pins(pg_store["desk"], request, now=NOW, today=TODAY)
    assert pin_life.maintain(DUE).reminded == 0  # no provider: no carrier, nobody to remind
    assert pin_life.maintain(DUE, sms_provider=True).reminded == 1
    (row,) = _reminders(result.batch)
    assert (row.channel, row.recipient) == (Channel.TEXT, "+13175550101")
