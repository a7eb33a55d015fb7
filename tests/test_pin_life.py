"""The PIN's life after the visit (L1-L6): expiry as a state, facts and history, re-issue, revoke,
resend and redirect, contact edits; each state change audited exactly once, the chain intact."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading

import pytest

from kiosk import audit
from kiosk.cli import main
from kiosk.messages import outbox
from kiosk.people.patients import family_for, patient_page, search_patients
from kiosk.registration import pin_life
from kiosk.registration.engine import IssueRequest, RegistrationError, issue_pins, revoke_pin
from kiosk.store.db import database
from kiosk.store.models import AuditEvent, Caregiver, OutboxMessage, Patient, RegistrationPin
from kiosk.terms import MessageState, PinState, PortalStatus, SearchFilter

from conftest import NOW, TODAY, find_patient
from test_postgres import pg_store

LATER = NOW + dt.timedelta(days=31)  # past the 30-day lifetime (S3)


def _issue(
    desk,
    given="Rosemary",
    family="Testkiddo",
    *,
    now=NOW,
    delivery="email",
    recipient=0,
    terminal="",
    **options,
):
    kids = family_for(find_patient(given, family).id, today=TODAY)
    carer = [c for c in kids.caregivers if c.has_authority][recipient]
    request = IssueRequest(
        patient_ids=[c.id for c in kids.children if c.portal_status != PortalStatus.REGISTERED],
        recipient_id=carer.id,
        delivery=delivery,
        email=carer.email,
        **options,
    )
    return issue_pins(desk, request, now=now, today=TODAY, terminal=terminal)


def _events(action, patient=None):
    query = AuditEvent.select().where(AuditEvent.action == action)
    if patient is not None:
        query = query.where(AuditEvent.patient_id == patient.id)
    return list(query)


def _pin(patient):
    return (
        RegistrationPin.select()
        .where(RegistrationPin.patient == patient)
        .order_by(RegistrationPin.id.desc())
        .get()
    )


def _due(now):
    return (
        RegistrationPin.select()
        .where((RegistrationPin.state == PinState.ACTIVE) & (RegistrationPin.expires_at <= now))
        .count()
    )


def _status(given, family="Testkiddo"):
    return find_patient(given, family).portal_status


# -- L2: expiry is a state ---------------------------------------------------------------------------


def test_l2_maintain_expires_once_and_puts_the_status_back(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    assert rosemary.portal_status == PortalStatus.PENDING
    due = _due(LATER)  # the two just issued, and training PINs from earlier visits
    report = pin_life.maintain(LATER)
    assert report.expired == due >= 2 and f"{due} PINs expired" in report.summary()
    assert (
        _pin(rosemary).state == PinState.EXPIRED
        and _status("Rosemary") == PortalStatus.UNREGISTERED
    )
    assert len(_events(audit.EXPIRE, rosemary)) == 1
    assert (
        pin_life.maintain(LATER).expired == 0
        and pin_life.maintain(LATER + dt.timedelta(days=3)).expired == 0
    )
    assert len(_events(audit.EXPIRE, rosemary)) == 1  # idempotent: audited once
    assert patient_page(rosemary.id, today=TODAY, now=LATER).patient.pin_state.startswith(
        "PIN expired on "
    )
    assert audit.verify_chain() == []


def test_l2_t3_a_self_registered_child_stays_self_registered(front_desk):
    """T3: a normal PIN is refused (Validate instead); a second parent's PIN leaves the status as
    it is, and its expiry too (L2)."""
    rosemary = find_patient("Rosemary")
    Patient.update(portal_status=PortalStatus.SELF_REGISTERED).where(
        Patient.id == rosemary.id
    ).execute()
    with pytest.raises(RegistrationError, match="Self Registered: Validate"):
        _issue(front_desk)
    jeff = next(c for c in family_for(rosemary.id).caregivers if c.name == "Jeff Testkiddo")
    issue_pins(
        front_desk,
        IssueRequest([rosemary.id], recipient_id=jeff.id, email=jeff.email, second_parent=True),
        now=NOW,
        today=TODAY,
    )
    assert _status("Rosemary") == PortalStatus.SELF_REGISTERED
    pin_life.maintain(LATER + dt.timedelta(days=1), TODAY)
    assert _status("Rosemary") == PortalStatus.SELF_REGISTERED


def test_l2_reads_never_show_an_expired_pin_as_active_before_maintenance(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    history = pin_life.pin_history(rosemary.id, LATER)
    assert history.active is None and history.earlier[0].state == PinState.EXPIRED
    assert history.earlier[0].state_words.startswith("Expired on ")
    assert pin_life.active_pins([rosemary.id], LATER) == []
    assert patient_page(rosemary.id, today=TODAY, now=LATER).pin_expires is None
    assert rosemary.id in {
        line.facts.patient_id for line in pin_life.list_pins(expired=True, now=LATER)
    }
    assert rosemary.id not in {
        line.facts.patient_id for line in pin_life.list_pins(active=True, now=LATER)
    }


def test_l2_a_new_pin_after_expiry_records_expire_not_replace(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    _issue(front_desk, now=LATER)
    assert not _events(audit.REPLACE, rosemary) and len(_events(audit.EXPIRE, rosemary)) == 1
    assert pin_life.pin_history(rosemary.id, LATER).earlier[0].state == PinState.EXPIRED


def test_l2_expiry_erases_the_unsent_welcome(front_desk):
    result = _issue(front_desk)
    pin_life.maintain(LATER)
    message = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    assert message.body_text == "" and message.state == MessageState.FAILED


def test_l2_revoking_an_expired_pin_records_expiry_instead(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    assert revoke_pin(front_desk, rosemary.id, "family moved", now=LATER) is False
    assert _pin(rosemary).state == PinState.EXPIRED and not _events(audit.REVOKE, rosemary)


# -- L1: facts and history ---------------------------------------------------------------------------


def test_l1_facts_and_history_say_who_when_how_and_why(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    _issue(front_desk, now=NOW + dt.timedelta(hours=1))
    revoke_pin(front_desk, rosemary.id, "parent asked to stop", now=NOW + dt.timedelta(hours=2))
    history = pin_life.pin_history(rosemary.id, NOW + dt.timedelta(hours=3))
    assert history.active is None
    revoked, replaced = history.earlier
    assert revoked.state_words == "Revoked on 11/22/2026 by maria: parent asked to stop"
    assert replaced.state_words == "Replaced on 11/22/2026 by maria"
    assert replaced.issued_words == "Issued 11/22/2026 15:00 by Maria Lopez"
    assert replaced.delivery_words.startswith(
        "Email to Cindy Testkiddo (c***@example.com): not sent"
    )
    assert (
        patient_page(rosemary.id, today=TODAY, now=NOW).patient.pin_state
        == "PIN revoked on 11/22/2026"
    )


def test_l1_active_facts_show_delivery_state_and_parents_who_used_it(front_desk):
    ava = find_patient("Ava", "Patel")
    facts = pin_life.pin_history(ava.id, NOW).active
    assert facts is not None and facts.parents and facts.parents_words == ", ".join(facts.parents)
    _issue(front_desk, terminal="desk-2")
    rosemary = pin_life.pin_history(find_patient("Rosemary").id, NOW).active
    assert rosemary.issued_words.endswith("by Maria Lopez at desk-2")
    assert (
        rosemary.delivery_words
        == "Email to Cindy Testkiddo (c***@example.com): queued, not sent yet"
    )
    assert rosemary.parents_words == "No parent has used it yet"


def test_l1_the_pin_line_has_a_distinct_phrase_for_each_state(front_desk):
    words = patient_page(find_patient("Ava", "Patel").id, today=TODAY, now=NOW).patient.pin_state
    assert words.startswith("Registered; PIN still open to another parent until")
    _issue(front_desk, delivery="none")
    assert patient_page(
        find_patient("Rosemary").id, today=TODAY, now=NOW
    ).patient.pin_state.startswith("PIN active until")
    assert "Already Assigned" not in words


# -- L3: re-issue with eyes open ---------------------------------------------------------------------


def test_l3_active_pins_from_an_earlier_visit_are_listed_with_their_facts(front_desk):
    layla = find_patient("Layla", "Haddad")
    earlier = pin_life.active_pins([c.id for c in family_for(layla.id, today=TODAY).children], NOW)
    assert layla.id in {f.patient_id for f in earlier}
    assert all(f.state == PinState.ACTIVE and f.issued_by for f in earlier)


def test_l3_registered_children_are_not_ticked_and_say_why():
    assert "already Registered" in pin_life.not_ticked_reason(PortalStatus.REGISTERED)
    assert pin_life.not_ticked_reason(PortalStatus.UNREGISTERED) == ""
    assert pin_life.not_ticked_reason(PortalStatus.PENDING) == ""


def test_t3_self_registered_children_are_not_ticked_and_say_to_validate():
    reason = pin_life.not_ticked_reason(PortalStatus.SELF_REGISTERED)
    assert "Self Registered" in reason and "Validate" in reason


# -- L4: revoke, send now, redirect -----------------------------------------------------------------


def test_l4_revoke_needs_a_reason_is_audited_once_and_erases_the_message(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary")
    with pytest.raises(RegistrationError, match="Say why"):
        revoke_pin(front_desk, rosemary.id, "  ")
    with pytest.raises(RegistrationError, match="control character"):
        revoke_pin(front_desk, rosemary.id, "bad\x1b[31m")
    assert revoke_pin(front_desk, rosemary.id, "wrong family", now=NOW) is True
    assert (
        len(_events(audit.REVOKE, rosemary)) == 1
        and _status("Rosemary") == PortalStatus.UNREGISTERED
    )
    assert revoke_pin(front_desk, find_patient("Basil").id, "wrong family", now=NOW) is True
    message = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    assert (
        message.body_text == "" and message.state == MessageState.FAILED
    )  # both PINs ended: erased (S11)
    assert audit.verify_chain() == []


def test_l4_send_now_then_after_delivery_a_new_message_needs_a_new_pin(front_desk, config):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary")
    OutboxMessage.update(
        next_attempt_at=NOW + dt.timedelta(hours=1)
    ).execute()  # waiting for a retry
    row = pin_life.send_welcome_now(front_desk, rosemary.id, now=NOW)
    assert row.state == MessageState.QUEUED and row.next_attempt_at == NOW
    assert (
        len(_events(audit.SEND_NOW, rosemary)) == 1 and len(_events(audit.SEND_NOW)) == 2
    )  # each child
    report = outbox.deliver_due(config, now=NOW, senders={"email": outbox.TrainingSender()})
    assert report.sent == 1
    with pytest.raises(pin_life.PinLifeError, match="issue a new PIN"):
        pin_life.send_welcome_now(front_desk, rosemary.id, now=NOW)
    with pytest.raises(pin_life.PinLifeError, match="issue a new PIN"):
        pin_life.redirect_welcome(
            front_desk, rosemary.id, family_for(rosemary.id).caregivers[1].id, now=NOW
        )
    assert result.message_id


def test_l4_r13_a_welcome_whose_pins_every_parent_used_is_not_sent_or_redirected(front_desk):
    """R13, L4: while one PIN of the welcome is unused it can still be sent; once a parent has
    used them all, sending or redirecting it is refused with the reason, nothing queued again,
    and welcome_refusal (what the screens offer) says the same."""
    from kiosk.registration import portal

    result = _issue(front_desk)
    account = portal.create_account("cindy@example.org", "Cindy T", "a long enough passphrase 1")
    rosemary, basil = find_patient("Rosemary"), find_patient("Basil")
    pin_of = {issued.patient_id: issued.pin for issued in result.pins}
    portal.redeem(account.id, rosemary.dob, pin=pin_of[rosemary.id], terminal="t", now=NOW)
    assert pin_life.welcome_refusal(pin_life.batch_pins(result.batch, NOW)) == ""
    portal.redeem(account.id, basil.dob, pin=pin_of[basil.id], terminal="t", now=NOW)
    refusal = pin_life.welcome_refusal(pin_life.batch_pins(result.batch, NOW))
    assert refusal == pin_life.NOTHING_LEFT
    jeff = Caregiver.get(Caregiver.given_name == "Jeff")
    for send in (
        lambda: pin_life.send_welcome_now(front_desk, rosemary.id, now=NOW),
        lambda: pin_life.redirect_welcome(front_desk, basil.id, jeff.id, now=NOW),
    ):
        with pytest.raises(pin_life.PinLifeError, match="Nothing is left to send"):
            send()
    message = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    assert message.recipient == "cindy.testkiddo@example.com" and _events(audit.SEND_NOW) == []


def test_l4_do_not_send_pin_cannot_be_sent_later(front_desk):
    _issue(front_desk, delivery="none")
    with pytest.raises(pin_life.PinLifeError, match="Do not send PIN"):
        pin_life.send_welcome_now(front_desk, find_patient("Rosemary").id, now=NOW)


def test_l4_redirect_readdresses_the_same_sealed_message_to_a_caregiver_with_authority(front_desk):
    result = _issue(front_desk)
    rosemary = find_patient("Rosemary")
    jeff = Caregiver.get(Caregiver.given_name == "Jeff")
    before = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    text, _ = outbox.message_body(before)
    row = pin_life.redirect_welcome(front_desk, rosemary.id, jeff.id, now=NOW)
    after = OutboxMessage.get(OutboxMessage.message_id == result.message_id)
    assert after.recipient == "jeff.testkiddo@example.com" and row.recipient == "j***@example.com"
    assert (
        outbox.message_body(after)[0] == text
    )  # same body, still sealed under the same Message-ID
    assert len(_events(audit.REDIRECT, rosemary)) == 1
    detail = json.loads(_events(audit.REDIRECT, rosemary)[0].detail)
    assert (
        detail["to"] == "j***@example.com"
        and "jeff.testkiddo" not in _events(audit.REDIRECT, rosemary)[0].detail
    )
    assert pin_life.pin_history(rosemary.id, NOW).active.recipient == "Jeff Testkiddo"
    assert audit.verify_chain() == []


def test_l4_redirect_refuses_a_caregiver_without_authority(front_desk):
    _issue(front_desk)
    stranger = Caregiver.create(given_name="Sam", family_name="Other", email="sam@example.com")
    with pytest.raises(pin_life.PinLifeError, match="no contact authority"):
        pin_life.redirect_welcome(front_desk, find_patient("Rosemary").id, stranger.id, now=NOW)
    assert not _events(audit.REDIRECT, find_patient("Rosemary"))


# -- L6: contact edit in place ------------------------------------------------------------------------


def test_l6_contact_edit_is_validated_and_audited_once(front_desk):
    cindy = Caregiver.get(Caregiver.given_name == "Cindy")
    for change, field in (
        (pin_life.ContactChange(email="not an address"), "email"),
        (pin_life.ContactChange(email="a\x00b@example.com"), "email"),
        (pin_life.ContactChange(cell="555"), "cell"),
        (pin_life.ContactChange(carrier="nope"), "carrier"),
        (pin_life.ContactChange(language="xx"), "language"),
    ):
        with pytest.raises(pin_life.PinLifeError) as caught:
            pin_life.update_contact(front_desk, cindy.id, change, now=NOW)
        assert caught.value.field == field
    assert not _events(audit.CONTACT_EDIT)
    stored = pin_life.update_contact(
        front_desk,
        cindy.id,
        pin_life.ContactChange(
            email=" Cindy.New@Example.COM ", cell="(317) 555-0199", language="es"
        ),
        now=NOW,
    )
    assert (stored.email, stored.cell, stored.preferred_language) == (
        "cindy.new@example.com",
        "3175550199",
        "es",
    )
    events = _events(audit.CONTACT_EDIT)
    assert len(events) == 1 and json.loads(events[0].detail)["changed"] == [
        "cell",
        "email",
        "language",
    ]
    assert "cindy.new" not in events[0].detail
    pin_life.update_contact(
        front_desk, cindy.id, pin_life.ContactChange(email="cindy.new@example.com"), now=NOW
    )
    assert len(_events(audit.CONTACT_EDIT)) == 1  # nothing changed: nothing audited
    _issue(front_desk)  # and carry on: the new address is the one the welcome goes to
    assert (
        OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().recipient
        == "cindy.new@example.com"
    )


# -- two desks at once (O1) ---------------------------------------------------------------------------


def _together(*jobs):
    barrier, results = threading.Barrier(len(jobs)), []

    def run(job):
        try:
            barrier.wait(timeout=30)
            results.append(job())
        except Exception as error:  # noqa: BLE001  the test says what went wrong
            results.append(error)
        finally:
            database.close()  # each thread's own connection

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_l4_two_desks_revoking_the_same_child_at_once_write_one_event(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    results = _together(
        lambda: revoke_pin(front_desk, rosemary.id, "desk one", now=NOW),
        lambda: revoke_pin(front_desk, rosemary.id, "desk two", now=NOW),
    )
    assert sorted(results) == [False, True]
    assert len(_events(audit.REVOKE, rosemary)) == 1 and audit.verify_chain() == []


def test_l2_two_maintenance_runs_at_once_expire_each_pin_once(front_desk):
    _issue(front_desk)
    due, before = _due(LATER), len(_events(audit.EXPIRE))
    results = _together(
        lambda: pin_life.maintain(LATER).expired, lambda: pin_life.maintain(LATER).expired
    )
    assert (
        sum(results) == due
        and len(_events(audit.EXPIRE)) == before + due
        and audit.verify_chain() == []
    )


def test_l4_a_desk_revokes_while_another_redirects(front_desk):
    _issue(front_desk)
    rosemary = find_patient("Rosemary")
    jeff = Caregiver.get(Caregiver.given_name == "Jeff")
    results = _together(
        lambda: revoke_pin(front_desk, rosemary.id, "family asked", now=NOW),
        lambda: pin_life.redirect_welcome(front_desk, rosemary.id, jeff.id, now=NOW),
    )
    assert results.count(True) >= 1  # one of the two desks' actions landed
    assert all(
        r is True or isinstance(r, (outbox.MessageRow, pin_life.PinLifeError)) for r in results
    )
    assert _pin(rosemary).state == PinState.REVOKED and audit.verify_chain() == []


# -- the command line (L2, L4) ------------------------------------------------------------------------


def test_l2_l4_cli_pin_list_revoke_and_maintain(front_desk, config, capsys):
    _issue(front_desk, now=dt.datetime.now().replace(microsecond=0))
    args = ["--db", config.database]
    assert main([*args, "pin", "list"]) == 0
    out = capsys.readouterr().out
    assert "100101" in out and "Rosemary Testkiddo" in out and "Active until" in out
    assert (
        main([*args, "pin", "list", "--expiring", "3"]) == 0
        and "100101" not in capsys.readouterr().out
    )
    assert (
        main([*args, "pin", "revoke", "100101", "--reason", "wrong child", "--by", "nobody"]) == 2
    )
    assert "no active staff member" in capsys.readouterr().err
    assert main([*args, "pin", "revoke", "100101", "--reason", "wrong child", "--by", "maria"]) == 0
    assert "Revoked the PIN of Rosemary Testkiddo" in capsys.readouterr().out
    assert main([*args, "pin", "revoke", "100101", "--reason", "again", "--by", "maria"]) == 1
    assert "no active PIN" in capsys.readouterr().err
    assert main([*args, "maintain"]) == 0 and "PINs expired" in capsys.readouterr().out
    assert main([*args, "audit", "verify"]) == 0


def _expired(text="", now=NOW):
    return [
        row.name for row in search_patients(text, SearchFilter.PIN_EXPIRED, today=TODAY, now=now)
    ]


def test_l2_search_filters_pin_expired_with_an_empty_box_and_with_text(front_desk):
    # training: Minh Nguyen's PIN expired five days ago (not yet maintained: still "active" in the row)
    assert "Nguyen, Minh" in _expired() and "Testkiddo, Rosemary" not in _expired()
    assert _expired("nguyen") == ["Nguyen, Minh"] and _expired("101501") == ["Nguyen, Minh"]
    assert _expired("testkiddo") == []
    _issue(front_desk)  # Rosemary and Basil get PINs, in date at NOW
    assert "Testkiddo, Rosemary" not in _expired()
    # the clock moves past their expiry: expired before `kiosk maintain` runs, and after it
    assert _expired("testkiddo", now=LATER) == ["Testkiddo, Basil", "Testkiddo, Rosemary"]
    pin_life.maintain(LATER)
    assert _pin(find_patient("Rosemary")).state == PinState.EXPIRED
    assert _expired("rosemary", now=LATER) == ["Testkiddo, Rosemary"]
    assert "Nguyen, Minh" in _expired(now=LATER)
    # a new PIN in date: no longer listed as expired
    _issue(front_desk, now=LATER)
    assert _expired("testkiddo", now=LATER) == []
    # a portal status is still a status filter, and nonsense is refused
    assert "Nguyen, Minh" not in [
        row.name for row in search_patients("", PortalStatus.REGISTERED, today=TODAY, now=NOW)
    ]
    with pytest.raises(ValueError):
        search_patients("", "expired-ish", today=TODAY)


def test_l2_cli_search_status_pin_expired(front_desk, config, capsys):
    args = ["--db", config.database]
    assert main([*args, "search", "", "--status", "PIN expired"]) == 0
    out = capsys.readouterr().out
    assert "Minh Nguyen" in out or "Nguyen, Minh" in out
    assert main([*args, "search", "testkiddo", "--status", "pin-expired"]) == 0
    assert "Testkiddo" not in capsys.readouterr().out
    assert main([*args, "search", "x", "--status", "gone"]) == 2
    assert "PIN expired" in capsys.readouterr().err


# -- L5: why a parent cannot register; an administrator clears a lock-out ----------------------------


def _lock_out(desk, tries=5):
    from kiosk.registration import portal

    pin = _issue(desk, delivery="none").pins[0].pin
    rosemary = find_patient("Rosemary")
    account = portal.create_account(
        "guess@example.com", "Someone Else", "a long enough passphrase 1"
    )
    for i in range(tries):
        with pytest.raises(portal.PortalError):
            portal.redeem(
                account.id,
                dt.date(2001, 1, 1),
                pin=pin,
                terminal="parent-1",
                now=NOW + dt.timedelta(seconds=i),
            )
    return rosemary, account, pin


def test_l5_the_account_page_says_why_and_until_when(front_desk):
    rosemary, _, _ = _lock_out(front_desk)
    block = pin_life.registration_block(rosemary.id, NOW + dt.timedelta(minutes=1))
    assert block.locked and block.locked_until == NOW + dt.timedelta(seconds=4, minutes=15)
    assert block.lines[0] == (
        "Locked until 11/22/2026 15:15 UTC after too many failed tries (an administrator "
        "can clear it)."
    )
    assert "5 birth date did not match the PIN" in block.lines[1]
    assert pin_life.registration_block(find_patient("Basil").id, NOW).lines == [
        "No failed tries in the last day."
    ]


def test_l5_an_administrator_clears_a_lock_out_with_a_reason_audited_once(
    front_desk, unlinked_desk
):
    from kiosk.registration import portal

    rosemary, account, pin = _lock_out(front_desk)
    later = NOW + dt.timedelta(minutes=2)
    with pytest.raises(pin_life.PinLifeError, match="Only an administrator"):
        pin_life.clear_lockout(unlinked_desk, rosemary.id, "checked ID", now=later)
    with pytest.raises(pin_life.PinLifeError, match="Say why"):
        pin_life.clear_lockout(front_desk, rosemary.id, " ", now=later)
    pin_life.clear_lockout(front_desk, rosemary.id, "mother showed ID at the desk", now=later)
    assert len(_events(audit.LOCK_CLEARED, rosemary)) == 1
    block = pin_life.registration_block(rosemary.id, later)
    assert not block.locked and block.toward_revoking == 0
    assert (
        portal.redeem(account.id, rosemary.dob, pin=pin, terminal="parent-1", now=later).patient_id
        == rosemary.id
    )
    with pytest.raises(pin_life.PinLifeError, match="not locked out"):
        pin_life.clear_lockout(front_desk, rosemary.id, "again", now=later)
    assert audit.verify_chain() == []


def test_l5_cli_lists_locked_children(front_desk, config, capsys):
    from kiosk.registration import portal

    pin = (
        _issue(front_desk, delivery="none", now=dt.datetime.now().replace(microsecond=0))
        .pins[0]
        .pin
    )
    account = portal.create_account(
        "guess@example.com", "Someone Else", "a long enough passphrase 1"
    )
    for _ in range(5):
        with pytest.raises(portal.PortalError):
            portal.redeem(account.id, dt.date(2001, 1, 1), pin=pin, terminal="parent-1")
    assert main(["--db", config.database, "pin", "list", "--locked"]) == 0
    assert "100101" in capsys.readouterr().out


@pytest.mark.skipif(
    not os.environ.get("KIOSK_TEST_PG_URL") and os.environ.get("CI", "").lower() != "true",
    reason="KIOSK_TEST_PG_URL not set: start a server with .ci/postgres.sh start",
)
def test_l2_l4_pg_two_desks_on_the_same_child_write_one_event_each(pg_store):
    """O1 on PostgreSQL: two desks revoking the same child, and two maintenance runs at once."""
    kid = pg_store["kids"][0]
    request = IssueRequest(
        patient_ids=[kid], recipient_id=pg_store["mother"], email="ana@example.org"
    )
    issue_pins(pg_store["desk"], request, now=NOW, today=TODAY)
    results = _together(
        lambda: revoke_pin(pg_store["desk"], kid, "desk one", now=NOW),
        lambda: revoke_pin(pg_store["desk"], kid, "desk two", now=NOW),
    )
    assert sorted(results) == [False, True]
    issue_pins(pg_store["desk"], request, now=NOW, today=TODAY)
    results = _together(
        lambda: pin_life.maintain(LATER).expired, lambda: pin_life.maintain(LATER).expired
    )
    assert sorted(results) == [0, 1]
    events = AuditEvent.select().where(AuditEvent.patient_id == kid)
    assert [
        e.action for e in events.where(AuditEvent.action.in_([audit.REVOKE, audit.EXPIRE]))
    ] == ["revoke", "expire"]
    assert (
        Patient.get_by_id(kid).portal_status == PortalStatus.UNREGISTERED
        and audit.verify_chain() == []
    )


def _page_and_window_agree_with_the_pin_line(patient_id, now):
    """L1, L2: the account page's PIN line, its active PIN's expiry and every child's line in the
    registration window are what each child's latest PIN and its active one say."""
    page = patient_page(patient_id, today=TODAY, now=now)
    active = (
        RegistrationPin.select()
        .where((RegistrationPin.patient == patient_id) & RegistrationPin.works_at(now))
        .first()
    )
    assert page.pin_expires == (active.expires_at if active else None)
    assert page.patient.pin_state == pin_life.pin_state_words(Patient.get_by_id(patient_id), now)
    window = family_for(patient_id, today=TODAY, now=now)
    assert [child.pin_state for child in window.children] == [
        pin_life.pin_state_words(Patient.get_by_id(child.id), now) for child in window.children
    ]
    return page


def test_l1_l2_page_and_window_show_the_latest_pin_and_the_active_one_apart(front_desk):
    """A PIN issued on a desk whose clock was behind replaces one issued later: the line speaks
    of the latest (replaced), the page's expiry of the active one; past it, none."""
    rosemary = find_patient("Rosemary")
    _issue(front_desk)
    first = _pin(rosemary)
    _issue(front_desk, now=NOW - dt.timedelta(hours=1))
    active = _pin(rosemary)
    assert (first.issued_at > active.issued_at) and active.state == PinState.ACTIVE
    page = _page_and_window_agree_with_the_pin_line(rosemary.id, NOW)
    assert page.pin_expires == active.expires_at and page.patient.pin_state == "No PIN"
    assert _page_and_window_agree_with_the_pin_line(rosemary.id, LATER).pin_expires is None
    never = find_patient("Ava", "Patel")  # Registered without a PIN of this desk's
    _page_and_window_agree_with_the_pin_line(never.id, NOW)


def test_l1_l2_pg_page_and_window_show_the_latest_pin_and_the_active_one(pg_store):
    kids = pg_store["kids"]
    request = IssueRequest(
        patient_ids=kids[:2], recipient_id=pg_store["mother"], email="ana@example.org"
    )
    issue_pins(pg_store["desk"], request, now=NOW, today=TODAY)
    issue_pins(pg_store["desk"], request, now=NOW - dt.timedelta(hours=1), today=TODAY)
    for now in (NOW, LATER):
        for kid in kids:
            _page_and_window_agree_with_the_pin_line(kid, now)
    page = patient_page(kids[0], today=TODAY, now=NOW)
    assert page.pin_expires is not None and page.patient.pin_state == "No PIN"
