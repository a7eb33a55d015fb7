"""Acceptance of the registration engine (R1-R15, S1-S5): the points the engine's own tests leave thin."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from kiosk import audit
from kiosk.messages import outbox
from kiosk.people.patients import family_for
from kiosk.registration import portal
from kiosk.registration.engine import (
    IssueRequest,
    RegistrationError,
    check_issue,
    issue_pins,
    revoke_pin,
)
from kiosk.store.db import database
from kiosk.store.models import (
    AuditEvent,
    OutboxMessage,
    Patient,
    RedemptionAttempt,
    RegistrationPin,
)
from kiosk.terms import PinState, PortalStatus

from conftest import NOW, TODAY, find_patient, kiosk_cli


def _request(**options):
    family = family_for(find_patient("Rosemary").id, today=TODAY)
    cindy = next(c for c in family.caregivers if c.name == "Cindy Testkiddo")
    values = dict(
        patient_ids=[c.id for c in family.children], recipient_id=cindy.id, email=cindy.email
    )
    values.update(options)
    return IssueRequest(**values)


def _pin(result, given):
    return next(p.pin for p in result.pins if p.given_name == given)


# -- R2: every placeholder docs/rules.md names, in any case and spacing, stops the issue ----------


@pytest.mark.parametrize(
    "name",
    [
        "Baby",
        "Baby Boy",
        "Baby Girl",
        "BabyBoy",
        "Baby A",
        "Baby B",
        "BB",
        "BG",
        "Infant",
        "Newborn",
        "NB",
        "Twin A",
        "Twin B",
        "Female Baby",
        "Male Baby",
        "Unknown",
        "Boy",
        "Girl",
        "  baby   GIRL ",
        "bAbY-b",
        "TWIN  a",
        "female  baby",
    ],
)
def test_r2_each_placeholder_blocks_the_issue_next_to_the_name(front_desk, name):
    rosemary, request, before = (
        find_patient("Rosemary"),
        _request(),
        RegistrationPin.select().count(),
    )
    Patient.update(given_name=name).where(Patient.id == rosemary.id).execute()
    problems = check_issue(front_desk, request, today=TODAY)
    assert [p.field for p in problems] == [f"name:{rosemary.id}"]
    assert "placeholder" in problems[0].message and "Basic Info" in problems[0].message
    with pytest.raises(RegistrationError):
        issue_pins(front_desk, request, now=NOW, today=TODAY)
    assert RegistrationPin.select().count() == before


# -- R5: all or none, when the database itself refuses part of the family ------------------------


def test_r5_the_database_refusing_the_second_child_leaves_the_first_untouched(front_desk):
    basil = find_patient("Basil")
    database.execute_sql(
        f"CREATE TEMP TRIGGER refuse_basil BEFORE INSERT ON registration_pin "
        f"WHEN NEW.patient_id = {basil.id} BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    events = AuditEvent.select().count()
    try:
        with pytest.raises(RegistrationError):
            issue_pins(front_desk, _request(), now=NOW, today=TODAY)
    finally:
        database.execute_sql("DROP TRIGGER refuse_basil")
    rosemary = find_patient("Rosemary")
    assert rosemary.portal_status == PortalStatus.UNREGISTERED
    assert RegistrationPin.select().where(RegistrationPin.patient == rosemary).count() == 0
    assert OutboxMessage.select().count() == 0 and AuditEvent.select().count() == events
    assert audit.verify_chain() == []


# -- R6, R7: one message for the family by text too; Print combines with every delivery -----------


def test_r6_one_text_message_for_the_family_holds_every_pin(front_desk):
    result = issue_pins(
        front_desk,
        _request(delivery="text", cell="(317) 555-0101", carrier="verizon", email=""),
        now=NOW,
        today=TODAY,
    )
    messages = list(OutboxMessage.select())
    assert len(messages) == 1 and messages[0].channel == "text"
    assert (
        all(p.pin in outbox.message_body(messages[0])[0] for p in result.pins)
        and len(result.pins) == 2
    )


@pytest.mark.parametrize(
    "delivery, extra",
    [
        ("email", {}),
        ("none", {"email": ""}),
        ("text", {"cell": "3175550101", "carrier": "verizon", "email": ""}),
    ],
)
def test_r7_print_combines_with_any_delivery(front_desk, delivery, extra):
    result = issue_pins(
        front_desk, _request(delivery=delivery, print_slip=True, **extra), now=NOW, today=TODAY
    )
    rows = RegistrationPin.select().where(RegistrationPin.batch == result.batch)
    assert [(r.print_slip, r.delivery) for r in rows] == [(True, delivery)] * 2


# -- R11, R12: send now, or complete now with the PIN just issued, into a new or existing account --


def test_r11_send_now_queues_the_message_and_complete_now_redeems_at_the_counter(front_desk):
    result = issue_pins(front_desk, _request(), now=NOW, today=TODAY)
    assert (
        OutboxMessage.get(OutboxMessage.message_id == result.message_id).state == "queued"
    )  # Send PIN
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42"
    )
    for issued in result.pins:  # Complete / Log In: the PINs are still in hand
        portal.redeem(account.id, Patient.get_by_id(issued.patient_id).dob, pin=issued.pin, now=NOW)
    assert {
        p.portal_status for p in Patient.select().where(Patient.family_name == "Testkiddo")
    } == {"Registered"}


def test_r12_redeem_adds_to_an_existing_account_after_signing_in(front_desk):
    portal.create_account("cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42")
    first = issue_pins(
        front_desk, _request(patient_ids=[find_patient("Rosemary").id]), now=NOW, today=TODAY
    )
    account = portal.sign_in("Cindy.Testkiddo@example.com", "Sunflower-meadow-42", now=NOW)
    portal.redeem(account.id, find_patient("Rosemary").dob, pin=_pin(first, "Rosemary"), now=NOW)
    later = issue_pins(
        front_desk,
        _request(patient_ids=[find_patient("Basil").id]),
        now=NOW + dt.timedelta(days=3),
        today=TODAY,
    )
    again = portal.sign_in(
        "cindy.testkiddo@example.com", "Sunflower-meadow-42", now=NOW + dt.timedelta(days=3)
    )
    portal.redeem(
        again.id,
        find_patient("Basil").dob,
        pin=_pin(later, "Basil"),
        now=NOW + dt.timedelta(days=3),
    )
    assert [c.given_name for c in portal.children_of(account.id)] == ["Rosemary", "Basil"]


# -- S2: the plain PIN exists only in the result and the outbox body -------------------------------


def _database_bytes(config) -> bytes:
    from pathlib import Path

    base = Path(config.database)
    database.execute_sql("PRAGMA wal_checkpoint(FULL)")
    return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*") if p.is_file())


def test_s2_s11_no_plain_pin_in_any_table_not_even_the_outbox_body(front_desk):
    """The outbox body carries the PINs until delivered, sealed with the key file (S11); no row,
    audit details included, ever holds one in plain text."""
    from kiosk.store.models import ALL_MODELS

    result = issue_pins(front_desk, _request(), now=NOW, today=TODAY)
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42"
    )
    portal.redeem(
        account.id, find_patient("Rosemary").dob, pin=_pin(result, "Rosemary").lower(), now=NOW
    )
    forms = {
        f(p.pin) for p in result.pins for f in (str, str.lower, lambda pin: pin.replace("-", ""))
    }
    holders = set()
    for model in ALL_MODELS:
        for row in model.select().tuples():
            text = " ".join(str(value) for value in row)
            if any(form in text or form.lower() in text.lower() for form in forms):
                holders.add(model._meta.table_name)
    assert holders == set()


def test_s2_with_do_not_send_the_pin_never_reaches_the_database_file(front_desk, config):
    result = issue_pins(front_desk, _request(delivery="none", email=""), now=NOW, today=TODAY)
    data = _database_bytes(config)
    assert result.pins and all(
        p.pin.replace("-", "").encode() not in data and p.pin.encode() not in data
        for p in result.pins
    )


# -- S3: the PIN works up to its expiry, not at it ------------------------------------------------


def test_s3_expiry_is_exact(front_desk):
    result = issue_pins(front_desk, _request(delivery="none", email=""), now=NOW, today=TODAY)
    expires = RegistrationPin.get(
        RegistrationPin.patient == find_patient("Basil"), RegistrationPin.state == PinState.ACTIVE
    )
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42"
    )
    with pytest.raises(portal.PortalError, match="expired"):
        portal.redeem(
            account.id, find_patient("Basil").dob, pin=_pin(result, "Basil"), now=expires.expires_at
        )
    rosemary_expiry = expires.expires_at - dt.timedelta(seconds=1)
    assert (
        portal.redeem(
            account.id,
            find_patient("Rosemary").dob,
            pin=_pin(result, "Rosemary"),
            now=rosemary_expiry,
        ).given_name
        == "Rosemary"
    )


# -- S4: revoked PINs, attempts during a lock-out, and the lock is per patient ---------------------


def test_s4_a_revoked_pin_gets_the_generic_answer(front_desk):
    result = issue_pins(front_desk, _request(delivery="none", email=""), now=NOW, today=TODAY)
    revoke_pin(front_desk, find_patient("Rosemary").id, now=NOW)
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42"
    )
    with pytest.raises(portal.PortalError) as caught:
        portal.redeem(
            account.id, find_patient("Rosemary").dob, pin=_pin(result, "Rosemary"), now=NOW
        )
    assert str(caught.value) == portal.GENERIC


def test_s4_every_attempt_during_a_lock_out_is_audited_but_not_counted(front_desk):
    result = issue_pins(front_desk, _request(delivery="none", email=""), now=NOW, today=TODAY)
    rosemary = find_patient("Rosemary")
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42"
    )
    wrong_date = rosemary.dob + dt.timedelta(days=2)
    for second in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(
                account.id,
                wrong_date,
                pin=_pin(result, "Rosemary"),
                now=NOW + dt.timedelta(seconds=second),
            )
    for dob in (wrong_date, rosemary.dob):  # a wrong and a right date, both while locked
        with pytest.raises(portal.PortalError, match="do not match"):
            portal.redeem(
                account.id, dob, pin=_pin(result, "Rosemary"), now=NOW + dt.timedelta(minutes=1)
            )
    failed = [
        e.detail
        for e in AuditEvent.select().where(
            (AuditEvent.action == audit.REDEEM_FAILED) & (AuditEvent.patient_id == rosemary.id)
        )
    ]
    assert len(failed) == 7 and sum('"refused: locked"' in d for d in failed) == 2
    assert (
        RedemptionAttempt.select()
        .where(
            (RedemptionAttempt.patient == rosemary) & RedemptionAttempt.outcome.in_(portal.COUNTED)
        )
        .count()
        == 5
    )


def test_s4_one_child_locked_does_not_lock_a_sibling(front_desk):
    result = issue_pins(front_desk, _request(delivery="none", email=""), now=NOW, today=TODAY)
    account = portal.create_account(
        "cindy.testkiddo@example.com", "Cindy Testkiddo", "Sunflower-meadow-42"
    )
    for second in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(
                account.id,
                find_patient("Rosemary").dob + dt.timedelta(days=1),
                pin=_pin(result, "Rosemary"),
                now=NOW + dt.timedelta(seconds=second),
            )
    assert (
        portal.redeem(
            account.id,
            find_patient("Basil").dob,
            pin=_pin(result, "Basil"),
            now=NOW + dt.timedelta(minutes=1),
        ).given_name
        == "Basil"
    )
    assert (
        find_patient("Basil").portal_status == "Registered"
        and find_patient("Rosemary").portal_status == PortalStatus.PENDING
    )


# -- S5: kiosk audit verify names a deleted and an inserted event ---------------------------------


def _verify(db):
    return kiosk_cli("--db", db, "audit", "verify")


def test_s5_cli_verify_names_a_deleted_and_an_inserted_event(front_desk, config):
    issue_pins(front_desk, _request(), now=NOW, today=TODAY)
    database.execute_sql("PRAGMA wal_checkpoint(FULL)")
    assert _verify(config.database).returncode == 0
    con = sqlite3.connect(config.database)
    assert con.execute("SELECT max(seq) FROM audit_event").fetchone()[0] > 2
    con.execute("DELETE FROM audit_event WHERE seq = 2")
    con.commit()
    deleted = _verify(config.database)
    assert deleted.returncode == 1 and "event 2: missing (deleted?)" in deleted.stdout
    con.execute(
        "INSERT INTO audit_event (seq, at, action, staff, chart_number, detail, prev_hash, hash) "
        "VALUES (2, '2026-11-22 15:00:00', 'view', 'mallory', '', '{}', 'x', 'y')"
    )
    con.commit()
    con.close()
    inserted = _verify(config.database)
    assert inserted.returncode == 1 and inserted.stdout.startswith("event 2:")
    assert "missing" not in inserted.stdout
